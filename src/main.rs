//! The `ringhook` binary: command-line parsing and the edges of the engine.
//!
//! `serve` runs the engine, `token create` mints an API token, `journal check`
//! verifies a data directory offline. Errors become `anyhow` only here.

use anyhow::Context;
use clap::{Parser, Subcommand};
use ringhook::config::{Config, Durability};
use std::path::{Path, PathBuf};

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(
    name = "ringhook",
    version,
    about = "A durable, thread-per-core webhook delivery engine",
    args_override_self = true
)]
struct Cli {
    /// Log lines as text or JSON (on stderr).
    #[arg(
        long,
        global = true,
        env = "RINGHOOK_LOG_FORMAT",
        value_enum,
        default_value = "text"
    )]
    log_format: ringhook::logging::LogFormat,
    /// Which events to log, RUST_LOG-style: `info`, `warn`, `ringhook=debug`, ...
    #[arg(long, global = true, env = "RINGHOOK_LOG", default_value = "info")]
    log_level: String,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the engine (works with no flags on the embedded default config).
    Serve(Box<ServeArgs>),
    /// Manage API tokens.
    Token {
        #[command(subcommand)]
        command: TokenCommand,
    },
    /// Inspect journals.
    Journal {
        #[command(subcommand)]
        command: JournalCommand,
    },
}

#[derive(clap::Args)]
struct ServeArgs {
    /// A TOML file overriding the embedded defaults.
    #[arg(long, env = "RINGHOOK_CONFIG")]
    config: Option<PathBuf>,
    #[arg(long, env = "RINGHOOK_DATA_DIR")]
    data_dir: Option<PathBuf>,
    /// HOST:PORT of the HTTP API (default 127.0.0.1:8040).
    #[arg(long, env = "RINGHOOK_HTTP_ADDR")]
    http_addr: Option<String>,
    /// HOST:PORT of a listener serving only incoming sources' receive URLs
    /// (/ingest/<token>), so they can face the internet while the API stays
    /// private (default: none; the API listener serves them).
    #[arg(long, env = "RINGHOOK_INGEST_ADDR")]
    ingest_addr: Option<String>,
    /// Path of the ingest Unix socket (default <data-dir>/ingest.sock).
    #[arg(long, env = "RINGHOOK_SOCKET")]
    socket: Option<PathBuf>,
    /// Number of shards (default: one per CPU).
    #[arg(long, env = "RINGHOOK_SHARDS")]
    shards: Option<usize>,
    /// Cores to pin shards to, e.g. 0,1 (unpinned if absent).
    #[arg(long, env = "RINGHOOK_CPUS", value_delimiter = ',')]
    cpus: Option<Vec<usize>>,
    /// sync (default), batch or none.
    #[arg(long, env = "RINGHOOK_DURABILITY")]
    durability: Option<Durability>,
    /// Delays before each attempt, e.g. 0s,5s,5m,30m,2h,5h,10h,10h.
    #[arg(long, env = "RINGHOOK_RETRY_SCHEDULE", value_delimiter = ',')]
    retry_schedule: Option<Vec<String>>,
    /// Permit endpoint URLs on loopback, private and link-local addresses.
    #[arg(long, env = "RINGHOOK_ALLOW_PRIVATE_TARGETS")]
    allow_private_targets: bool,
    /// Journal segment size in bytes (a multiple of 4096; default 64 MiB).
    #[arg(long, env = "RINGHOOK_SEGMENT_BYTES")]
    segment_bytes: Option<u64>,
    /// Requests pipelined per delivery connection (1 = off; see the config file).
    #[arg(long, env = "RINGHOOK_PIPELINE_DEPTH")]
    pipeline_depth: Option<usize>,
    /// Outbound connections per shard, busy or idle (0: a share of the open-file limit).
    #[arg(long, env = "RINGHOOK_MAX_CONNECTIONS_PER_SHARD")]
    max_connections_per_shard: Option<usize>,
    /// Truncate the journal at a corrupt record instead of refusing to start.
    #[arg(long)]
    repair: bool,
}

#[derive(Subcommand)]
enum TokenCommand {
    /// Mint a new API token, store it in <data-dir>/api-tokens and print it.
    Create {
        #[arg(long, env = "RINGHOOK_DATA_DIR", default_value = "ringhook-data")]
        data_dir: PathBuf,
    },
}

#[derive(Subcommand)]
enum JournalCommand {
    /// Verify every journal of a data directory without changing it.
    Check {
        #[arg(long, env = "RINGHOOK_DATA_DIR", default_value = "ringhook-data")]
        data_dir: PathBuf,
    },
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    ringhook::logging::init(cli.log_format, &cli.log_level)?;
    match cli.command {
        Command::Serve(args) => serve(*args),
        Command::Token {
            command: TokenCommand::Create { data_dir },
        } => {
            let token = mint_token(&data_dir)?;
            println!("{token}");
            Ok(())
        }
        Command::Journal {
            command: JournalCommand::Check { data_dir },
        } => journal_check(&data_dir),
    }
}

fn serve(args: ServeArgs) -> anyhow::Result<()> {
    let mut config = Config::load(args.config.as_deref())?;
    if let Some(v) = args.data_dir {
        config.data_dir = v;
    }
    if let Some(v) = args.http_addr {
        config.http_addr = v;
    }
    if let Some(v) = args.socket {
        config.socket = v;
    }
    if let Some(v) = args.ingest_addr {
        config.ingest_addr = v;
    }
    if let Some(v) = args.shards {
        config.shards = v;
    }
    if let Some(v) = args.cpus {
        config.cpus = v;
    }
    if let Some(v) = args.durability {
        config.durability = v;
    }
    if let Some(v) = args.retry_schedule {
        config.retry_schedule = v;
    }
    if let Some(v) = args.segment_bytes {
        config.segment_bytes = v;
    }
    if let Some(v) = args.max_connections_per_shard {
        config.max_connections_per_shard = v;
    }
    if let Some(v) = args.pipeline_depth {
        config.pipeline_depth = v;
    }
    if args.allow_private_targets {
        config.allow_private_targets = true;
    }
    let config = config.finish()?;
    ringhook::datadir::create_private(&config.data_dir)?;
    let tokens = load_tokens(&config)?;
    ringhook::engine::serve(config, tokens, args.repair)?;
    Ok(())
}

/// Tokens from the config, `RINGHOOK_API_TOKEN` and `<data-dir>/api-tokens`;
/// if there are none, mints one so the API is never open.
fn load_tokens(config: &Config) -> anyhow::Result<Vec<String>> {
    let mut tokens = Vec::new();
    if !config.api_token.is_empty() {
        tokens.push(config.api_token.clone());
    }
    if let Ok(t) = std::env::var("RINGHOOK_API_TOKEN") {
        if !t.trim().is_empty() {
            tokens.push(t.trim().to_string());
        }
    }
    let path = ringhook::datadir::tokens_file(&config.data_dir);
    match std::fs::read_to_string(&path) {
        Ok(text) => tokens.extend(
            text.lines()
                .map(str::trim)
                .filter(|l| !l.is_empty())
                .map(String::from),
        ),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(e).with_context(|| format!("reading {}", path.display())),
    }
    if tokens.is_empty() {
        let token = mint_token(&config.data_dir)?;
        // The token goes to the terminal, never into the log.
        tracing::info!(file = %path.display(), "no API token configured; created one");
        if std::io::IsTerminal::is_terminal(&std::io::stdout()) {
            println!("API token (also in {}): {token}", path.display());
        }
        tokens.push(token);
    }
    Ok(tokens)
}

/// Appends a new random token to `<data-dir>/api-tokens` (mode 0600).
fn mint_token(data_dir: &Path) -> anyhow::Result<String> {
    use rand::RngCore;
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    ringhook::datadir::create(data_dir)?;
    let mut raw = [0u8; 24];
    rand::thread_rng().fill_bytes(&mut raw);
    let token = format!(
        "rh_{}",
        raw.iter().map(|b| format!("{b:02x}")).collect::<String>()
    );
    let path = ringhook::datadir::tokens_file(data_dir);
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .mode(0o600)
        .open(&path)
        .with_context(|| format!("opening {}", path.display()))?;
    writeln!(f, "{token}").with_context(|| format!("writing {}", path.display()))?;
    f.sync_all()?;
    Ok(token)
}

fn journal_check(data_dir: &Path) -> anyhow::Result<()> {
    use ringhook::catalog::store::{settle_action, SettleAction};
    use ringhook::datadir::{catalog_dir, catalog_next_dir, catalog_prev_dir};
    let mut dirs = ringhook::datadir::journal_dirs(data_dir)
        .with_context(|| format!("reading {}", data_dir.display()))?;
    // A compaction interrupted by a crash: check the catalog journal the
    // next start will use (check itself changes nothing).
    let (cat, next, prev) = (
        catalog_dir(data_dir),
        catalog_next_dir(data_dir),
        catalog_prev_dir(data_dir),
    );
    let catalog_in_use = match settle_action(cat.exists(), next.exists(), prev.exists()) {
        SettleAction::Nothing | SettleAction::RemoveLeftovers => None,
        SettleAction::FinishSwap => Some(next),
        SettleAction::RestorePrev => Some(prev),
        SettleAction::OnlyNext => anyhow::bail!(
            "{} exists but neither {} nor {} does: the catalog journal is missing",
            next.display(),
            cat.display(),
            prev.display()
        ),
    };
    if let Some(dir) = catalog_in_use {
        println!(
            "{}: an interrupted catalog compaction; the next start uses {}",
            cat.display(),
            dir.display()
        );
        dirs.insert(0, dir);
    }
    let mut bad = false;
    for dir in &dirs {
        let report = ringhook::journal::check_with(dir, &mut |r| {
            ringhook::records::validate(r.kind, r.version, r.body).map_err(Into::into)
        })
        .with_context(|| format!("checking {}", dir.display()))?;
        println!("{}: {report}", dir.display());
        bad |= report.corruption.is_some();
    }
    if bad {
        anyhow::bail!("journal corruption found");
    }
    Ok(())
}
