#![forbid(unsafe_code)]

use clap::Parser;
use newsd::cli::{dispatch, Cli};
use newsd::config::Settings;
use newsd::telemetry;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    telemetry::init(
        cli.log_format,
        "info,sqlx=warn,hyper=warn,reqwest=warn,html5ever=error,selectors=error",
    );
    let loaded = match Settings::load(cli.config.as_deref()) {
        Ok(l) => l,
        Err(e) => {
            eprintln!("newsd: configuration error: {e}");
            return std::process::ExitCode::from(2);
        }
    };
    for w in &loaded.warnings {
        tracing::warn!("{w}");
    }
    match dispatch(cli.command, loaded.settings).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("newsd: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
