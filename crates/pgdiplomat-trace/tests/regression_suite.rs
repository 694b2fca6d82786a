//! The regression-suite run: every schema-changing statement of PostgreSQL's own regression
//! suite, traced on a real server and compared with the model (`pgdiplomat_trace::regress`).
//! A measurement, not a gate: it fails only below `PGDIPLOMAT_REGRESS_MIN_AGREEMENT` (percent).
//!
//! - `PGDIPLOMAT_REGRESS_DIR`: a directory of the suite's `.sql` files (libpg_query's
//!   `test/sql/postgres_regress`); unset or missing: the test is skipped.
//! - `PGDIPLOMAT_REGRESS_FILE`: only these files (comma-separated, `.sql` optional).
//! - `PGDIPLOMAT_REGRESS_REPORT=FILE`: the markdown report; `PGDIPLOMAT_REGRESS_JSON=FILE`: every
//!   traced statement as JSON.
//! - `PGDIPLOMAT_REGRESS_BUDGET_SECS` (default 1080): no file starts after it (the rest are
//!   listed as left out); `PGDIPLOMAT_REGRESS_STATEMENT_TIMEOUT` (default `10s`).
//!
//! `scripts/verify-regression-suite` runs it and writes `docs/regression-suite.md`.

use std::path::Path;
use std::time::{Duration, Instant};

use pgdiplomat_analysis::parse::with_parse_stack;
use pgdiplomat_pg::{Cluster, ClusterOptions};
use pgdiplomat_trace::regress::{markdown, run_suite, RegressOptions, Totals};

fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

#[test]
fn regression_suite_statements_match_what_postgres_does() {
    let skipped = "skipped: set PGDIPLOMAT_REGRESS_DIR to libpg_query's test/sql/postgres_regress (see scripts/verify-regression-suite)";
    let Some(dir) = env("PGDIPLOMAT_REGRESS_DIR") else {
        eprintln!("{skipped}");
        return;
    };
    let dir = Path::new(&dir);
    let Ok(entries) = std::fs::read_dir(dir) else {
        eprintln!("{skipped} ({} is not a directory)", dir.display());
        return;
    };
    let mut paths: Vec<_> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "sql"))
        .collect();
    paths.sort();
    let files: Vec<(String, String)> = paths
        .iter()
        .map(|p| {
            let name = p.file_name().unwrap().to_string_lossy().to_string();
            let text = String::from_utf8_lossy(&std::fs::read(p).unwrap()).into_owned();
            (name, text)
        })
        .collect();
    assert!(!files.is_empty(), "no .sql files in {}", dir.display());
    let only: Option<Vec<String>> = env("PGDIPLOMAT_REGRESS_FILE").map(|v| {
        v.split(',')
            .map(|f| {
                let f = f.trim();
                if f.ends_with(".sql") {
                    f.to_string()
                } else {
                    format!("{f}.sql")
                }
            })
            .collect()
    });
    let selected = |name: &str| only.as_ref().is_none_or(|o| o.iter().any(|f| f == name));
    let budget: u64 = env("PGDIPLOMAT_REGRESS_BUDGET_SECS")
        .map_or(1080, |v| v.parse().expect("a number of seconds"));
    let timeout = env("PGDIPLOMAT_REGRESS_STATEMENT_TIMEOUT").unwrap_or_else(|| "10s".into());

    // pg_regress's settings (dates and messages as the suite expects them), a guard against
    // statements that hang, and no autovacuum taking locks or rewriting behind a statement.
    let options = ClusterOptions::default()
        .setting("statement_timeout", timeout)
        .setting("autovacuum", "off")
        .setting("datestyle", "Postgres, MDY")
        .setting("timezone", "PST8PDT")
        .setting("intervalstyle", "postgres_verbose")
        .setting("lc_messages", "C");
    let cluster = Cluster::start(options).expect("start an embedded PostgreSQL");
    let version = cluster.version();
    let opts = RegressOptions {
        server_major: version.major,
        deadline: Instant::now() + Duration::from_secs(budget),
    };
    // Introspection parses every column type and constraint: on one large-stack thread, not a
    // thread per parse.
    let suite = with_parse_stack(|| run_suite(&cluster, &files, selected, &opts, |f| {
        eprintln!(
            "{:<32} {:>5} statements {:>4} traced {:>4} agree {:>4} disagree {:>4} not modelled {:>4} server errors {:>6.1}s{}",
            f.file,
            f.statements,
            f.traced.len(),
            f.count("agree"),
            f.count("disagree"),
            f.count("not modelled"),
            f.count("server error"),
            f.seconds,
            f.stopped.as_deref().map(|s| format!(" ({s})")).unwrap_or_default()
        )
    }))
    .expect("run the suite");
    let totals = Totals::of(&suite.files);
    let summary = format!(
        "PostgreSQL {version}: {} in {:.0} s",
        totals.summary(),
        suite.seconds
    );
    eprintln!("{summary}");
    if !suite.left_out.is_empty() {
        eprintln!("left out (time budget): {}", suite.left_out.join(", "));
    }
    if let Some(path) = env("PGDIPLOMAT_REGRESS_REPORT") {
        std::fs::write(&path, markdown(&suite)).expect("write the report");
    }
    if let Some(path) = env("PGDIPLOMAT_REGRESS_JSON") {
        std::fs::write(&path, serde_json::to_string_pretty(&suite).unwrap())
            .expect("write the JSON");
    }
    if let Some(min) = env("PGDIPLOMAT_REGRESS_MIN_AGREEMENT") {
        let min: f64 = min
            .parse()
            .expect("PGDIPLOMAT_REGRESS_MIN_AGREEMENT: a percentage");
        assert!(
            totals.agreement() >= min,
            "agreement {:.1}% is below PGDIPLOMAT_REGRESS_MIN_AGREEMENT={min}\n{summary}",
            totals.agreement()
        );
    }
}
