//! Any bytes as a Declaratiebericht: the pipeline must answer, never panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use std::sync::{Arc, OnceLock};
use zio_gateway::config::Config;
use zio_gateway::pipeline::{Arrival, Backends, Disposition, Pipeline};
use zio_gateway::sinks::answer::Format;

fn pipeline() -> &'static Pipeline {
    static P: OnceLock<Pipeline> = OnceLock::new();
    P.get_or_init(|| {
        let config = Config::parse(
            include_str!("../../config/gateway.toml"),
            std::path::Path::new("config/gateway.toml"),
        )
        .expect("example config");
        Pipeline::new(Arc::new(config), Backends::none())
    })
}

fuzz_target!(|data: &[u8]| {
    let p = pipeline();
    let arrival = Arrival {
        today: chrono::NaiveDate::from_ymd_opt(2024, 4, 10).unwrap(),
        authenticated: None,
        disposition: Disposition::AnswerOnly,
    };
    if let Ok(mut processed) = p.process(data, &arrival) {
        let _ = p.answer(&mut processed, Format::Xml, std::io::sink());
    }
});
