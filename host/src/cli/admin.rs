//! `rumble domain ...` and `rumble account ...`: the operator's tools for
//! the store, like Rumble's rumblectrl. They open the store in the config's
//! DataFolder directly (the server need not run).

use std::io::BufRead;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result, anyhow};
use clap::Subcommand;

use crate::store::accounts::{DOMAIN_NO_RELAY, split_address};
use crate::store::{AccountKind, NewAccount, Store};

#[derive(Subcommand)]
pub enum DomainCommand {
    /// Add a domain this server receives mail for.
    Add {
        name: String,
        /// Alternative folder for this domain's letters (default: StorageFolder).
        #[arg(long, default_value = "")]
        path: String,
        /// No relaying for senders in this domain (Rumble's "block").
        #[arg(long)]
        no_relay: bool,
    },
    /// List domains: name, flags, storage path.
    List,
    /// Delete a domain and all its accounts.
    Delete { name: String },
}

#[derive(Subcommand)]
pub enum AccountCommand {
    /// Add an account. USER may be a GLOB pattern (`*` catches everything).
    Add {
        /// USER@DOMAIN
        address: String,
        /// The password (read from standard input when not given, for mbox accounts).
        #[arg(long)]
        password: Option<String>,
        /// mbox, alias or relay.
        #[arg(long = "type", default_value = "mbox")]
        kind: String,
        /// alias: target addresses; relay: smarthost host[:port].
        #[arg(long, num_args = 1.., value_delimiter = ' ')]
        arg: Vec<String>,
    },
    /// List a domain's accounts: address, type, argument.
    List { domain: String },
    /// Delete an account (its exact user name or pattern).
    Delete { address: String },
}

#[derive(Subcommand)]
pub enum QueueCommand {
    /// List queued deliveries, next due first.
    List {
        /// At most this many rows.
        #[arg(long, default_value_t = 100)]
        limit: u32,
    },
}

pub async fn queue(config: Option<PathBuf>, cmd: QueueCommand) -> Result<ExitCode> {
    let store = open(config).await?;
    let QueueCommand::List { limit } = cmd;
    let items = store.list_queue(limit).await?;
    if items.is_empty() {
        println!("queue is empty");
        return Ok(ExitCode::SUCCESS);
    }
    println!("id\tfile\tsender\trecipient\tattempts\tnext attempt (UTC)\tlast error");
    for i in items {
        let sender = if i.sender.is_empty() { "<>" } else { i.sender.as_str() };
        println!(
            "{}\t{}\t{sender}\t{}\t{}\t{}\t{}",
            i.id,
            i.fid,
            i.recipient,
            i.attempts,
            utc(i.next_attempt),
            i.last_error
        );
    }
    Ok(ExitCode::SUCCESS)
}

fn utc(epoch: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(epoch)
        .ok()
        .and_then(|t| t.format(time::macros::format_description!("[year]-[month]-[day] [hour]:[minute]:[second]")).ok())
        .unwrap_or_else(|| epoch.to_string())
}

pub async fn domain(config: Option<PathBuf>, cmd: DomainCommand) -> Result<ExitCode> {
    let store = open(config).await?;
    match cmd {
        DomainCommand::Add { name, path, no_relay } => {
            let flags = if no_relay { DOMAIN_NO_RELAY } else { 0 };
            let d = store.add_domain(&name, &path, flags).await?;
            println!("added domain {}", d.name);
        }
        DomainCommand::List => {
            for d in store.list_domains().await? {
                let flags = if d.flags & DOMAIN_NO_RELAY != 0 { "no-relay" } else { "-" };
                println!("{}\t{flags}\t{}", d.name, d.storage_path);
            }
        }
        DomainCommand::Delete { name } => {
            if !store.delete_domain(&name).await? {
                eprintln!("error: no domain {name}");
                return Ok(ExitCode::FAILURE);
            }
            println!("deleted domain {name} and its accounts");
        }
    }
    Ok(ExitCode::SUCCESS)
}

pub async fn account(config: Option<PathBuf>, cmd: AccountCommand) -> Result<ExitCode> {
    let store = open(config).await?;
    match cmd {
        AccountCommand::Add { address, password, kind, arg } => {
            let (user, domain) = split_address(&address)?;
            let kind = AccountKind::parse(&kind)?;
            let password = match (password, &kind) {
                (Some(p), _) => Some(p),
                (None, AccountKind::Mbox) => Some(read_password()?),
                (None, _) => None,
            };
            let new = NewAccount { domain, user, password, kind, arg: arg.join(" ") };
            let a = store.add_account(new).await?;
            println!("added {} account {}", a.kind.as_str(), a.address());
        }
        AccountCommand::List { domain } => {
            for a in store.list_accounts(&domain).await? {
                println!("{}\t{}\t{}", a.address(), a.kind.as_str(), a.arg);
            }
        }
        AccountCommand::Delete { address } => {
            let (user, domain) = split_address(&address)?;
            if !store.delete_account(&domain, &user).await? {
                eprintln!("error: no account {address}");
                return Ok(ExitCode::FAILURE);
            }
            println!("deleted account {address}");
        }
    }
    Ok(ExitCode::SUCCESS)
}

async fn open(config: Option<PathBuf>) -> Result<Store> {
    let path = super::find_config(config)?;
    let loaded = crate::config::load(&path, &super::exec_dir()).map_err(|e| anyhow!("{e}"))?;
    super::open_store(&loaded.settings).await
}

/// One line from standard input, so passwords stay out of shell history and `ps`.
fn read_password() -> Result<String> {
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line).context("reading the password from standard input")?;
    let password = line.trim_end_matches(['\r', '\n']).to_string();
    if password.is_empty() {
        return Err(anyhow!("no password: pass --password or write it on standard input"));
    }
    Ok(password)
}
