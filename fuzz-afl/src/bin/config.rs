//! Any text as gateway.toml: a ConfigError or a configuration, never a panic.
//! Non-UTF-8 is mapped lossily, as the soak does, because the loader reads
//! text (`read_to_string` refuses the rest before parsing).

fn main() {
    afl::fuzz!(|data: &[u8]| {
        let text = String::from_utf8_lossy(data);
        let _ = zio_gateway::config::Config::parse(&text, std::path::Path::new("fuzz.toml"));
    });
}
