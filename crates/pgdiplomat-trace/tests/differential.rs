//! The differential test: every row of the lock table is traced on a real PostgreSQL server
//! (the one `PGDIPLOMAT_PG_BIN` / `PATH` / `/usr/lib/postgresql/*/bin` provides) and the
//! observed lock modes, rewrites and scans must equal the model's prediction for that version.
//!
//! `scripts/postgres-versions run -- cargo test -p pgdiplomat-trace --test differential` runs it
//! on PostgreSQL 13–18; with `PGDIPLOMAT_DIFF_REPORT=FILE` the result table is written to FILE.

use pgdiplomat_pg::{Cluster, ClusterOptions};
use pgdiplomat_trace::catalogue::{markdown, run_catalogue};

#[test]
fn every_lock_table_row_matches_what_postgres_does() {
    let cluster = Cluster::start(ClusterOptions::default()).expect("start an embedded PostgreSQL");
    let version = cluster.version();
    let results = run_catalogue(&cluster, version.major).expect("run the catalogue");
    let table = markdown(&results);
    if let Ok(path) = std::env::var("PGDIPLOMAT_DIFF_REPORT") {
        let header = format!("## PostgreSQL {version}\n\n");
        std::fs::write(&path, header + &table).expect("write the report");
    }
    let bad: Vec<String> = results
        .iter()
        .filter(|r| r.outcome == "disagree" || r.outcome == "error")
        .map(|r| {
            format!(
                "{} [{}] `{}`:\n    {}",
                r.title,
                r.outcome,
                r.sql,
                r.details.join("\n    ")
            )
        })
        .collect();
    let agree = results
        .iter()
        .filter(|r| r.outcome == "agree" || r.outcome == "unsupported")
        .count();
    eprintln!(
        "PostgreSQL {version}: {agree} of {} rows agree with the model",
        results.len()
    );
    assert!(
        bad.is_empty(),
        "PostgreSQL {version}: {} of {} rows disagree with the lock table (a model bug):\n{}",
        bad.len(),
        results.len(),
        bad.join("\n")
    );
}
