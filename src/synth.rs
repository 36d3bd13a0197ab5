//! Synthetic Declaratieberichten of any size, produced lazily as a `Read`,
//! for benchmarks, memory tests and load scripts. Every line is valid for the
//! example configuration (provider 12345678, zorgkantoor 5509, March 2024),
//! so the whole pipeline runs on it.

use std::io::{self, Read};

/// A valid BSN derived from `n` (elfproef by construction).
pub fn bsn(mut n: u64) -> String {
    loop {
        let head = format!("{:08}", n % 100_000_000);
        let sum: u64 = head
            .bytes()
            .enumerate()
            .map(|(i, c)| u64::from(c - b'0') * (9 - i as u64))
            .sum();
        let check = sum % 11;
        if check < 10 && head != "00000000" {
            return format!("{head}{check}");
        }
        n += 1;
    }
}

/// A batch of `lines` lines, `per_client` to a client.
pub struct SynthBatch {
    lines: u64,
    per_client: u64,
    /// Which message of a series (see [`SynthBatch::nth`]); 0 is the default.
    message: u64,
    next_line: u64,
    stage: u8,
    pending: Vec<u8>,
    pos: usize,
}

impl SynthBatch {
    pub fn new(lines: u64, per_client: u64) -> Self {
        Self {
            lines,
            per_client: per_client.max(1),
            message: 0,
            next_line: 0,
            stage: 0,
            pending: Vec::with_capacity(8192),
            pos: 0,
        }
    }

    /// Message `message` of a series of equal batches: its own identification,
    /// references and clients, so a ledger that already holds the earlier
    /// ones accepts and records every line again (no 0308, no resend).
    /// `nth(lines, per_client, 0)` is `new(lines, per_client)`.
    pub fn nth(lines: u64, per_client: u64, message: u64) -> Self {
        Self {
            message,
            ..Self::new(lines, per_client)
        }
    }

    fn refill(&mut self) {
        let first_line = self.message * self.lines;
        let first_client = self.message * self.lines.div_ceil(self.per_client);
        self.pending.clear();
        self.pos = 0;
        match self.stage {
            0 => {
                self.pending.extend_from_slice(
                    b"<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n\
<Declaratiebericht xmlns=\"urn:zio-gateway:declaratie:1\">\n\
  <Header>\n    <BerichtIdentificatie><Identificatie>SYNTH-",
                );
                self.pending
                    .extend_from_slice((self.message + 1).to_string().as_bytes());
                self.pending.extend_from_slice(
                    b"</Identificatie><Dagtekening>2024-04-02</Dagtekening></BerichtIdentificatie>\n\
    <Afzender>12345678</Afzender>\n    <Ontvanger>5509</Ontvanger>\n\
    <Declaratieperiode><Begindatum>2024-03-01</Begindatum><Einddatum>2024-03-31</Einddatum></Declaratieperiode>\n\
  </Header>\n  <Clienten>\n",
                );
                self.stage = 1;
            }
            1 if self.next_line < self.lines => {
                let client = self.next_line / self.per_client;
                let n = (self.lines - self.next_line).min(self.per_client);
                let b = bsn(100_000 + first_client + client);
                self.pending.extend_from_slice(
                    format!(
                        "    <Client><Bsn>{b}</Bsn><Geboortedatum>2012-05-01</Geboortedatum><Besluitnummer>{}</Besluitnummer><Prestaties>\n",
                        first_client + client + 1
                    )
                    .as_bytes(),
                );
                for i in 0..n {
                    let day = 1 + (i % 28);
                    self.pending.extend_from_slice(
                        format!(
                            "      <Prestatie><ReferentieNummer>S{}</ReferentieNummer><ProductCode>H300</ProductCode>\
<Begindatum>2024-03-{day:02}</Begindatum><Einddatum>2024-03-{day:02}</Einddatum><GeleverdVolume>1</GeleverdVolume>\
<Eenheid>04</Eenheid><ProductTarief>1</ProductTarief><Bedrag>1</Bedrag><DebetCredit>D</DebetCredit></Prestatie>\n",
                            first_line + self.next_line + i
                        )
                        .as_bytes(),
                    );
                }
                self.pending
                    .extend_from_slice(b"    </Prestaties></Client>\n");
                self.next_line += n;
            }
            1 => {
                self.pending.extend_from_slice(
                    format!(
                        "  </Clienten>\n  <Totalen><AantalPrestaties>{}</AantalPrestaties><TotaalDebet>{}</TotaalDebet><TotaalCredit>0</TotaalCredit></Totalen>\n</Declaratiebericht>\n",
                        self.lines, self.lines
                    )
                    .as_bytes(),
                );
                self.stage = 2;
            }
            _ => {}
        }
    }
}

impl Read for SynthBatch {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        if self.pos >= self.pending.len() {
            self.refill();
            if self.pending.is_empty() {
                return Ok(0);
            }
        }
        let n = (self.pending.len() - self.pos).min(out.len());
        out[..n].copy_from_slice(&self.pending[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use std::io::Read;

    fn text(mut b: super::SynthBatch) -> String {
        let mut s = String::new();
        b.read_to_string(&mut s).unwrap();
        s
    }

    #[test]
    fn the_first_of_a_series_is_the_plain_batch() {
        assert_eq!(
            text(super::SynthBatch::nth(9, 4, 0)),
            text(super::SynthBatch::new(9, 4))
        );
    }

    #[test]
    fn messages_of_a_series_share_no_reference_or_decision() {
        let a = text(super::SynthBatch::nth(5, 2, 0));
        let b = text(super::SynthBatch::nth(5, 2, 1));
        assert!(a.contains("<Identificatie>SYNTH-1<") && b.contains("<Identificatie>SYNTH-2<"));
        assert!(a.contains("<ReferentieNummer>S4<") && !a.contains("<ReferentieNummer>S5<"));
        assert!(b.contains("<ReferentieNummer>S5<") && b.contains("<ReferentieNummer>S9<"));
        // Three clients per message (2 + 2 + 1 lines).
        assert!(a.contains("<Besluitnummer>3<") && !a.contains("<Besluitnummer>4<"));
        assert!(b.contains("<Besluitnummer>4<") && b.contains("<Besluitnummer>6<"));
    }

    #[test]
    fn bsns_pass_the_elfproef() {
        for n in 0..2_000 {
            assert!(crate::types::elfproef(&super::bsn(n)));
        }
    }
}
