//! The `gancho` command line: argument parsing and dispatch to the subcommands.

mod build;
mod diff;
mod guest_build;
mod keys;
mod language;
mod plugin;
mod precompiled;
mod receive;
mod scaffold;
mod serve;
pub mod stand_in;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(name = "gancho", version, about = "A WebAssembly plugin host for webhook payload transformation")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the service: the HTTP API, the pipeline and the delivery worker.
    Serve(serve::ServeArgs),
    /// Listen for webhooks locally and print them (a stand-in destination for trying Gancho).
    Receive(receive::ReceiveArgs),
    /// Create, build, check and run plugins locally, as the service would.
    #[command(subcommand)]
    Plugin(plugin::PluginCommand),
    /// Stand-ins for the services a connection signs in at, to try Gancho on one machine.
    #[command(subcommand)]
    StandIn(stand_in::StandInCommand),
    /// Manage the keys that seal tenants' connection secrets.
    #[command(subcommand)]
    Keys(keys::KeysCommand),
}

/// Parses the command line and runs it; the exit code says how it went (0 ok, 1 the plugin failed,
/// 2 bad input or usage).
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::try_from_env("GANCHO_LOG").unwrap_or_else(|_| {
            match cli.command {
                Command::Serve(_) => "info".into(),
                Command::Plugin(_) | Command::Receive(_) | Command::Keys(_) | Command::StandIn(_) => {
                    "warn".into()
                }
            }
        }))
        .with_writer(std::io::stderr)
        .init();
    match cli.command {
        Command::Serve(args) => serve::run(args),
        Command::Receive(args) => receive::run(args),
        Command::Plugin(command) => plugin::run(command),
        Command::Keys(command) => keys::run(command),
        Command::StandIn(command) => stand_in::run(command),
    }
}
