//! Typed settings, loaded once at start from environment variables and an optional TOML file.
//!
//! Every setting is declared once, in the `settings!` table below: its environment name
//! (`SIGHTLINE_*`, or the conventional `DATABASE_URL` / `REDIS_URL`), its default, a one-line
//! doc and how secret it is. Everything else derives from that declaration ([`SETTINGS`]):
//! - parsing: [`Settings::from_map`] reads each value through its declaration, default included;
//! - the flat TOML file (`SIGHTLINE_CONFIG=path`): its keys are the names in lower case without
//!   the `SIGHTLINE_` prefix, and a key that names no setting is refused;
//! - the list that ends `sightline --help` ([`help_text`]) and README's table
//!   ([`markdown_table`], kept equal by a test);
//! - `sightline config` ([`EffectiveSettings`]): each effective value, secrets masked, and
//!   where it came from.
//!
//! The environment wins over the file. A missing or malformed value stops the process with one
//! line naming the setting ([`ConfigError`]); a secret's value is masked in that line too.
//!
//! Invariant: nothing outside this module reads `std::env` for settings; the rest of the code
//! receives a [`Settings`] (or the part of it it needs).

use std::borrow::Cow;
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

/// Why the configuration cannot be loaded. Every message is one line naming the setting (or the
/// file key); a value is shown masked as its declaration says ([`SettingSpec::mask`]).
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("config: {name} is required but not set")]
    Missing { name: &'static str },
    #[error("config: {name}={value:?} is invalid: {reason}")]
    Invalid {
        name: &'static str,
        /// Already masked.
        value: String,
        reason: String,
    },
    #[error("config: {name} is required when {because} is set ({why})")]
    Requires {
        name: &'static str,
        because: &'static str,
        why: &'static str,
    },
    #[error("config: cannot read config file {path}: {reason}")]
    File { path: String, reason: String },
    #[error("config: unknown setting {key:?} in {path} (known: {known})")]
    UnknownKey {
        key: String,
        path: String,
        /// The keys the file may set, comma-separated.
        known: String,
    },
}

/// One setting, declared once in the `settings!` table.
#[derive(Clone, Copy, Debug)]
pub struct SettingSpec {
    /// The environment variable; the TOML key is derived from it ([`SettingSpec::file_key`]).
    pub name: &'static str,
    pub default: DefaultValue,
    pub secrecy: Secrecy,
    /// What it sets and what it accepts, in one line.
    pub doc: &'static str,
}

/// What a setting is when neither the environment nor the file sets it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DefaultValue {
    /// The process does not start without it (the doc names any exception).
    Required,
    /// Optional: unset leaves the feature off (the doc says what that means).
    Unset,
    /// This value, written as it would be set.
    Value(&'static str),
    /// This list, written comma-separated when set.
    List(&'static [&'static str]),
}

impl DefaultValue {
    /// The default as it would be written in the environment; `None` for none.
    pub fn text(&self) -> Option<Cow<'static, str>> {
        match *self {
            DefaultValue::Value(v) => Some(Cow::Borrowed(v)),
            DefaultValue::List(items) => Some(Cow::Owned(items.join(","))),
            DefaultValue::Required | DefaultValue::Unset => None,
        }
    }
}

/// What of a setting's value may be shown (in `sightline config` and in errors).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Secrecy {
    /// All of it.
    Plain,
    /// All but the password of each URL in it (user info, `password=` parameters).
    UrlPassword,
    /// None of it.
    Secret,
}

/// Shown in place of a secret.
const MASK: &str = "***";

impl SettingSpec {
    /// The key of this setting in the TOML file: the name in lower case without `SIGHTLINE_`.
    pub fn file_key(&self) -> String {
        self.name
            .strip_prefix("SIGHTLINE_")
            .unwrap_or(self.name)
            .to_ascii_lowercase()
    }

    /// Whether the TOML file may set it: all but the setting that names the file.
    pub fn in_file(&self) -> bool {
        self.name != CONFIG.name
    }

    /// `value` as it may be shown.
    pub fn mask(&self, value: &str) -> String {
        match self.secrecy {
            Secrecy::Plain => value.to_string(),
            Secrecy::UrlPassword => mask_url_passwords(value),
            Secrecy::Secret => MASK.to_string(),
        }
    }

    /// How listings mark a secret; `None` for a plain setting.
    fn secrecy_note(&self) -> Option<&'static str> {
        match self.secrecy {
            Secrecy::Plain => None,
            Secrecy::UrlPassword => Some("password masked in output"),
            Secrecy::Secret => Some("secret, masked in output"),
        }
    }
}

/// Declares each setting once: a constant that [`Settings::from_map`] reads it through, and its
/// entry in [`SETTINGS`], in the order the listings show.
macro_rules! settings {
    ($($id:ident = $name:literal, $default:expr, $secrecy:ident, $doc:literal;)*) => {
        $(
            const $id: SettingSpec = SettingSpec {
                name: $name,
                default: {
                    #[allow(unused_imports)]
                    use DefaultValue::*;
                    $default
                },
                secrecy: Secrecy::$secrecy,
                doc: $doc,
            };
        )*

        /// Every setting, declared once (the `settings!` table in this file): parsing, the TOML
        /// keys, `sightline --help`, README's table and `sightline config` all derive from it,
        /// as does the test that checks docker-compose.yml names only real settings.
        pub static SETTINGS: &[SettingSpec] = &[$($id),*];
    };
}

// Columns: constant = environment name, default, secrecy, one-line doc. Defaults are written as
// they would be set; `Settings::from_map` parses them like a set value, and a test loads them all.
settings! {
    CONFIG = "SIGHTLINE_CONFIG", Unset, Plain,
        "path of an optional flat TOML file with the settings below (environment only)";
    DATABASE_URL = "DATABASE_URL", Required, UrlPassword,
        "PostgreSQL URL of the primary (writes, migrations)";
    DATABASE_READ_URL = "SIGHTLINE_DATABASE_READ_URL", Unset, UrlPassword,
        "PostgreSQL URL of a read replica for analytics queries (unset: the primary serves them)";
    DATABASE_POOL = "SIGHTLINE_DATABASE_POOL", Value("16"), Plain,
        "connections per process in the primary pool";
    REDIS_URL = "REDIS_URL", Required, UrlPassword,
        "Redis URL (redis://host:port/db); a comma-separated list selects Redis Cluster";
    BIND = "SIGHTLINE_BIND", Value("127.0.0.1:8080"), Plain,
        "HTTP listen address";
    ENV = "SIGHTLINE_ENV", Value("development"), Plain,
        "development | production (production turns off the GraphQL IDE)";
    LOG_FORMAT = "SIGHTLINE_LOG_FORMAT", Value("json"), Plain,
        "json | pretty";
    JWT_SECRET = "SIGHTLINE_JWT_SECRET", Required, Secret,
        "HS256 secret for API tokens (at least 32 bytes); not needed with SIGHTLINE_JWT_PUBLIC_KEY_FILE";
    JWT_PUBLIC_KEY_FILE = "SIGHTLINE_JWT_PUBLIC_KEY_FILE", Unset, Plain,
        "RS256 public key (PEM file); pins RS256 instead of HS256";
    JWT_PRIVATE_KEY_FILE = "SIGHTLINE_JWT_PRIVATE_KEY_FILE", Unset, Plain,
        "RS256 private key (PEM file) used to issue tokens; its contents are never shown";
    JWT_ISSUER = "SIGHTLINE_JWT_ISSUER", Value("sightline"), Plain,
        "token issuer";
    JWT_AUDIENCE = "SIGHTLINE_JWT_AUDIENCE", Value("sightline"), Plain,
        "token audience";
    TOKEN_TTL_SECS = "SIGHTLINE_TOKEN_TTL_SECS", Value("43200"), Plain,
        "lifetime of tokens issued by login, in seconds";
    QUEUE_PREFIX = "SIGHTLINE_QUEUE_PREFIX", Value("bull"), Plain,
        "BullMQ key prefix ({bull} for Redis Cluster)";
    QUEUE_NAME = "SIGHTLINE_QUEUE_NAME", Value("events"), Plain,
        "BullMQ queue name (no ':')";
    QUEUE_MAX_WAITING = "SIGHTLINE_QUEUE_MAX_WAITING", Value("100000"), Plain,
        "jobs waiting before ingest answers 503";
    WORKER_BATCH_JOBS = "SIGHTLINE_WORKER_BATCH_JOBS", Value("1000"), Plain,
        "most jobs a worker claims per database write; it aims at ~5000 events";
    WORKER_LANES = "SIGHTLINE_WORKER_LANES", Value("3"), Plain,
        "concurrent claim/write loops per worker process";
    WORKER_ATTEMPTS = "SIGHTLINE_WORKER_ATTEMPTS", Value("3"), Plain,
        "attempts per job before the dead-letter queue";
    WORKER_BACKOFF_MS = "SIGHTLINE_WORKER_BACKOFF_MS", Value("1000"), Plain,
        "first retry delay in milliseconds, doubled per attempt";
    WORKER_LOCK_MS = "SIGHTLINE_WORKER_LOCK_MS", Value("30000"), Plain,
        "job lock lifetime in milliseconds; stalled jobs return after it";
    WORKER_KEEP_COMPLETED = "SIGHTLINE_WORKER_KEEP_COMPLETED", Value("1000"), Plain,
        "completed jobs kept in Redis for inspection";
    WORKER_LINGER_MS = "SIGHTLINE_WORKER_LINGER_MS", Value("100"), Plain,
        "after a batch under 1000 events (a short queue), a lane waits this many milliseconds before claiming again and only one lane claims until batches grow, so writes carry more events each: less CPU per event at moderate rates, stored this much later (0 disables)";
    INGEST_MAX_BODY_BYTES = "SIGHTLINE_INGEST_MAX_BODY_BYTES", Value("1048576"), Plain,
        "largest accepted request body, decompressed";
    INGEST_MAX_EVENTS = "SIGHTLINE_INGEST_MAX_EVENTS", Value("500"), Plain,
        "events per batch";
    INGEST_MAX_PAST_SECS = "SIGHTLINE_INGEST_MAX_PAST_SECS", Value("604800"), Plain,
        "oldest accepted event time, seconds before now";
    INGEST_MAX_FUTURE_SECS = "SIGHTLINE_INGEST_MAX_FUTURE_SECS", Value("3600"), Plain,
        "newest accepted event time, seconds after now";
    INGEST_DENY_KEYS = "SIGHTLINE_INGEST_DENY_KEYS", List(DEFAULT_DENY_KEYS), Plain,
        "comma-separated property keys stripped from events (replaces the default list)";
    RATE_PER_KEY = "SIGHTLINE_RATE_PER_KEY", Value("20000"), Plain,
        "events/s per project key, token bucket";
    RATE_PER_IP = "SIGHTLINE_RATE_PER_IP", Value("1000"), Plain,
        "requests/s per client IP, token bucket";
    RATE_PER_ANON = "SIGHTLINE_RATE_PER_ANON", Value("50"), Plain,
        "events/s per anonymous id before the excess is dropped as spam";
    TRUST_PROXY = "SIGHTLINE_TRUST_PROXY", Value("false"), Plain,
        "deprecated: true trusts every X-Forwarded-For hop (the client can pick its IP); set SIGHTLINE_TRUSTED_PROXIES instead";
    WEB_DIR = "SIGHTLINE_WEB_DIR", Value("web/dist"), Plain,
        "built dashboard served at /";
    TRACKER_DIR = "SIGHTLINE_TRACKER_DIR", Value("tracker-wasm/pkg"), Plain,
        "built tracker served at /sightline.js";
    LIVE_BUFFER = "SIGHTLINE_LIVE_BUFFER", Value("256"), Plain,
        "live-feed messages (of at most 64 events) buffered per project for slow subscribers before they lag";
    PARTITION_DAYS_AHEAD = "SIGHTLINE_PARTITION_DAYS_AHEAD", Value("7"), Plain,
        "days ahead of today that partitions cover";
    PARTITION_GRANULARITY = "SIGHTLINE_PARTITION_GRANULARITY", Value("day"), Plain,
        "day | week | month: the range of each new activities partition";
    MAINTENANCE_INTERVAL_SECS = "SIGHTLINE_MAINTENANCE_INTERVAL_SECS", Value("300"), Plain,
        "how often, in seconds, the worker runs partition/retention upkeep";
    ARCHIVE_URL = "SIGHTLINE_ARCHIVE_URL", Value(".data/archive"), Plain,
        "where expired partitions are archived: a directory path or s3:// URL";
    ROLLUP_MINUTE_DAYS = "SIGHTLINE_ROLLUP_MINUTE_DAYS", Value("3"), Plain,
        "days of per-minute rollups kept (hour/day rollups follow the project's rollup retention)";
    LOGIN_ACCOUNT_FAILURES = "SIGHTLINE_LOGIN_ACCOUNT_FAILURES", Value("5"), Plain,
        "failed logins per account within SIGHTLINE_LOGIN_ACCOUNT_WINDOW_SECS before the account is locked";
    LOGIN_ACCOUNT_WINDOW_SECS = "SIGHTLINE_LOGIN_ACCOUNT_WINDOW_SECS", Value("900"), Plain,
        "window of the per-account count of failed logins, in seconds; also the longest lock";
    LOGIN_LOCK_SECS = "SIGHTLINE_LOGIN_LOCK_SECS", Value("60"), Plain,
        "first lock of an account past its failures, in seconds; each further failure doubles it";
    LOGIN_IP_FAILURES = "SIGHTLINE_LOGIN_IP_FAILURES", Value("20"), Plain,
        "failed logins per client IP within SIGHTLINE_LOGIN_IP_WINDOW_SECS before the IP is locked (for that window, doubling)";
    LOGIN_IP_WINDOW_SECS = "SIGHTLINE_LOGIN_IP_WINDOW_SECS", Value("60"), Plain,
        "window of the per-IP count of failed logins, in seconds";
    PASSWORD_HASH_CONCURRENCY = "SIGHTLINE_PASSWORD_HASH_CONCURRENCY", Value("2"), Plain,
        "argon2 password checks run at once per process (19 MiB each)";
    PASSWORD_HASH_QUEUE = "SIGHTLINE_PASSWORD_HASH_QUEUE", Value("16"), Plain,
        "password checks that may wait (up to 2 s) for a free slot; beyond it login answers RATE_LIMITED";
    TRUSTED_PROXIES = "SIGHTLINE_TRUSTED_PROXIES", Unset, Plain,
        "comma-separated CIDRs of your reverse proxies: behind them the client IP is the rightmost X-Forwarded-For address not in them (unset: the TCP peer is the client)";
    GRAPHQL_MAX_BODY_BYTES = "SIGHTLINE_GRAPHQL_MAX_BODY_BYTES", Value("1048576"), Plain,
        "largest accepted POST /graphql body (413 above it; other non-ingest routes accept 64 KiB)";
    QUERY_TIMEOUT_MS = "SIGHTLINE_QUERY_TIMEOUT_MS", Value("10000"), Plain,
        "statement_timeout of analytics reads, in milliseconds: a longer query fails with code TIMEOUT";
    REQUEST_TIMEOUT_MS = "SIGHTLINE_REQUEST_TIMEOUT_MS", Value("30000"), Plain,
        "deadline of one GraphQL request over HTTP, in milliseconds (code TIMEOUT after it)";
    QUERIES_PER_PROJECT = "SIGHTLINE_QUERIES_PER_PROJECT", Value("8"), Plain,
        "analytics queries of one project running at once, over all its callers; one more waits up to 1 s, then is answered RATE_LIMITED";
    WS_INIT_TIMEOUT_SECS = "SIGHTLINE_WS_INIT_TIMEOUT_SECS", Value("10"), Plain,
        "seconds a GraphQL WebSocket has to send connection_init before it is closed (4408)";
    WS_MAX_SUBSCRIPTIONS = "SIGHTLINE_WS_MAX_SUBSCRIPTIONS", Value("20"), Plain,
        "subscriptions one GraphQL WebSocket may run at once";
    WS_KEEPALIVE_SECS = "SIGHTLINE_WS_KEEPALIVE_SECS", Value("30"), Plain,
        "seconds between keep-alive pings on GraphQL WebSockets";
    GRAPHIQL = "SIGHTLINE_GRAPHIQL", Value("false"), Plain,
        "true serves the GraphQL IDE at GET /graphql (from the server's own files) and allows introspection; never in production";
    METRICS_BIND = "SIGHTLINE_METRICS_BIND", Unset, Plain,
        "serve /metrics on this address only (e.g. 127.0.0.1:9100), not on SIGHTLINE_BIND";
    METRICS_TOKEN = "SIGHTLINE_METRICS_TOKEN", Unset, Secret,
        "require Authorization: Bearer <token> on /metrics";
    OIDC_ISSUER = "SIGHTLINE_OIDC_ISSUER", Unset, Plain,
        "OpenID Connect issuer URL for single sign-on (its /.well-known/openid-configuration is read); https, or http on a loopback host; unset: single sign-on off";
    OIDC_CLIENT_ID = "SIGHTLINE_OIDC_CLIENT_ID", Unset, Plain,
        "client id registered with the identity provider (required with SIGHTLINE_OIDC_ISSUER)";
    OIDC_CLIENT_SECRET = "SIGHTLINE_OIDC_CLIENT_SECRET", Unset, Secret,
        "client secret registered with the identity provider (unset: a public client, protected by PKCE alone)";
    OIDC_REDIRECT_URL = "SIGHTLINE_OIDC_REDIRECT_URL", Unset, Plain,
        "the callback URL registered with the provider, https://<dashboard host>/auth/oidc/callback (required with SIGHTLINE_OIDC_ISSUER)";
    OIDC_SCOPES = "SIGHTLINE_OIDC_SCOPES", List(&["email", "profile"]), Plain,
        "comma-separated scopes asked for besides openid (add the one that releases the role and projects claims if your provider needs one)";
    OIDC_ROLE_CLAIM = "SIGHTLINE_OIDC_ROLE_CLAIM", Value("sightline_role"), Plain,
        "claim (ID token, else userinfo) with the Sightline role: admin, analyst or viewer; a list counts its highest role; without one sign-in is refused";
    OIDC_PROJECTS_CLAIM = "SIGHTLINE_OIDC_PROJECTS_CLAIM", Value("sightline_projects"), Plain,
        "claim with the project ids the account covers (a list, or space/comma-separated); * for all projects (admins only)";
    OIDC_CREATE_ACCOUNTS = "SIGHTLINE_OIDC_CREATE_ACCOUNTS", Value("false"), Plain,
        "true creates an account at a first single sign-on; false lets in only existing accounts (matched by a verified email)";
    GEOIP_DB = "SIGHTLINE_GEOIP_DB", Unset, Plain,
        "MMDB file mapping client IPs to countries (MaxMind GeoLite2/GeoIP2 or ip-location-db layout; a City database adds regions and cities); unset: country unknown";
}

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
    /// Whose `X-Forwarded-For` entries are believed (`SIGHTLINE_TRUSTED_PROXIES`, or everyone
    /// with the deprecated `SIGHTLINE_TRUST_PROXY=true`).
    pub trusted_proxies: crate::client_ip::TrustedProxies,
}

/// One throttle of failed logins (per account or per client IP).
#[derive(Clone, Copy, Debug)]
pub struct LoginLimit {
    pub failures: u32,
    pub window: Duration,
    /// Lock after the limit is reached; doubled per further failure.
    pub first_lock: Duration,
    pub longest_lock: Duration,
}

/// Login abuse bounds: throttles and the argon2 bound.
#[derive(Clone, Debug)]
pub struct LoginSettings {
    pub account: LoginLimit,
    pub ip: LoginLimit,
    pub hash_concurrency: usize,
    pub hash_queue: usize,
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
    pub login: LoginSettings,
    /// Largest `POST /graphql` body.
    pub graphql_max_body_bytes: usize,
    /// Limits of the GraphQL API (query cost, WebSockets, the IDE).
    pub api: ApiSettings,
    /// Where and how `/metrics` is served.
    pub metrics: MetricsSettings,
    /// The GeoIP database (MMDB) of `enrich::Enricher`; `None`: every country unknown.
    pub geoip_db: Option<PathBuf>,
    /// Single sign-on; `None`: off (no issuer set).
    pub oidc: Option<OidcSettings>,
}

/// Single sign-on with an OpenID Connect provider (`auth::oidc`).
#[derive(Clone, Debug)]
pub struct OidcSettings {
    /// The issuer, exactly as the provider's discovery document and ID tokens name it (kept as
    /// written: a URL parser would add a trailing slash that the provider's issuer lacks).
    pub issuer: String,
    pub client_id: String,
    /// `None`: a public client (PKCE alone proves the code exchange).
    pub client_secret: Option<Secret>,
    pub redirect_url: String,
    /// Scopes asked for besides `openid`.
    pub scopes: Vec<String>,
    /// The claim naming the role (`admin`, `analyst`, `viewer`).
    pub role_claim: String,
    /// The claim naming the projects (ids, or `*`).
    pub projects_claim: String,
    /// Whether a first sign-in creates its account.
    pub create_accounts: bool,
}

/// Limits of the GraphQL API.
#[derive(Clone, Debug)]
pub struct ApiSettings {
    /// `statement_timeout` of the analytics read connection (zero: none).
    pub query_timeout: Duration,
    /// Deadline of one GraphQL request over HTTP.
    pub request_timeout: Duration,
    /// Analytics queries of one project running at once.
    pub queries_per_project: usize,
    /// Time a WebSocket has to send `connection_init`.
    pub ws_init_timeout: Duration,
    /// Subscriptions one WebSocket may run at once.
    pub ws_max_subscriptions: usize,
    /// Interval of keep-alive pings on WebSockets.
    pub ws_keepalive: Duration,
    /// The IDE at `GET /graphql`, and introspection.
    pub ide: bool,
}

#[derive(Clone, Debug, Default)]
pub struct MetricsSettings {
    /// A listener of its own for `/metrics` (then not served on the main one).
    pub bind: Option<SocketAddr>,
    /// The bearer token `/metrics` requires.
    pub token: Option<Secret>,
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

/// Where a setting's effective value comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Origin {
    Default,
    File,
    Environment,
}

impl Origin {
    pub fn as_str(self) -> &'static str {
        match self {
            Origin::Default => "default",
            Origin::File => "file",
            Origin::Environment => "environment",
        }
    }
}

/// The raw values: the environment over an optional file, each with where it came from.
struct Source {
    values: HashMap<&'static str, (String, Origin)>,
}

impl Source {
    fn load(env: &HashMap<String, String>) -> Result<Self, ConfigError> {
        let mut values = HashMap::new();
        if let Some(path) = env.get(CONFIG.name).filter(|p| !p.is_empty()) {
            let text = std::fs::read_to_string(path).map_err(|e| ConfigError::File {
                path: path.clone(),
                reason: e.to_string(),
            })?;
            // `message()`, not the error's Display: the latter quotes the file's line, which
            // may hold a password.
            let table: toml::Table =
                text.parse()
                    .map_err(|e: toml::de::Error| ConfigError::File {
                        path: path.clone(),
                        reason: e.message().to_string(),
                    })?;
            for (key, value) in table {
                // Upper-case keys were accepted before unknown keys were refused, so the match
                // still ignores case.
                let wanted = key.to_ascii_lowercase();
                let Some(spec) = SETTINGS
                    .iter()
                    .find(|s| s.in_file() && s.file_key() == wanted)
                else {
                    return Err(ConfigError::UnknownKey {
                        key,
                        path: path.clone(),
                        known: file_keys().join(", "),
                    });
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
                values.insert(spec.name, (text, Origin::File));
            }
        }
        for spec in SETTINGS {
            if let Some(v) = env.get(spec.name) {
                values.insert(spec.name, (v.clone(), Origin::Environment));
            }
        }
        Ok(Self { values })
    }

    /// The value set for `spec` and where, unless unset or blank (blank counts as unset, so an
    /// empty variable restores the default even over the file).
    fn set(&self, spec: &SettingSpec) -> Option<(&str, Origin)> {
        self.values
            .get(spec.name)
            .filter(|(v, _)| !v.trim().is_empty())
            .map(|(v, origin)| (v.as_str(), *origin))
    }

    fn raw(&self, spec: &SettingSpec) -> Option<&str> {
        self.set(spec).map(|(v, _)| v)
    }

    /// The value set, else the declared default (only for settings that have one).
    fn text(&self, spec: &SettingSpec) -> Cow<'_, str> {
        debug_assert!(
            spec.default.text().is_some(),
            "{} has no default",
            spec.name
        );
        match self.raw(spec) {
            Some(v) => Cow::Borrowed(v),
            None => spec.default.text().unwrap_or_default(),
        }
    }

    fn required(&self, spec: &SettingSpec) -> Result<&str, ConfigError> {
        self.raw(spec)
            .ok_or(ConfigError::Missing { name: spec.name })
    }

    fn parse<T: FromStr>(&self, spec: &SettingSpec) -> Result<T, ConfigError>
    where
        T::Err: fmt::Display,
    {
        let text = self.text(spec);
        text.trim()
            .parse()
            .map_err(|e: T::Err| invalid(spec, &text, &e.to_string()))
    }

    fn positive<T: FromStr + PartialOrd + Default>(
        &self,
        spec: &SettingSpec,
    ) -> Result<T, ConfigError>
    where
        T::Err: fmt::Display,
    {
        let v: T = self.parse(spec)?;
        if v <= T::default() {
            return Err(invalid(spec, &self.text(spec), "must be greater than zero"));
        }
        Ok(v)
    }
}

/// The keys the TOML file may set, in declaration order.
fn file_keys() -> Vec<String> {
    SETTINGS
        .iter()
        .filter(|s| s.in_file())
        .map(SettingSpec::file_key)
        .collect()
}

/// The error for `spec`'s `value`, masked as its declaration says.
fn invalid(spec: &SettingSpec, value: &str, reason: &str) -> ConfigError {
    ConfigError::Invalid {
        name: spec.name,
        value: spec.mask(value),
        reason: reason.to_string(),
    }
}

fn check_url(spec: &SettingSpec, value: &str, schemes: &[&str]) -> Result<(), ConfigError> {
    for part in value.split(',') {
        if !schemes
            .iter()
            .any(|s| part.trim().starts_with(&format!("{s}://")))
        {
            return Err(invalid(
                spec,
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

/// A PostgreSQL URL the driver can parse. Checked here, because the driver's own error quotes
/// the whole URL, password included; this one is masked like every config error.
fn check_postgres_url(spec: &SettingSpec, value: &str) -> Result<(), ConfigError> {
    value
        .parse::<sqlx::postgres::PgConnectOptions>()
        .map(|_| ())
        .map_err(|_| {
            invalid(
                spec,
                value,
                "not a valid PostgreSQL URL (postgres://user:password@host:port/database)",
            )
        })
}

/// `value` with every password in it replaced by `***`: the password of each URL's user info
/// (`scheme://user:PASSWORD@host`), and any `password=` parameter (libpq's query parameter and
/// key=value form). It works on text that is not a valid URL, because invalid values are what
/// errors show; when unsure it masks more, never less.
pub(crate) fn mask_url_passwords(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    let mut rest = value;
    loop {
        // A comma starts another URL (a Redis Cluster list) only when a scheme follows it; a
        // comma inside a password does not split it.
        let end = rest
            .match_indices(',')
            .map(|(i, _)| i)
            .find(|&i| starts_with_scheme(rest[i + 1..].trim_start()))
            .unwrap_or(rest.len());
        out.push_str(&mask_password_params(&mask_user_info(&rest[..end])));
        if end == rest.len() {
            return out;
        }
        out.push(',');
        rest = &rest[end + 1..];
    }
}

fn starts_with_scheme(s: &str) -> bool {
    s.split_once("://").is_some_and(|(scheme, _)| {
        scheme.starts_with(|c: char| c.is_ascii_alphabetic())
            && scheme
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
    })
}

/// `user:PASSWORD@host` with the password masked, up to the last `@` (a password may hold `@`,
/// `/` or `?` unescaped), with or without a scheme in front.
fn mask_user_info(url: &str) -> String {
    let start = url.find("://").map_or(0, |i| i + 3);
    let rest = &url[start..];
    if let Some(at) = rest.rfind('@') {
        if let Some(colon) = rest[..at].find(':') {
            return format!("{}:{MASK}{}", &url[..start + colon], &rest[at..]);
        }
    }
    url.to_string()
}

/// Masks the value of every `password=` (and `sslpassword=`) parameter, quoted or not.
fn mask_password_params(s: &str) -> String {
    const KEY: &str = "password=";
    // ASCII lower-casing keeps byte offsets, so positions found in `lower` apply to `s`.
    let lower = s.to_ascii_lowercase();
    let mut out = String::with_capacity(s.len());
    let mut done = 0;
    while let Some(i) = lower[done..].find(KEY) {
        let from = done + i + KEY.len();
        let value = &s[from..];
        let len = match value.strip_prefix('\'') {
            Some(quoted) => quoted.find('\'').map_or(value.len(), |q| q + 2),
            None => value
                .find(|c: char| c == '&' || c.is_whitespace())
                .unwrap_or(value.len()),
        };
        out.push_str(&s[done..from]);
        out.push_str(MASK);
        done = from + len;
    }
    out.push_str(&s[done..]);
    out
}

impl Settings {
    /// Loads from the process environment (and `SIGHTLINE_CONFIG`).
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_map(&std::env::vars().collect())
    }

    /// Loads from an explicit variable map: tests build settings without touching the process
    /// environment.
    pub fn from_map(env: &HashMap<String, String>) -> Result<Self, ConfigError> {
        const POSTGRES: &[&str] = &["postgres", "postgresql"];
        let src = Source::load(env)?;

        let database_url = src.required(&DATABASE_URL)?.to_string();
        check_url(&DATABASE_URL, &database_url, POSTGRES)?;
        check_postgres_url(&DATABASE_URL, &database_url)?;
        let database_read_url = src.raw(&DATABASE_READ_URL).map(str::to_string);
        if let Some(url) = &database_read_url {
            check_url(&DATABASE_READ_URL, url, POSTGRES)?;
            check_postgres_url(&DATABASE_READ_URL, url)?;
        }
        let redis_url = src.required(&REDIS_URL)?.to_string();
        check_url(&REDIS_URL, &redis_url, &["redis", "rediss"])?;

        let production = match src.text(&ENV).as_ref() {
            "production" => true,
            "development" | "test" => false,
            other => return Err(invalid(&ENV, other, "expected development or production")),
        };
        let log_json = match src.text(&LOG_FORMAT).as_ref() {
            "json" => true,
            "pretty" => false,
            other => return Err(invalid(&LOG_FORMAT, other, "expected json or pretty")),
        };

        let keys = match src.raw(&JWT_PUBLIC_KEY_FILE) {
            Some(path) => {
                let public_pem = std::fs::read(path)
                    .map_err(|e| invalid(&JWT_PUBLIC_KEY_FILE, path, &e.to_string()))?;
                jsonwebtoken::DecodingKey::from_rsa_pem(&public_pem)
                    .map_err(|e| invalid(&JWT_PUBLIC_KEY_FILE, path, &e.to_string()))?;
                let private_pem = match src.raw(&JWT_PRIVATE_KEY_FILE) {
                    Some(p) => {
                        Some(Secret::new(std::fs::read_to_string(p).map_err(|e| {
                            invalid(&JWT_PRIVATE_KEY_FILE, p, &e.to_string())
                        })?))
                    }
                    None => None,
                };
                JwtKeys::Rs256 {
                    public_pem,
                    private_pem,
                }
            }
            None => {
                let secret = src.required(&JWT_SECRET)?;
                if secret.len() < 32 {
                    return Err(invalid(&JWT_SECRET, secret, "must be at least 32 bytes"));
                }
                JwtKeys::Hs256(Secret::new(secret))
            }
        };

        let max_waiting: u64 = src.positive(&QUEUE_MAX_WAITING)?;
        let prefix = src.text(&QUEUE_PREFIX).into_owned();
        let name = src.text(&QUEUE_NAME).into_owned();
        if name.contains(':') {
            return Err(invalid(&QUEUE_NAME, &name, "must not contain ':'"));
        }

        let deny_keys = src
            .text(&INGEST_DENY_KEYS)
            .split(',')
            .map(|k| k.trim().to_ascii_lowercase())
            .filter(|k| !k.is_empty())
            .collect();

        // The deprecated switch means "every hop is ours"; the list, when set, wins.
        let trust_everyone: bool = src.parse(&TRUST_PROXY)?;
        let trusted_proxies = match src.raw(&TRUSTED_PROXIES) {
            Some(list) => list
                .parse()
                .map_err(|e: String| invalid(&TRUSTED_PROXIES, list, &e))?,
            None if trust_everyone => crate::client_ip::TrustedProxies::everyone(),
            None => crate::client_ip::TrustedProxies::default(),
        };

        Ok(Settings {
            database_url: Secret::new(database_url),
            database_read_url: database_read_url.map(Secret::new),
            database_pool: src.positive(&DATABASE_POOL)?,
            live_buffer: src.positive(&LIVE_BUFFER)?,
            redis_url: Secret::new(redis_url),
            bind: src.parse(&BIND)?,
            production,
            log_json,
            jwt: JwtSettings {
                keys,
                issuer: src.text(&JWT_ISSUER).into_owned(),
                audience: src.text(&JWT_AUDIENCE).into_owned(),
                token_ttl: Duration::from_secs(src.positive(&TOKEN_TTL_SECS)?),
            },
            queue: QueueSettings {
                prefix,
                name,
                max_waiting,
            },
            worker: WorkerSettings {
                batch_jobs: src.positive(&WORKER_BATCH_JOBS)?,
                lanes: src.positive(&WORKER_LANES)?,
                attempts: src.positive(&WORKER_ATTEMPTS)?,
                backoff: Duration::from_millis(src.positive(&WORKER_BACKOFF_MS)?),
                lock: Duration::from_millis(src.positive(&WORKER_LOCK_MS)?),
                keep_completed: src.parse(&WORKER_KEEP_COMPLETED)?,
                linger: Duration::from_millis(src.parse(&WORKER_LINGER_MS)?),
            },
            ingest: IngestSettings {
                max_body_bytes: src.positive(&INGEST_MAX_BODY_BYTES)?,
                max_events: src.positive(&INGEST_MAX_EVENTS)?,
                max_past: Duration::from_secs(src.positive(&INGEST_MAX_PAST_SECS)?),
                max_future: Duration::from_secs(src.positive(&INGEST_MAX_FUTURE_SECS)?),
                deny_keys,
                rate_per_key: src.positive(&RATE_PER_KEY)?,
                rate_per_ip: src.positive(&RATE_PER_IP)?,
                rate_per_anon: src.positive(&RATE_PER_ANON)?,
                trusted_proxies,
            },
            web_dir: src.parse(&WEB_DIR)?,
            tracker_dir: src.parse(&TRACKER_DIR)?,
            partition_days_ahead: src.parse(&PARTITION_DAYS_AHEAD)?,
            partition_unit: src.parse(&PARTITION_GRANULARITY)?,
            maintenance_interval: Duration::from_secs(src.positive(&MAINTENANCE_INTERVAL_SECS)?),
            archive_url: src.text(&ARCHIVE_URL).into_owned(),
            rollup_minute_days: src.positive(&ROLLUP_MINUTE_DAYS)?,
            login: login_settings(&src)?,
            graphql_max_body_bytes: src.positive(&GRAPHQL_MAX_BODY_BYTES)?,
            api: ApiSettings {
                query_timeout: Duration::from_millis(src.parse(&QUERY_TIMEOUT_MS)?),
                request_timeout: Duration::from_millis(src.positive(&REQUEST_TIMEOUT_MS)?),
                queries_per_project: src.positive(&QUERIES_PER_PROJECT)?,
                ws_init_timeout: Duration::from_secs(src.positive(&WS_INIT_TIMEOUT_SECS)?),
                ws_max_subscriptions: src.positive(&WS_MAX_SUBSCRIPTIONS)?,
                ws_keepalive: Duration::from_secs(src.positive(&WS_KEEPALIVE_SECS)?),
                ide: {
                    let on: bool = src.parse(&GRAPHIQL)?;
                    if on && production {
                        return Err(invalid(
                            &GRAPHIQL,
                            "true",
                            "the IDE cannot be on with SIGHTLINE_ENV=production",
                        ));
                    }
                    on
                },
            },
            metrics: MetricsSettings {
                bind: match src.raw(&METRICS_BIND) {
                    Some(addr) => {
                        Some(addr.trim().parse().map_err(|e: std::net::AddrParseError| {
                            invalid(&METRICS_BIND, addr, &e.to_string())
                        })?)
                    }
                    None => None,
                },
                token: src.raw(&METRICS_TOKEN).map(Secret::new),
            },
            geoip_db: src.raw(&GEOIP_DB).map(PathBuf::from),
            oidc: oidc_settings(&src)?,
        })
    }
}

/// Single sign-on's settings: `None` without an issuer; with one, the client id and redirect
/// URL are required, and without one, no other part of it may be set (a half-done setup would
/// otherwise pass silently as "off").
fn oidc_settings(src: &Source) -> Result<Option<OidcSettings>, ConfigError> {
    const WHY: &str = "single sign-on";
    let Some(issuer) = src.raw(&OIDC_ISSUER) else {
        for part in [&OIDC_CLIENT_ID, &OIDC_CLIENT_SECRET, &OIDC_REDIRECT_URL] {
            if src.raw(part).is_some() {
                return Err(ConfigError::Requires {
                    name: OIDC_ISSUER.name,
                    because: part.name,
                    why: WHY,
                });
            }
        }
        return Ok(None);
    };
    let required = |spec: &SettingSpec| {
        src.raw(spec).map(str::trim).ok_or(ConfigError::Requires {
            name: spec.name,
            because: OIDC_ISSUER.name,
            why: WHY,
        })
    };
    let client_id = required(&OIDC_CLIENT_ID)?.to_string();
    let redirect_url = required(&OIDC_REDIRECT_URL)?;
    let claim = |spec: &SettingSpec| {
        let name = src.text(spec).trim().to_string();
        if name.is_empty() || name.contains(char::is_whitespace) {
            return Err(invalid(spec, &name, "expected a claim name"));
        }
        Ok(name)
    };
    Ok(Some(OidcSettings {
        issuer: web_url(&OIDC_ISSUER, issuer.trim())?,
        client_id,
        client_secret: src.raw(&OIDC_CLIENT_SECRET).map(Secret::new),
        redirect_url: web_url(&OIDC_REDIRECT_URL, redirect_url)?,
        scopes: src
            .text(&OIDC_SCOPES)
            .split([',', ' '])
            .map(str::trim)
            .filter(|s| !s.is_empty() && *s != "openid")
            .map(str::to_string)
            .collect(),
        role_claim: claim(&OIDC_ROLE_CLAIM)?,
        projects_claim: claim(&OIDC_PROJECTS_CLAIM)?,
        create_accounts: src.parse(&OIDC_CREATE_ACCOUNTS)?,
    }))
}

/// An `https` URL, or `http` on a loopback host (a provider or dashboard on this machine, as in
/// tests): codes and tokens never cross a network in clear text.
fn web_url(spec: &SettingSpec, value: &str) -> Result<String, ConfigError> {
    let url = url::Url::parse(value).map_err(|e| invalid(spec, value, &e.to_string()))?;
    let loopback = match url.host() {
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    };
    match url.scheme() {
        "https" => Ok(value.to_string()),
        "http" if loopback => Ok(value.to_string()),
        "http" => Err(invalid(
            spec,
            value,
            "must be https (http only on localhost or 127.0.0.1)",
        )),
        _ => Err(invalid(spec, value, "expected an https:// URL")),
    }
}

fn login_settings(src: &Source) -> Result<LoginSettings, ConfigError> {
    let account_window = Duration::from_secs(src.positive(&LOGIN_ACCOUNT_WINDOW_SECS)?);
    let ip_window = Duration::from_secs(src.positive(&LOGIN_IP_WINDOW_SECS)?);
    Ok(LoginSettings {
        account: LoginLimit {
            failures: src.positive(&LOGIN_ACCOUNT_FAILURES)?,
            window: account_window,
            first_lock: Duration::from_secs(src.positive(&LOGIN_LOCK_SECS)?),
            longest_lock: account_window,
        },
        ip: LoginLimit {
            failures: src.positive(&LOGIN_IP_FAILURES)?,
            window: ip_window,
            first_lock: ip_window,
            longest_lock: account_window.max(ip_window),
        },
        hash_concurrency: src.positive(&PASSWORD_HASH_CONCURRENCY)?,
        hash_queue: src.parse(&PASSWORD_HASH_QUEUE)?,
    })
}

/// One line of `sightline config`.
#[derive(Clone, Debug)]
pub struct Effective {
    pub spec: &'static SettingSpec,
    /// Masked as the declaration says; `None`: unset, with no default.
    pub value: Option<String>,
    pub origin: Origin,
}

/// Every setting's effective value, secrets masked, and where it came from: what
/// `sightline config` prints. Loading it checks the file (readable, known keys) but not the
/// values; [`Settings::from_map`] does that.
#[derive(Clone, Debug)]
pub struct EffectiveSettings {
    pub entries: Vec<Effective>,
}

impl EffectiveSettings {
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_map(&std::env::vars().collect())
    }

    pub fn from_map(env: &HashMap<String, String>) -> Result<Self, ConfigError> {
        let src = Source::load(env)?;
        let entries = SETTINGS
            .iter()
            .map(|spec| match src.set(spec) {
                Some((value, origin)) => Effective {
                    spec,
                    value: Some(spec.mask(value)),
                    origin,
                },
                None => Effective {
                    spec,
                    value: spec.default.text().map(Cow::into_owned),
                    origin: Origin::Default,
                },
            })
            .collect();
        Ok(Self { entries })
    }
}

impl fmt::Display for EffectiveSettings {
    /// One aligned line per setting: name, origin, value.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let width = name_width();
        writeln!(f, "{:width$}  {:11}  VALUE", "SETTING", "SOURCE")?;
        for e in &self.entries {
            writeln!(
                f,
                "{:width$}  {:11}  {}",
                e.spec.name,
                e.origin.as_str(),
                e.value.as_deref().unwrap_or("(unset)")
            )?;
        }
        Ok(())
    }
}

fn name_width() -> usize {
    SETTINGS.iter().map(|s| s.name.len()).max().unwrap_or(0)
}

/// The list of settings that ends `sightline --help`: each name with its default (or whether it
/// is required), then its doc.
pub fn help_text() -> String {
    let intro = "Settings: environment variables, or keys of the TOML file named by \
                 SIGHTLINE_CONFIG (the names in lower case without SIGHTLINE_); the environment \
                 wins. `sightline config` prints the effective values.";
    let mut out = String::new();
    wrap_into(&mut out, "", intro);
    out.push('\n');
    for spec in SETTINGS {
        out.push_str("  ");
        out.push_str(spec.name);
        match spec.default {
            DefaultValue::Required => out.push_str(" (required)"),
            DefaultValue::Unset => out.push_str(" (optional)"),
            DefaultValue::Value(_) | DefaultValue::List(_) => {
                out.push('=');
                out.push_str(&spec.default.text().unwrap_or_default());
            }
        }
        out.push('\n');
        let doc = match spec.secrecy_note() {
            Some(note) => Cow::Owned(format!("{} [{note}]", spec.doc)),
            None => Cow::Borrowed(spec.doc),
        };
        wrap_into(&mut out, "      ", &doc);
    }
    out
}

/// Appends `text` word-wrapped at 100 columns, each line indented.
fn wrap_into(out: &mut String, indent: &str, text: &str) {
    const WIDTH: usize = 100;
    let mut line = String::new();
    for word in text.split_whitespace() {
        if !line.is_empty() && indent.len() + line.len() + 1 + word.len() > WIDTH {
            out.push_str(indent);
            out.push_str(&line);
            out.push('\n');
            line.clear();
        }
        if !line.is_empty() {
            line.push(' ');
        }
        line.push_str(word);
    }
    if !line.is_empty() {
        out.push_str(indent);
        out.push_str(&line);
        out.push('\n');
    }
}

/// README's settings table (`sightline config --markdown`): name, default, meaning.
pub fn markdown_table() -> String {
    let mut out = String::from("| Setting | Default | Meaning |\n| --- | --- | --- |\n");
    for spec in SETTINGS {
        let default = match spec.default {
            DefaultValue::Required => "required".to_string(),
            DefaultValue::Unset => "unset".to_string(),
            DefaultValue::Value(v) => format!("`{v}`"),
            DefaultValue::List(items) => items
                .iter()
                .map(|k| format!("`{k}`"))
                .collect::<Vec<_>>()
                .join(", "),
        };
        let mut meaning = spec.doc.replace('|', "\\|");
        if let Some(note) = spec.secrecy_note() {
            meaning.push_str(&format!(" *({note})*"));
        }
        out.push_str(&format!("| `{}` | {default} | {meaning} |\n", spec.name));
    }
    out
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

    /// A TOML file under a fresh temporary directory; returns its path.
    fn toml_file(text: &str) -> String {
        let dir = std::env::temp_dir().join(format!("sightline-config-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).expect("tmp dir");
        let path = dir.join("sightline.toml");
        std::fs::write(&path, text).expect("write");
        path.display().to_string()
    }

    #[test]
    fn every_default_is_the_documented_contract() {
        let s = Settings::from_map(&base()).expect("valid");
        assert!(s.database_read_url.is_none());
        assert_eq!(s.database_pool, 16);
        assert_eq!(s.live_buffer, 256);
        assert_eq!(s.bind, SocketAddr::from(([127, 0, 0, 1], 8080)));
        assert!(!s.production);
        assert!(s.log_json);
        assert!(matches!(s.jwt.keys, JwtKeys::Hs256(_)));
        assert_eq!(s.jwt.issuer, "sightline");
        assert_eq!(s.jwt.audience, "sightline");
        assert_eq!(s.jwt.token_ttl, Duration::from_secs(43_200));
        assert_eq!(s.queue.max_waiting, 100_000);
        assert_eq!(s.worker.batch_jobs, 1000);
        assert_eq!(s.worker.lanes, 3);
        assert_eq!(s.worker.attempts, 3);
        assert_eq!(s.worker.backoff, Duration::from_millis(1000));
        assert_eq!(s.worker.lock, Duration::from_millis(30_000));
        assert_eq!(s.worker.keep_completed, 1000);
        assert_eq!(s.worker.linger, Duration::from_millis(100));
        assert_eq!(s.ingest.max_body_bytes, 1 << 20);
        assert_eq!(s.ingest.max_events, 500);
        assert_eq!(s.ingest.max_past, Duration::from_secs(7 * 86_400));
        assert_eq!(s.ingest.max_future, Duration::from_secs(3600));
        assert_eq!(&*s.ingest.deny_keys, DEFAULT_DENY_KEYS);
        assert_eq!(s.ingest.rate_per_key, 20_000);
        assert_eq!(s.ingest.rate_per_ip, 1000);
        assert_eq!(s.ingest.rate_per_anon, 50);
        assert!(s.ingest.trusted_proxies.is_empty());
        assert_eq!(s.graphql_max_body_bytes, 1 << 20);
        assert_eq!(s.api.query_timeout, Duration::from_secs(10));
        assert_eq!(s.api.request_timeout, Duration::from_secs(30));
        assert_eq!(s.api.queries_per_project, 8);
        assert_eq!(s.api.ws_init_timeout, Duration::from_secs(10));
        assert_eq!(s.api.ws_max_subscriptions, 20);
        assert_eq!(s.api.ws_keepalive, Duration::from_secs(30));
        assert!(!s.api.ide);
        assert!(s.metrics.bind.is_none() && s.metrics.token.is_none());
        assert_eq!(s.web_dir, PathBuf::from("web/dist"));
        assert_eq!(s.tracker_dir, PathBuf::from("tracker-wasm/pkg"));
        assert_eq!(s.partition_days_ahead, 7);
        assert_eq!(s.maintenance_interval, Duration::from_secs(300));
        assert_eq!(s.archive_url, ".data/archive");
        assert_eq!(s.rollup_minute_days, 3);
        assert_eq!(s.geoip_db, None);
        assert!(s.oidc.is_none());
    }

    fn with(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        let mut env = base();
        for (k, v) in pairs {
            env.insert(k.to_string(), v.to_string());
        }
        env
    }

    const SSO: &[(&str, &str)] = &[
        ("SIGHTLINE_OIDC_ISSUER", "https://id.example.com/realms/x"),
        ("SIGHTLINE_OIDC_CLIENT_ID", "sightline"),
        (
            "SIGHTLINE_OIDC_REDIRECT_URL",
            "https://sl.example.com/auth/oidc/callback",
        ),
    ];

    #[test]
    fn single_sign_on_is_read_with_its_defaults() {
        let s = Settings::from_map(&with(SSO)).expect("valid");
        let o = s.oidc.expect("on");
        assert_eq!(o.issuer, "https://id.example.com/realms/x");
        assert_eq!(o.client_id, "sightline");
        assert!(o.client_secret.is_none());
        assert_eq!(o.redirect_url, "https://sl.example.com/auth/oidc/callback");
        assert_eq!(o.scopes, ["email", "profile"]);
        assert_eq!(o.role_claim, "sightline_role");
        assert_eq!(o.projects_claim, "sightline_projects");
        assert!(!o.create_accounts);

        let mut env = with(SSO);
        env.insert("SIGHTLINE_OIDC_CLIENT_SECRET".into(), "hunter2".into());
        env.insert(
            "SIGHTLINE_OIDC_SCOPES".into(),
            "openid, email groups".into(),
        );
        env.insert("SIGHTLINE_OIDC_ROLE_CLAIM".into(), "groups".into());
        env.insert("SIGHTLINE_OIDC_CREATE_ACCOUNTS".into(), "true".into());
        let o = Settings::from_map(&env).expect("valid").oidc.expect("on");
        assert_eq!(
            o.client_secret.map(|s| s.expose().to_string()).as_deref(),
            Some("hunter2")
        );
        assert_eq!(o.scopes, ["email", "groups"], "openid is always asked for");
        assert_eq!(o.role_claim, "groups");
        assert!(o.create_accounts);
        // Loopback providers may speak http (tests, a provider on the same host).
        let mut env = with(SSO);
        env.insert(
            "SIGHTLINE_OIDC_ISSUER".into(),
            "http://127.0.0.1:9000".into(),
        );
        env.insert(
            "SIGHTLINE_OIDC_REDIRECT_URL".into(),
            "http://localhost:8080/auth/oidc/callback".into(),
        );
        assert!(Settings::from_map(&env).expect("valid").oidc.is_some());
    }

    #[test]
    fn half_configured_single_sign_on_is_refused_by_name() {
        for missing in ["SIGHTLINE_OIDC_CLIENT_ID", "SIGHTLINE_OIDC_REDIRECT_URL"] {
            let mut env = with(SSO);
            env.remove(missing);
            let err = Settings::from_map(&env).expect_err(missing).to_string();
            assert_eq!(
                err,
                format!(
                    "config: {missing} is required when SIGHTLINE_OIDC_ISSUER is set (single sign-on)"
                )
            );
        }
        for stray in ["SIGHTLINE_OIDC_CLIENT_ID", "SIGHTLINE_OIDC_CLIENT_SECRET"] {
            let err = Settings::from_map(&with(&[(stray, "x")]))
                .expect_err(stray)
                .to_string();
            assert_eq!(
                err,
                format!(
                    "config: SIGHTLINE_OIDC_ISSUER is required when {stray} is set (single sign-on)"
                )
            );
        }
        for (name, value) in [
            ("SIGHTLINE_OIDC_ISSUER", "http://id.example.com"),
            ("SIGHTLINE_OIDC_ISSUER", "not a url"),
            ("SIGHTLINE_OIDC_REDIRECT_URL", "ftp://sl.example.com/cb"),
            ("SIGHTLINE_OIDC_ROLE_CLAIM", "two words"),
            ("SIGHTLINE_OIDC_CREATE_ACCOUNTS", "maybe"),
        ] {
            let mut env = with(SSO);
            env.insert(name.into(), value.into());
            let err = Settings::from_map(&env).expect_err(value).to_string();
            assert!(err.starts_with(&format!("config: {name}=")), "{err}");
        }
        // The secret is never shown, even in an error about another part.
        let mut env = with(&[("SIGHTLINE_OIDC_CLIENT_SECRET", "hunter2")]);
        env.insert(
            "SIGHTLINE_OIDC_ISSUER".into(),
            "https://id.example.com".into(),
        );
        let err = Settings::from_map(&env).expect_err("no client id");
        assert!(!format!("{err} {err:?}").contains("hunter2"));
    }

    #[test]
    fn declarations_are_unique_and_one_line() {
        let mut names = std::collections::HashSet::new();
        let mut keys = std::collections::HashSet::new();
        for spec in SETTINGS {
            assert!(names.insert(spec.name), "{} declared twice", spec.name);
            assert!(keys.insert(spec.file_key()), "{} key clash", spec.name);
            assert!(
                !spec.doc.is_empty() && !spec.doc.contains('\n'),
                "{}: one-line doc",
                spec.name
            );
        }
        for name in ["DATABASE_URL", "REDIS_URL", "SIGHTLINE_JWT_SECRET"] {
            assert!(names.contains(name), "{name} is declared");
        }
    }

    #[test]
    fn a_set_value_is_read_through_its_declaration() {
        let mut env = base();
        env.insert("SIGHTLINE_DATABASE_POOL".into(), " 4 ".into());
        env.insert("SIGHTLINE_INGEST_DENY_KEYS".into(), "Foo, bar,,".into());
        env.insert("SIGHTLINE_ENV".into(), "production".into());
        // Blank counts as unset: the default applies.
        env.insert("SIGHTLINE_QUEUE_NAME".into(), "  ".into());
        let s = Settings::from_map(&env).expect("valid");
        assert_eq!(s.database_pool, 4);
        assert_eq!(&*s.ingest.deny_keys, ["foo".to_string(), "bar".to_string()]);
        assert!(s.production);
        assert_eq!(s.queue.name, "events");
    }

    #[test]
    fn unknown_toml_key_is_refused_with_the_known_keys() {
        let path = toml_file("bind = \"127.0.0.1:9999\"\nworker_lane = 4\n");
        let mut env = base();
        env.insert("SIGHTLINE_CONFIG".into(), path.clone());
        let err = Settings::from_map(&env).expect_err("must fail").to_string();
        assert!(
            err.starts_with(&format!(
                "config: unknown setting \"worker_lane\" in {path} (known: database_url, "
            )),
            "{err}"
        );
        assert!(err.contains(" worker_lanes,"), "{err}");
        assert!(
            !err.contains("config,"),
            "the file cannot name itself: {err}"
        );
        assert!(!err.contains('\n'), "one line: {err}");
        assert!(EffectiveSettings::from_map(&env).is_err());

        // A table is not a setting either, nor the key naming the file.
        for text in ["[worker]\nlanes = 4\n", "config = \"other.toml\"\n"] {
            env.insert("SIGHTLINE_CONFIG".into(), toml_file(text));
            let err = Settings::from_map(&env).expect_err("must fail").to_string();
            assert!(err.starts_with("config: unknown setting"), "{err}");
        }
    }

    #[test]
    fn toml_keys_are_the_names_without_the_prefix() {
        let path = toml_file(
            "database_url = \"postgres://file@localhost/db\"\nworker_lanes = 5\n\
             ingest_deny_keys = [\"a\", \"b\"]\nTRUST_PROXY = true\n",
        );
        let mut env = base();
        env.remove("DATABASE_URL");
        env.insert("SIGHTLINE_CONFIG".into(), path);
        let s = Settings::from_map(&env).expect("valid");
        assert_eq!(s.database_url.expose(), "postgres://file@localhost/db");
        assert_eq!(s.worker.lanes, 5);
        assert_eq!(&*s.ingest.deny_keys, ["a".to_string(), "b".to_string()]);
        assert_eq!(
            s.ingest.trusted_proxies,
            crate::client_ip::TrustedProxies::everyone()
        );
    }

    #[test]
    fn sightline_config_shows_each_origin() {
        let path = toml_file("bind = \"127.0.0.1:9999\"\nqueue_name = \"from_file\"\n");
        let mut env = base();
        env.insert("SIGHTLINE_CONFIG".into(), path.clone());
        env.insert("SIGHTLINE_QUEUE_NAME".into(), "from_env".into());
        let report = EffectiveSettings::from_map(&env).expect("loads");
        let line = |name: &str| -> (Option<String>, Origin) {
            let e = report
                .entries
                .iter()
                .find(|e| e.spec.name == name)
                .expect("listed");
            (e.value.clone(), e.origin)
        };
        assert_eq!(
            line("SIGHTLINE_BIND"),
            (Some("127.0.0.1:9999".into()), Origin::File)
        );
        assert_eq!(
            line("SIGHTLINE_QUEUE_NAME"),
            (Some("from_env".into()), Origin::Environment)
        );
        assert_eq!(
            line("SIGHTLINE_WORKER_LANES"),
            (Some("3".into()), Origin::Default)
        );
        assert_eq!(line("SIGHTLINE_CONFIG"), (Some(path), Origin::Environment));
        assert_eq!(line("SIGHTLINE_DATABASE_READ_URL"), (None, Origin::Default));
        assert_eq!(report.entries.len(), SETTINGS.len());

        let text = report.to_string();
        let bind = text
            .lines()
            .find(|l| l.starts_with("SIGHTLINE_BIND "))
            .expect("a line per setting");
        assert!(
            bind.contains(" file ") && bind.ends_with(" 127.0.0.1:9999"),
            "{bind}"
        );
        assert!(text
            .lines()
            .any(|l| l.starts_with("SIGHTLINE_DATABASE_READ_URL ") && l.ends_with(" (unset)")));
    }

    #[test]
    fn sightline_config_masks_secrets() {
        let mut env = base();
        env.insert(
            "DATABASE_URL".into(),
            "postgres://app:pg-hunter2@db:5432/sightline".into(),
        );
        env.insert(
            "SIGHTLINE_DATABASE_READ_URL".into(),
            "postgres://ro@replica/sightline?password=ro-hunter2&sslmode=require".into(),
        );
        env.insert(
            "REDIS_URL".into(),
            "redis://:redis-hunter2@r1:6379,redis://u:redis2-hunter2@r2:6379".into(),
        );
        env.insert(
            "SIGHTLINE_JWT_SECRET".into(),
            "jwt-hunter2-0123456789abcdef0123456789".into(),
        );
        Settings::from_map(&env).expect("valid");
        let text = EffectiveSettings::from_map(&env)
            .expect("loads")
            .to_string();
        assert!(!text.contains("hunter2"), "a secret is shown:\n{text}");
        assert!(
            text.contains(" postgres://app:***@db:5432/sightline\n"),
            "{text}"
        );
        assert!(
            text.contains(" postgres://ro@replica/sightline?password=***&sslmode=require\n"),
            "{text}"
        );
        assert!(
            text.contains(" redis://:***@r1:6379,redis://u:***@r2:6379\n"),
            "{text}"
        );
        let jwt = text
            .lines()
            .find(|l| l.starts_with("SIGHTLINE_JWT_SECRET "))
            .expect("listed");
        assert!(jwt.ends_with(" environment  ***"), "{jwt}");
    }

    #[test]
    fn errors_mask_secrets() {
        let cases = [
            ("DATABASE_URL", "postgress://app:hunter2@db/sightline"),
            ("DATABASE_URL", "app:hunter2@db/sightline"),
            ("DATABASE_URL", "host=db user=app password=hunter2"),
            (
                "DATABASE_URL",
                "postgres://app:hunter2@db/x,mysql://a:hunter2@b",
            ),
            (
                "SIGHTLINE_DATABASE_READ_URL",
                "http://app:hun/ter@2@db/x?password=hunter2",
            ),
            ("REDIS_URL", "redis://:hunter2@r1:6379,r2:6379"),
            ("REDIS_URL", "redis://:hun,ter2@r1:6379;bad"),
            ("SIGHTLINE_JWT_SECRET", "hunter2"),
        ];
        for (name, value) in cases {
            let mut env = base();
            env.insert(name.into(), value.into());
            let err = Settings::from_map(&env).expect_err(value);
            let shown = format!("{err} {err:?}");
            assert!(shown.contains(name), "{shown}");
            for secret in ["hunter2", "hun", "ter2", "ter@2"] {
                assert!(!shown.contains(secret), "{value} shown as: {shown}");
            }
        }
        let mut env = base();
        env.insert("DATABASE_URL".into(), "mysql://app:hunter2@db/x".into());
        assert_eq!(
            Settings::from_map(&env)
                .expect_err("bad scheme")
                .to_string(),
            "config: DATABASE_URL=\"mysql://app:***@db/x\" is invalid: \
             expected a URL starting with postgres://, postgresql://"
        );
    }

    #[test]
    fn url_passwords_are_masked_and_the_rest_kept() {
        for (value, masked) in [
            ("postgres://u:p@h:5432/db", "postgres://u:***@h:5432/db"),
            ("postgres://u@h/db", "postgres://u@h/db"),
            (
                "postgres://h/db?sslmode=require",
                "postgres://h/db?sslmode=require",
            ),
            ("redis://h:6379/0", "redis://h:6379/0"),
            (
                "redis://:p@a:1, redis://:q@b:2",
                "redis://:***@a:1, redis://:***@b:2",
            ),
            ("redis://u:p,w@a:1", "redis://u:***@a:1"),
            ("u:p@h/db", "u:***@h/db"),
            ("localhost:6379", "localhost:6379"),
            (
                "postgres://u:p@h/db?password=q&x=1",
                "postgres://u:***@h/db?password=***&x=1",
            ),
            ("host=h password='a b' user=u", "host=h password=*** user=u"),
            ("s3://bucket/archive", "s3://bucket/archive"),
        ] {
            assert_eq!(mask_url_passwords(value), masked, "{value}");
        }
    }

    #[test]
    fn help_lists_every_setting_with_its_default() {
        let help = help_text();
        for spec in SETTINGS {
            assert!(
                help.lines()
                    .any(|l| l.starts_with(&format!("  {}", spec.name))),
                "{} missing from --help",
                spec.name
            );
        }
        assert!(help.contains("\n  SIGHTLINE_DATABASE_POOL=16\n"), "{help}");
        assert!(help.contains("\n  DATABASE_URL (required)\n"), "{help}");
        assert!(
            help.lines()
                .all(|l| l.len() <= 100 || !l.trim_start().contains(' ')),
            "{help}"
        );
    }

    const README_TABLE_START: &str =
        "<!-- settings table: generated from SETTINGS in server/src/config.rs -->\n";
    const README_TABLE_END: &str = "<!-- end of settings table -->";

    /// README's table is what the declaration renders; `UPDATE_README=1` rewrites it.
    #[test]
    fn readme_settings_table_matches_the_declaration() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../README.md");
        let readme = std::fs::read_to_string(path).expect("README.md");
        let (before, rest) = readme
            .split_once(README_TABLE_START)
            .unwrap_or_else(|| panic!("README.md lacks the line {README_TABLE_START:?}"));
        let (table, after) = rest
            .split_once(README_TABLE_END)
            .unwrap_or_else(|| panic!("README.md lacks the line {README_TABLE_END:?}"));
        let expected = markdown_table();
        if table == expected {
            return;
        }
        if std::env::var_os("UPDATE_README").is_some() {
            let updated =
                format!("{before}{README_TABLE_START}{expected}{README_TABLE_END}{after}");
            std::fs::write(path, updated).expect("write README.md");
            return;
        }
        panic!(
            "README.md's settings table differs from SETTINGS in server/src/config.rs; \
             regenerate it with `UPDATE_README=1 cargo test -p sightline --lib config::tests::readme` \
             (or paste `sightline config --markdown` between its markers). Expected:\n{expected}"
        );
    }
}
