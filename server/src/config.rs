//! The server's configuration in two layers (STYLE rule 11): [`RawConfig`] mirrors the TOML file
//! and the command-line flags (every key optional, unknown keys rejected, no I/O), and
//! [`Config::from_raw`] validates it and fills in defaults. The server sees only [`Config`].
//!
//! ```toml
//! # attune.toml: every key is optional except data_dir (here or --data-dir)
//! data_dir = "/var/lib/attune"
//! listen = "127.0.0.1:8080"        # loopback by default
//! api_key = "a-long-random-secret" # when set, every route needs it
//! max_connections = 1024
//! max_body_bytes = 4194304
//! request_timeout_ms = 10000
//! shutdown_grace_ms = 10000
//! reload_interval_ms = 2000
//! lru_capacity = 100000             # users (and sessions) with real-time events kept
//! recent_events_per_user = 50
//! worker_threads = 4                # default: one per core
//! opensearch_url = "http://127.0.0.1:9200" # turns the search proxy on (crate::proxy)
//!
//! [proxy]                           # defaults of the search proxy (query parameters override)
//! campaign = "demo-ranking"         # a campaign name or ARN
//! weight = 0.3                      # 0.0..=1.0, a number or a string holding one
//! item_id_field = "item_id"         # the _source field with the item id; "_id" for the doc id
//! ```

use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

/// Default listen address: loopback only.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:8080";

/// The configuration as written in the file (or given as flags), before validation.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawConfig {
    /// The data directory (the store).
    pub data_dir: Option<PathBuf>,
    /// `host:port` to listen on.
    pub listen: Option<String>,
    /// A key every request must carry (`Authorization: Bearer <key>` or `x-api-key: <key>`).
    pub api_key: Option<String>,
    /// Connections served at once; further ones wait to be accepted.
    pub max_connections: Option<usize>,
    /// The largest request body accepted.
    pub max_body_bytes: Option<usize>,
    /// The longest a request may take, from its first byte to its response.
    pub request_timeout_ms: Option<u64>,
    /// How long connections may finish after a shutdown signal.
    pub shutdown_grace_ms: Option<u64>,
    /// How often campaigns are reconciled with the store (picks up deploys from elsewhere).
    pub reload_interval_ms: Option<u64>,
    /// How many users (or sessions) with real-time events are kept (LRU).
    pub lru_capacity: Option<usize>,
    /// How many recent events are kept per user.
    pub recent_events_per_user: Option<usize>,
    /// Runtime worker threads (default: one per core).
    pub worker_threads: Option<usize>,
    /// The OpenSearch cluster the search proxy forwards to (`http://` or `https://`); the
    /// proxy's routes exist only when it is set.
    pub opensearch_url: Option<String>,
    /// The search proxy's defaults (the `[proxy]` table).
    pub proxy: Option<RawProxyConfig>,
}

/// The `[proxy]` table: the search proxy's defaults, before validation.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawProxyConfig {
    /// The Personalized-Ranking campaign (a name or an ARN).
    pub campaign: Option<String>,
    /// The weight of personalization: a number in `0.0..=1.0` or a string holding one.
    pub weight: Option<serde_json::Value>,
    /// The `_source` field holding the item id (`_id` for the document id).
    pub item_id_field: Option<String>,
}

impl RawProxyConfig {
    /// This table with every key `over` sets replacing ours.
    pub fn merged(self, over: RawProxyConfig) -> RawProxyConfig {
        RawProxyConfig {
            campaign: over.campaign.or(self.campaign),
            weight: over.weight.or(self.weight),
            item_id_field: over.item_id_field.or(self.item_id_field),
        }
    }
}

impl RawConfig {
    /// Parses a TOML document.
    pub fn from_toml(text: &str) -> Result<RawConfig, ConfigError> {
        toml::from_str(text).map_err(|e| ConfigError(e.message().trim_end().to_owned()))
    }

    /// Reads and parses a TOML file.
    pub fn from_file(path: &Path) -> Result<RawConfig, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|e| {
            ConfigError(format!(
                "cannot read the config file {}: {e}",
                path.display()
            ))
        })?;
        toml::from_str(&text).map_err(|e| {
            let at = e
                .span()
                .map(|s| {
                    let line = text[..s.start.min(text.len())].matches('\n').count() + 1;
                    format!(" (line {line})")
                })
                .unwrap_or_default();
            ConfigError(format!(
                "config file {}{at}: {}",
                path.display(),
                e.message().trim_end()
            ))
        })
    }

    /// This configuration with every key `over` sets replacing ours (flags over the file).
    pub fn merged(self, over: RawConfig) -> RawConfig {
        RawConfig {
            data_dir: over.data_dir.or(self.data_dir),
            listen: over.listen.or(self.listen),
            api_key: over.api_key.or(self.api_key),
            max_connections: over.max_connections.or(self.max_connections),
            max_body_bytes: over.max_body_bytes.or(self.max_body_bytes),
            request_timeout_ms: over.request_timeout_ms.or(self.request_timeout_ms),
            shutdown_grace_ms: over.shutdown_grace_ms.or(self.shutdown_grace_ms),
            reload_interval_ms: over.reload_interval_ms.or(self.reload_interval_ms),
            lru_capacity: over.lru_capacity.or(self.lru_capacity),
            recent_events_per_user: over.recent_events_per_user.or(self.recent_events_per_user),
            worker_threads: over.worker_threads.or(self.worker_threads),
            opensearch_url: over.opensearch_url.or(self.opensearch_url),
            proxy: match (self.proxy, over.proxy) {
                (Some(p), Some(o)) => Some(p.merged(o)),
                (p, o) => o.or(p),
            },
        }
    }
}

/// A configuration error; the message names the key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError(pub String);

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ConfigError {}

/// The validated configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// The data directory.
    pub data_dir: PathBuf,
    /// Where to listen.
    pub listen: SocketAddr,
    /// The API key, when one is required.
    pub api_key: Option<String>,
    /// Connections served at once.
    pub max_connections: usize,
    /// The largest request body.
    pub max_body_bytes: usize,
    /// Per-request time limit.
    pub request_timeout: Duration,
    /// Time connections get to finish after a shutdown signal.
    pub shutdown_grace: Duration,
    /// Campaign reconcile interval.
    pub reload_interval: Duration,
    /// Users (and sessions) with real-time state kept.
    pub lru_capacity: usize,
    /// Recent events kept per user.
    pub recent_events_per_user: usize,
    /// Runtime worker threads (`None`: one per core).
    pub worker_threads: Option<usize>,
    /// The search proxy, when `opensearch_url` is set.
    pub proxy: Option<ProxyConfig>,
}

/// The search proxy's validated configuration.
#[derive(Debug, Clone, PartialEq)]
pub struct ProxyConfig {
    /// The OpenSearch cluster, `http(s)://host[:port][/prefix]`.
    pub opensearch_url: String,
    /// The default campaign (a name or an ARN), if any.
    pub campaign: Option<String>,
    /// The default weight, in `0.0..=1.0`.
    pub weight: f64,
    /// The default item id field (`_id`: the document id).
    pub item_id_field: String,
}

/// The weight is validated finite, so equality is total.
impl Eq for ProxyConfig {}

/// The default weight of the search proxy.
pub const DEFAULT_PROXY_WEIGHT: f64 = 0.3;
/// The default item id field of the search proxy.
pub const DEFAULT_PROXY_ITEM_ID_FIELD: &str = "item_id";

impl ProxyConfig {
    /// Validates the proxy's keys; `None` without an `opensearch_url`.
    fn from_raw(
        url: Option<String>,
        raw: Option<RawProxyConfig>,
    ) -> Result<Option<ProxyConfig>, ConfigError> {
        let raw = raw.unwrap_or_default();
        let Some(url) = url else {
            if raw != RawProxyConfig::default() {
                return Err(ConfigError(
                    "proxy: the search proxy's settings need opensearch_url (or \
                     --opensearch-url)"
                        .into(),
                ));
            }
            return Ok(None);
        };
        let opensearch_url = check_opensearch_url(&url)?;
        let campaign = match raw.campaign {
            None => None,
            Some(c) => {
                check_campaign(&c)?;
                Some(c)
            }
        };
        let weight = match &raw.weight {
            None => DEFAULT_PROXY_WEIGHT,
            Some(w) => plugin_config::weight_from_value(Some(w))
                .map_err(|e| ConfigError(format!("proxy.weight: {e}")))?,
        };
        let item_id_field = match raw.item_id_field {
            None => DEFAULT_PROXY_ITEM_ID_FIELD.to_owned(),
            Some(f) if f.trim().is_empty() => {
                return Err(ConfigError(
                    "proxy.item_id_field: must not be blank (use \"_id\" for the document id)"
                        .into(),
                ))
            }
            Some(f) => f,
        };
        Ok(Some(ProxyConfig {
            opensearch_url,
            campaign,
            weight,
            item_id_field,
        }))
    }
}

/// Checks an OpenSearch URL: `http` or `https`, a host, no query, fragment or credentials.
/// Returns it without a trailing slash.
fn check_opensearch_url(url: &str) -> Result<String, ConfigError> {
    let bad = |why: &str| {
        ConfigError(format!(
            "opensearch_url: {url:?} {why}; use http(s)://host:port, like \
             http://127.0.0.1:9200"
        ))
    };
    let parsed =
        opensearch::http::Url::parse(url).map_err(|e| bad(&format!("is not a URL ({e})")))?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err(bad("must start with http:// or https://"));
    }
    if parsed.host_str().is_none_or(str::is_empty) {
        return Err(bad("has no host"));
    }
    if parsed.query().is_some() || parsed.fragment().is_some() {
        return Err(bad("must not have a query or fragment"));
    }
    if !parsed.username().is_empty() || parsed.password().is_some() {
        return Err(bad(
            "must not carry credentials (clients send their own Authorization header)",
        ));
    }
    Ok(url.trim_end_matches('/').to_owned())
}

/// Checks a campaign given as a name or an ARN.
fn check_campaign(c: &str) -> Result<(), ConfigError> {
    let name = attune::arn::name_of("campaign", c);
    let ok = name.is_some_and(|n| {
        (1..=63).contains(&n.len())
            && n.starts_with(|c: char| c.is_ascii_alphanumeric())
            && n.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    });
    if ok {
        Ok(())
    } else {
        Err(ConfigError(format!(
            "proxy.campaign: {c:?} is neither a campaign name nor a campaign ARN \
             (arn:aws:personalize:<region>:<account>:campaign/<name>)"
        )))
    }
}

fn range<T: PartialOrd + fmt::Display + Copy>(
    key: &str,
    value: Option<T>,
    default: T,
    min: T,
    max: T,
) -> Result<T, ConfigError> {
    let v = value.unwrap_or(default);
    if v < min || v > max {
        return Err(ConfigError(format!(
            "{key}: {v} is out of range (allowed {min}..={max})"
        )));
    }
    Ok(v)
}

impl Config {
    /// Validates a raw configuration and fills in defaults.
    pub fn from_raw(raw: RawConfig) -> Result<Config, ConfigError> {
        let data_dir = match raw.data_dir {
            Some(d) if d.as_os_str().is_empty() => {
                return Err(ConfigError("data_dir: must not be empty".into()))
            }
            Some(d) => d,
            None => {
                return Err(ConfigError(
                    "data_dir: required (set data_dir in the config file or pass --data-dir)"
                        .into(),
                ))
            }
        };
        let listen_text = raw.listen.as_deref().unwrap_or(DEFAULT_LISTEN);
        let listen: SocketAddr = listen_text.parse().map_err(|_| {
            ConfigError(format!(
                "listen: {listen_text:?} is not a socket address; use host:port with an IP \
                 address, like 127.0.0.1:8080 or [::1]:8080"
            ))
        })?;
        let api_key = match raw.api_key {
            None => None,
            Some(k) if k.is_empty() => {
                return Err(ConfigError(
                    "api_key: must not be empty (leave it out to run without a key)".into(),
                ))
            }
            Some(k) if k.len() > 512 || !k.bytes().all(|b| b.is_ascii_graphic()) => {
                return Err(ConfigError(
                    "api_key: must be 1-512 printable ASCII characters without spaces".into(),
                ))
            }
            Some(k) => Some(k),
        };
        let ms = Duration::from_millis;
        Ok(Config {
            data_dir,
            listen,
            api_key,
            max_connections: range("max_connections", raw.max_connections, 1024, 1, 1 << 20)?,
            max_body_bytes: range("max_body_bytes", raw.max_body_bytes, 4 << 20, 1024, 1 << 30)?,
            request_timeout: ms(range(
                "request_timeout_ms",
                raw.request_timeout_ms,
                10_000,
                10,
                3_600_000,
            )?),
            shutdown_grace: ms(range(
                "shutdown_grace_ms",
                raw.shutdown_grace_ms,
                10_000,
                0,
                3_600_000,
            )?),
            reload_interval: ms(range(
                "reload_interval_ms",
                raw.reload_interval_ms,
                2_000,
                50,
                86_400_000,
            )?),
            lru_capacity: range("lru_capacity", raw.lru_capacity, 100_000, 1, 1 << 32)?,
            recent_events_per_user: range(
                "recent_events_per_user",
                raw.recent_events_per_user,
                50,
                1,
                10_000,
            )?,
            worker_threads: match raw.worker_threads {
                None => None,
                Some(n) => Some(range("worker_threads", Some(n), 1, 1, 1024)?),
            },
            proxy: ProxyConfig::from_raw(raw.opensearch_url, raw.proxy)?,
        })
    }

    /// The defaults for a data directory (tests and embedding).
    pub fn for_data_dir(data_dir: impl Into<PathBuf>) -> Config {
        Config::from_raw(RawConfig {
            data_dir: Some(data_dir.into()),
            ..RawConfig::default()
        })
        .expect("the defaults are valid")
    }

    /// Whether the listen address is reachable only from this machine.
    pub fn listens_on_loopback(&self) -> bool {
        self.listen.ip().is_loopback()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(toml: &str) -> Result<Config, String> {
        RawConfig::from_toml(toml)
            .and_then(Config::from_raw)
            .map_err(|e| e.0)
    }

    #[test]
    fn defaults() {
        let c = check("data_dir = \"d\"").unwrap();
        assert_eq!(c.listen, "127.0.0.1:8080".parse().unwrap());
        assert!(c.listens_on_loopback());
        assert_eq!(c.api_key, None);
        assert_eq!(c.max_connections, 1024);
        assert_eq!(c.max_body_bytes, 4 << 20);
        assert_eq!(c.request_timeout, Duration::from_secs(10));
        assert_eq!(c.reload_interval, Duration::from_secs(2));
        assert_eq!(c.lru_capacity, 100_000);
        assert_eq!(c, Config::for_data_dir("d"));
    }

    #[test]
    fn every_key_parses() {
        let c = check(
            r#"
            data_dir = "/var/lib/attune"
            listen = "[::1]:9000"
            api_key = "secret-key"
            max_connections = 10
            max_body_bytes = 2048
            request_timeout_ms = 500
            shutdown_grace_ms = 0
            reload_interval_ms = 100
            lru_capacity = 5
            recent_events_per_user = 7
            worker_threads = 2
            "#,
        )
        .unwrap();
        assert_eq!(c.listen.port(), 9000);
        assert!(c.listens_on_loopback());
        assert_eq!(c.api_key.as_deref(), Some("secret-key"));
        assert_eq!(c.max_body_bytes, 2048);
        assert_eq!(c.request_timeout, Duration::from_millis(500));
        assert_eq!(c.shutdown_grace, Duration::ZERO);
        assert_eq!(c.lru_capacity, 5);
        assert_eq!(c.recent_events_per_user, 7);
        assert_eq!(c.worker_threads, Some(2));
    }

    #[test]
    fn errors_name_the_key() {
        let err = |toml: &str| check(toml).unwrap_err();
        assert!(err("").contains("data_dir: required"));
        assert!(err("data_dir = \"d\"\nlisten = \"localhost\"").contains("listen:"));
        assert!(err("data_dir = \"d\"\nmax_connections = 0").contains("max_connections: 0"));
        assert!(err("data_dir = \"d\"\nmax_body_bytes = 10").contains("max_body_bytes"));
        assert!(err("data_dir = \"d\"\napi_key = \"\"").contains("api_key"));
        assert!(err("data_dir = \"d\"\napi_key = \"a b\"").contains("api_key"));
        assert!(err("data_dir = \"d\"\nreload_interval_ms = 1").contains("reload_interval_ms"));
        let unknown = err("data_dir = \"d\"\nlisten_addr = \"x\"");
        assert!(unknown.contains("listen_addr"), "{unknown}");
        let ty = err("data_dir = \"d\"\nmax_connections = \"many\"");
        assert!(ty.contains("invalid type"), "{ty}");
    }

    #[test]
    fn flags_override_the_file() {
        let file = RawConfig::from_toml("data_dir = \"file\"\nlisten = \"127.0.0.1:1\"").unwrap();
        let flags = RawConfig {
            listen: Some("127.0.0.1:2".into()),
            ..RawConfig::default()
        };
        let c = Config::from_raw(file.merged(flags)).unwrap();
        assert_eq!(c.data_dir, PathBuf::from("file"));
        assert_eq!(c.listen.port(), 2);
    }

    #[test]
    fn proxy_settings() {
        let c = check("data_dir = \"d\"").unwrap();
        assert_eq!(c.proxy, None);
        let c = check("data_dir = \"d\"\nopensearch_url = \"http://127.0.0.1:9200/\"").unwrap();
        assert_eq!(
            c.proxy,
            Some(ProxyConfig {
                opensearch_url: "http://127.0.0.1:9200".into(),
                campaign: None,
                weight: 0.3,
                item_id_field: "item_id".into(),
            })
        );
        let c = check(
            r#"
            data_dir = "d"
            opensearch_url = "https://search.example:9200/prefix"
            [proxy]
            campaign = "arn:aws:personalize:local:000000000000:campaign/demo-ranking"
            weight = "0.7"
            item_id_field = "_id"
            "#,
        )
        .unwrap();
        let p = c.proxy.unwrap();
        assert_eq!(p.weight, 0.7);
        assert_eq!(p.item_id_field, "_id");
        assert_eq!(p.opensearch_url, "https://search.example:9200/prefix");
        let p = check("data_dir = \"d\"\nopensearch_url = \"http://h:1\"\n[proxy]\nweight = 1")
            .unwrap()
            .proxy
            .unwrap();
        assert_eq!(p.weight, 1.0);
        // Flags override the file's [proxy] keys one by one.
        let file = RawConfig::from_toml(
            "data_dir = \"d\"\nopensearch_url = \"http://h:1\"\n[proxy]\ncampaign = \"a\"\nweight = 0.5",
        )
        .unwrap();
        let flags = RawConfig {
            proxy: Some(RawProxyConfig {
                weight: Some(serde_json::json!("0")),
                ..RawProxyConfig::default()
            }),
            ..RawConfig::default()
        };
        let p = Config::from_raw(file.merged(flags)).unwrap().proxy.unwrap();
        assert_eq!((p.campaign.as_deref(), p.weight), (Some("a"), 0.0));
    }

    #[test]
    fn proxy_errors_name_the_key() {
        let err = |toml: &str| check(&format!("data_dir = \"d\"\n{toml}")).unwrap_err();
        for (toml, needle) in [
            ("opensearch_url = \"localhost:9200\"", "opensearch_url"),
            ("opensearch_url = \"ftp://h\"", "http:// or https://"),
            ("opensearch_url = \"http://u:p@h:1\"", "credentials"),
            ("opensearch_url = \"http://h:1/?x=1\"", "query"),
            ("opensearch_url = \"not a url\"", "is not a URL"),
            ("[proxy]\nweight = 0.5", "need opensearch_url"),
            (
                "opensearch_url = \"http://h:1\"\n[proxy]\nweight = 1.5",
                "proxy.weight: [weight] invalid value for weight",
            ),
            (
                "opensearch_url = \"http://h:1\"\n[proxy]\nweight = \"abc\"",
                "proxy.weight: [weight] property cannot be converted to a double [abc]",
            ),
            (
                "opensearch_url = \"http://h:1\"\n[proxy]\ncampaign = \"a b\"",
                "proxy.campaign",
            ),
            (
                "opensearch_url = \"http://h:1\"\n[proxy]\ncampaign = \"arn:aws:personalize:x:y:solution/s\"",
                "proxy.campaign",
            ),
            (
                "opensearch_url = \"http://h:1\"\n[proxy]\nitem_id_field = \" \"",
                "proxy.item_id_field",
            ),
            (
                "opensearch_url = \"http://h:1\"\n[proxy]\nfield = \"x\"",
                "unknown field `field`",
            ),
        ] {
            let e = err(toml);
            assert!(e.contains(needle), "{toml}: {e}");
        }
    }

    #[test]
    fn file_errors_name_the_line() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("attune.toml");
        std::fs::write(&path, "data_dir = \"d\"\n\nbogus = 1\n").unwrap();
        let e = RawConfig::from_file(&path).unwrap_err().0;
        assert!(e.contains("line 3") && e.contains("bogus"), "{e}");
        let missing = RawConfig::from_file(&dir.path().join("none.toml"))
            .unwrap_err()
            .0;
        assert!(missing.contains("cannot read the config file"), "{missing}");
    }
}
