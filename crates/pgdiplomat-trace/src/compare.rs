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

/// The partitions and inheritance children a recursing role reaches (none under ONLY).
fn descendants(
    op: &Operation,
    role: RelationRole,
) -> impl Iterator<Item = (&pgdiplomat_analysis::model::RelName, bool)> {
    op.descendants
        .iter()
        .flatten()
        .filter(move |(_, is_partition)| {
            !op.only && (role == RelationRole::Descendants || *is_partition)
        })
        .map(|(r, p)| (r, *p))
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
    /// Tables the statement may read besides its own (a foreign key's validation query reads
    /// the referenced table; the plan decides how).
    pub may_read: Vec<String>,
    /// The statement runs a query of the user's (DML, REFRESH): it reads what the plan reads.
    pub runs_query: bool,
    /// Relations the statement may lock up to a mode, if its plan reaches them (DML rows
    /// routed to partitions, a view's base tables, RI triggers on referencing tables).
    pub may_lock: BTreeMap<String, LockMode>,
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
        self.runs_query |= fact.scan == Scan::Query
            || fact.form == StatementForm::RefreshMaterializedViewConcurrently;
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
                        if fact.scan == Scan::Table {
                            self.may_read
                                .extend(op.referenced.iter().chain(&op.also_referenced).map(key));
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
                RelationRole::Descendants | RelationRole::Partitions => {
                    for (r, _) in descendants(op, role) {
                        self.lock(key(r), role, mode);
                    }
                }
                // Up to this mode, if the plan reaches them.
                role if role.may_lock() => {
                    for r in op.related(role).into_iter().flatten() {
                        let e = self.may_lock.entry(key(r)).or_insert(mode);
                        *e = (*e).max(mode);
                    }
                }
                // The schema-graph roles: the relations the schema resolved.
                _ => {
                    debug_assert!(role.from_schema_graph(), "{role:?} is not resolved here");
                    for r in op.related(role).into_iter().flatten() {
                        self.lock(key(r), role, mode);
                    }
                }
            }
        }
        // Relations of other roles the fact also scans or rewrites (the DEFAULT partition of
        // ATTACH, the referencing tables of a re-validated foreign key, what TRUNCATE CASCADE
        // empties).
        for &role in fact.also_scans.iter().chain(fact.also_rewrites) {
            let names: Vec<String> = match role {
                RelationRole::ReferencingTables => op.referencing.iter().map(key).collect(),
                RelationRole::ReferencedTable => op
                    .referenced
                    .iter()
                    .chain(&op.also_referenced)
                    .map(key)
                    .collect(),
                _ => op.related(role).into_iter().flatten().map(key).collect(),
            };
            for n in names {
                let rewrite = if fact.also_rewrites.contains(&role) {
                    Rewrite::Table
                } else {
                    Rewrite::No
                };
                let scan = if fact.also_scans.contains(&role) {
                    Scan::Table
                } else {
                    Scan::No
                };
                self.tables.push((n.clone(), rewrite, n, scan, None));
            }
        }
        // A recursing statement rewrites, scans and re-indexes each partition and child the
        // way it does the table itself.
        for role in [RelationRole::Descendants, RelationRole::Partitions] {
            if fact.lock_on(role).is_none() {
                continue;
            }
            let index_mode = fact.lock_on(RelationRole::AllIndexes);
            for (r, _) in descendants(op, role) {
                // A partition's own indexes are rebuilt (REINDEX of a partitioned table);
                // its heap is rewritten only by what recurses to children.
                let rewrite =
                    if role == RelationRole::Descendants || fact.rewrite == Rewrite::Indexes {
                        fact.rewrite
                    } else {
                        Rewrite::No
                    };
                // A sampled statement's scans are seen only on its main table (progress view):
                // a descendant's scan is neither required nor refused then.
                if obs.sampled && fact.scan == Scan::Table {
                    self.may_read.push(key(r));
                    // Its rewrite (REINDEX's rebuilt indexes) is still judged.
                    if rewrite != Rewrite::No {
                        self.tables
                            .push((key(r), rewrite, key(r), Scan::Query, None));
                    }
                    continue;
                }
                // A foreign child has no local rows: recursing to it reads and writes nothing
                // (the model's AlterForeignTableRows for a foreign table named directly).
                if obs
                    .before
                    .by_name
                    .get(&key(r))
                    .is_some_and(|rel| rel.kind == 'f')
                {
                    self.tables
                        .push((key(r), Rewrite::No, key(r), Scan::No, None));
                    continue;
                }
                self.tables.push((key(r), rewrite, key(r), fact.scan, None));
                if let Some(mode) = index_mode.filter(|_| role == RelationRole::Descendants) {
                    self.all_indexes.push((key(r), mode));
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
    // A relation that exists neither before nor after (DROP ... IF EXISTS of a missing one)
    // has nothing to lock.
    let exists =
        |name: &str| obs.before.by_name.contains_key(name) || obs.after.by_name.contains_key(name);
    for (name, (role, mode)) in &p.locks {
        if exists(name) || seen.contains_key(name) {
            expect(name, *role, *mode, &mut out);
        }
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
        // A partitioned index has no storage: only its partitions' indexes are rebuilt.
        let idx: Vec<String> = indexes_of(&obs.before, t)
            .filter(|i| obs.before.by_name.get(*i).is_some_and(|r| r.kind == 'i'))
            .map(str::to_string)
            .collect();
        for i in idx {
            if !p.locks.contains_key(&i) {
                expect(&i, RelationRole::AllIndexes, *mode, &mut out);
            }
        }
    }
    // Strong locks on pre-existing relations the application uses (tables, partitioned tables,
    // materialized views, views, sequences, foreign tables) that the model does not mention.
    for (name, mode) in &seen {
        let Some(rel) = obs.before.by_name.get(name) else {
            continue;
        };
        // On a sequence, ROW EXCLUSIVE is what every nextval() takes: it blocks no one.
        let harmless = if rel.kind == 'S' {
            LockMode::RowExclusive
        } else {
            LockMode::AccessShare
        };
        if matches!(rel.kind, 'r' | 'p' | 'm' | 'v' | 'S' | 'f')
            && *mode > harmless
            && !p.locks.contains_key(name)
            && p.may_lock.get(name).is_none_or(|m| mode > m)
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
    // Rewrites and scans of tables the model does not mention at all.
    let mentioned_targets: std::collections::BTreeSet<&str> = p
        .tables
        .iter()
        .flat_map(|(t, _, target, _, _)| [t.as_str(), target.as_str()])
        .chain(p.may_read.iter().map(String::as_str))
        .collect();
    for r in &obs.rewritten {
        let Some(rel) = obs.before.by_name.get(r) else {
            continue;
        };
        let owner = rel.table.as_deref().unwrap_or(r);
        if matches!(rel.kind, 'r' | 'm' | 'i') && !tables.contains_key(owner) {
            if rel.kind == 'i' {
                out.push(format!(
                    "{r} (an index of {owner}): rebuilt, which the model does not predict"
                ));
            } else {
                out.push(format!("{r}: rewritten, which the model does not predict"));
            }
        }
    }
    let query_reads = p.runs_query;
    // A sampled statement runs beside the transactions that hold it in place, and their reads
    // count in the same (global) scan counters: only the statement's own tables are judged.
    if obs.scans_observable && !query_reads && !obs.sampled {
        for (t, rows) in &obs.scanned {
            // A scan of an empty table costs nothing; a table created by the statement is new.
            if *rows > 0
                && obs.before.by_name.contains_key(t)
                && !mentioned_targets.contains(t.as_str())
            {
                out.push(format!(
                    "{t}: scanned ({rows} rows), which the model does not predict"
                ));
            }
        }
    }
    for (t, (rewrite, scans, named_indexes)) in tables {
        // A partitioned table has no storage of its own: its partitions are judged instead
        // (an ATTACH PARTITION's scan target, the partition, still is).
        let storage_less = obs.before.by_name.get(t).is_some_and(|r| r.kind == 'p');
        // A sequence is one row: ALTER SEQUENCE replacing its file is no rewrite that matters.
        let sequence = obs.before.by_name.get(t).is_some_and(|r| r.kind == 'S');
        let table_rewritten = obs.rewritten.iter().any(|r| r == t);
        let index_rewritten = indexes_of(&obs.before, t)
            .any(|i| obs.rewritten.iter().any(|r| r == i))
            || named_indexes
                .iter()
                .any(|i| obs.rewritten.iter().any(|r| r == i));
        match rewrite {
            _ if storage_less || sequence => {}
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
            if scan == Scan::Table || (scan == Scan::Query && *e == Scan::No) {
                *e = scan;
            }
        }
        for (target, scan) in targets {
            // A partitioned table (the parent, or a partitioned partition being attached) has
            // no storage: its partitions are judged instead.
            if obs
                .before
                .by_name
                .get(target)
                .is_some_and(|r| r.kind == 'p')
            {
                continue;
            }
            let scanned = obs.scanned_table(target, target == t);
            // A sampled statement whose progress was never seen may have scanned between two
            // samples (VACUUM of a small table): a missing scan is no evidence then.
            let unseen = obs.sampled && obs.phases.is_empty() && !obs.scanned.contains_key(target);
            match scan {
                Scan::Table if !scanned && !unseen => out.push(format!(
                    "{target}: model says the table is scanned, no scan observed"
                )),
                Scan::No if scanned && obs.scanned.get(target).copied().unwrap_or(1) > 0 => out
                    .push(format!(
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

    /// What the model does not mention is judged too: a strong lock on a view or sequence, a
    /// rewrite or a scan (of rows) of another table are disagreements; reading an empty table
    /// and a relation that never existed (IF EXISTS) are not.
    #[test]
    fn relations_the_model_does_not_mention_are_disagreements() {
        let mut obs = Observation {
            scans_observable: true,
            ..Observation::default()
        };
        for (oid, (name, kind)) in [
            ("t", 'r'),
            ("v", 'v'),
            ("s", 'S'),
            ("other", 'r'),
            ("empty", 'r'),
        ]
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
                    table: None,
                },
            );
        }
        obs.after = obs.before.clone();
        let lock = |rel: &str, mode: &str| ObservedLock {
            relation: rel.to_string(),
            oid: 0,
            mode: mode.to_string(),
            granted: true,
        };
        obs.locks = vec![
            lock("t", "AccessExclusiveLock"),
            lock("v", "AccessExclusiveLock"),
            lock("s", "ShareRowExclusiveLock"),
        ];
        obs.rewritten = vec!["other".to_string()];
        obs.scanned.insert("other".to_string(), 10);
        obs.scanned.insert("empty".to_string(), 0);
        let op = Operation {
            form: Some(StatementForm::DropColumn),
            table: Some(RelName::new(None, "t")),
            ..Operation::default()
        };
        let fact = pgdiplomat_locks::lookup(StatementForm::DropColumn, 15).unwrap();
        let details = compare(fact, &op, &obs);
        for expected in [
            "v: observed ACCESS EXCLUSIVE, which the model does not predict",
            "s: observed SHARE ROW EXCLUSIVE, which the model does not predict",
            "other: rewritten, which the model does not predict",
            "other: scanned (10 rows), which the model does not predict",
        ] {
            assert!(
                details.iter().any(|d| d == expected),
                "missing {expected:?} in {details:?}"
            );
        }
        assert!(
            !details.iter().any(|d| d.starts_with("empty")),
            "{details:?}"
        );
        assert_eq!(details.len(), 4, "{details:?}");
        // DROP TABLE IF EXISTS of a table that is not there locks nothing, and that agrees.
        let missing = Operation {
            form: Some(StatementForm::DropTable),
            table: Some(RelName::new(None, "gone")),
            ..Operation::default()
        };
        let fact = pgdiplomat_locks::lookup(StatementForm::DropTable, 15).unwrap();
        assert!(compare(fact, &missing, &Observation::default()).is_empty());
    }
}
