//! Writes a synthetic, valid Declaratiebericht to standard output.
//!
//!     cargo run --release --example gen_batch -- LINES [LINES_PER_CLIENT [MESSAGE]]
//!
//! MESSAGE numbers a series (`SynthBatch::nth`): each its own identification,
//! references and clients, so a gateway accepts them all.

use std::io::{self, BufWriter};

fn main() -> io::Result<()> {
    let mut args = std::env::args().skip(1);
    let lines: u64 = args
        .next()
        .and_then(|s| s.parse().ok())
        .expect("usage: gen_batch LINES [LINES_PER_CLIENT [MESSAGE]]");
    let per_client: u64 = args.next().and_then(|s| s.parse().ok()).unwrap_or(4);
    let message: u64 = args.next().and_then(|s| s.parse().ok()).unwrap_or(0);
    let mut batch = zio_gateway::synth::SynthBatch::nth(lines, per_client, message);
    let mut out = BufWriter::with_capacity(1 << 16, io::stdout().lock());
    io::copy(&mut batch, &mut out)?;
    Ok(())
}
