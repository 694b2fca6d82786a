//! Compares what a statement did on a real server with what the lock table says it does. A
//! disagreement is a bug in the model (or in the statement's classification).

use std::collections::BTreeMap;

use pgdiplomat_analysis::model::Operation;
use pgdiplomat_locks::{LockFact, LockMode, RelationRole, Rewrite, Scan, StatementForm};

use crate::observe::{strongest, ObservedLock, RelationSnapshot};

/// Everything observed about one statement.
#[derive(Debug, Clone, Default)]
pub struct Observation {
    pub before: RelationSnapshot,
    pub after: RelationSnapshot,
    /// Locks the statement took (granted or awaited); for a statement inside a transaction,
    /// only those the transaction did not already hold.
    pub locks: Vec<ObservedLock>,
    pub rewritten: Vec<String>,
    /// Table → rows read by sequential scans.
    pub scanned: BTreeMap<String, i64>,
    /// Whether scan counters could be read for this statement.
    pub scans_observable: bool,
    /// Locks were sampled from another connection while the statement ran (CONCURRENTLY
    /// forms): a brief lock on a secondary relation can be missed, a wrong mode cannot.
    pub sampled: bool,
    /// Progress phases seen while a sampled statement ran (e.g. `scanning heap`).
    pub phases: Vec<String>,
}

impl Observation {
    /// Whether `table` was read in full: its sequential-scan counter grew, or (for VACUUM and
    /// concurrent builds, which do not count as sequential scans) a progress phase says so.
    pub fn scanned_table(&self, table: &str, main: bool) -> bool {
        self.scanned.contains_key(table)
            || (main
                && self
                    .phases
                    .iter()
                    .any(|p| p.contains("scanning heap") || p.starts_with("building index")))
    }
}

fn key(name: &pgdiplomat_analysis::model::RelName) -> String {
    name.key()
}

/// The statement's main table: named, or found through its index.
fn main_table(op: &Operation, obs: &Observation) -> Option<String> {
    op.table.as_ref().map(key).or_else(|| {
        let idx = op.index.as_ref().map(key)?;
        obs.before.by_name.get(&idx).and_then(|i| i.table.clone())
    })
}

fn indexes_of<'a>(
    snap: &'a RelationSnapshot,
    table: &'a str,
) -> impl Iterator<Item = &'a str> + 'a {
    snap.by_name
        .values()
        .filter(move |r| matches!(r.kind, 'i' | 'I') && r.table.as_deref() == Some(table))
        .map(|r| r.name.as_str())
}

/// Lists every way the observation differs from `fact` for operation `op`.
pub fn compare(fact: &LockFact, op: &Operation, obs: &Observation) -> Vec<String> {
    let mut out = Vec::new();
    let seen = strongest(&obs.locks);
    let table = main_table(op, obs);
    let mut predicted_tables: Vec<String> = Vec::new();

    let expect = |name: &str, role: RelationRole, mode: LockMode, out: &mut Vec<String>| match seen
        .get(name)
    {
        Some(m) if *m == mode => {}
        Some(m) => out.push(format!(
            "{name} ({}): model says {mode}, observed {m}",
            role.label()
        )),
        None if obs.sampled
            && role != RelationRole::Table
            && role != RelationRole::PartitionParent => {}
        None => out.push(format!(
            "{name} ({}): model says {mode}, observed no new lock",
            role.label()
        )),
    };

    for &(role, mode) in fact.locks {
        let mode = if role == RelationRole::Table {
            op.explicit_lock.unwrap_or(mode)
        } else {
            mode
        };
        match role {
            RelationRole::Table | RelationRole::PartitionParent => {
                if let Some(t) = &table {
                    predicted_tables.push(t.clone());
                    expect(t, role, mode, &mut out);
                }
            }
            RelationRole::Partition | RelationRole::ReferencedTable => {
                let name = if role == RelationRole::Partition {
                    &op.partition
                } else {
                    &op.referenced
                };
                if let Some(n) = name.as_ref().map(key) {
                    predicted_tables.push(n.clone());
                    expect(&n, role, mode, &mut out);
                }
            }
            RelationRole::Index => match op.index.as_ref().map(key) {
                Some(i) => expect(&i, role, mode, &mut out),
                None => {
                    // An unnamed index (e.g. the index on an altered column): some index of the
                    // table must show the mode.
                    let t = table.clone().unwrap_or_default();
                    let any = indexes_of(&obs.before, &t).any(|i| seen.get(i) == Some(&mode));
                    if !any {
                        out.push(format!("index of {t}: model says {mode}, observed none"));
                    }
                }
            },
            RelationRole::NewIndex => {
                let created: Vec<&String> = obs
                    .after
                    .by_name
                    .values()
                    .filter(|r| {
                        matches!(r.kind, 'i' | 'I') && !obs.before.by_name.contains_key(&r.name)
                    })
                    .map(|r| &r.name)
                    .collect();
                if created.is_empty() {
                    out.push("new index: model says one is created, none observed".to_string());
                }
                for c in created {
                    expect(c, role, mode, &mut out);
                }
            }
            RelationRole::AllIndexes => {
                let t = table.clone().unwrap_or_default();
                let idx: Vec<String> = indexes_of(&obs.before, &t).map(str::to_string).collect();
                for i in idx {
                    expect(&i, role, mode, &mut out);
                }
            }
            RelationRole::ReferencingTables => {}
        }
    }

    // Strong locks on pre-existing tables the model does not mention.
    for (name, mode) in &seen {
        let Some(rel) = obs.before.by_name.get(name) else {
            continue;
        };
        if matches!(rel.kind, 'r' | 'p' | 'm')
            && *mode > LockMode::AccessShare
            && !predicted_tables.contains(name)
        {
            out.push(format!(
                "{name}: observed {mode}, which the model does not predict"
            ));
        }
    }

    if let Some(t) = &table {
        let table_rewritten = obs.rewritten.contains(t);
        let index_rewritten = indexes_of(&obs.before, t)
            .any(|i| obs.rewritten.iter().any(|r| r == i))
            || op
                .index
                .as_ref()
                .is_some_and(|i| obs.rewritten.contains(&key(i)));
        match fact.rewrite {
            Rewrite::Table if !table_rewritten => out.push(format!(
                "{t}: model says the table is rewritten, its file did not change"
            )),
            Rewrite::Indexes if table_rewritten => out.push(format!(
                "{t}: model says only indexes are rebuilt, the table was rewritten"
            )),
            Rewrite::Indexes if !index_rewritten => out.push(format!(
                "{t}: model says indexes are rebuilt, none changed file"
            )),
            Rewrite::No if table_rewritten => out.push(format!(
                "{t}: model says no rewrite, the table was rewritten"
            )),
            Rewrite::No if index_rewritten => {
                out.push(format!("{t}: model says no rewrite, an index was rebuilt"))
            }
            _ => {}
        }
        if obs.scans_observable {
            let scan_target = if fact.form == StatementForm::AttachPartition {
                op.partition.as_ref().map(key).unwrap_or_else(|| t.clone())
            } else {
                t.clone()
            };
            let scanned = obs.scanned_table(&scan_target, scan_target == *t);
            match fact.scan {
                Scan::Table if !scanned => out.push(format!(
                    "{scan_target}: model says the table is scanned, no sequential scan observed"
                )),
                Scan::No if scanned => out.push(format!(
                    "{scan_target}: model says no scan, observed a scan ({} rows)",
                    obs.scanned.get(&scan_target).copied().unwrap_or(0)
                )),
                _ => {}
            }
        }
    }
    out
}
