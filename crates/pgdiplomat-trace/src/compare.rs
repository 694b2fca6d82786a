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
    /// Blocking transactions held the sampled statement in place until its locks were seen
    /// (the differential test does this); without them a fast statement can finish between
    /// two samples, so a lock that was not seen is not evidence against the model.
    pub held_in_place: bool,
    /// Progress phases seen while a sampled statement ran (e.g. `scanning heap`).
    pub phases: Vec<String>,
    /// Locks the transaction already held before the statement (a mode held already is not
    /// taken again, so it cannot show up as new).
    pub held_before: Vec<ObservedLock>,
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

/// What the model predicts for one statement, resolved to relation names.
#[derive(Debug, Clone, Default)]
pub struct Prediction {
    /// Relation → (role, strongest mode predicted).
    pub locks: BTreeMap<String, (RelationRole, LockMode)>,
    /// New indexes are not named in advance: each one created must show this mode.
    pub new_index: Option<LockMode>,
    /// Indexes of a table, each of which must show this mode.
    pub all_indexes: Vec<(String, LockMode)>,
    /// Unnamed indexes of a table, at least one of which must show this mode.
    pub some_index: Vec<(String, LockMode)>,
    /// Relation → the mode of a lock taken at the very end, when no one can use the relation
    /// any more ([`LockFact::final_lock`]): a sampled observation may see it instead.
    pub final_locks: BTreeMap<String, LockMode>,
    /// Table → (rewrite, scan target, scan).
    pub tables: Vec<(String, Rewrite, String, Scan, Option<String>)>,
}

impl Prediction {
    fn lock(&mut self, name: String, role: RelationRole, mode: LockMode) {
        let e = self.locks.entry(name).or_insert((role, mode));
        if mode > e.1 {
            *e = (role, mode);
        }
    }

    /// Adds the prediction of `fact` applied to `op`.
    pub fn add(&mut self, fact: &LockFact, op: &Operation, obs: &Observation) {
        let table = main_table(op, obs);
        if let Some((RelationRole::Index, mode)) = fact.final_lock {
            if let Some(i) = op.index.as_ref().map(key) {
                self.final_locks.insert(i, mode);
            }
        }
        for &(role, mode) in fact.locks {
            let mode = if role == RelationRole::Table {
                op.explicit_lock.unwrap_or(mode)
            } else {
                mode
            };
            match role {
                RelationRole::Table | RelationRole::PartitionParent => {
                    if let Some(t) = &table {
                        self.lock(t.clone(), role, mode);
                    }
                }
                RelationRole::Partition | RelationRole::ReferencedTable => {
                    let name = if role == RelationRole::Partition {
                        &op.partition
                    } else {
                        &op.referenced
                    };
                    if let Some(n) = name.as_ref().map(key) {
                        self.lock(n, role, mode);
                    }
                    if role == RelationRole::ReferencedTable {
                        for r in &op.also_referenced {
                            self.lock(key(r), role, mode);
                        }
                    }
                }
                RelationRole::Index => match op.index.as_ref().map(key) {
                    Some(i) => self.lock(i, role, mode),
                    None => self
                        .some_index
                        .push((table.clone().unwrap_or_default(), mode)),
                },
                RelationRole::NewIndex => {
                    self.new_index = Some(self.new_index.map_or(mode, |m| m.max(mode)))
                }
                RelationRole::AllIndexes => self
                    .all_indexes
                    .push((table.clone().unwrap_or_default(), mode)),
                RelationRole::ReferencingTables => {
                    for r in &op.referencing {
                        self.lock(key(r), role, mode);
                    }
                }
            }
        }
        if let Some(t) = table {
            let scan_target = if fact.form == StatementForm::AttachPartition {
                op.partition.as_ref().map(key).unwrap_or_else(|| t.clone())
            } else {
                t.clone()
            };
            let index = op.index.as_ref().map(key);
            self.tables
                .push((t, fact.rewrite, scan_target, fact.scan, index));
        }
    }
}

/// Lists every way the observation differs from `fact` for operation `op`.
pub fn compare(fact: &LockFact, op: &Operation, obs: &Observation) -> Vec<String> {
    let mut p = Prediction::default();
    p.add(fact, op, obs);
    check(&p, obs)
}

/// Lists every way the observation differs from a (possibly combined) prediction.
pub fn check(p: &Prediction, obs: &Observation) -> Vec<String> {
    let mut out = Vec::new();
    let seen = strongest(&obs.locks);
    let held = |name: &str, mode: LockMode| {
        obs.held_before
            .iter()
            .any(|l| l.relation == name && l.lock_mode() == Some(mode))
    };
    let expect = |name: &str, role: RelationRole, mode: LockMode, out: &mut Vec<String>| match seen
        .get(name)
    {
        Some(m) if *m == mode => {}
        Some(m) if obs.sampled && p.final_locks.get(name) == Some(m) => {}
        Some(m) if *m < mode && held(name, mode) => {}
        None if held(name, mode) => {}
        None if obs.sampled
            && (!obs.held_in_place
                || (role != RelationRole::Table && role != RelationRole::PartitionParent)) => {}
        Some(m) => out.push(format!(
            "{name} ({}): model says {mode}, observed {m}",
            role.label()
        )),
        None => out.push(format!(
            "{name} ({}): model says {mode}, observed no new lock",
            role.label()
        )),
    };
    for (name, (role, mode)) in &p.locks {
        expect(name, *role, *mode, &mut out);
    }
    for (t, mode) in &p.some_index {
        let any = indexes_of(&obs.before, t).any(|i| seen.get(i) == Some(mode) || held(i, *mode));
        if !any && !obs.sampled {
            out.push(format!("index of {t}: model says {mode}, observed none"));
        }
    }
    if let Some(mode) = p.new_index {
        let created: Vec<&String> = obs
            .after
            .by_name
            .values()
            .filter(|r| matches!(r.kind, 'i' | 'I') && !obs.before.by_name.contains_key(&r.name))
            .map(|r| &r.name)
            .collect();
        if created.is_empty() {
            out.push("new index: model says one is created, none observed".to_string());
        }
        for c in created {
            expect(c, RelationRole::NewIndex, mode, &mut out);
        }
    }
    for (t, mode) in &p.all_indexes {
        let idx: Vec<String> = indexes_of(&obs.before, t).map(str::to_string).collect();
        for i in idx {
            if !p.locks.contains_key(&i) {
                expect(&i, RelationRole::AllIndexes, *mode, &mut out);
            }
        }
    }
    // Strong locks on pre-existing tables the model does not mention.
    for (name, mode) in &seen {
        let Some(rel) = obs.before.by_name.get(name) else {
            continue;
        };
        if matches!(rel.kind, 'r' | 'p' | 'm')
            && *mode > LockMode::AccessShare
            && !p.locks.contains_key(name)
        {
            out.push(format!(
                "{name}: observed {mode}, which the model does not predict"
            ));
        }
    }
    // Rewrites and scans, per table; several operations on one table combine.
    type PerTable<'a> = (Rewrite, Vec<(&'a str, Scan)>, Vec<&'a str>);
    let mut tables: BTreeMap<&str, PerTable> = BTreeMap::new();
    for (t, rewrite, target, scan, index) in &p.tables {
        let e = tables
            .entry(t.as_str())
            .or_insert((Rewrite::No, Vec::new(), Vec::new()));
        e.0 = match (e.0, *rewrite) {
            (Rewrite::Table, _) | (_, Rewrite::Table) => Rewrite::Table,
            (Rewrite::Indexes, _) | (_, Rewrite::Indexes) => Rewrite::Indexes,
            _ => Rewrite::No,
        };
        e.1.push((target.as_str(), *scan));
        if let Some(i) = index {
            e.2.push(i.as_str());
        }
    }
    for (t, (rewrite, scans, named_indexes)) in tables {
        let table_rewritten = obs.rewritten.iter().any(|r| r == t);
        let index_rewritten = indexes_of(&obs.before, t)
            .any(|i| obs.rewritten.iter().any(|r| r == i))
            || named_indexes
                .iter()
                .any(|i| obs.rewritten.iter().any(|r| r == i));
        match rewrite {
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
        if !obs.scans_observable {
            continue;
        }
        let mut targets: BTreeMap<&str, Scan> = BTreeMap::new();
        for (target, scan) in scans {
            let e = targets.entry(target).or_insert(Scan::No);
            if scan == Scan::Table {
                *e = Scan::Table;
            }
        }
        for (target, scan) in targets {
            let scanned = obs.scanned_table(target, target == t);
            match scan {
                Scan::Table if !scanned => out.push(format!(
                    "{target}: model says the table is scanned, no scan observed"
                )),
                Scan::No if scanned => out.push(format!(
                    "{target}: model says no scan, observed a scan ({} rows)",
                    obs.scanned.get(target).copied().unwrap_or(0)
                )),
                _ => {}
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::observe::RelationInfo;
    use pgdiplomat_analysis::model::RelName;

    fn sampled(locks: &[(&str, &str)]) -> Observation {
        let mut obs = Observation {
            sampled: true,
            held_in_place: true,
            ..Observation::default()
        };
        for (oid, (name, kind, table)) in [("t", 'r', None), ("t_a_idx", 'i', Some("t"))]
            .into_iter()
            .enumerate()
        {
            obs.before.by_name.insert(
                name.to_string(),
                RelationInfo {
                    oid: oid as u32 + 1,
                    name: name.to_string(),
                    kind,
                    filenode: oid as u32 + 1,
                    table: table.map(str::to_string),
                },
            );
        }
        obs.after = obs.before.clone();
        obs.locks = locks
            .iter()
            .map(|(rel, mode)| ObservedLock {
                relation: rel.to_string(),
                oid: 0,
                mode: mode.to_string(),
                granted: true,
            })
            .collect();
        obs
    }

    fn on_index(form: StatementForm) -> (&'static LockFact, Operation) {
        let op = Operation {
            form: Some(form),
            index: Some(RelName::new(None, "t_a_idx")),
            ..Operation::default()
        };
        (pgdiplomat_locks::lookup(form, 15).unwrap(), op)
    }

    /// DROP/REINDEX CONCURRENTLY take ACCESS EXCLUSIVE on the (old) index at the very end, once
    /// no transaction can use it (PostgreSQL's `index_drop`): a sample that catches it agrees,
    /// one that does not agrees too, and the same mode on the table is still a disagreement.
    #[test]
    fn the_final_lock_on_a_dead_index_may_or_may_not_be_sampled() {
        for form in [
            StatementForm::ReindexConcurrently,
            StatementForm::DropIndexConcurrently,
        ] {
            let (fact, op) = on_index(form);
            let lucky = sampled(&[
                ("t", "ShareUpdateExclusiveLock"),
                ("t_a_idx", "AccessExclusiveLock"),
            ]);
            let details = compare(fact, &op, &lucky);
            let details: Vec<&String> = details
                .iter()
                .filter(|d| d.contains("): model says"))
                .collect();
            assert!(details.is_empty(), "{form:?}: {details:?}");
            let usual = sampled(&[
                ("t", "ShareUpdateExclusiveLock"),
                ("t_a_idx", "ShareUpdateExclusiveLock"),
            ]);
            let details = compare(fact, &op, &usual);
            assert!(
                !details.iter().any(|d| d.contains("): model says")),
                "{form:?}: {details:?}"
            );
            let wrong = sampled(&[
                ("t", "AccessExclusiveLock"),
                ("t_a_idx", "ShareUpdateExclusiveLock"),
            ]);
            assert!(
                compare(fact, &op, &wrong)
                    .iter()
                    .any(|d| d.starts_with("t (table): model says SHARE UPDATE EXCLUSIVE")),
                "{form:?}: {:?}",
                compare(fact, &op, &wrong)
            );
        }
    }
}
