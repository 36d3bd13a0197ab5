//! Any bytes as a Declaratiebericht: the check must answer, never panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use std::sync::OnceLock;
use zio_gateway::config::Config;

fn config() -> &'static Config {
    static C: OnceLock<Config> = OnceLock::new();
    C.get_or_init(|| {
        Config::parse(
            include_str!("../../config/gateway.toml"),
            std::path::Path::new("config/gateway.toml"),
        )
        .expect("example config")
    })
}

fuzz_target!(|data: &[u8]| {
    let config = config();
    let ctx = zio_gateway::rules::Context {
        regime: &config.regime,
        today: chrono::NaiveDate::from_ymd_opt(2024, 4, 10).unwrap(),
        indications: None,
        require_start_of_delivery: true,
        history: &zio_gateway::rules::NoHistory,
    };
    if let Ok(mut out) = zio_gateway::check::check_message(data, config, &ctx) {
        let _ = out.write_answer(config, zio_gateway::message::writer::Format::Xml, false, std::io::sink());
    }
});
