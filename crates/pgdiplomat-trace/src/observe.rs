//! What can be read off a live server about one backend: the relations of the database
//! (name, kind, storage file), the locks a backend holds or waits for, and table scan counters.

use std::collections::{BTreeMap, HashMap};

use pgdiplomat_locks::LockMode;
use pgdiplomat_pg::postgres::Client;

/// A user relation as of one moment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RelationInfo {
    pub oid: u32,
    /// `schema.name`, or just `name` in `public`.
    pub name: String,
    /// `pg_class.relkind`: r table, i index, S sequence, p partitioned table, m matview, ...
    pub kind: char,
    pub filenode: u32,
    /// For an index: its table's name.
    pub table: Option<String>,
}

/// Every user relation of the current database.
#[derive(Debug, Clone, Default)]
pub struct RelationSnapshot {
    pub by_name: BTreeMap<String, RelationInfo>,
    pub by_oid: HashMap<u32, String>,
}

const USER_RELATIONS: &str = "
SELECT c.oid, n.nspname, c.relname, c.relkind::text, c.relfilenode,
       (SELECT tn.nspname || '.' || tc.relname
          FROM pg_index x JOIN pg_class tc ON tc.oid = x.indrelid
          JOIN pg_namespace tn ON tn.oid = tc.relnamespace
         WHERE x.indexrelid = c.oid)
  FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
 WHERE n.nspname NOT IN ('pg_catalog', 'information_schema')
   AND n.nspname NOT LIKE 'pg\\_toast%' AND n.nspname NOT LIKE 'pg\\_temp%'";

/// `public.t` → `t`; other schemas stay qualified.
pub fn display_name(qualified: &str) -> String {
    qualified
        .strip_prefix("public.")
        .unwrap_or(qualified)
        .to_string()
}

pub fn snapshot_relations(client: &mut Client) -> Result<RelationSnapshot, postgres_error::Error> {
    let mut snap = RelationSnapshot::default();
    for row in client.query(USER_RELATIONS, &[])? {
        let oid: u32 = row.get(0);
        let schema: String = row.get(1);
        let name = display_name(&format!("{schema}.{}", row.get::<_, String>(2)));
        let kind: String = row.get(3);
        let filenode: u32 = row.get(4);
        let table: Option<String> = row.get(5);
        snap.by_oid.insert(oid, name.clone());
        snap.by_name.insert(
            name.clone(),
            RelationInfo {
                oid,
                name,
                kind: kind.chars().next().unwrap_or('?'),
                filenode,
                table: table.map(|t| display_name(&t)),
            },
        );
    }
    Ok(snap)
}

/// One `pg_locks` row of interest.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
pub struct ObservedLock {
    pub relation: String,
    #[serde(skip)]
    pub oid: u32,
    pub mode: String,
    pub granted: bool,
}

impl ObservedLock {
    pub fn lock_mode(&self) -> Option<LockMode> {
        LockMode::parse(&self.mode)
    }
}

/// The relation locks held (or awaited) by backend `pid` in the current database. Relations
/// are named as in `names` (a snapshot from before the statement, so a renamed or dropped
/// relation keeps the name the statement used), else by their current name.
pub fn locks_of(
    client: &mut Client,
    pid: i32,
    names: &HashMap<u32, String>,
) -> Result<Vec<ObservedLock>, postgres_error::Error> {
    let rows = client.query(
        "SELECT l.relation, n.nspname, c.relname, l.mode, l.granted
           FROM pg_locks l
           LEFT JOIN pg_class c ON c.oid = l.relation
           LEFT JOIN pg_namespace n ON n.oid = c.relnamespace
          WHERE l.pid = $1 AND l.locktype = 'relation'
            AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())",
        &[&pid],
    )?;
    let mut out = Vec::new();
    for row in rows {
        let oid: u32 = row.get(0);
        let schema: Option<String> = row.get(1);
        let name: Option<String> = row.get(2);
        let relation = match (schema, name) {
            _ if names.contains_key(&oid) => names[&oid].clone(),
            (Some(s), Some(n)) => {
                if s == "pg_catalog"
                    || s == "information_schema"
                    || s.starts_with("pg_toast")
                    || s.starts_with("pg_temp")
                {
                    continue;
                }
                display_name(&format!("{s}.{n}"))
            }
            _ => match names.get(&oid) {
                Some(n) => n.clone(),
                None => continue, // a catalog relation or something created and gone
            },
        };
        out.push(ObservedLock {
            relation,
            oid,
            mode: row.get(3),
            granted: row.get(4),
        });
    }
    out.sort();
    out.dedup();
    Ok(out)
}

/// Sequential scan counters per table.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ScanCounters {
    pub seq_scan: i64,
    pub seq_tup_read: i64,
}

/// `pg_stat_xact_user_tables` (this transaction) or `pg_stat_user_tables` (cumulative).
pub fn scan_counters(
    client: &mut Client,
    this_transaction: bool,
) -> Result<HashMap<String, ScanCounters>, postgres_error::Error> {
    let view = if this_transaction {
        "pg_stat_xact_user_tables"
    } else {
        "pg_stat_user_tables"
    };
    let rows = client.query(
        &format!("SELECT schemaname, relname, coalesce(seq_scan, 0), coalesce(seq_tup_read, 0) FROM {view}"),
        &[],
    )?;
    Ok(rows
        .into_iter()
        .map(|r| {
            let name = display_name(&format!(
                "{}.{}",
                r.get::<_, String>(0),
                r.get::<_, String>(1)
            ));
            (
                name,
                ScanCounters {
                    seq_scan: r.get(2),
                    seq_tup_read: r.get(3),
                },
            )
        })
        .collect())
}

/// The tables whose sequential-scan counters grew, with the rows read.
pub fn scanned(
    before: &HashMap<String, ScanCounters>,
    after: &HashMap<String, ScanCounters>,
) -> BTreeMap<String, i64> {
    after
        .iter()
        .filter_map(|(name, a)| {
            let b = before.get(name).copied().unwrap_or_default();
            (a.seq_scan > b.seq_scan).then(|| (name.clone(), a.seq_tup_read - b.seq_tup_read))
        })
        .collect()
}

/// Relations present in both snapshots whose storage file changed: rewritten.
pub fn rewritten(before: &RelationSnapshot, after: &RelationSnapshot) -> Vec<String> {
    after
        .by_name
        .values()
        .filter(|a| a.filenode != 0)
        .filter(|a| {
            before
                .by_name
                .get(&a.name)
                .is_some_and(|b| b.filenode != 0 && b.filenode != a.filenode)
        })
        .map(|a| a.name.clone())
        .collect()
}

/// Relations in `after` that were not in `before`.
pub fn created(before: &RelationSnapshot, after: &RelationSnapshot) -> Vec<String> {
    after
        .by_name
        .keys()
        .filter(|n| !before.by_name.contains_key(*n))
        .cloned()
        .collect()
}

/// Relations in `before` that are gone from `after`.
pub fn dropped(before: &RelationSnapshot, after: &RelationSnapshot) -> Vec<String> {
    before
        .by_name
        .keys()
        .filter(|n| !after.by_name.contains_key(*n))
        .cloned()
        .collect()
}

/// The strongest mode per relation.
pub fn strongest(locks: &[ObservedLock]) -> BTreeMap<String, LockMode> {
    let mut out: BTreeMap<String, LockMode> = BTreeMap::new();
    for l in locks {
        if let Some(m) = l.lock_mode() {
            let e = out.entry(l.relation.clone()).or_insert(m);
            if m > *e {
                *e = m;
            }
        }
    }
    out
}

pub use pgdiplomat_pg::postgres::Error as PgError;
pub mod postgres_error {
    pub use pgdiplomat_pg::postgres::Error;
}
