//! Engine configuration: the embedded defaults, an optional TOML file, and overrides.
//!
//! Precedence is defaults < `--config` file < `RINGHOOK_*` variables and flags.
//! The defaults live in `default.toml` so that `ringhook serve` works with no
//! flags and the file documents every key.

use crate::limits::{DELIVERY_TIMEOUT_MIN_MS, PIPELINE_DEPTH_MAX};
use serde::Deserialize;
use std::path::{Path, PathBuf};

/// The embedded default configuration.
pub const DEFAULT_TOML: &str = include_str!("default.toml");

/// How appends become durable before they are acknowledged.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Durability {
    /// Acknowledge only after the record is synced (msync) to disk.
    Sync,
    /// Acknowledge at once; sync every `batch_sync_interval_ms`.
    Batch,
    /// Never sync; the page cache alone holds the data (benchmarks only).
    None,
}

impl std::str::FromStr for Durability {
    type Err = ConfigError;
    fn from_str(s: &str) -> Result<Self, ConfigError> {
        match s {
            "sync" => Ok(Self::Sync),
            "batch" => Ok(Self::Batch),
            "none" => Ok(Self::None),
            other => Err(ConfigError::Invalid(format!(
                "durability must be sync, batch or none, not {other:?}"
            ))),
        }
    }
}

/// Why a configuration could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config file {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("config is not valid TOML: {0}")]
    Toml(String),
    #[error("invalid configuration: {0}")]
    Invalid(String),
}

/// The whole engine configuration. Field docs are in `default.toml`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    pub data_dir: PathBuf,
    pub http_addr: String,
    pub socket: PathBuf,
    pub shards: usize,
    pub cpus: Vec<usize>,
    pub durability: Durability,
    pub batch_sync_interval_ms: u64,
    pub retry_schedule: Vec<String>,
    pub retry_jitter_percent: u64,
    pub allow_private_targets: bool,
    pub api_token: String,
    pub max_apps: usize,
    pub max_endpoints_per_app: usize,
    pub max_event_types: usize,
    /// Incoming sources the catalog may hold.
    pub max_sources: usize,
    /// Replay window of timestamped incoming signatures, either way.
    pub incoming_tolerance_ms: u64,
    /// The base of sources' `ingestUrl` as senders reach it (empty: the API listener's address).
    pub ingest_public_url: String,
    /// HOST:PORT of a listener for receive URLs only (empty: none).
    pub ingest_addr: String,
    /// How long a console sign-in lasts.
    pub console_session_ms: u64,
    /// Mark the console's session cookie `Secure` (set it behind TLS).
    pub console_cookie_secure: bool,
    /// The base of console and portal URLs as browsers reach them (empty:
    /// the API listener's address).
    pub console_public_url: String,
    /// The CSP `frame-ancestors` of console and portal pages.
    pub console_frame_ancestors: String,
    /// How often the dashboard samples the metrics (an hour is kept).
    pub dashboard_sample_ms: u64,
    pub rule_eval_interval_ms: u64,
    pub api_header_timeout_ms: u64,
    pub api_keepalive_idle_ms: u64,
    pub api_request_timeout_ms: u64,
    pub api_connections_max: usize,
    pub api_connections_per_client_max: usize,
    pub api_requests_per_connection_max: usize,
    pub ingest_frame_timeout_ms: u64,
    pub ingest_idle_timeout_ms: u64,
    pub ingest_bytes_in_flight_max: u64,
    pub max_body_bytes: usize,
    pub segment_bytes: u64,
    /// Segment size of the catalog journal (applications, endpoints, event types).
    pub catalog_segment_bytes: u64,
    /// The catalog journal is compacted once it is this large and twice the live catalog.
    pub catalog_compact_min_bytes: u64,
    pub max_in_flight_per_endpoint: usize,
    /// Requests one connection may carry before their responses (HTTP/1.1 pipelining; 1 = off).
    pub pipeline_depth: usize,
    pub max_idle_connections_per_endpoint: usize,
    /// Outbound connections per shard, busy or idle (0: an equal share of the
    /// open-file limit, less what the rest of the process needs).
    pub max_connections_per_shard: usize,
    pub connect_timeout_ms: u64,
    pub request_timeout_ms: u64,
    pub response_keep_bytes: usize,
    pub shard_channel_capacity: usize,
    pub max_pending_per_shard: usize,
    /// Bytes of messages kept in memory for deliveries in ready queues
    /// (`delivery::Deliveries`, invariant 6).
    pub max_hot_ready_bytes_per_shard: u64,
    pub idempotency_window_ms: u64,
    pub max_event_ids_per_shard: usize,
    pub secret_rotation_grace_ms: u64,
    pub retention_ms: u64,
    pub compaction_interval_ms: u64,
    pub auto_disable_after_ms: u64,
    pub index_max_per_key: usize,
    /// The egress proxy deliveries tunnel through (`http://host:port`; empty: none).
    pub proxy_url: String,
    /// Whom deliveries over https trust (`[tls]`).
    pub tls: TlsSettings,
}

/// The engine-wide trust settings (`[tls]` in the configuration).
#[derive(Debug, Clone, Default, serde::Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TlsSettings {
    /// Also trust the operating system's certificate store.
    pub system_roots: bool,
    /// PEM files of further (private) certificate authorities to trust.
    pub ca_files: Vec<std::path::PathBuf>,
}

impl Config {
    /// Loads the defaults, merged with `file` when given.
    pub fn load(file: Option<&Path>) -> Result<Config, ConfigError> {
        let text = match file {
            Some(path) => std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
                path: path.to_path_buf(),
                source,
            })?,
            None => String::new(),
        };
        Config::from_toml(&text)
    }

    /// The defaults with the keys of `text` (a configuration file's TOML)
    /// on top; an unknown key or a value of the wrong type is refused.
    pub fn from_toml(text: &str) -> Result<Config, ConfigError> {
        let mut base: toml::Table = DEFAULT_TOML
            .parse()
            .map_err(|e: toml::de::Error| ConfigError::Toml(e.to_string()))?;
        let user: toml::Table = text
            .parse()
            .map_err(|e: toml::de::Error| ConfigError::Toml(e.to_string()))?;
        for (k, v) in user {
            if !base.contains_key(&k) {
                return Err(ConfigError::Invalid(format!("unknown key {k:?}")));
            }
            base.insert(k, v);
        }
        let config: Config = toml::Value::Table(base)
            .try_into()
            .map_err(|e: toml::de::Error| ConfigError::Toml(e.to_string()))?;
        Ok(config)
    }

    /// Checks cross-field rules and fills derived defaults (shard count, socket path).
    pub fn finish(mut self) -> Result<Config, ConfigError> {
        if self.shards == 0 {
            self.shards = std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(1);
        }
        if self.shards > 256 {
            return Err(ConfigError::Invalid("at most 256 shards".into()));
        }
        if self.socket.as_os_str().is_empty() {
            self.socket = self.data_dir.join("ingest.sock");
        }
        self.retry_schedule_ms()?;

        if self.segment_bytes < 64 * 1024 || self.segment_bytes > u64::from(u32::MAX) {
            return Err(ConfigError::Invalid(
                "segment_bytes must be between 64 KiB and 4 GiB".into(),
            ));
        }
        // The largest catalog record comes from one API request body.
        let catalog_min = (self.max_body_bytes as u64 + 64 * 1024).max(64 * 1024);
        if self.catalog_segment_bytes < catalog_min
            || self.catalog_segment_bytes > u64::from(u32::MAX)
            || !self.catalog_segment_bytes.is_multiple_of(4096)
        {
            return Err(ConfigError::Invalid(format!(
                "catalog_segment_bytes must be a multiple of 4096 between {catalog_min} (max_body_bytes + 64 KiB) and 4 GiB"
            )));
        }
        if self.retention_ms < self.idempotency_window_ms {
            // Recovery rebuilds the eventId window from message records, so
            // they must outlive it.
            return Err(ConfigError::Invalid(
                "retention_ms must be at least idempotency_window_ms".into(),
            ));
        }
        if self.rule_eval_interval_ms < 100 {
            return Err(ConfigError::Invalid(
                "rule_eval_interval_ms must be at least 100".into(),
            ));
        }
        if self.dashboard_sample_ms < 100 {
            return Err(ConfigError::Invalid(
                "dashboard_sample_ms must be at least 100".into(),
            ));
        }
        // The API's connection deadlines (`api::deadline`): a zero phase
        // would leave the watchdog nothing to wait for.
        for (name, ms) in [
            ("api_header_timeout_ms", self.api_header_timeout_ms),
            ("api_request_timeout_ms", self.api_request_timeout_ms),
        ] {
            if ms < 10 {
                return Err(ConfigError::Invalid(format!("{name} must be at least 10")));
            }
        }
        // A delivery's time limits (`delivery::deadlines`) end up to 50 ms
        // after they run out; a limit of 0 would fail every attempt.
        for (name, ms) in [
            ("connect_timeout_ms", self.connect_timeout_ms),
            ("request_timeout_ms", self.request_timeout_ms),
        ] {
            if ms < DELIVERY_TIMEOUT_MIN_MS {
                return Err(ConfigError::Invalid(format!(
                    "{name} must be at least {DELIVERY_TIMEOUT_MIN_MS}"
                )));
            }
        }
        if self.compaction_interval_ms == 0 {
            return Err(ConfigError::Invalid(
                "compaction_interval_ms must be positive".into(),
            ));
        }
        if self.max_in_flight_per_endpoint == 0 || self.shard_channel_capacity == 0 {
            return Err(ConfigError::Invalid("capacities must be positive".into()));
        }
        if !(1..=PIPELINE_DEPTH_MAX).contains(&self.pipeline_depth) {
            return Err(ConfigError::Invalid(format!(
                "pipeline_depth must be between 1 and {PIPELINE_DEPTH_MAX}"
            )));
        }
        Ok(self)
    }

    /// The retry schedule in milliseconds; entry `i` is the delay before attempt `i`.
    pub fn retry_schedule_ms(&self) -> Result<Vec<u64>, ConfigError> {
        if self.retry_schedule.is_empty() || self.retry_schedule.len() > 64 {
            return Err(ConfigError::Invalid(
                "retry_schedule needs 1 to 64 entries".into(),
            ));
        }
        self.retry_schedule
            .iter()
            .map(|s| {
                crate::time::parse_duration_ms(s).ok_or_else(|| {
                    ConfigError::Invalid(format!("bad duration {s:?} in retry_schedule"))
                })
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embedded_defaults_load() {
        let c = Config::load(None)
            .and_then(Config::finish)
            .expect("defaults are valid");
        assert_eq!(c.http_addr, "127.0.0.1:8040");
        assert_eq!(c.durability, Durability::Sync);
        assert_eq!(c.retry_schedule_ms().expect("valid")[1], 5_000);
        assert!(c.shards >= 1);
    }

    #[test]
    fn unknown_keys_are_refused() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("c.toml");
        std::fs::write(&path, "nonsense = 1\n").expect("write");
        assert!(matches!(
            Config::load(Some(&path)),
            Err(ConfigError::Invalid(_))
        ));
        std::fs::write(&path, "shards = 3\n").expect("write");
        assert_eq!(Config::load(Some(&path)).expect("loads").shards, 3);
    }

    #[test]
    fn out_of_range_values_are_refused_with_their_name() {
        let check = |edit: fn(&mut Config), name: &str| {
            let mut c = Config::load(None).expect("defaults");
            edit(&mut c);
            match c.finish() {
                Err(ConfigError::Invalid(text)) => assert!(text.contains(name), "{text}"),
                other => panic!("{name}: expected an error, got {other:?}"),
            }
        };
        check(|c| c.pipeline_depth = 0, "pipeline_depth");
        check(|c| c.api_header_timeout_ms = 0, "api_header_timeout_ms");
        check(|c| c.api_request_timeout_ms = 9, "api_request_timeout_ms");
        check(|c| c.connect_timeout_ms = 0, "connect_timeout_ms");
        check(|c| c.request_timeout_ms = 99, "request_timeout_ms");
        check(
            |c| c.pipeline_depth = PIPELINE_DEPTH_MAX + 1,
            "pipeline_depth",
        );
        check(|c| c.segment_bytes = 1024, "segment_bytes");
        check(|c| c.segment_bytes = 5 << 30, "segment_bytes");
        check(
            |c| c.catalog_segment_bytes = 1 << 20,
            "catalog_segment_bytes",
        );
        check(
            |c| c.catalog_segment_bytes = (4 << 20) + 1,
            "catalog_segment_bytes",
        );
        let mut c = Config::load(None).expect("defaults");
        c.pipeline_depth = PIPELINE_DEPTH_MAX;
        assert!(c.finish().is_ok());
    }
}
