//! A throw-away PostgreSQL cluster: `initdb` into a temporary directory,
//! start the server on a private Unix socket, stop and delete everything on
//! drop.
//!
//! Layout of a cluster directory (`$TMPDIR/pgdiplomat-cluster-XXXXXX`):
//!
//! ```text
//! owner.pid          id of the process that owns the cluster (see reaper)
//! data/              the data directory created by initdb
//! sock/              unix_socket_directories
//! log/postgres.log   server log (pg_ctl -l)
//! ```

use std::fmt::Write as _;
use std::fs::{self, OpenOptions};
use std::io::Write as _;
use std::net::TcpListener;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use postgres::{Client, NoTls};
use tempfile::TempDir;

use crate::binaries::{find_pg_bin, PgBinaries, PgVersion};
use crate::error::{tail, ClusterError};
use crate::ident::quote_ident;
use crate::privilege::{self, RunAs};
use crate::reaper::{self, CLUSTER_DIR_PREFIX, OWNER_PID_FILE};

/// The superuser created by `initdb -U`.
pub const SUPERUSER: &str = "postgres";

/// Lines of logs/output included in error messages.
const TAIL_LINES: usize = 30;

/// Longest socket *directory* path that still leaves room for
/// `/.s.PGSQL.65535` within the 107 usable bytes of `sun_path`.
const MAX_SOCKET_DIR_LEN: usize = 90;

/// How [`Cluster::start`] sets up the server.
#[derive(Debug, Clone, Default)]
pub struct ClusterOptions {
    /// Extra `postgresql.conf` settings, applied after (and so overriding)
    /// the defaults of this crate. Values are written as quoted strings,
    /// which PostgreSQL accepts for every parameter type.
    pub settings: Vec<(String, String)>,
    /// The binaries to use; [`find_pg_bin`] when `None`.
    pub binaries: Option<PgBinaries>,
    /// Also listen on TCP `127.0.0.1:<port>` (for clients that need a
    /// host/port URL). By default the server only listens on its private
    /// Unix socket.
    pub tcp: bool,
}

impl ClusterOptions {
    /// Adds a `postgresql.conf` setting.
    pub fn setting(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.settings.push((name.into(), value.into()));
        self
    }

    /// Uses these binaries instead of searching with [`find_pg_bin`].
    pub fn binaries(mut self, binaries: PgBinaries) -> Self {
        self.binaries = Some(binaries);
        self
    }

    /// Sets whether to listen on TCP `127.0.0.1` too.
    pub fn tcp(mut self, tcp: bool) -> Self {
        self.tcp = tcp;
        self
    }
}

/// A running PostgreSQL server in a temporary directory.
///
/// Dropping it stops the server (`pg_ctl stop -m immediate`) and deletes
/// the directory, also while unwinding from a panic. If the owning process
/// is killed outright, the next [`Cluster::start`] (in any process) cleans
/// up; see [`crate::reap_stale_clusters`].
#[derive(Debug)]
pub struct Cluster {
    binaries: PgBinaries,
    port: u16,
    tcp: bool,
    run_as: Option<RunAs>,
    /// Path of the cluster directory.
    root: PathBuf,
    /// Owns the directory; removing it on drop. `None` once [`Cluster::stop`]
    /// removed it. `Drop::drop` stops the server before fields are dropped.
    dir: Option<TempDir>,
}

impl Cluster {
    /// Starts a cluster with default options.
    pub fn start_default() -> Result<Cluster, ClusterError> {
        Cluster::start(ClusterOptions::default())
    }

    /// Creates, configures and starts a new cluster.
    pub fn start(options: ClusterOptions) -> Result<Cluster, ClusterError> {
        for (name, _) in &options.settings {
            if name.is_empty()
                || !name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.')
            {
                return Err(ClusterError::InvalidSetting { name: name.clone() });
            }
        }
        let binaries = match options.binaries {
            Some(b) => b,
            None => find_pg_bin()?,
        };
        let run_as = RunAs::detect();
        let base = cluster_base_dir();
        reaper::reap_stale_clusters_in(&base);

        let dir = tempfile::Builder::new()
            .prefix(CLUSTER_DIR_PREFIX)
            .tempdir_in(&base)
            .map_err(|e| {
                ClusterError::io(
                    format!("creating a cluster directory in {}", base.display()),
                    e,
                )
            })?;
        // From here on, dropping `cluster` cleans up whatever was created.
        let mut cluster = Cluster {
            binaries,
            port: 0,
            tcp: options.tcp,
            run_as,
            root: dir.path().to_path_buf(),
            dir: Some(dir),
        };
        crate::signals::register(cluster.root.clone());
        cluster.prepare_dir()?;
        cluster.initdb()?;

        // A TCP port can be taken by someone else between choosing and
        // binding it; retry with a fresh one. Unix sockets live in our own
        // directory, so without TCP there is nothing to race for.
        let attempts = if options.tcp { 3 } else { 1 };
        let mut attempt = 0;
        loop {
            attempt += 1;
            cluster.port = free_port(options.tcp)?;
            cluster.write_config(&options.settings, attempt > 1)?;
            match cluster.pg_ctl_start() {
                Ok(()) => return Ok(cluster),
                Err(ClusterError::Start { ref log_tail, .. })
                    if attempt < attempts && log_tail.contains("could not bind") =>
                {
                    cluster.stop_server();
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// Writes `owner.pid`, creates `sock/` and `log/`, and hands the
    /// directory to the unprivileged user when running as root.
    fn prepare_dir(&self) -> Result<(), ClusterError> {
        let root = &self.root;
        let io = |what: &str, e| ClusterError::io(format!("{what} in {}", root.display()), e);
        fs::write(
            root.join(OWNER_PID_FILE),
            format!("{}\n", std::process::id()),
        )
        .map_err(|e| io("writing owner.pid", e))?;
        fs::set_permissions(root, fs::Permissions::from_mode(0o755))
            .map_err(|e| io("setting permissions", e))?;
        fs::create_dir(self.socket_dir()).map_err(|e| io("creating sock/", e))?;
        fs::create_dir(root.join("log")).map_err(|e| io("creating log/", e))?;
        if let Some(user) = &self.run_as {
            user.chown_tree(root).map_err(|e| {
                ClusterError::io(
                    format!(
                        "running as root, handing {} to uid {} (initdb refuses to run as root)",
                        root.display(),
                        user.uid
                    ),
                    e,
                )
            })?;
        }
        Ok(())
    }

    /// A command for a PostgreSQL program, run as the right user, in the
    /// cluster directory, with `HOME` pointing there.
    fn pg_command(&self, program: &str) -> Command {
        let mut cmd = self.binaries.command(program);
        cmd.current_dir(&self.root)
            .env("HOME", &self.root)
            .env_remove("PGDATA")
            .stdin(Stdio::null());
        if let Some(user) = &self.run_as {
            user.apply(&mut cmd);
        }
        cmd
    }

    fn initdb(&self) -> Result<(), ClusterError> {
        let data_dir = self.data_dir();
        let initdb = self.binaries.program("initdb");
        let out = self
            .pg_command("initdb")
            .arg("-D")
            .arg(&data_dir)
            .args([
                "-U",
                SUPERUSER,
                "--auth=trust",
                "-E",
                "UTF8",
                "--locale=C",
                "--no-sync",
            ])
            .output()
            .map_err(|e| ClusterError::io(format!("running {}", initdb.display()), e))?;
        if out.status.success() {
            return Ok(());
        }
        Err(ClusterError::Initdb {
            data_dir,
            initdb,
            status: out.status.to_string(),
            output: tail(&combined_output(&out), TAIL_LINES),
        })
    }

    /// Appends this crate's settings and the user's to `postgresql.conf`.
    /// Later lines win, so a retry simply appends a new `port`.
    fn write_config(
        &self,
        settings: &[(String, String)],
        port_only: bool,
    ) -> Result<(), ClusterError> {
        let mut conf = String::from("\n# pgdiplomat-pg embedded cluster settings\n");
        let mut set = |name: &str, value: &str| {
            let _ = writeln!(conf, "{name} = '{}'", value.replace('\'', "''"));
        };
        set("port", &self.port.to_string());
        if !port_only {
            set("listen_addresses", if self.tcp { "127.0.0.1" } else { "" });
            // A comma-separated list; double quotes keep any path intact.
            let sock = self.socket_dir().to_string_lossy().replace('"', "\"\"");
            set("unix_socket_directories", &format!("\"{sock}\""));
            set("fsync", "off");
            set("synchronous_commit", "off");
            set("full_page_writes", "off");
            set("max_connections", "50");
            set("shared_buffers", "32MB");
            set("log_min_messages", "warning");
            set("logging_collector", "off");
            set("log_destination", "stderr");
            for (name, value) in settings {
                set(name, value);
            }
        }
        let path = self.data_dir().join("postgresql.conf");
        OpenOptions::new()
            .append(true)
            .open(&path)
            .and_then(|mut f| f.write_all(conf.as_bytes()))
            .map_err(|e| ClusterError::io(format!("writing {}", path.display()), e))
    }

    fn pg_ctl_start(&self) -> Result<(), ClusterError> {
        let log_path = self.log_path();
        let out = self
            .pg_command("pg_ctl")
            .arg("-D")
            .arg(self.data_dir())
            .arg("-l")
            .arg(&log_path)
            .args(["-w", "-t", "60", "start"])
            .output()
            .map_err(|e| ClusterError::io("running pg_ctl start", e))?;
        if out.status.success() {
            return Ok(());
        }
        let log = fs::read_to_string(&log_path).unwrap_or_default();
        Err(ClusterError::Start {
            detail: format!("pg_ctl start exited with {}", out.status),
            pg_ctl_output: tail(&combined_output(&out), TAIL_LINES),
            log_path,
            log_tail: tail(&log, TAIL_LINES),
        })
    }

    /// Stops the server if one is running for this data directory: first
    /// `pg_ctl stop -m immediate -w`, then signals if that did not work.
    fn stop_server(&self) {
        let pidfile = self.data_dir().join("postmaster.pid");
        if !pidfile.exists() {
            return;
        }
        let _ = self
            .pg_command("pg_ctl")
            .arg("-D")
            .arg(self.data_dir())
            .args(["-m", "immediate", "-w", "-t", "10", "stop"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
        // Fallback (pg_ctl missing, timed out, ...): signal it directly.
        reaper::stop_postmaster(&self.data_dir());
    }

    /// Stops the server and removes the directory, reporting an error if
    /// the directory could not be removed. Dropping does the same but
    /// ignores errors.
    pub fn stop(mut self) -> Result<(), ClusterError> {
        self.stop_server();
        crate::signals::unregister(&self.root);
        match self.dir.take() {
            Some(dir) => dir
                .close()
                .map_err(|e| ClusterError::io(format!("removing {}", self.root.display()), e)),
            None => Ok(()),
        }
    }

    /// The cluster's root directory (`pgdiplomat-cluster-XXXXXX`).
    pub fn dir(&self) -> &Path {
        &self.root
    }

    /// The data directory (`<dir>/data`).
    pub fn data_dir(&self) -> PathBuf {
        self.root.join("data")
    }

    /// The server log (`<dir>/log/postgres.log`).
    pub fn log_path(&self) -> PathBuf {
        self.root.join("log").join("postgres.log")
    }

    /// Directory of the server's Unix socket (`<dir>/sock`).
    pub fn socket_dir(&self) -> PathBuf {
        self.root.join("sock")
    }

    /// The server port (also names the socket file `.s.PGSQL.<port>`).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The host to give libpq-style clients: the socket directory.
    pub fn host(&self) -> String {
        self.socket_dir().to_string_lossy().into_owned()
    }

    /// Whether the server also listens on TCP `127.0.0.1`.
    pub fn tcp(&self) -> bool {
        self.tcp
    }

    /// The binaries running this cluster.
    pub fn binaries(&self) -> &PgBinaries {
        &self.binaries
    }

    /// Server version, from `postgres --version`.
    pub fn version(&self) -> PgVersion {
        self.binaries.version
    }

    /// Process id of the postmaster, from `data/postmaster.pid`.
    pub fn postmaster_pid(&self) -> Option<i32> {
        reaper::read_pid(&self.data_dir().join("postmaster.pid"))
    }

    /// A libpq key=value connection string over the Unix socket, e.g.
    /// `host=/tmp/pgdiplomat-cluster-ab12/sock port=5432 user=postgres dbname=app`.
    pub fn connection_string(&self, dbname: &str) -> String {
        format!(
            "host={} port={} user={} dbname={}",
            conninfo_value(&self.host()),
            self.port,
            SUPERUSER,
            conninfo_value(dbname)
        )
    }

    /// A `postgres://` URL: `postgres://postgres@127.0.0.1:<port>/<db>` when
    /// listening on TCP, otherwise with the percent-encoded socket directory
    /// as host (`postgres://postgres@%2Ftmp%2F...%2Fsock:<port>/<db>`).
    pub fn url(&self, dbname: &str) -> String {
        let host = if self.tcp {
            "127.0.0.1".to_string()
        } else {
            percent_encode(&self.host())
        };
        format!(
            "postgres://{SUPERUSER}@{host}:{}/{}",
            self.port,
            percent_encode(dbname)
        )
    }

    /// Connects to database `postgres` as the superuser.
    pub fn connect(&self) -> Result<Client, ClusterError> {
        self.connect_db("postgres")
    }

    /// Connects to database `dbname` as the superuser, over the Unix socket.
    pub fn connect_db(&self, dbname: &str) -> Result<Client, ClusterError> {
        postgres::Config::new()
            .host_path(self.socket_dir())
            .port(self.port)
            .user(SUPERUSER)
            .dbname(dbname)
            .application_name("pgdiplomat-pg")
            .connect_timeout(Duration::from_secs(30))
            .connect(NoTls)
            .map_err(|source| ClusterError::Connect {
                target: self.connection_string(dbname),
                log_path: self.log_path(),
                source,
            })
    }

    /// Creates database `name` (any name; it is quoted with [`quote_ident`]).
    pub fn create_database(&self, name: &str) -> Result<(), ClusterError> {
        let statement = format!("CREATE DATABASE {}", quote_ident(name));
        let mut client = self.connect()?;
        client
            .batch_execute(&statement)
            .map_err(|source| ClusterError::Query { statement, source })
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        self.stop_server();
        crate::signals::unregister(&self.root);
        // The TempDir field is dropped next and removes the directory.
    }
}

/// Directory in which cluster directories are created (and scanned for
/// stale ones): the system temp directory, unless (running as root) `nobody`
/// could not reach it or a socket path inside it would be too long; then
/// `/tmp`.
pub fn cluster_base_dir() -> PathBuf {
    let tmp = std::env::temp_dir();
    let too_long = tmp.as_os_str().len() + CLUSTER_DIR_PREFIX.len() + "XXXXXX/sock".len() + 1
        > MAX_SOCKET_DIR_LEN;
    let unreachable = privilege::is_root() && !privilege::traversable_by_others(&tmp);
    if too_long || unreachable {
        PathBuf::from("/tmp")
    } else {
        tmp
    }
}

/// Picks a port that is free right now by binding `127.0.0.1:0`.
fn free_port(tcp: bool) -> Result<u16, ClusterError> {
    match TcpListener::bind(("127.0.0.1", 0)).and_then(|l| l.local_addr()) {
        Ok(addr) => Ok(addr.port()),
        Err(e) if tcp => Err(ClusterError::io(
            "finding a free TCP port on 127.0.0.1 (needed because tcp = true)",
            e,
        )),
        // Without TCP the port only names the socket file in our private
        // directory, so any value works.
        Err(_) => Ok(20000 + (std::process::id() % 20000) as u16),
    }
}

fn combined_output(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// Quotes a libpq connection-string value if needed.
fn conninfo_value(value: &str) -> String {
    let plain = !value.is_empty()
        && !value
            .chars()
            .any(|c| c.is_whitespace() || c == '\'' || c == '\\' || c == '=');
    if plain {
        return value.to_string();
    }
    let mut out = String::from("'");
    for c in value.chars() {
        if c == '\'' || c == '\\' {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('\'');
    out
}

/// Percent-encodes everything except RFC 3986 unreserved characters.
fn percent_encode(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for b in value.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b as char);
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conninfo_values_are_quoted_when_needed() {
        assert_eq!(conninfo_value("/tmp/x/sock"), "/tmp/x/sock");
        assert_eq!(conninfo_value("a b"), "'a b'");
        assert_eq!(conninfo_value(r"it's\"), r"'it\'s\\'");
        assert_eq!(conninfo_value(""), "''");
    }

    #[test]
    fn urls_percent_encode_socket_paths() {
        assert_eq!(percent_encode("/tmp/a b"), "%2Ftmp%2Fa%20b");
        assert_eq!(percent_encode("app_db-1"), "app_db-1");
    }
}
