//! Typed settings, loaded once at start from environment variables and an optional TOML file.
//!
//! Every setting has one environment name (`SIGHTLINE_*`, or the conventional `DATABASE_URL` /
//! `REDIS_URL`) and the same name in lower case without the `SIGHTLINE_` prefix as a key of a flat
//! TOML file (`SIGHTLINE_CONFIG=path`). The environment wins over the file. A missing or malformed
//! value stops the process with one line naming the setting ([`ConfigError`]).
//!
//! Invariant: nothing outside this module reads `std::env` for settings; the rest of the code
//! receives a [`Settings`] (or the part of it it needs).

use std::collections::HashMap;
use std::fmt;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

/// A secret string that never reaches logs or `Debug` output.
#[derive(Clone)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("config: {name} is required but not set")]
    Missing { name: &'static str },
    #[error("config: {name}={value:?} is invalid: {reason}")]
    Invalid {
        name: &'static str,
        value: String,
        reason: String,
    },
    #[error("config: cannot read config file {path}: {reason}")]
    File { path: String, reason: String },
}

/// Every environment variable the configuration reads, with its meaning. Used by `--help`-style
/// listings and by the test that checks docker-compose.yml names only real settings.
pub const KNOWN_VARS: &[(&str, &str)] = &[
    ("SIGHTLINE_CONFIG", "path of an optional flat TOML file with the settings below"),
    ("DATABASE_URL", "PostgreSQL URL of the primary (writes, migrations)"),
    ("SIGHTLINE_DATABASE_READ_URL", "optional PostgreSQL URL of a read replica for analytics queries"),
    ("SIGHTLINE_DATABASE_POOL", "connections per process in the primary pool (default 16)"),
    ("SIGHTLINE_LIVE_BUFFER", "live-feed messages (of at most 64 events) buffered per project for slow subscribers before they lag (default 256)"),
    ("REDIS_URL", "Redis URL (redis://host:port/db); a comma-separated list selects Redis Cluster"),
    ("SIGHTLINE_BIND", "HTTP listen address (default 127.0.0.1:8080)"),
    ("SIGHTLINE_ENV", "development | production (production turns off the GraphQL IDE)"),
    ("SIGHTLINE_LOG_FORMAT", "json | pretty (default json)"),
    ("SIGHTLINE_JWT_SECRET", "HS256 secret for API tokens (at least 32 bytes)"),
    ("SIGHTLINE_JWT_PUBLIC_KEY_FILE", "RS256 public key (PEM); pins RS256 instead of HS256"),
    ("SIGHTLINE_JWT_PRIVATE_KEY_FILE", "RS256 private key (PEM) used to issue tokens"),
    ("SIGHTLINE_JWT_ISSUER", "token issuer (default sightline)"),
    ("SIGHTLINE_JWT_AUDIENCE", "token audience (default sightline)"),
    ("SIGHTLINE_TOKEN_TTL_SECS", "lifetime of tokens issued by login (default 43200)"),
    ("SIGHTLINE_QUEUE_PREFIX", "BullMQ key prefix (default bull; {bull} for Redis Cluster)"),
    ("SIGHTLINE_QUEUE_NAME", "BullMQ queue name (default events)"),
    ("SIGHTLINE_QUEUE_MAX_WAITING", "jobs waiting before ingest answers 503 (default 100000)"),
    ("SIGHTLINE_WORKER_BATCH_JOBS", "most jobs a worker claims per database write; it aims at ~5000 events (default 1000)"),
    ("SIGHTLINE_WORKER_LANES", "concurrent claim/write loops per worker process (default 3)"),
    ("SIGHTLINE_WORKER_ATTEMPTS", "attempts per job before the dead-letter queue (default 3)"),
    ("SIGHTLINE_WORKER_BACKOFF_MS", "first retry delay, doubled per attempt (default 1000)"),
    ("SIGHTLINE_WORKER_LOCK_MS", "job lock lifetime; stalled jobs return after it (default 30000)"),
    ("SIGHTLINE_WORKER_KEEP_COMPLETED", "completed jobs kept in Redis for inspection (default 1000)"),
    ("SIGHTLINE_WORKER_LINGER_MS", "after a batch under 1000 events (a short queue), a lane waits this long before claiming again and only one lane claims until batches grow, so writes carry more events each: less CPU per event at moderate rates, stored this much later (default 100; 0 disables)"),
    ("SIGHTLINE_INGEST_MAX_BODY_BYTES", "largest accepted request body, decompressed (default 1048576)"),
    ("SIGHTLINE_INGEST_MAX_EVENTS", "events per batch (default 500)"),
    ("SIGHTLINE_INGEST_MAX_PAST_SECS", "oldest accepted event time, seconds before now (default 604800)"),
    ("SIGHTLINE_INGEST_MAX_FUTURE_SECS", "newest accepted event time, seconds after now (default 3600)"),
    ("SIGHTLINE_INGEST_DENY_KEYS", "comma-separated property keys stripped from events"),
    ("SIGHTLINE_RATE_PER_KEY", "events/s per project key, token bucket (default 20000)"),
    ("SIGHTLINE_RATE_PER_IP", "requests/s per client IP, token bucket (default 1000)"),
    ("SIGHTLINE_RATE_PER_ANON", "events/s per anonymous id before the excess is dropped as spam (default 50)"),
    ("SIGHTLINE_TRUST_PROXY", "take the client IP from X-Forwarded-For (default false)"),
    ("SIGHTLINE_WEB_DIR", "built dashboard served at / (default web/dist)"),
    ("SIGHTLINE_TRACKER_DIR", "built tracker served at /sightline.js (default tracker-wasm/pkg)"),
    ("SIGHTLINE_PARTITION_DAYS_AHEAD", "days ahead of today that partitions cover (default 7)"),
    ("SIGHTLINE_PARTITION_GRANULARITY", "day | week | month: the range of each new activities partition (default day)"),
    ("SIGHTLINE_MAINTENANCE_INTERVAL_SECS", "how often the worker runs partition/retention upkeep (default 300)"),
    ("SIGHTLINE_ARCHIVE_URL", "where expired partitions are archived: a directory path or s3:// URL (default .data/archive)"),
    ("SIGHTLINE_ROLLUP_MINUTE_DAYS", "days of per-minute rollups kept (default 3; hour/day rollups follow the project's rollup retention)"),
];

/// The range of each new `activities` partition. Day suits most loads; week or month keep the
/// partition count low for long raw retention (the planner's cost grows with partitions) at
/// the price of coarser archive drops (a partition goes when its last day expires).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PartitionUnit {
    Day,
    Week,
    Month,
}

impl PartitionUnit {
    /// The name `sightline_ensure_partition` takes.
    pub fn as_sql(self) -> &'static str {
        match self {
            PartitionUnit::Day => "day",
            PartitionUnit::Week => "week",
            PartitionUnit::Month => "month",
        }
    }
}

impl FromStr for PartitionUnit {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "day" | "daily" => Ok(PartitionUnit::Day),
            "week" | "weekly" => Ok(PartitionUnit::Week),
            "month" | "monthly" => Ok(PartitionUnit::Month),
            _ => Err("expected day, week or month".into()),
        }
    }
}

/// Where and how to verify (and issue) API tokens.
#[derive(Clone, Debug)]
pub enum JwtKeys {
    Hs256(Secret),
    Rs256 {
        public_pem: Vec<u8>,
        private_pem: Option<Secret>,
    },
}

#[derive(Clone, Debug)]
pub struct JwtSettings {
    pub keys: JwtKeys,
    pub issuer: String,
    pub audience: String,
    pub token_ttl: Duration,
}

#[derive(Clone, Debug)]
pub struct QueueSettings {
    pub prefix: String,
    pub name: String,
    pub max_waiting: u64,
}

#[derive(Clone, Debug)]
pub struct WorkerSettings {
    pub batch_jobs: usize,
    pub lanes: usize,
    pub attempts: u32,
    pub backoff: Duration,
    pub lock: Duration,
    pub keep_completed: u64,
    /// Pause of a lane after a small batch (see `SIGHTLINE_WORKER_LINGER_MS`); zero: none.
    pub linger: Duration,
}

#[derive(Clone, Debug)]
pub struct IngestSettings {
    pub max_body_bytes: usize,
    pub max_events: usize,
    pub max_past: Duration,
    pub max_future: Duration,
    /// Shared, not copied: every ingest request's validator holds it.
    pub deny_keys: std::sync::Arc<[String]>,
    pub rate_per_key: u32,
    pub rate_per_ip: u32,
    pub rate_per_anon: u32,
    pub trust_proxy: bool,
}

#[derive(Clone, Debug)]
pub struct Settings {
    pub database_url: Secret,
    pub database_read_url: Option<Secret>,
    pub database_pool: u32,
    pub redis_url: Secret,
    pub bind: SocketAddr,
    pub production: bool,
    pub log_json: bool,
    pub jwt: JwtSettings,
    pub queue: QueueSettings,
    pub worker: WorkerSettings,
    pub ingest: IngestSettings,
    pub web_dir: PathBuf,
    pub tracker_dir: PathBuf,
    pub partition_days_ahead: u32,
    pub partition_unit: PartitionUnit,
    pub maintenance_interval: Duration,
    pub archive_url: String,
    /// Days of `rollup_minute` kept by retention.
    pub rollup_minute_days: u32,
    /// Live-feed messages (of at most 64 events) buffered per project, shared by its subscribers.
    pub live_buffer: usize,
}

/// Keys stripped from event properties unless configured otherwise: credentials and card data
/// must never be stored, whatever a site sends.
pub const DEFAULT_DENY_KEYS: &[&str] = &[
    "password",
    "passwd",
    "pwd",
    "secret",
    "token",
    "access_token",
    "refresh_token",
    "api_key",
    "apikey",
    "authorization",
    "auth",
    "cookie",
    "session_token",
    "card",
    "card_number",
    "cardnumber",
    "cc",
    "ccnum",
    "cvv",
    "cvc",
    "ssn",
    "iban",
];

/// The raw key/value source: the environment over an optional file.
struct Source {
    values: HashMap<String, String>,
}

impl Source {
    fn load(env: &HashMap<String, String>) -> Result<Self, ConfigError> {
        let mut values = HashMap::new();
        if let Some(path) = env.get("SIGHTLINE_CONFIG").filter(|p| !p.is_empty()) {
            let text = std::fs::read_to_string(path).map_err(|e| ConfigError::File {
                path: path.clone(),
                reason: e.to_string(),
            })?;
            let table: toml::Table =
                text.parse()
                    .map_err(|e: toml::de::Error| ConfigError::File {
                        path: path.clone(),
                        reason: e.message().to_string(),
                    })?;
            for (key, value) in table {
                let env_name = match key.as_str() {
                    "database_url" => "DATABASE_URL".to_string(),
                    "redis_url" => "REDIS_URL".to_string(),
                    other => format!("SIGHTLINE_{}", other.to_ascii_uppercase()),
                };
                let text = match value {
                    toml::Value::String(s) => s,
                    toml::Value::Array(items) => items
                        .iter()
                        .map(|v| {
                            v.as_str()
                                .map(str::to_string)
                                .unwrap_or_else(|| v.to_string())
                        })
                        .collect::<Vec<_>>()
                        .join(","),
                    other => other.to_string(),
                };
                values.insert(env_name, text);
            }
        }
        for (name, _) in KNOWN_VARS {
            if let Some(v) = env.get(*name) {
                values.insert((*name).to_string(), v.clone());
            }
        }
        Ok(Self { values })
    }

    fn raw(&self, name: &'static str) -> Option<&str> {
        self.values
            .get(name)
            .map(String::as_str)
            .filter(|v| !v.trim().is_empty())
    }

    fn required(&self, name: &'static str) -> Result<String, ConfigError> {
        self.raw(name)
            .map(str::to_string)
            .ok_or(ConfigError::Missing { name })
    }

    fn parse<T: FromStr>(&self, name: &'static str, default: T) -> Result<T, ConfigError>
    where
        T::Err: fmt::Display,
    {
        match self.raw(name) {
            None => Ok(default),
            Some(v) => v.trim().parse().map_err(|e: T::Err| ConfigError::Invalid {
                name,
                value: v.to_string(),
                reason: e.to_string(),
            }),
        }
    }

    fn positive<T: FromStr + PartialOrd + Default>(
        &self,
        name: &'static str,
        default: T,
    ) -> Result<T, ConfigError>
    where
        T::Err: fmt::Display,
    {
        let v = self.parse(name, default)?;
        if v <= T::default() {
            return Err(ConfigError::Invalid {
                name,
                value: self.raw(name).unwrap_or_default().to_string(),
                reason: "must be greater than zero".into(),
            });
        }
        Ok(v)
    }
}

fn invalid(name: &'static str, value: &str, reason: &str) -> ConfigError {
    ConfigError::Invalid {
        name,
        value: value.to_string(),
        reason: reason.to_string(),
    }
}

fn check_url(name: &'static str, value: &str, schemes: &[&str]) -> Result<(), ConfigError> {
    for part in value.split(',') {
        if !schemes
            .iter()
            .any(|s| part.trim().starts_with(&format!("{s}://")))
        {
            return Err(invalid(
                name,
                value,
                &format!(
                    "expected a URL starting with {}",
                    schemes.join("://, ") + "://"
                ),
            ));
        }
    }
    Ok(())
}

impl Settings {
    /// Loads from the process environment (and `SIGHTLINE_CONFIG`).
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_map(&std::env::vars().collect())
    }

    /// Loads from an explicit variable map: tests build settings without touching the process
    /// environment.
    pub fn from_map(env: &HashMap<String, String>) -> Result<Self, ConfigError> {
        let src = Source::load(env)?;

        let database_url = src.required("DATABASE_URL")?;
        check_url("DATABASE_URL", &database_url, &["postgres", "postgresql"])?;
        let database_read_url = src.raw("SIGHTLINE_DATABASE_READ_URL").map(str::to_string);
        if let Some(url) = &database_read_url {
            check_url(
                "SIGHTLINE_DATABASE_READ_URL",
                url,
                &["postgres", "postgresql"],
            )?;
        }
        let redis_url = src.required("REDIS_URL")?;
        check_url("REDIS_URL", &redis_url, &["redis", "rediss"])?;

        let env_name = src
            .raw("SIGHTLINE_ENV")
            .unwrap_or("development")
            .to_string();
        let production = match env_name.as_str() {
            "production" => true,
            "development" | "test" => false,
            other => {
                return Err(invalid(
                    "SIGHTLINE_ENV",
                    other,
                    "expected development or production",
                ))
            }
        };
        let log_json = match src.raw("SIGHTLINE_LOG_FORMAT").unwrap_or("json") {
            "json" => true,
            "pretty" => false,
            other => {
                return Err(invalid(
                    "SIGHTLINE_LOG_FORMAT",
                    other,
                    "expected json or pretty",
                ))
            }
        };

        let keys = match src.raw("SIGHTLINE_JWT_PUBLIC_KEY_FILE") {
            Some(path) => {
                let public_pem = std::fs::read(path)
                    .map_err(|e| invalid("SIGHTLINE_JWT_PUBLIC_KEY_FILE", path, &e.to_string()))?;
                jsonwebtoken::DecodingKey::from_rsa_pem(&public_pem)
                    .map_err(|e| invalid("SIGHTLINE_JWT_PUBLIC_KEY_FILE", path, &e.to_string()))?;
                let private_pem = match src.raw("SIGHTLINE_JWT_PRIVATE_KEY_FILE") {
                    Some(p) => Some(Secret::new(std::fs::read_to_string(p).map_err(|e| {
                        invalid("SIGHTLINE_JWT_PRIVATE_KEY_FILE", p, &e.to_string())
                    })?)),
                    None => None,
                };
                JwtKeys::Rs256 {
                    public_pem,
                    private_pem,
                }
            }
            None => {
                let secret = src.required("SIGHTLINE_JWT_SECRET")?;
                if secret.len() < 32 {
                    return Err(invalid(
                        "SIGHTLINE_JWT_SECRET",
                        "***",
                        "must be at least 32 bytes",
                    ));
                }
                JwtKeys::Hs256(Secret::new(secret))
            }
        };

        let max_waiting: u64 = src.positive("SIGHTLINE_QUEUE_MAX_WAITING", 100_000)?;
        let prefix = src
            .raw("SIGHTLINE_QUEUE_PREFIX")
            .unwrap_or("bull")
            .to_string();
        let name = src
            .raw("SIGHTLINE_QUEUE_NAME")
            .unwrap_or("events")
            .to_string();
        if name.contains(':') {
            return Err(invalid(
                "SIGHTLINE_QUEUE_NAME",
                &name,
                "must not contain ':'",
            ));
        }

        let deny_keys = match src.raw("SIGHTLINE_INGEST_DENY_KEYS") {
            Some(list) => list
                .split(',')
                .map(|k| k.trim().to_ascii_lowercase())
                .filter(|k| !k.is_empty())
                .collect(),
            None => DEFAULT_DENY_KEYS.iter().map(|k| (*k).to_string()).collect(),
        };

        Ok(Settings {
            database_url: Secret::new(database_url),
            database_read_url: database_read_url.map(Secret::new),
            database_pool: src.positive("SIGHTLINE_DATABASE_POOL", 16)?,
            live_buffer: src.positive("SIGHTLINE_LIVE_BUFFER", 256)? as usize,
            redis_url: Secret::new(redis_url),
            bind: src.parse("SIGHTLINE_BIND", SocketAddr::from(([127, 0, 0, 1], 8080)))?,
            production,
            log_json,
            jwt: JwtSettings {
                keys,
                issuer: src
                    .raw("SIGHTLINE_JWT_ISSUER")
                    .unwrap_or("sightline")
                    .to_string(),
                audience: src
                    .raw("SIGHTLINE_JWT_AUDIENCE")
                    .unwrap_or("sightline")
                    .to_string(),
                token_ttl: Duration::from_secs(src.positive("SIGHTLINE_TOKEN_TTL_SECS", 43_200)?),
            },
            queue: QueueSettings {
                prefix,
                name,
                max_waiting,
            },
            worker: WorkerSettings {
                batch_jobs: src.positive("SIGHTLINE_WORKER_BATCH_JOBS", 1000)?,
                lanes: src.positive("SIGHTLINE_WORKER_LANES", 3)?,
                attempts: src.positive("SIGHTLINE_WORKER_ATTEMPTS", 3)?,
                backoff: Duration::from_millis(src.positive("SIGHTLINE_WORKER_BACKOFF_MS", 1000)?),
                lock: Duration::from_millis(src.positive("SIGHTLINE_WORKER_LOCK_MS", 30_000)?),
                keep_completed: src.parse("SIGHTLINE_WORKER_KEEP_COMPLETED", 1000)?,
                linger: Duration::from_millis(src.parse("SIGHTLINE_WORKER_LINGER_MS", 100)?),
            },
            ingest: IngestSettings {
                max_body_bytes: src.positive("SIGHTLINE_INGEST_MAX_BODY_BYTES", 1 << 20)?,
                max_events: src.positive("SIGHTLINE_INGEST_MAX_EVENTS", 500)?,
                max_past: Duration::from_secs(
                    src.positive("SIGHTLINE_INGEST_MAX_PAST_SECS", 7 * 86_400)?,
                ),
                max_future: Duration::from_secs(
                    src.positive("SIGHTLINE_INGEST_MAX_FUTURE_SECS", 3600)?,
                ),
                deny_keys,
                rate_per_key: src.positive("SIGHTLINE_RATE_PER_KEY", 20_000)?,
                rate_per_ip: src.positive("SIGHTLINE_RATE_PER_IP", 1000)?,
                rate_per_anon: src.positive("SIGHTLINE_RATE_PER_ANON", 50)?,
                trust_proxy: src.parse("SIGHTLINE_TRUST_PROXY", false)?,
            },
            web_dir: src.parse("SIGHTLINE_WEB_DIR", PathBuf::from("web/dist"))?,
            tracker_dir: src.parse("SIGHTLINE_TRACKER_DIR", PathBuf::from("tracker-wasm/pkg"))?,
            partition_days_ahead: src.parse("SIGHTLINE_PARTITION_DAYS_AHEAD", 7)?,
            partition_unit: src.parse("SIGHTLINE_PARTITION_GRANULARITY", PartitionUnit::Day)?,
            maintenance_interval: Duration::from_secs(
                src.positive("SIGHTLINE_MAINTENANCE_INTERVAL_SECS", 300)?,
            ),
            archive_url: src
                .raw("SIGHTLINE_ARCHIVE_URL")
                .unwrap_or(".data/archive")
                .to_string(),
            rollup_minute_days: src.positive("SIGHTLINE_ROLLUP_MINUTE_DAYS", 3)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn base() -> HashMap<String, String> {
        [
            ("DATABASE_URL", "postgres://u@localhost/db"),
            ("REDIS_URL", "redis://localhost:6379"),
            ("SIGHTLINE_JWT_SECRET", "0123456789abcdef0123456789abcdef"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
    }

    #[test]
    fn defaults_load_from_minimal_environment() {
        let s = Settings::from_map(&base()).expect("valid");
        assert_eq!(s.queue.prefix, "bull");
        assert_eq!(s.queue.name, "events");
        assert_eq!(s.bind.port(), 8080);
        assert!(s.ingest.deny_keys.iter().any(|k| k == "password"));
    }

    #[test]
    fn missing_database_url_names_the_setting() {
        let mut env = base();
        env.remove("DATABASE_URL");
        let err = Settings::from_map(&env).expect_err("must fail");
        assert_eq!(
            err.to_string(),
            "config: DATABASE_URL is required but not set"
        );
    }

    #[test]
    fn malformed_values_name_the_setting() {
        let mut env = base();
        env.insert("SIGHTLINE_BIND".into(), "not-an-address".into());
        let err = Settings::from_map(&env).expect_err("must fail").to_string();
        assert!(err.starts_with("config: SIGHTLINE_BIND="), "{err}");

        let mut env = base();
        env.insert("SIGHTLINE_WORKER_ATTEMPTS".into(), "0".into());
        let err = Settings::from_map(&env).expect_err("must fail").to_string();
        assert!(err.contains("SIGHTLINE_WORKER_ATTEMPTS"), "{err}");

        let mut env = base();
        env.insert("REDIS_URL".into(), "localhost:6379".into());
        assert!(Settings::from_map(&env).is_err());

        let mut env = base();
        env.insert("SIGHTLINE_PARTITION_GRANULARITY".into(), "hourly".into());
        let err = Settings::from_map(&env).expect_err("must fail").to_string();
        assert!(err.contains("SIGHTLINE_PARTITION_GRANULARITY"), "{err}");
        env.insert("SIGHTLINE_PARTITION_GRANULARITY".into(), "Weekly".into());
        let s = Settings::from_map(&env).expect("valid");
        assert_eq!(s.partition_unit, PartitionUnit::Week);
        assert_eq!(
            Settings::from_map(&base()).expect("valid").partition_unit,
            PartitionUnit::Day
        );
    }

    #[test]
    fn short_jwt_secret_is_refused() {
        let mut env = base();
        env.insert("SIGHTLINE_JWT_SECRET".into(), "short".into());
        let err = Settings::from_map(&env).expect_err("must fail").to_string();
        assert!(err.contains("SIGHTLINE_JWT_SECRET"));
        assert!(
            !err.contains("short"),
            "the secret itself must not be printed"
        );
    }

    #[test]
    fn toml_file_is_read_and_environment_wins() {
        let dir = std::env::temp_dir().join(format!("sightline-config-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).expect("tmp dir");
        let path = dir.join("sightline.toml");
        std::fs::write(
            &path,
            "bind = \"127.0.0.1:9999\"\nqueue_name = \"from_file\"\nrate_per_ip = 7\n",
        )
        .expect("write");
        let mut env = base();
        env.insert("SIGHTLINE_CONFIG".into(), path.display().to_string());
        env.insert("SIGHTLINE_QUEUE_NAME".into(), "from_env".into());
        let s = Settings::from_map(&env).expect("valid");
        assert_eq!(s.bind.port(), 9999);
        assert_eq!(s.queue.name, "from_env");
        assert_eq!(s.ingest.rate_per_ip, 7);
    }
}
