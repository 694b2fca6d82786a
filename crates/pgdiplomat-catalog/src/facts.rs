//! Facts PostgreSQL itself can tell, read from a real server's catalog, for the data files the
//! analysis uses offline (`crates/pgdiplomat-analysis/data/`). `scripts/gen-pg-facts` writes
//! them from PostgreSQL 13–18; `tests/pg_facts.rs` diffs them against the installed server.

use std::collections::BTreeMap;

use pgdiplomat_pg::postgres::Client;

/// Extensions whose functions commonly appear in column defaults; their functions are
/// included when the server has the extension available.
pub const DEFAULT_EXTENSIONS: &[&str] = &["uuid-ossp", "pgcrypto"];

/// The volatility of every built-in function name (and of [`DEFAULT_EXTENSIONS`]' functions
/// the server can install), collapsed over its overloads: `i` immutable, `s` stable,
/// `v` volatile, `n` overloads differ but none is volatile, `m` some overloads are volatile.
///
/// Installs the extensions it reads into the connected database inside a transaction that it
/// rolls back, so nothing is left behind.
pub fn function_volatility(
    client: &mut Client,
) -> Result<BTreeMap<String, char>, pgdiplomat_pg::postgres::Error> {
    let mut tx = client.transaction()?;
    let mut schemas = vec!["pg_catalog".to_string()];
    for ext in DEFAULT_EXTENSIONS {
        let available: bool = tx
            .query_one(
                "SELECT EXISTS (SELECT 1 FROM pg_available_extensions WHERE name = $1)",
                &[ext],
            )?
            .get(0);
        if available {
            let schema = format!("pgdiplomat_facts_{}", ext.replace('-', "_"));
            tx.batch_execute(&format!(
                "CREATE SCHEMA {schema}; CREATE EXTENSION \"{ext}\" SCHEMA {schema}"
            ))?;
            schemas.push(schema);
        }
    }
    let rows = tx.query(
        "SELECT p.proname::text, string_agg(DISTINCT p.provolatile::text, '')
           FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
          WHERE n.nspname = ANY ($1) AND p.prokind = 'f'
          GROUP BY 1",
        &[&schemas],
    )?;
    tx.rollback()?;
    Ok(rows
        .into_iter()
        .map(|r| {
            let kinds: String = r.get(1);
            (r.get(0), collapse(&kinds))
        })
        .collect())
}

fn collapse(kinds: &str) -> char {
    let has = |c| kinds.contains(c);
    match (has('i'), has('s'), has('v')) {
        (_, _, true) if kinds.len() == 1 => 'v',
        (_, _, true) => 'm',
        (true, false, false) => 'i',
        (false, true, false) => 's',
        _ => 'n',
    }
}

/// Storage parameters (reloptions) to measure, per kind of relation, each with a value the
/// server accepts: `(kind, option, value)`. Kinds: `table` (heap), `toast` (`toast.` options
/// of a table), an index access method (`btree`, `hash`, `gist`, `gin`, `spgist`, `brin`),
/// `view`. PostgreSQL has no catalog of reloptions, so the candidates are listed here; the
/// lock level of each is what the server takes, and an option the server does not know is
/// absent from that version's column.
pub const RELOPTION_CANDIDATES: &[(&str, &str, &str)] = &[
    ("table", "fillfactor", "80"),
    ("table", "parallel_workers", "2"),
    ("table", "toast_tuple_target", "256"),
    ("table", "user_catalog_table", "true"),
    ("table", "vacuum_index_cleanup", "on"),
    ("table", "vacuum_truncate", "false"),
    ("table", "log_autovacuum_min_duration", "10"),
    ("table", "autovacuum_enabled", "false"),
    ("table", "autovacuum_vacuum_threshold", "100"),
    ("table", "autovacuum_vacuum_max_threshold", "1000"),
    ("table", "autovacuum_vacuum_scale_factor", "0.1"),
    ("table", "autovacuum_vacuum_insert_threshold", "100"),
    ("table", "autovacuum_vacuum_insert_scale_factor", "0.1"),
    ("table", "autovacuum_analyze_threshold", "100"),
    ("table", "autovacuum_analyze_scale_factor", "0.1"),
    ("table", "autovacuum_vacuum_cost_delay", "10"),
    ("table", "autovacuum_vacuum_cost_limit", "100"),
    ("table", "autovacuum_freeze_min_age", "1000000"),
    ("table", "autovacuum_freeze_max_age", "100000000"),
    ("table", "autovacuum_freeze_table_age", "100000000"),
    ("table", "autovacuum_multixact_freeze_min_age", "1000000"),
    ("table", "autovacuum_multixact_freeze_max_age", "100000000"),
    (
        "table",
        "autovacuum_multixact_freeze_table_age",
        "100000000",
    ),
    ("table", "vacuum_max_eager_freeze_failure_rate", "0.01"),
    ("toast", "autovacuum_enabled", "false"),
    ("toast", "autovacuum_vacuum_threshold", "100"),
    ("toast", "autovacuum_vacuum_scale_factor", "0.1"),
    ("toast", "autovacuum_freeze_max_age", "100000000"),
    ("toast", "log_autovacuum_min_duration", "10"),
    ("toast", "vacuum_index_cleanup", "on"),
    ("toast", "vacuum_truncate", "false"),
    ("btree", "fillfactor", "80"),
    ("btree", "deduplicate_items", "off"),
    ("hash", "fillfactor", "80"),
    ("gist", "fillfactor", "80"),
    ("gist", "buffering", "on"),
    ("gin", "fastupdate", "off"),
    ("gin", "gin_pending_list_limit", "1024"),
    ("spgist", "fillfactor", "80"),
    ("brin", "pages_per_range", "64"),
    ("brin", "autosummarize", "on"),
    ("view", "security_barrier", "true"),
    ("view", "security_invoker", "true"),
    ("view", "check_option", "local"),
];

/// The lock each storage parameter takes when set, measured: for each candidate, `ALTER ...
/// SET (option = value)` runs in a transaction that is rolled back, and the strongest lock the
/// transaction holds on the relation (from `pg_locks`) is recorded under `kind.option`.
/// Options the server refuses (unknown in this version) are left out.
pub fn reloption_lock_levels(
    client: &mut Client,
) -> Result<BTreeMap<String, String>, pgdiplomat_pg::postgres::Error> {
    let mut out = BTreeMap::new();
    for (kind, option, value) in RELOPTION_CANDIDATES {
        let (relation, alter) = match *kind {
            "table" => (
                "pgdiplomat_ro",
                format!("ALTER TABLE pgdiplomat_ro SET ({option} = {value})"),
            ),
            "toast" => (
                "pgdiplomat_ro",
                format!("ALTER TABLE pgdiplomat_ro SET (toast.{option} = {value})"),
            ),
            "view" => (
                "pgdiplomat_ro_v",
                format!("ALTER VIEW pgdiplomat_ro_v SET ({option} = {value})"),
            ),
            _ => (
                "pgdiplomat_ro_idx",
                format!("ALTER INDEX pgdiplomat_ro_idx SET ({option} = {value})"),
            ),
        };
        // The objects are committed first, so the transaction that sets the option holds only
        // the option's own locks.
        let mut tx = client.transaction()?;
        tx.batch_execute("CREATE TABLE pgdiplomat_ro (id int, body text, tags text[], p point)")?;
        match *kind {
            "view" => {
                tx.batch_execute("CREATE VIEW pgdiplomat_ro_v AS SELECT id FROM pgdiplomat_ro")?
            }
            "table" | "toast" => {}
            method => {
                let column = match method {
                    "gin" => "tags",
                    "gist" | "spgist" => "p",
                    _ => "id",
                };
                tx.batch_execute(&format!(
                    "CREATE INDEX pgdiplomat_ro_idx ON pgdiplomat_ro USING {method} ({column})"
                ))?;
            }
        }
        tx.commit()?;
        let mut tx = client.transaction()?;
        let measured = match tx.batch_execute(&alter) {
            Ok(()) => {
                let row = tx.query_one(
                    "SELECT string_agg(mode, ',') FROM pg_locks
                      WHERE locktype = 'relation' AND pid = pg_backend_pid()
                        AND relation = $1::text::regclass",
                    &[&relation],
                )?;
                row.get::<_, Option<String>>(0)
            }
            Err(_) => None,
        };
        tx.rollback()?;
        client.batch_execute("DROP TABLE pgdiplomat_ro CASCADE")?;
        if let Some(modes) = measured {
            let strongest = modes
                .split(',')
                .filter_map(pgdiplomat_locks_mode)
                .max_by_key(|(rank, _)| *rank)
                .map(|(_, name)| name.to_string());
            if let Some(s) = strongest {
                out.insert(format!("{kind}.{option}"), s);
            }
        }
    }
    Ok(out)
}

/// The rank of a `pg_locks.mode` name among the table-level lock modes.
fn pgdiplomat_locks_mode(name: &str) -> Option<(usize, &str)> {
    const ORDER: [&str; 8] = [
        "AccessShareLock",
        "RowShareLock",
        "RowExclusiveLock",
        "ShareUpdateExclusiveLock",
        "ShareLock",
        "ShareRowExclusiveLock",
        "ExclusiveLock",
        "AccessExclusiveLock",
    ];
    ORDER.iter().position(|m| *m == name).map(|i| (i, ORDER[i]))
}

/// The built-in casts PostgreSQL applies without a function (`pg_cast.castmethod = 'b'`,
/// binary coercible), as `source>target` type names (`typname`): a column type change along
/// one keeps every stored value, so it rewrites nothing (when no length coercion applies).
pub fn binary_coercible_casts(
    client: &mut Client,
) -> Result<BTreeMap<String, String>, pgdiplomat_pg::postgres::Error> {
    let rows = client.query(
        "SELECT s.typname::text || '>' || t.typname::text
           FROM pg_cast c JOIN pg_type s ON s.oid = c.castsource JOIN pg_type t ON t.oid = c.casttarget
           JOIN pg_namespace sn ON sn.oid = s.typnamespace JOIN pg_namespace tn ON tn.oid = t.typnamespace
          WHERE c.castmethod = 'b' AND c.castsource <> c.casttarget
            AND sn.nspname = 'pg_catalog' AND tn.nspname = 'pg_catalog'
            AND s.typtype = 'b' AND t.typtype = 'b'",
        &[],
    )?;
    Ok(rows
        .into_iter()
        .map(|r| (r.get(0), "b".to_string()))
        .collect())
}
