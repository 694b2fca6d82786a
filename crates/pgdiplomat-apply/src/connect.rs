//! Connecting to the target database: a libpq URL or `key=value` string, completed from the
//! standard `PG*` environment variables, TLS when `sslmode` asks for it. The password never
//! appears in anything this module returns or prints.

use std::str::FromStr;

use pgdiplomat_pg::postgres::config::{Host, SslMode};
use pgdiplomat_pg::postgres::{Client, Config, NoTls};

/// Connection errors, already redacted.
#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    #[error("invalid connection string: {0}")]
    Invalid(String),
    #[error("cannot connect to {target}: {message}")]
    Connect { target: String, message: String },
    #[error("no database given: pass --database-url or set PGHOST/PGDATABASE")]
    Missing,
}

/// Where to connect, and how to describe it without secrets.
#[derive(Clone)]
pub struct Target {
    pub config: Config,
    /// `host:port/db as user` — safe to print.
    pub description: String,
}

impl std::fmt::Debug for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.description)
    }
}

fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

/// Builds the target from `url` (if any) and the environment (`PGHOST`, `PGPORT`, `PGUSER`,
/// `PGPASSWORD`, `PGDATABASE`, `PGSSLMODE`, `PGAPPNAME`), the URL taking precedence.
pub fn target(url: Option<&str>) -> Result<Target, ConnectError> {
    let mut config = match url {
        Some(u) => Config::from_str(u)
            .map_err(|e| ConnectError::Invalid(redact_error(&e.to_string(), u)))?,
        None => {
            if env("PGHOST").is_none() && env("PGDATABASE").is_none() {
                return Err(ConnectError::Missing);
            }
            Config::new()
        }
    };
    if config.get_hosts().is_empty() {
        match env("PGHOST") {
            Some(h) => {
                for host in h.split(',') {
                    config.host(host);
                }
            }
            None => {
                config.host("/var/run/postgresql");
            }
        }
    }
    if config.get_ports().is_empty() {
        if let Some(p) = env("PGPORT").and_then(|p| p.parse().ok()) {
            config.port(p);
        }
    }
    if config.get_user().is_none() {
        let user = env("PGUSER")
            .or_else(|| env("USER"))
            .unwrap_or_else(|| "postgres".into());
        config.user(&user);
    }
    if config.get_password().is_none() {
        if let Some(p) = env("PGPASSWORD") {
            config.password(p);
        }
    }
    if config.get_dbname().is_none() {
        if let Some(d) = env("PGDATABASE") {
            config.dbname(&d);
        }
    }
    if url.is_none_or(|u| !u.contains("sslmode")) {
        if let Some(mode) = env("PGSSLMODE") {
            config.ssl_mode(match mode.as_str() {
                "disable" => SslMode::Disable,
                "require" | "verify-ca" | "verify-full" => SslMode::Require,
                _ => SslMode::Prefer,
            });
        }
    }
    config.application_name(&env("PGAPPNAME").unwrap_or_else(|| "pgdiplomat".into()));
    let description = describe(&config);
    Ok(Target {
        config,
        description,
    })
}

/// `host:port/db as user`, never the password.
pub fn describe(config: &Config) -> String {
    let user = config.get_user().unwrap_or("?");
    let db = config.get_dbname().unwrap_or(user);
    format!("{}/{db} as {user}", describe_host(config))
}

/// Removes anything that looks like the password from an error message.
fn redact_error(message: &str, url: &str) -> String {
    let mut out = message.to_string();
    if let Some(at) = url.find('@') {
        if let Some(colon) = url[..at].rfind(':') {
            let pw = &url[colon + 1..at];
            if !pw.is_empty() && !pw.contains('/') {
                out = out.replace(pw, "********");
            }
        }
    }
    out
}

impl Target {
    /// Opens a connection (TLS when `sslmode` is `require` or stronger).
    pub fn connect(&self) -> Result<Client, ConnectError> {
        let result = if self.config.get_ssl_mode() == SslMode::Require {
            connect_tls(&self.config)
        } else {
            self.config
                .connect(NoTls)
                .map_err(|e| connect_error_text(&e, &self.config))
        };
        result.map_err(|message| ConnectError::Connect {
            target: self.description.clone(),
            message,
        })
    }
}

fn connect_tls(config: &Config) -> Result<Client, String> {
    let mut roots = rustls::RootCertStore::empty();
    roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
    let tls = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_root_certificates(roots)
        .with_no_client_auth();
    let connector = tokio_postgres_rustls::MakeRustlsConnect::new(tls);
    config
        .connect(connector)
        .map_err(|e| connect_error_text(&e, config))
}

/// An error from the server or the driver in words: the server's message with its SQLSTATE,
/// detail and hint, or the driver's description followed by each of its causes
/// (`error connecting to server: Connection refused (os error 111)`).
pub fn error_text(e: &pgdiplomat_pg::postgres::Error) -> String {
    if let Some(db) = e.as_db_error() {
        let mut out = match db.detail() {
            Some(d) => format!("{} ({}; {d})", db.message(), db.code().code()),
            None => format!("{} ({})", db.message(), db.code().code()),
        };
        if let Some(h) = db.hint() {
            out.push_str(&format!("; hint: {h}"));
        }
        return out;
    }
    let mut out = e.to_string();
    let mut cause = std::error::Error::source(e);
    while let Some(c) = cause {
        let text = c.to_string();
        if !out.contains(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        cause = c.source();
    }
    out
}

/// Why a connection to `config` failed, for every command that connects (apply, inspect,
/// trace, lint --database-url): the server's reason (authentication failed for user X,
/// database Y does not exist, no pg_hba.conf entry, ...) or the network's (connection refused
/// at host:port, no socket, TLS not supported), with a hint where one helps. Never contains
/// the password.
pub fn connect_error_text(e: &pgdiplomat_pg::postgres::Error, config: &Config) -> String {
    let mut text = error_text(e);
    let at = describe_host(config);
    let io = std::iter::successors(std::error::Error::source(e), |c| c.source())
        .find_map(|c| c.downcast_ref::<std::io::Error>());
    if let Some(io) = io {
        use std::io::ErrorKind;
        let reason = match io.kind() {
            ErrorKind::ConnectionRefused => {
                Some(format!("connection refused at {at} (is a server listening there?)"))
            }
            ErrorKind::NotFound => Some(format!(
                "no server socket at {at} (is a server running with that socket directory and port?)"
            )),
            ErrorKind::TimedOut => Some(format!("timed out connecting to {at}")),
            ErrorKind::PermissionDenied => Some(format!("permission denied connecting to {at}")),
            _ => None,
        };
        if let Some(r) = reason {
            text = format!("{r}: {text}");
        }
    }
    if let Some(db) = e.as_db_error() {
        let message = db.message();
        if db.code().code() == "28000" && message.contains("no encryption") {
            text.push_str("; the server requires TLS for this connection: add sslmode=require");
        } else if message.contains("does not support TLS") || message.contains("SSL off") {
            text.push_str("; the server has TLS off: use sslmode=disable or prefer");
        }
    } else if text.contains("server does not support TLS") {
        text.push_str(" (sslmode=require asks for TLS; the server has it turned off)");
    }
    redact_password(&text, config)
}

/// `host:port` of the first host (a socket directory for Unix sockets).
fn describe_host(config: &Config) -> String {
    let host = config
        .get_hosts()
        .first()
        .map(|h| match h {
            Host::Tcp(s) => s.clone(),
            Host::Unix(p) => p.display().to_string(),
        })
        .unwrap_or_else(|| "localhost".into());
    let port = config.get_ports().first().copied().unwrap_or(5432);
    format!("{host}:{port}")
}

/// `text` with the configured password replaced by `********`.
fn redact_password(text: &str, config: &Config) -> String {
    match config
        .get_password()
        .map(String::from_utf8_lossy)
        .filter(|p| !p.is_empty())
    {
        Some(pw) => text.replace(pw.as_ref(), "********"),
        None => text.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn description_never_contains_the_password() {
        let t = target(Some("postgres://app:s3cret@db.example.com:6543/prod")).unwrap();
        assert_eq!(t.description, "db.example.com:6543/prod as app");
        assert!(!format!("{t:?}").contains("s3cret"));
    }

    #[test]
    fn key_value_strings_work_too() {
        let t = target(Some("host=/tmp port=5433 user=me dbname=x password=pw")).unwrap();
        assert_eq!(t.description, "/tmp:5433/x as me");
    }

    #[test]
    fn invalid_strings_are_reported_without_the_password() {
        let err = target(Some("postgres://app:s3cret@host:notaport/db"))
            .unwrap_err()
            .to_string();
        assert!(!err.contains("s3cret"), "{err}");
    }
}
