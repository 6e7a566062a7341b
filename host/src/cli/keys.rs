//! `gancho keys rotate`: re-seals every connection's secret with the active key of `connections.keys`, so
//! that an old key can then be dropped from the configuration.

use std::path::PathBuf;
use std::process::ExitCode;

use crate::config::Config;
use crate::connections::{Sealed, Sealer, associated_data};

#[derive(clap::Subcommand)]
pub enum KeysCommand {
    /// Re-seal every connection with `connections.active_key` (add the new key to `connections.keys` and
    /// make it active first; drop the old one afterwards).
    Rotate {
        /// A config file (see host/gancho.example.toml); default ./gancho.toml if it exists.
        #[arg(long, env = "GANCHO_CONFIG")]
        config: Option<PathBuf>,
    },
}

pub fn run(command: KeysCommand) -> ExitCode {
    let KeysCommand::Rotate { config } = command;
    let runtime =
        tokio::runtime::Builder::new_current_thread().enable_all().build().expect("tokio runtime starts");
    match runtime.block_on(rotate(config)) {
        Ok(message) => {
            println!("{message}");
            ExitCode::SUCCESS
        }
        Err(message) => {
            eprintln!("error: {message}");
            ExitCode::from(2)
        }
    }
}

async fn rotate(config: Option<PathBuf>) -> Result<String, String> {
    let config = Config::load(config.as_deref(), std::env::vars())
        .map_err(|message| format!("invalid configuration: {message}"))?;
    let sealer = Sealer::from_config(&config.connections.keys, &config.connections.active_key)?.ok_or(
        "connections.keys (GANCHO_CONNECTIONS__KEYS) is empty: list the old key and the new one, with \
         connections.active_key naming the new one",
    )?;
    let store = crate::open_store(&config).await.map_err(|e| format!("{e:#}"))?;
    let active = sealer.active_key_id().to_owned();
    let (mut resealed, mut current) = (0, 0);
    for mut connection in store.all_connections().await.map_err(|e| e.to_string())? {
        if connection.key_id == active {
            current += 1;
            continue;
        }
        let aad = associated_data(&connection.tenant_id, &connection.name);
        let sealed = Sealed {
            key_id: connection.key_id.clone(),
            nonce: connection.nonce,
            ciphertext: connection.sealed,
        };
        let plain = sealer.open(&sealed, &aad).map_err(|e| {
            format!("connection `{}` of tenant {}: {e}", connection.name, connection.tenant_id)
        })?;
        let fresh = sealer.seal(&plain, &aad);
        (connection.key_id, connection.nonce, connection.sealed) =
            (fresh.key_id, fresh.nonce, fresh.ciphertext);
        // Only the sealing changes: the connection's tokens and history stay as they are.
        store.update_connection(&connection).await.map_err(|e| e.to_string())?;
        resealed += 1;
    }
    Ok(format!(
        "re-sealed {resealed} connection(s) with key `{active}`; {current} already were. The other keys can now be \
         dropped from connections.keys."
    ))
}
