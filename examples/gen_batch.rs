//! Writes a synthetic, valid Declaratiebericht to standard output.
//!
//!     cargo run --release --example gen_batch -- LINES [LINES_PER_CLIENT]

use std::io::{self, BufWriter};

fn main() -> io::Result<()> {
    let mut args = std::env::args().skip(1);
    let lines: u64 = args
        .next()
        .and_then(|s| s.parse().ok())
        .expect("usage: gen_batch LINES [LINES_PER_CLIENT]");
    let per_client: u64 = args.next().and_then(|s| s.parse().ok()).unwrap_or(4);
    let mut batch = zio_gateway::synth::SynthBatch::new(lines, per_client);
    let mut out = BufWriter::with_capacity(1 << 16, io::stdout().lock());
    io::copy(&mut batch, &mut out)?;
    Ok(())
}
