//! Settings: embedded defaults < `--config FILE` < `NEWSD__SECTION__KEY` env vars.
//!
//! Values are checked once, at start: a bad value fails with the key and the
//! value named; an unknown key is a warning (a typo must not pass silently, a
//! config written for a newer version must still start).

use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

use serde::Deserialize;

use url::Url;

use crate::domain::FeedUrl;
use crate::fetch::ProxyUrl;
use crate::google_news::{feed_url, Edition, GoogleNewsFeed};
use ipnet::IpNet;

const DEFAULTS: &str = include_str!("../config/default.toml");

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config file {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot parse configuration: {0}")]
    Parse(String),
    #[error("invalid value for `{key}`: {reason}")]
    Value { key: String, reason: String },
    #[error("invalid value for `{key}`: {value} ({reason})")]
    Invalid {
        key: String,
        value: String,
        reason: String,
    },
}

/// A human duration string such as `"200ms"`, `"75s"`, `"15m"`.
#[derive(Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord)]
pub struct HumanDuration(pub Duration);

impl fmt::Debug for HumanDuration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", humantime::format_duration(self.0))
    }
}

impl FromStr for HumanDuration {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        humantime::parse_duration(s.trim())
            .map(HumanDuration)
            .map_err(|e| {
                format!("invalid duration {s:?}: {e} (examples: \"200ms\", \"75s\", \"15m\")")
            })
    }
}

impl<'de> Deserialize<'de> for HumanDuration {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// A setting that must never be shown: its `Debug` prints `<redacted>` and it has no
/// `Display`, so a derived `Debug`, a log field or a `format!` cannot leak it by accident.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// The secret itself, for the one place that uses it (comparing, connecting).
    pub fn expose(&self) -> &str {
        &self.0
    }

    pub fn is_empty(&self) -> bool {
        self.0.trim().is_empty()
    }
}

impl From<&str> for Secret {
    fn from(s: &str) -> Self {
        Secret(s.to_owned())
    }
}

impl From<String> for Secret {
    fn from(s: String) -> Self {
        Secret(s)
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

impl<'de> Deserialize<'de> for Secret {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Ok(Secret(lenient_secret(d)?.unwrap_or_default()))
    }
}

/// A byte count: an integer, or a string like `"5MiB"`, `"512KB"`.
#[derive(Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord)]
pub struct ByteSize(pub u64);

impl fmt::Debug for ByteSize {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

impl FromStr for ByteSize {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let t = s.trim();
        let split = t
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(t.len());
        let (num, unit) = t.split_at(split);
        let n: f64 = num
            .parse()
            .map_err(|_| format!("invalid size {s:?} (examples: 10485760, \"5MiB\")"))?;
        let mult: u64 = match unit.trim().to_ascii_lowercase().as_str() {
            "" | "b" => 1,
            "k" | "kb" => 1_000,
            "kib" => 1 << 10,
            "m" | "mb" => 1_000_000,
            "mib" => 1 << 20,
            "g" | "gb" => 1_000_000_000,
            "gib" => 1 << 30,
            other => return Err(format!("invalid size {s:?}: unknown unit {other:?}")),
        };
        Ok(ByteSize((n * mult as f64) as u64))
    }
}

impl<'de> Deserialize<'de> for ByteSize {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Int(u64),
            Str(String),
        }
        match Raw::deserialize(d)? {
            Raw::Int(n) => Ok(ByteSize(n)),
            Raw::Str(s) => s.parse().map_err(serde::de::Error::custom),
        }
    }
}

/// Deserializes a count, duration or size that must be above zero, so that a
/// zero fails naming its key just as a malformed value does. Zero is
/// `T::default()` for every type this is used on.
fn positive<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de> + Default + PartialOrd + fmt::Debug,
{
    let value = T::deserialize(d)?;
    if value > T::default() {
        Ok(value)
    } else {
        Err(serde::de::Error::custom(format!(
            "{value:?} (must be greater than zero)"
        )))
    }
}

/// [`positive`] for a setting that may be left out (a limit that is off, a
/// schedule that adapts): zero is no way to say so.
fn positive_or_unset<'de, D, T>(d: D) -> Result<Option<T>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de> + Default + PartialOrd + fmt::Debug,
{
    match Option::<T>::deserialize(d)? {
        Some(value) if value <= T::default() => Err(serde::de::Error::custom(format!(
            "{value:?} (must be greater than zero; omit it for the default)"
        ))),
        value => Ok(value),
    }
}

#[derive(Debug, Clone, Deserialize)]
pub struct Settings {
    pub database: DatabaseSettings,
    pub scheduler: SchedulerSettings,
    pub http: HttpSettings,
    pub api: ApiSettings,
    pub google_news: GoogleNewsSettings,
    pub extract: ExtractSettings,
    pub retention: RetentionSettings,
    pub stories: StoriesSettings,
    pub alerts: AlertsSettings,
    pub instance: InstanceSettings,
    #[serde(default)]
    pub feeds: Vec<FeedSettings>,
    #[serde(default)]
    pub searches: Vec<SearchSettings>,
    #[serde(default)]
    pub channels: Vec<ChannelSettings>,
    #[serde(default)]
    pub rules: Vec<crate::rules::RuleSettings>,
}

/// This process among the instances sharing an archive (PostgreSQL).
#[derive(Debug, Clone, Deserialize)]
pub struct InstanceSettings {
    /// Unique among the live instances; unset: host name and process id.
    pub name: Option<String>,
    /// How long an instance's claims (due feeds, Google links, deliveries,
    /// singleton jobs) and its registration hold without a heartbeat: a
    /// killed instance's work moves to the others this long after it died.
    /// Heartbeats come three times per lease.
    #[serde(deserialize_with = "positive")]
    pub lease: HumanDuration,
}

impl InstanceSettings {
    /// `name`, or the default for this process.
    pub fn name(&self) -> String {
        self.name
            .clone()
            .unwrap_or_else(crate::store::instances::default_instance_name)
    }
}

/// Alerts of saved searches (`newsd run`).
#[derive(Debug, Clone, Deserialize)]
pub struct AlertsSettings {
    /// How long a match waits before it is sent (and for clustering), so
    /// copies of one story arriving together become one notification.
    pub hold: HumanDuration,
    /// Tries per delivery before it is marked failed.
    #[serde(deserialize_with = "positive")]
    pub max_attempts: u32,
    /// The first retry's delay; doubles per attempt.
    #[serde(deserialize_with = "positive")]
    pub retry_interval: HumanDuration,
}

/// One `[[searches]]` entry: a standing query that notifies its channels.
#[derive(Debug, Clone, Deserialize)]
pub struct SearchSettings {
    pub name: String,
    pub query: String,
    /// `query` is the engine's own search syntax rather than plain words.
    #[serde(default)]
    pub fts: bool,
    /// Feed ids or feed URLs; empty: every feed.
    #[serde(default)]
    pub feeds: Vec<String>,
    #[serde(default)]
    pub publishers: Vec<String>,
    pub lang: Option<String>,
    #[serde(default)]
    pub channels: Vec<String>,
    /// One message per interval instead of one per story.
    #[serde(default, deserialize_with = "positive_or_unset")]
    pub digest: Option<HumanDuration>,
    /// Also match articles first seen before the search existed.
    #[serde(default)]
    pub backfill: bool,
}

/// One `[[channels]]` entry: where alerts go.
#[derive(Debug, Clone, Deserialize)]
pub struct ChannelSettings {
    pub name: String,
    #[serde(flatten)]
    pub kind: ChannelKind,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum ChannelKind {
    /// A JSON POST, signed with `secret` when there is one.
    Webhook {
        url: String,
        #[serde(default)]
        secret: Option<Secret>,
        /// The name of an environment variable that holds the secret.
        secret_env: Option<String>,
    },
    /// A message to an ntfy topic.
    Ntfy {
        url: String,
        #[serde(default)]
        token: Option<Secret>,
        token_env: Option<String>,
    },
    /// A message through an SMTP server.
    Email(EmailChannel),
}

/// An `kind = "email"` channel.
#[derive(Debug, Clone, Deserialize)]
pub struct EmailChannel {
    /// `smtps://user:pass@host:465`, `smtp://host:587` (STARTTLS), or with
    /// `?tls=none` a relay that speaks no TLS. A secret: it holds the password.
    #[serde(default)]
    pub smtp_url: Option<Secret>,
    /// The name of an environment variable that holds `smtp_url`.
    pub smtp_url_env: Option<String>,
    pub from: String,
    #[serde(deserialize_with = "one_or_many")]
    pub to: Vec<String>,
}

impl EmailChannel {
    /// `smtp_url`, from the config or the environment variable it names
    /// (read when a message is sent).
    pub fn smtp_url(&self) -> Option<Secret> {
        secret_or_env(&self.smtp_url, &self.smtp_url_env)
    }
}

fn one_or_many<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum OneOrMany {
        One(String),
        Many(Vec<String>),
    }
    Ok(match OneOrMany::deserialize(d)? {
        OneOrMany::One(s) => vec![s],
        OneOrMany::Many(v) => v,
    })
}

fn secret_or_env(value: &Option<Secret>, env: &Option<String>) -> Option<Secret> {
    match (value, env) {
        (Some(s), _) if !s.is_empty() => Some(s.clone()),
        (_, Some(var)) => std::env::var(var)
            .ok()
            .map(Secret::from)
            .filter(|s| !s.is_empty()),
        _ => None,
    }
}

/// How an `smtp_url` says to reach its server.
#[derive(Clone, PartialEq, Eq)]
pub struct SmtpUrl {
    pub host: String,
    pub port: u16,
    pub tls: SmtpTls,
    pub user: Option<String>,
    pub password: Option<Secret>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SmtpTls {
    /// `smtps://`: TLS from the first byte.
    Implicit,
    /// `smtp://`: STARTTLS, refused if the server does not offer it.
    StartTls,
    /// `smtp://…?tls=none`: plain text, for a trusted local relay.
    None,
}

impl fmt::Debug for SmtpUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SmtpUrl")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("tls", &self.tls)
            .field("user", &self.user)
            .finish_non_exhaustive()
    }
}

impl SmtpUrl {
    /// Reads `smtp_url`. Errors never quote the URL: it may hold a password.
    pub fn parse(raw: &str) -> Result<SmtpUrl, String> {
        let url = Url::parse(raw).map_err(|e| format!("not a URL ({e})"))?;
        let host = match url.host() {
            Some(url::Host::Domain(h)) => h.to_owned(),
            Some(url::Host::Ipv4(ip)) => ip.to_string(),
            Some(url::Host::Ipv6(ip)) => ip.to_string(),
            None => return Err("has no host".to_owned()),
        };
        let mut tls = match url.scheme() {
            "smtps" => SmtpTls::Implicit,
            "smtp" => SmtpTls::StartTls,
            other => return Err(format!("scheme {other:?} is not smtp or smtps")),
        };
        for (key, value) in url.query_pairs() {
            match (key.as_ref(), value.as_ref()) {
                ("tls", "none") if tls == SmtpTls::StartTls => tls = SmtpTls::None,
                ("tls", "required") if tls == SmtpTls::StartTls => {}
                _ => {
                    return Err(format!(
                        "unknown parameter {key}={value} (only tls=none on smtp://)"
                    ))
                }
            }
        }
        let decode = |s: &str| {
            percent_encoding::percent_decode_str(s)
                .decode_utf8()
                .map(|c| c.into_owned())
                .map_err(|_| "has user or password that is not UTF-8".to_owned())
        };
        let user = match url.username() {
            "" => None,
            u => Some(decode(u)?),
        };
        let password = url.password().map(decode).transpose()?.map(Secret::from);
        Ok(SmtpUrl {
            port: url.port().unwrap_or(match tls {
                SmtpTls::Implicit => 465,
                SmtpTls::StartTls => 587,
                SmtpTls::None => 25,
            }),
            host,
            tls,
            user,
            password,
        })
    }
}

impl ChannelKind {
    /// The URL an HTTP channel posts to; none for email.
    pub fn http_url(&self) -> Option<&str> {
        match self {
            ChannelKind::Webhook { url, .. } | ChannelKind::Ntfy { url, .. } => Some(url),
            ChannelKind::Email(_) => None,
        }
    }

    /// The webhook secret or ntfy token, from the config or the environment
    /// variable it names (read when a message is sent).
    pub fn credential(&self) -> Option<Secret> {
        match self {
            ChannelKind::Webhook {
                secret, secret_env, ..
            } => secret_or_env(secret, secret_env),
            ChannelKind::Ntfy {
                token, token_env, ..
            } => secret_or_env(token, token_env),
            ChannelKind::Email(_) => None,
        }
    }
}

/// An email channel's addresses and (when it is in the config) its server;
/// an `smtp_url_env` is read when a message is sent.
fn validate_email(i: usize, email: &EmailChannel) -> Result<(), ConfigError> {
    let invalid = |key: &str, value: String, reason: String| ConfigError::Invalid {
        key: format!("channels[{i}].{key}"),
        value,
        reason,
    };
    match (&email.smtp_url, &email.smtp_url_env) {
        (Some(url), None) => {
            SmtpUrl::parse(url.expose())
                .map_err(|e| invalid("smtp_url", "(hidden)".to_owned(), e))?;
        }
        (None, Some(var)) if !var.trim().is_empty() => {}
        _ => {
            return Err(invalid(
                "smtp_url",
                "(hidden)".to_owned(),
                "an email channel needs exactly one of smtp_url and smtp_url_env".to_owned(),
            ))
        }
    }
    email
        .from
        .parse::<lettre::message::Mailbox>()
        .map_err(|e| {
            invalid(
                "from",
                format!("{:?}", email.from),
                format!("not an address ({e})"),
            )
        })?;
    if email.to.is_empty() {
        return Err(invalid(
            "to",
            "[]".to_owned(),
            "needs at least one address".to_owned(),
        ));
    }
    for to in &email.to {
        to.parse::<lettre::message::Mailbox>()
            .map_err(|e| invalid("to", format!("{to:?}"), format!("not an address ({e})")))?;
    }
    Ok(())
}

/// Story clustering (`newsd run` every 30 s, `poll --once` after its polls).
#[derive(Debug, Clone, Deserialize)]
pub struct StoriesSettings {
    /// How far apart (first seen) two articles may be and still be one story.
    #[serde(deserialize_with = "positive")]
    pub window: HumanDuration,
}

impl StoriesSettings {
    pub fn window(&self) -> chrono::Duration {
        chrono::Duration::from_std(self.window.0).unwrap_or(chrono::Duration::MAX)
    }
}

/// How long the archive keeps articles (`newsd prune`, and the daemon every
/// `prune_interval`). Nothing is pruned unless a limit is set.
#[derive(Debug, Clone, Deserialize)]
pub struct RetentionSettings {
    /// Articles first seen longer ago go; unset keeps them forever.
    #[serde(default, deserialize_with = "positive_or_unset")]
    pub max_age: Option<HumanDuration>,
    /// The oldest articles go while the database is larger; unset: no limit.
    #[serde(default, deserialize_with = "positive_or_unset")]
    pub max_db_bytes: Option<ByteSize>,
    #[serde(deserialize_with = "positive")]
    pub prune_interval: HumanDuration,
    /// Articles deleted per transaction.
    #[serde(deserialize_with = "positive")]
    pub batch: usize,
}

impl RetentionSettings {
    pub fn policy(&self) -> crate::store::RetentionPolicy {
        crate::store::RetentionPolicy {
            max_age: self.max_age.map(|d| d.0),
            max_db_bytes: self.max_db_bytes.map(|b| b.0),
            batch: self.batch,
        }
    }
}

/// The HTTP API (`newsd run` and `newsd serve`).
#[derive(Clone, Debug, Deserialize)]
pub struct ApiSettings {
    /// `IP:port` to listen on.
    pub listen: String,
    /// Bearer token required on every route but `/healthz` and `/readyz`.
    #[serde(default)]
    pub token: Option<Secret>,
    /// Whether `newsd run` serves the API beside the scheduler.
    pub enabled: bool,
}

/// A secret from TOML or the environment: the environment layer turns an
/// all-digit value into a number, which is still meant as text. Serde's own
/// "invalid type" errors would quote the value, so none can arise here.
fn lenient_secret<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Raw {
        Str(String),
        Int(i64),
        UInt(u64),
        Float(f64),
        Bool(bool),
    }
    Ok(Option::<Raw>::deserialize(d)?.map(|r| match r {
        Raw::Str(s) => s,
        Raw::Int(n) => n.to_string(),
        Raw::UInt(n) => n.to_string(),
        Raw::Float(n) => n.to_string(),
        Raw::Bool(b) => b.to_string(),
    }))
}

impl ApiSettings {
    /// The validated listen address.
    pub fn listen_addr(&self) -> Result<std::net::SocketAddr, ConfigError> {
        self.listen
            .trim()
            .parse()
            .map_err(|_| ConfigError::Invalid {
                key: "api.listen".to_owned(),
                value: format!("{:?}", self.listen),
                reason: "must be an IP address and port such as \"127.0.0.1:8080\"".to_owned(),
            })
    }
}

#[derive(Debug, Clone, Deserialize)]
pub struct ExtractSettings {
    pub enabled: bool,
    pub user_agent: String,
    #[serde(deserialize_with = "positive")]
    pub max_concurrent: usize,
    /// HTML bytes (as parsed, non-content cut) extracted at once across jobs.
    #[serde(deserialize_with = "positive")]
    pub max_concurrent_bytes: ByteSize,
    #[serde(deserialize_with = "positive")]
    pub max_attempts: i64,
    pub retry_interval: HumanDuration,
    pub lease: HumanDuration,
    pub keep_raw_html: bool,
    pub once_budget: HumanDuration,
}

#[derive(Debug, Clone, Deserialize)]
pub struct GoogleNewsSettings {
    pub base_url: String,
    /// The egress this instance's Google requests leave from: instances
    /// naming the same one share one budget (breaker, pace) in the archive.
    pub egress: String,
    pub edition: Edition,
    pub resolve: bool,
    #[serde(deserialize_with = "positive")]
    pub batch_size: usize,
    pub get_interval: HumanDuration,
    #[serde(deserialize_with = "positive")]
    pub get_burst: u32,
    #[serde(deserialize_with = "positive")]
    pub speedup_after: u32,
    pub max_get_interval: HumanDuration,
    pub settle: HumanDuration,
    pub gets_per_run: usize,
    pub cooldown: HumanDuration,
    pub post_delay: HumanDuration,
    pub retry_interval: HumanDuration,
    #[serde(deserialize_with = "positive")]
    pub max_attempts: i64,
}

impl GoogleNewsSettings {
    /// The validated base URL.
    pub fn base(&self) -> Url {
        Url::parse(&self.base_url).unwrap_or_else(|_| crate::google_news::default_base())
    }

    /// The bounds the learned pace of article-page GETs keeps within.
    pub fn pace_rule(&self) -> crate::google_news::PaceRule {
        crate::google_news::PaceRule {
            min_interval: self.get_interval.0,
            max_interval: self.max_get_interval.0,
            burst: self.get_burst,
            speedup_after: self.speedup_after,
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
pub struct DatabaseSettings {
    pub url: String,
    pub busy_timeout: HumanDuration,
}

#[derive(Debug, Clone, Deserialize)]
pub struct SchedulerSettings {
    #[serde(deserialize_with = "positive")]
    pub default_interval: HumanDuration,
    #[serde(deserialize_with = "positive")]
    pub min_interval: HumanDuration,
    #[serde(deserialize_with = "positive")]
    pub max_interval: HumanDuration,
    pub jitter: f64,
    #[serde(deserialize_with = "positive")]
    pub max_concurrent_fetches: usize,
    pub shutdown_grace: HumanDuration,
    #[serde(deserialize_with = "positive")]
    pub batch_size: u32,
    #[serde(deserialize_with = "positive")]
    pub max_entries_per_poll: usize,
}

#[derive(Clone, Deserialize)]
pub struct HttpSettings {
    pub user_agent: String,
    #[serde(deserialize_with = "positive")]
    pub connect_timeout: HumanDuration,
    #[serde(deserialize_with = "positive")]
    pub timeout: HumanDuration,
    #[serde(deserialize_with = "positive")]
    pub max_body_bytes: ByteSize,
    pub max_redirects: u32,
    #[serde(deserialize_with = "positive")]
    pub per_host_concurrency: usize,
    pub per_host_delay: HumanDuration,
    pub respect_robots_txt: bool,
    #[serde(default)]
    pub allow_networks: Vec<String>,
    /// Forward proxy URL, possibly with credentials; empty: none.
    #[serde(default)]
    pub proxy: Secret,
    /// Bytes per second a response body must average over each `min_transfer_window`; 0: off.
    pub min_transfer_rate: ByteSize,
    pub min_transfer_window: HumanDuration,
    /// Cap on a response's header block.
    pub max_header_bytes: ByteSize,
    /// The source address every outgoing connection binds to; empty: the
    /// system's choice.
    #[serde(default)]
    pub local_address: String,
}

impl HttpSettings {
    /// The validated source address, if one is set.
    pub fn local_address(&self) -> Option<std::net::IpAddr> {
        self.local_address.trim().parse().ok()
    }

    /// The validated proxy, if one is set.
    pub fn proxy(&self) -> Option<ProxyUrl> {
        if self.proxy.is_empty() {
            return None;
        }
        ProxyUrl::parse(self.proxy.expose()).ok()
    }
}

impl fmt::Debug for HttpSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The proxy as host and port only; an unparsable one not at all.
        let proxy = match self.proxy() {
            Some(p) => p.to_string(),
            None if self.proxy.is_empty() => String::new(),
            None => "<redacted>".to_owned(),
        };
        f.debug_struct("HttpSettings")
            .field("user_agent", &self.user_agent)
            .field("connect_timeout", &self.connect_timeout)
            .field("timeout", &self.timeout)
            .field("max_body_bytes", &self.max_body_bytes)
            .field("max_redirects", &self.max_redirects)
            .field("per_host_concurrency", &self.per_host_concurrency)
            .field("per_host_delay", &self.per_host_delay)
            .field("respect_robots_txt", &self.respect_robots_txt)
            .field("allow_networks", &self.allow_networks)
            .field("proxy", &proxy)
            .field("min_transfer_rate", &self.min_transfer_rate)
            .field("min_transfer_window", &self.min_transfer_window)
            .field("max_header_bytes", &self.max_header_bytes)
            .field("local_address", &self.local_address)
            .finish()
    }
}

#[derive(Debug, Clone, Deserialize)]
pub struct FeedSettings {
    /// A feed URL; or else `google_news`.
    pub url: Option<String>,
    pub google_news: Option<GoogleNewsFeed>,
    pub name: Option<String>,
    #[serde(default, deserialize_with = "positive_or_unset")]
    pub interval: Option<HumanDuration>,
}

/// The outcome of loading: settings plus the warnings worth logging once
/// telemetry is up.
#[derive(Debug)]
pub struct Loaded {
    pub settings: Settings,
    pub warnings: Vec<String>,
}

impl Settings {
    /// Layer the embedded defaults, an optional file and the process environment.
    pub fn load(file: Option<&Path>) -> Result<Loaded, ConfigError> {
        Self::load_with_env(file, std::env::vars())
    }

    /// Like [`Settings::load`] with an explicit environment, so tests never
    /// depend on (or mutate) the process environment.
    pub fn load_with_env(
        file: Option<&Path>,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Loaded, ConfigError> {
        let mut builder = config::Config::builder()
            .add_source(config::File::from_str(DEFAULTS, config::FileFormat::Toml));
        if let Some(path) = file {
            let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
                path: path.to_path_buf(),
                source,
            })?;
            builder = builder.add_source(config::File::from_str(&text, config::FileFormat::Toml));
        }
        let env: config::Map<String, String> = env
            .into_iter()
            .filter(|(k, _)| k.starts_with("NEWSD__"))
            .collect();
        builder = builder.add_source(
            config::Environment::with_prefix("NEWSD")
                .prefix_separator("__")
                .separator("__")
                .try_parsing(true)
                .list_separator(",")
                .with_list_parse_key("http.allow_networks")
                .source(Some(env)),
        );
        let merged = builder
            .build()
            .map_err(|e| ConfigError::Parse(e.to_string()))?;
        let value: serde_json::Value = merged
            .try_deserialize()
            .map_err(|e| ConfigError::Parse(e.to_string()))?;

        let mut warnings = Vec::new();
        let mut unknown = |path: serde_ignored::Path<'_>| {
            warnings.push(format!(
                "unknown configuration key `{path}` ignored (a typo, or a setting of a newer newsd?)"
            ));
        };
        let settings: Settings =
            serde_path_to_error::deserialize(serde_ignored::Deserializer::new(value, &mut unknown))
                .map_err(|e| {
                    let key = e.path().to_string();
                    ConfigError::Value {
                        key,
                        reason: e.into_inner().to_string(),
                    }
                })?;
        warnings.extend(settings.validate()?);
        Ok(Loaded { settings, warnings })
    }

    /// Rejects impossible values; returns warnings for merely aggressive ones.
    pub fn validate(&self) -> Result<Vec<String>, ConfigError> {
        let mut warnings = Vec::new();
        let invalid = |key: &str, value: String, reason: &str| ConfigError::Invalid {
            key: key.to_owned(),
            value,
            reason: reason.to_owned(),
        };
        if crate::store::engine_of(&self.database.url).is_err() {
            return Err(invalid(
                "database.url",
                format!("{:?}", crate::store::redacted(&self.database.url)),
                "must name an engine: \"sqlite://data/newsd.db\" or \"postgres://user:password@host/db\"",
            ));
        }
        if let Some(name) = &self.instance.name {
            if name.trim().is_empty() || name.chars().any(char::is_control) || name.len() > 200 {
                return Err(invalid(
                    "instance.name",
                    format!("{name:?}"),
                    "must be 1 to 200 printable characters",
                ));
            }
        }
        if self.instance.lease.0 < Duration::from_secs(3) {
            return Err(invalid(
                "instance.lease",
                format!(
                    "{:?}",
                    humantime::format_duration(self.instance.lease.0).to_string()
                ),
                "must be at least 3s (heartbeats come three times per lease)",
            ));
        }
        let a = &self.api;
        let addr = a.listen_addr()?;
        match &a.token {
            Some(t) if t.is_empty() => {
                return Err(invalid(
                    "api.token",
                    "(empty)".into(),
                    "must not be empty; omit it to serve without a token (loopback only)",
                ))
            }
            Some(_) => {}
            None if !addr.ip().is_loopback() => {
                return Err(invalid(
                    "api.listen",
                    format!("{:?}", a.listen),
                    "listening on a non-loopback address needs `api.token` (set it, e.g. with NEWSD__API__TOKEN, or listen on 127.0.0.1)",
                ))
            }
            None => {}
        }
        let s = &self.scheduler;
        for (key, d) in [
            ("scheduler.default_interval", s.default_interval),
            ("scheduler.min_interval", s.min_interval),
            ("scheduler.max_interval", s.max_interval),
        ] {
            if d.0 < Duration::from_secs(60) {
                warnings.push(format!(
                    "`{key}` = {d:?} is very aggressive; publishers may rate-limit or block you"
                ));
            }
        }
        if s.min_interval > s.max_interval {
            return Err(invalid(
                "scheduler.min_interval",
                format!("{:?}", s.min_interval),
                &format!(
                    "must not exceed scheduler.max_interval ({:?})",
                    s.max_interval
                ),
            ));
        }
        if !(0.0..1.0).contains(&s.jitter) || s.jitter.is_nan() {
            return Err(invalid(
                "scheduler.jitter",
                s.jitter.to_string(),
                "must be a fraction in [0, 1)",
            ));
        }
        let h = &self.http;
        if h.user_agent.trim().is_empty() {
            return Err(invalid(
                "http.user_agent",
                "\"\"".into(),
                "must not be empty",
            ));
        }
        if h.per_host_delay.0 < Duration::from_millis(200) && !h.per_host_delay.0.is_zero() {
            warnings.push(format!(
                "`http.per_host_delay` = {:?} is very aggressive",
                h.per_host_delay
            ));
        }
        if !h.local_address.trim().is_empty() && h.local_address().is_none() {
            return Err(invalid(
                "http.local_address",
                format!("{:?}", h.local_address),
                "must be an IP address of this host, e.g. \"192.0.2.10\" or \"2001:db8::10\" (empty: the system's choice)",
            ));
        }
        for net in &h.allow_networks {
            IpNet::from_str(net)
                .map_err(|e| invalid("http.allow_networks", format!("{net:?}"), &e.to_string()))?;
        }
        if !h.proxy.is_empty() {
            // The value is never echoed: it may hold a password.
            ProxyUrl::parse(h.proxy.expose()).map_err(|e| {
                invalid(
                    "http.proxy",
                    "(not shown, may contain credentials)".into(),
                    &e.to_string(),
                )
            })?;
        }
        if h.min_transfer_rate.0 > 0 {
            if h.min_transfer_window.0 < Duration::from_secs(1) {
                return Err(invalid(
                    "http.min_transfer_window",
                    format!("{:?}", h.min_transfer_window),
                    "must be at least 1s (a shorter window mistakes ordinary jitter for a stall)",
                ));
            }
            if h.min_transfer_window.0 >= h.timeout.0 {
                warnings.push(format!(
                    "`http.min_transfer_window` = {:?} is not shorter than `http.timeout` = {:?}, \
                     so the minimum transfer rate never applies before the timeout",
                    h.min_transfer_window, h.timeout
                ));
            }
        }
        if h.max_header_bytes.0 < 1024 {
            return Err(invalid(
                "http.max_header_bytes",
                h.max_header_bytes.0.to_string(),
                "must be at least 1KiB (ordinary responses carry a few hundred bytes to a few KiB of headers)",
            ));
        }
        if h.max_header_bytes.0 > 256 * 1024 {
            return Err(invalid(
                "http.max_header_bytes",
                h.max_header_bytes.0.to_string(),
                "must be at most 256KiB (HTTP/1.1 heads over about 400KiB are refused by the HTTP library anyway)",
            ));
        }
        let g = &self.google_news;
        match Url::parse(&g.base_url) {
            Ok(u) if matches!(u.scheme(), "http" | "https") && u.host_str().is_some() => {}
            _ => {
                return Err(invalid(
                    "google_news.base_url",
                    format!("{:?}", g.base_url),
                    "must be an http(s) URL such as \"https://news.google.com\"",
                ))
            }
        }
        if g.egress.trim().is_empty()
            || g.egress.len() > 100
            || g.egress.chars().any(char::is_control)
        {
            return Err(invalid(
                "google_news.egress",
                format!("{:?}", g.egress),
                "must name the egress in 1 to 100 characters, without control characters (\"default\" unless instances leave from different addresses)",
            ));
        }
        g.edition.validate().map_err(|e| {
            invalid(
                "google_news.edition",
                format!("{:?}", g.edition.to_string()),
                &e.to_string(),
            )
        })?;
        if g.max_get_interval.0 < g.get_interval.0 {
            return Err(invalid(
                "google_news.max_get_interval",
                format!("{:?}", g.max_get_interval),
                &format!(
                    "must not be shorter than google_news.get_interval ({:?})",
                    g.get_interval
                ),
            ));
        }
        let x = &self.extract;
        if x.lease.0 < Duration::from_secs(1) {
            return Err(invalid(
                "extract.lease",
                format!("{:?}", x.lease),
                "must be at least 1s",
            ));
        }
        for (i, feed) in self.feeds.iter().enumerate() {
            self.feed_url(feed).map_err(|(key, value, reason)| {
                invalid(&format!("feeds[{i}].{key}"), value, &reason)
            })?;
        }
        self.validate_alerts()?;
        if let Err(e) = crate::rules::RuleSet::compile(&self.rules) {
            return Err(ConfigError::Invalid {
                key: format!("rules[{}].{}", e.index, e.field),
                value: e.rule.clone(),
                reason: e.reason,
            });
        }
        Ok(warnings)
    }

    fn validate_alerts(&self) -> Result<(), ConfigError> {
        let invalid = |key: String, value: String, reason: &str| ConfigError::Invalid {
            key,
            value,
            reason: reason.to_owned(),
        };
        let mut channels = std::collections::HashSet::new();
        for (i, c) in self.channels.iter().enumerate() {
            if c.name.trim().is_empty() || !channels.insert(c.name.as_str()) {
                return Err(invalid(
                    format!("channels[{i}].name"),
                    format!("{:?}", c.name),
                    "must be a non-empty name no other channel has",
                ));
            }
            match &c.kind {
                ChannelKind::Email(email) => validate_email(i, email)?,
                kind => {
                    let url = kind.http_url().unwrap_or_default();
                    match Url::parse(url) {
                        Ok(u)
                            if matches!(u.scheme(), "http" | "https") && u.host_str().is_some() => {
                        }
                        _ => {
                            return Err(invalid(
                                format!("channels[{i}].url"),
                                format!("{url:?}"),
                                "must be an http(s) URL",
                            ))
                        }
                    }
                }
            }
        }
        let mut names = std::collections::HashSet::new();
        for (i, s) in self.searches.iter().enumerate() {
            if s.name.trim().is_empty() || !names.insert(s.name.as_str()) {
                return Err(invalid(
                    format!("searches[{i}].name"),
                    format!("{:?}", s.name),
                    "must be a non-empty name no other search has",
                ));
            }
            if s.query.split_whitespace().next().is_none() {
                return Err(invalid(
                    format!("searches[{i}].query"),
                    format!("{:?}", s.query),
                    "must hold at least one word",
                ));
            }
            if let Some(c) = s.channels.iter().find(|c| !channels.contains(c.as_str())) {
                return Err(invalid(
                    format!("searches[{i}].channels"),
                    format!("{c:?}"),
                    "names no `[[channels]]` entry",
                ));
            }
        }
        Ok(())
    }

    /// The URL a configured feed is polled at: its `url`, or the Google News
    /// feed URL built from its intent, edition and `google_news.base_url`.
    pub fn feed_url(&self, feed: &FeedSettings) -> Result<FeedUrl, (String, String, String)> {
        match (&feed.url, &feed.google_news) {
            (Some(url), None) => FeedUrl::parse(url)
                .map_err(|e| ("url".to_owned(), format!("{url:?}"), e.to_string())),
            (None, Some(g)) => {
                let edition = g.edition.as_ref().unwrap_or(&self.google_news.edition);
                edition.validate().map_err(|e| {
                    (
                        "google_news.edition".to_owned(),
                        format!("{:?}", edition.to_string()),
                        e.to_string(),
                    )
                })?;
                let url = feed_url(&self.google_news.base(), &g.spec, edition);
                FeedUrl::parse(url.as_str())
                    .map_err(|e| ("google_news".to_owned(), format!("{url}"), e.to_string()))
            }
            (Some(_), Some(_)) => Err((
                "url".to_owned(),
                "url and google_news".to_owned(),
                "a feed has either a url or a google_news spec, not both".to_owned(),
            )),
            (None, None) => Err((
                "url".to_owned(),
                "(missing)".to_owned(),
                "a feed needs a url or a google_news spec".to_owned(),
            )),
        }
    }

    /// Parsed `http.allow_networks` (validated at load).
    pub fn allow_networks(&self) -> Vec<IpNet> {
        self.http
            .allow_networks
            .iter()
            .filter_map(|n| IpNet::from_str(n).ok())
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(toml: &str, env: &[(&str, &str)]) -> Result<Loaded, ConfigError> {
        let dir = tempfile::tempdir().map_err(|e| ConfigError::Parse(e.to_string()))?;
        let path = dir.path().join("c.toml");
        std::fs::write(&path, toml).map_err(|e| ConfigError::Parse(e.to_string()))?;
        Settings::load_with_env(
            Some(&path),
            env.iter().map(|(k, v)| (k.to_string(), v.to_string())),
        )
    }

    #[test]
    fn embedded_defaults_load_and_validate() {
        let loaded = Settings::load_with_env(None, Vec::new()).unwrap();
        let s = loaded.settings;
        assert_eq!(s.scheduler.default_interval.0, Duration::from_secs(900));
        assert_eq!(s.scheduler.min_interval.0, Duration::from_secs(300));
        assert_eq!(s.scheduler.max_interval.0, Duration::from_secs(86400));
        assert_eq!(s.http.max_body_bytes.0, 10_485_760);
        assert_eq!(s.database.url, "sqlite://data/newsd.db");
        assert!(s.feeds.is_empty());
        assert!(loaded.warnings.is_empty(), "{:?}", loaded.warnings);
    }

    #[test]
    fn the_example_config_loads_without_warnings() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("config/newsd.toml");
        let loaded = Settings::load_with_env(Some(&path), Vec::new()).unwrap();
        assert!(loaded.warnings.is_empty(), "{:?}", loaded.warnings);
        assert!(loaded.settings.feeds.len() >= 4);
        let urls: Vec<String> = loaded
            .settings
            .feeds
            .iter()
            .map(|f| loaded.settings.feed_url(f).unwrap().to_string())
            .collect();
        assert!(urls
            .iter()
            .any(|u| u == "https://news.google.com/rss?hl=en-US&gl=US&ceid=US:en"));
        assert!(urls
            .iter()
            .any(|u| u.starts_with("https://news.google.com/rss/search?q=TSMC")));
    }

    #[test]
    fn env_overrides_file_which_overrides_defaults() {
        let loaded = load(
            "[http]\ntimeout = \"45s\"\nper_host_delay = \"2s\"\n",
            &[
                ("NEWSD__HTTP__TIMEOUT", "50s"),
                ("NEWSD__HTTP__MAX_REDIRECTS", "3"),
            ],
        )
        .unwrap();
        assert_eq!(loaded.settings.http.timeout.0, Duration::from_secs(50));
        assert_eq!(
            loaded.settings.http.per_host_delay.0,
            Duration::from_secs(2)
        );
        assert_eq!(loaded.settings.http.max_redirects, 3);
    }

    const ALERTS: &str = r#"
[[channels]]
name = "hook"
kind = "webhook"
url = "https://hooks.example/newsd"
secret = "hunter2-webhook"
[[channels]]
name = "phone"
kind = "ntfy"
url = "https://ntfy.example/topic"
token = "tk-ntfy-secret"
[[searches]]
name = "chips"
query = "semiconductor export"
channels = ["hook", "phone"]
digest = "1h"
"#;

    #[test]
    fn searches_and_channels_load_with_their_secrets_redacted() {
        let loaded = load(ALERTS, &[]).unwrap();
        let s = &loaded.settings;
        assert_eq!(s.alerts.hold.0, Duration::from_secs(120));
        assert_eq!(s.alerts.max_attempts, 10);
        assert_eq!(s.alerts.retry_interval.0, Duration::from_secs(60));
        assert_eq!(
            s.searches[0].digest.map(|d| d.0),
            Some(Duration::from_secs(3600))
        );
        assert_eq!(
            s.channels[0]
                .kind
                .credential()
                .map(|c| c.expose().to_owned()),
            Some("hunter2-webhook".to_owned())
        );
        let debug = format!("{s:?}");
        assert!(
            !debug.contains("hunter2") && !debug.contains("tk-ntfy"),
            "{debug}"
        );
    }

    #[test]
    fn a_search_naming_an_unknown_channel_or_a_duplicate_name_fails_at_start() {
        let err = load(&ALERTS.replace("[\"hook\", \"phone\"]", "[\"pager\"]"), &[]).unwrap_err();
        assert!(err.to_string().contains("searches[0].channels"), "{err}");
        let twice = format!("{ALERTS}\n[[searches]]\nname = \"chips\"\nquery = \"x\"\n");
        let err = load(&twice, &[]).unwrap_err();
        assert!(err.to_string().contains("searches[1].name"), "{err}");
        let err = load(
            &ALERTS.replace("https://hooks.example/newsd", "ftp://x"),
            &[],
        )
        .unwrap_err();
        assert!(err.to_string().contains("channels[0].url"), "{err}");
    }

    const EMAIL: &str = r#"
[[channels]]
name = "desk"
kind = "email"
smtp_url = "smtps://alerts:hunter2-smtp@smtp.example.com"
from = "newsd <newsd@example.com>"
to = "desk@example.com"
"#;

    #[test]
    fn an_email_channel_loads_with_its_smtp_url_redacted_and_one_or_many_recipients() {
        let loaded = load(EMAIL, &[]).unwrap();
        let ChannelKind::Email(email) = &loaded.settings.channels[0].kind else {
            panic!("not an email channel: {:?}", loaded.settings.channels[0]);
        };
        assert_eq!(email.to, ["desk@example.com"]);
        let debug = format!("{:?}", loaded.settings);
        assert!(!debug.contains("hunter2"), "{debug}");
        let many = load(
            &EMAIL.replace(
                "to = \"desk@example.com\"",
                "to = [\"a@x.org\", \"b@x.org\"]",
            ),
            &[],
        )
        .unwrap();
        let ChannelKind::Email(email) = &many.settings.channels[0].kind else {
            panic!("not an email channel");
        };
        assert_eq!(email.to, ["a@x.org", "b@x.org"]);
    }

    #[test]
    fn a_bad_email_channel_fails_at_start_without_showing_its_password() {
        for (from, to, key) in [
            (
                "smtps://alerts:hunter2-smtp@",
                "https://alerts:hunter2-smtp@",
                "channels[0].smtp_url",
            ),
            (
                "smtps://alerts:hunter2-smtp@smtp.example.com",
                "smtp://alerts:hunter2-smtp@smtp.example.com?tls=maybe",
                "channels[0].smtp_url",
            ),
            (
                "from = \"newsd <newsd@example.com>\"",
                "from = \"not an address\"",
                "channels[0].from",
            ),
            ("to = \"desk@example.com\"", "to = []", "channels[0].to"),
            (
                "smtp_url = \"smtps://alerts:hunter2-smtp@smtp.example.com\"",
                "",
                "channels[0].smtp_url",
            ),
        ] {
            let err = load(&EMAIL.replace(from, to), &[]).unwrap_err().to_string();
            assert!(err.contains(key), "{to}: {err}");
            assert!(!err.contains("hunter2"), "{err}");
        }
    }

    #[test]
    fn smtp_urls_name_their_tls_port_and_credentials() {
        let u = SmtpUrl::parse("smtps://me%40x.org:p%3Ass@mail.example").unwrap();
        assert_eq!(
            (u.host.as_str(), u.port, u.tls),
            ("mail.example", 465, SmtpTls::Implicit)
        );
        assert_eq!(u.user.as_deref(), Some("me@x.org"));
        assert_eq!(u.password.as_ref().map(Secret::expose), Some("p:ss"));
        let u = SmtpUrl::parse("smtp://mail.example").unwrap();
        assert_eq!((u.port, u.tls, u.user), (587, SmtpTls::StartTls, None));
        let u = SmtpUrl::parse("smtp://[::1]:2525?tls=none").unwrap();
        assert_eq!(
            (u.host.as_str(), u.port, u.tls),
            ("::1", 2525, SmtpTls::None)
        );
        assert!(
            SmtpUrl::parse("smtps://mail.example?tls=none").is_err(),
            "TLS from the first byte is not optional"
        );
    }

    #[test]
    fn rules_load_and_an_invalid_pattern_fails_at_start_naming_the_rule() {
        let ok =
            "[[rules]]\naction = \"tag\"\ntag = \"chips\"\ntitle = \"chip\"\nfeeds = [\"3\"]\n";
        let s = load(ok, &[]).unwrap().settings;
        assert_eq!(s.rules.len(), 1);
        assert_eq!(s.rules[0].action, crate::rules::RuleAction::Tag);
        let bad = "[[rules]]\naction = \"block\"\ntitle = \"x\"\n\n\
                   [[rules]]\nname = \"ads\"\naction = \"block\"\nurl = \"(ads\"\n";
        let msg = load(bad, &[]).unwrap_err().to_string();
        assert!(msg.contains("rules[1].url"), "{msg}");
        assert!(msg.contains("\"ads\""), "{msg}");
        assert!(msg.contains("regular expression"), "{msg}");
        let err = load("[[rules]]\naction = \"drop\"\ntitle = \"x\"\n", &[]).unwrap_err();
        assert!(err.to_string().contains("rules[0].action"), "{err}");
    }

    #[test]
    fn a_bad_duration_names_the_key_and_the_value() {
        let err = load("[scheduler]\nmin_interval = \"5 fortnights\"\n", &[]).unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains("scheduler.min_interval"), "{msg}");
        assert!(msg.contains("5 fortnights"), "{msg}");
    }

    #[test]
    fn retention_keeps_everything_by_default_and_reads_its_limits() {
        let d = Settings::load_with_env(None, Vec::new()).unwrap().settings;
        assert!(!d.retention.policy().is_active());
        assert_eq!(d.retention.prune_interval.0, Duration::from_secs(3600));
        assert_eq!(d.retention.batch, 1000);
        let loaded = load(
            "[retention]\nmax_age = \"90d\"\nmax_db_bytes = \"2GiB\"\n",
            &[],
        )
        .unwrap();
        assert!(loaded.warnings.is_empty(), "{:?}", loaded.warnings);
        let p = loaded.settings.retention.policy();
        assert_eq!(p.max_age, Some(Duration::from_secs(90 * 86400)));
        assert_eq!(p.max_db_bytes, Some(2 << 30));
    }

    #[test]
    fn the_story_window_defaults_to_three_days_and_cannot_be_zero() {
        let d = load("", &[]).unwrap().settings;
        assert_eq!(d.stories.window(), crate::cluster::default_window());
        let err = load("[stories]\nwindow = \"0s\"\n", &[]).unwrap_err();
        assert!(err.to_string().contains("stories.window"), "{err}");
    }

    #[test]
    fn a_zero_retention_batch_or_age_is_rejected() {
        let err = load("[retention]\nbatch = 0\n", &[]).unwrap_err();
        assert!(err.to_string().contains("retention.batch"), "{err}");
        let err = load("[retention]\nmax_age = \"0s\"\n", &[]).unwrap_err();
        assert!(err.to_string().contains("retention.max_age"), "{err}");
    }

    #[test]
    fn a_zero_count_duration_or_size_is_refused_naming_its_key_and_value() {
        for (section, key, zero) in [
            ("scheduler", "default_interval", "\"0s\""),
            ("scheduler", "min_interval", "\"0s\""),
            ("scheduler", "max_interval", "\"0s\""),
            ("scheduler", "max_concurrent_fetches", "0"),
            ("scheduler", "batch_size", "0"),
            ("scheduler", "max_entries_per_poll", "0"),
            ("stories", "window", "\"0s\""),
            ("retention", "batch", "0"),
            ("retention", "prune_interval", "\"0s\""),
            ("retention", "max_age", "\"0s\""),
            ("retention", "max_db_bytes", "0"),
            ("http", "connect_timeout", "\"0s\""),
            ("http", "timeout", "\"0s\""),
            ("http", "max_body_bytes", "\"0MiB\""),
            ("http", "per_host_concurrency", "0"),
            ("google_news", "batch_size", "0"),
            ("google_news", "max_attempts", "0"),
            ("google_news", "get_burst", "0"),
            ("google_news", "speedup_after", "0"),
            ("extract", "max_concurrent", "0"),
            ("extract", "max_concurrent_bytes", "\"0MiB\""),
            ("extract", "max_attempts", "-1"),
        ] {
            let err = load(&format!("[{section}]\n{key} = {zero}\n"), &[])
                .unwrap_err()
                .to_string();
            assert!(err.contains(&format!("`{section}.{key}`")), "{err}");
            assert!(err.contains("must be greater than zero"), "{err}");
            let shown = zero.trim_matches('"').replace("0MiB", "0");
            assert!(err.contains(&format!(": {shown} (")), "{err}");
        }
        let err = load("", &[("NEWSD__HTTP__PER_HOST_CONCURRENCY", "0")]).unwrap_err();
        assert!(
            err.to_string().contains("`http.per_host_concurrency`"),
            "{err}"
        );
        let err = load(
            "[[feeds]]\nurl = \"https://example.com/a\"\n\
             [[feeds]]\nurl = \"https://example.com/b\"\ninterval = \"0s\"\n",
            &[],
        )
        .unwrap_err();
        assert!(err.to_string().contains("`feeds[1].interval`"), "{err}");
    }

    #[test]
    fn min_interval_above_max_interval_is_rejected() {
        let err = load("[scheduler]\nmin_interval = \"2d\"\n", &[]).unwrap_err();
        assert!(err.to_string().contains("scheduler.min_interval"), "{err}");
    }

    #[test]
    fn a_slowest_google_pace_faster_than_the_fastest_is_rejected() {
        let err = load("[google_news]\nmax_get_interval = \"10s\"\n", &[]).unwrap_err();
        assert!(
            err.to_string().contains("google_news.max_get_interval"),
            "{err}"
        );
        let s = Settings::load_with_env(None, Vec::new()).unwrap().settings;
        let rule = s.google_news.pace_rule();
        assert_eq!(
            (
                rule.min_interval,
                rule.max_interval,
                rule.burst,
                rule.speedup_after
            ),
            (Duration::from_secs(30), Duration::from_secs(600), 3, 20)
        );
        assert_eq!(s.google_news.settle.0, Duration::from_secs(120));
    }

    #[test]
    fn unknown_keys_are_warnings_naming_the_key() {
        let loaded = load("[http]\ntimeuot = \"5s\"\n[future]\nx = 1\n", &[]).unwrap();
        let all = loaded.warnings.join("\n");
        assert!(all.contains("http.timeuot"), "{all}");
        assert!(all.contains("future"), "{all}");
    }

    #[test]
    fn aggressive_values_are_accepted_with_a_warning() {
        let loaded = load("[scheduler]\nmin_interval = \"200ms\"\n", &[]).unwrap();
        assert!(loaded.warnings.iter().any(|w| w.contains("aggressive")));
    }

    #[test]
    fn sizes_accept_integers_and_unit_strings() {
        let loaded = load("[http]\nmax_body_bytes = \"5MiB\"\n", &[]).unwrap();
        assert_eq!(loaded.settings.http.max_body_bytes.0, 5 * 1024 * 1024);
        assert!(load("[http]\nmax_body_bytes = \"5 parsecs\"\n", &[]).is_err());
    }

    #[test]
    fn a_feed_with_a_bad_url_is_rejected_naming_its_index() {
        let err = load("[[feeds]]\nurl = \"ftp://example.com/x\"\n", &[]).unwrap_err();
        assert!(err.to_string().contains("feeds[0].url"), "{err}");
    }

    #[test]
    fn a_bad_allow_network_is_rejected() {
        let err = load("[http]\nallow_networks = [\"10.0.0.0/99\"]\n", &[]).unwrap_err();
        assert!(err.to_string().contains("http.allow_networks"), "{err}");
    }

    #[test]
    fn google_news_feeds_are_configured_by_intent() {
        let loaded = load(
            "[google_news]\nbase_url = \"http://127.0.0.1:9/g\"\n\
             [[feeds]]\ngoogle_news = { search = \"TSMC when:1d\", edition = \"en-US\" }\n\
             [[feeds]]\ngoogle_news = { topic = \"world\" }\n\
             [[feeds]]\ngoogle_news = { geo = \"New York\", edition = { hl = \"es-419\", gl = \"US\", ceid = \"US:es-419\" } }\n",
            &[],
        )
        .unwrap();
        let s = &loaded.settings;
        let urls: Vec<String> = s
            .feeds
            .iter()
            .map(|f| s.feed_url(f).unwrap().to_string())
            .collect();
        assert_eq!(
            urls[0],
            "http://127.0.0.1:9/g/rss/search?q=TSMC+when%3A1d&hl=en-US&gl=US&ceid=US:en"
        );
        assert!(
            urls[1].contains("/rss/headlines/section/topic/WORLD?hl=en-US"),
            "{}",
            urls[1]
        );
        assert!(
            urls[2].contains("/geo/New%20York?hl=es-419&gl=US&ceid=US:es-419"),
            "{}",
            urls[2]
        );
    }

    #[test]
    fn a_bad_google_edition_names_the_feed() {
        let err = load(
            "[[feeds]]\ngoogle_news = { top = true, edition = { hl = \"en-US\", gl = \"US\", ceid = \"GB:en\" } }\n",
            &[],
        )
        .unwrap_err();
        assert!(err.to_string().contains("feeds[0]"), "{err}");
        let err = load("[[feeds]]\ngoogle_news = { topic = \"WEATHER\" }\n", &[]).unwrap_err();
        assert!(
            err.to_string().contains("WORLD"),
            "lists valid topics: {err}"
        );
    }

    #[test]
    fn the_api_listens_on_loopback_by_default_and_never_shows_its_token() {
        let loaded = load("[api]\ntoken = \"s3cret-token\"\n", &[]).unwrap();
        let api = &loaded.settings.api;
        assert_eq!(api.listen, "127.0.0.1:8080");
        assert!(api.enabled);
        let shown = format!("{:?}", loaded.settings);
        assert!(!shown.contains("s3cret-token"), "{shown}");
        assert!(shown.contains("redacted"), "{shown}");
    }

    #[test]
    fn a_public_listen_address_without_a_token_is_refused_naming_api_listen() {
        let err = load("[api]\nlisten = \"0.0.0.0:8080\"\n", &[]).unwrap_err();
        assert!(err.to_string().contains("api.listen"), "{err}");
        assert!(err.to_string().contains("api.token"), "{err}");
        let ok = load(
            "[api]\nlisten = \"0.0.0.0:8080\"\n",
            &[("NEWSD__API__TOKEN", "123456")],
        )
        .unwrap();
        assert_eq!(
            ok.settings.api.token.as_ref().map(Secret::expose),
            Some("123456")
        );
        let err = load("[api]\nlisten = \"localhost\"\n", &[]).unwrap_err();
        assert!(err.to_string().contains("api.listen"), "{err}");
    }

    #[test]
    fn proxy_credentials_never_show_in_a_settings_dump_or_an_error() {
        let loaded = load(
            "[http]\nproxy = \"http://proxyuser:pr0xy-pw@proxy.example:3128\"\n",
            &[],
        )
        .unwrap();
        let shown = format!("{:?}", loaded.settings);
        assert!(!shown.contains("pr0xy-pw"), "{shown}");
        assert!(!shown.contains("proxyuser"), "{shown}");
        assert!(shown.contains("proxy.example:3128"), "{shown}");
        assert!(loaded.settings.http.proxy().is_some());

        let err = load(
            "[http]\nproxy = \"socks5://proxyuser:pr0xy-pw@proxy.example:1080\"\n",
            &[],
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("http.proxy"), "{err}");
        assert!(!err.contains("pr0xy-pw"), "{err}");
    }

    #[test]
    fn no_proxy_and_a_one_kib_per_second_floor_over_ten_seconds_by_default() {
        let h = Settings::load_with_env(None, Vec::new())
            .unwrap()
            .settings
            .http;
        assert!(h.proxy().is_none());
        assert_eq!(h.min_transfer_rate.0, 1024);
        assert_eq!(h.min_transfer_window.0, Duration::from_secs(10));
        assert_eq!(h.max_header_bytes.0, 64 * 1024);
    }

    #[test]
    fn transfer_rate_and_header_cap_are_validated() {
        let err = load("[http]\nmin_transfer_window = \"100ms\"\n", &[]).unwrap_err();
        assert!(
            err.to_string().contains("http.min_transfer_window"),
            "{err}"
        );
        // Off: the window is not judged.
        assert!(load(
            "[http]\nmin_transfer_rate = 0\nmin_transfer_window = \"0s\"\n",
            &[]
        )
        .is_ok());
        let warned = load("[http]\nmin_transfer_window = \"60s\"\n", &[]).unwrap();
        assert!(
            warned
                .warnings
                .iter()
                .any(|w| w.contains("min_transfer_window")),
            "{:?}",
            warned.warnings
        );
        let err = load("[http]\nmax_header_bytes = 100\n", &[]).unwrap_err();
        assert!(err.to_string().contains("http.max_header_bytes"), "{err}");
    }

    #[test]
    fn jitter_outside_a_fraction_is_rejected() {
        assert!(load("[scheduler]\njitter = 1.5\n", &[]).is_err());
    }
}
