//! The baseline `scripts/measure-check.sh` compares `check` with: a bare
//! quick-xml event loop over a file, buffer reused, counting elements. No
//! namespaces, no checks, nothing kept: what reading the bytes costs.
//!
//!     cargo run --release --example bare_loop -- FILE

use quick_xml::events::Event;
use quick_xml::Reader;
use std::fs::File;
use std::io::BufReader;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let path = std::env::args().nth(1).ok_or("usage: bare_loop FILE")?;
    let mut reader = Reader::from_reader(BufReader::with_capacity(64 * 1024, File::open(path)?));
    let mut buf = Vec::with_capacity(1024);
    let mut elements = 0u64;
    loop {
        match reader.read_event_into(&mut buf)? {
            Event::Start(_) | Event::Empty(_) => elements += 1,
            Event::Eof => break,
            _ => {}
        }
        buf.clear();
    }
    println!("{elements} elements");
    Ok(())
}
