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
