//! Any bytes as a Declaratiebericht, through the whole check as
//! tests/fuzz_soak.rs does: no panic, no hang, and every refusal of the
//! reader (0101/0102/0103) names where it was.

use std::sync::OnceLock;
use zio_gateway::check::check_message;
use zio_gateway::config::Config;
use zio_gateway::rules::{Context, NoHistory};
use zio_gateway::types::parse_datum;

fn config() -> &'static Config {
    static C: OnceLock<Config> = OnceLock::new();
    C.get_or_init(|| {
        // Compiled in, so the harness needs no working directory.
        Config::parse(
            include_str!("../../../conformance/config/gateway.toml"),
            std::path::Path::new("conformance/config/gateway.toml"),
        )
        .expect("conformance config")
    })
}

fn main() {
    afl::fuzz!(|data: &[u8]| {
        let config = config();
        let ctx = Context {
            regime: &config.regime,
            today: parse_datum("2024-04-10").unwrap(),
            indications: None,
            require_start_of_delivery: true,
            history: &NoHistory,
        };
        let out = check_message(data, config, &ctx).expect("in memory");
        for m in &out.message_codes {
            let c = m.code.code();
            if matches!(c, "0101" | "0102" | "0103") {
                assert!(m.locatie.is_some(), "{c} without a location");
            }
        }
    });
}
