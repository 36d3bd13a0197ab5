use clap::Parser;
use zio_gateway::cli::{exit_code, run, Cli};

fn main() {
    let cli = Cli::parse();
    match run(cli) {
        Ok(code) => std::process::exit(code),
        Err(e) => {
            eprintln!("zio-gateway: {e}");
            std::process::exit(exit_code(&e));
        }
    }
}
