//! pgdiplomat-pg: throw-away PostgreSQL clusters for tests and for
//! `pgdiplomat trace` / `apply`.
//!
//! Real PostgreSQL binaries are located with [`find_pg_bin`] (or chosen with
//! [`PgBinaries::at`]), and [`Cluster::start`] runs `initdb` + `pg_ctl start`
//! in a fresh temporary directory, listening on a private Unix socket.
//! Dropping the [`Cluster`] stops the server and deletes the directory;
//! clusters leaked by killed processes are reaped by later starts.
//!
//! ```no_run
//! let cluster = pgdiplomat_pg::Cluster::start_default()?;
//! let mut client = cluster.connect()?;
//! let row = client.query_one("SELECT 1 + 1", &[]).expect("query");
//! assert_eq!(row.get::<_, i32>(0), 2);
//! # Ok::<(), pgdiplomat_pg::ClusterError>(())
//! ```
//!
//! [`stop_clusters_on_signals`] makes SIGINT/SIGTERM stop them too.
//!
//! Unix only. When run as root, the PostgreSQL programs are run as `nobody`.

mod binaries;
mod cluster;
mod error;
mod ident;
mod privilege;
mod reaper;
mod signals;

pub use binaries::{find_pg_bin, PgBinaries, PgVersion, PG_BIN_ENV};
pub use cluster::{cluster_base_dir, Cluster, ClusterOptions, SUPERUSER};
pub use error::ClusterError;
pub use ident::quote_ident;
pub use reaper::{
    pid_alive, reap_stale_clusters, reap_stale_clusters_in, CLUSTER_DIR_PREFIX, OWNER_PID_FILE,
};

/// Re-export of the `postgres` crate, so callers use the same version.
pub use postgres;
pub use signals::{received_signal, stop_clusters_on_signals, wait_for_signal_exit};
