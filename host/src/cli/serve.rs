//! `gancho serve`: load the settings, bind the listener, run until SIGTERM or Ctrl-C.

use std::path::PathBuf;
use std::process::ExitCode;

use tokio_util::sync::CancellationToken;

use crate::config::Config;

#[derive(clap::Args)]
pub struct ServeArgs {
    /// A config file (see host/gancho.example.toml); default ./gancho.toml if it exists.
    #[arg(long, env = "GANCHO_CONFIG")]
    config: Option<PathBuf>,
}

pub fn run(args: ServeArgs) -> ExitCode {
    let mut config = match Config::load(args.config.as_deref(), std::env::vars()) {
        Ok(config) => config,
        Err(message) => {
            eprintln!("error: invalid configuration: {message}");
            return ExitCode::from(2);
        }
    };
    if let Err(error) = config.resolve_tokens() {
        eprintln!("error: cannot keep tokens in {}: {error}", config.data_dir.display());
        return ExitCode::from(2);
    }
    let runtime =
        tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("tokio runtime starts");
    runtime.block_on(async move {
        let listener = match tokio::net::TcpListener::bind(config.listen).await {
            Ok(listener) => listener,
            Err(error) => {
                eprintln!("error: cannot listen on {} (key `listen`, GANCHO_LISTEN): {error}", config.listen);
                return ExitCode::from(2);
            }
        };
        match crate::telemetry::start_from_env() {
            Ok(true) => tracing::info!("exporting traces as the OTEL_* variables say"),
            Ok(false) => {}
            Err(message) => {
                eprintln!("error: {message}");
                return ExitCode::from(2);
            }
        }
        let shutdown = CancellationToken::new();
        tokio::spawn(stop_on_signal(shutdown.clone()));
        let ran = crate::run(config, listener, shutdown).await;
        // The last spans go out before the runtime they are sent on stops.
        let _ = tokio::task::spawn_blocking(crate::telemetry::shutdown).await;
        match ran {
            Ok(()) => ExitCode::SUCCESS,
            Err(error) => {
                eprintln!("error: {error:#}");
                ExitCode::FAILURE
            }
        }
    })
}

async fn stop_on_signal(shutdown: CancellationToken) {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut terminate = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .expect("SIGTERM handler installs");
        tokio::select! {
            _ = ctrl_c => {}
            _ = terminate.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = ctrl_c.await;
    tracing::info!("shutting down: finishing work in progress");
    shutdown.cancel();
}
