//! The catalog's dependency graph (`pg_depend`), read from a live database: which objects a
//! DROP takes with it, following PostgreSQL's `findDependentObjects`, and which relations that
//! locks. Only a database can tell it (a migration file names a function, not the triggers and
//! defaults that call it), so a run without `--database-url` has no graph and the model says
//! what CASCADE reaches is not known.
//!
//! What is locked, as `dependency.c` does it: every relation dropped (and every relation whose
//! column is dropped) gets ACCESS EXCLUSIVE (`AcquireDeletionLock`); a dropped constraint,
//! trigger, rule, column default or policy locks its table ACCESS EXCLUSIVE when removed
//! (`RemoveConstraintById`, `RemoveTriggerById`, ...); an index its table too (`index_drop`);
//! extended statistics their table SHARE UPDATE EXCLUSIVE (`RemoveStatisticsById`).

use std::collections::{BTreeMap, HashMap, HashSet};

use pgdiplomat_locks::LockMode;

use super::names::RelName;

/// Catalog OIDs (fixed in PostgreSQL's headers, the same on every version).
pub mod catalog {
    pub const PG_CLASS: u32 = 1259;
    pub const PG_TYPE: u32 = 1247;
    pub const PG_PROC: u32 = 1255;
    pub const PG_NAMESPACE: u32 = 2615;
    pub const PG_CONSTRAINT: u32 = 2606;
    pub const PG_TRIGGER: u32 = 2620;
    pub const PG_REWRITE: u32 = 2618;
    pub const PG_ATTRDEF: u32 = 2604;
    pub const PG_POLICY: u32 = 3256;
    pub const PG_STATISTIC_EXT: u32 = 3381;
    pub const PG_FOREIGN_SERVER: u32 = 1417;
    pub const PG_FOREIGN_DATA_WRAPPER: u32 = 2328;
    pub const PG_COLLATION: u32 = 3456;
    pub const PG_EXTENSION: u32 = 3079;
    pub const PG_LANGUAGE: u32 = 2612;
    pub const PG_PUBLICATION_REL: u32 = 6106;
    pub const PG_PUBLICATION: u32 = 6104;
}
use catalog::*;

/// One catalog object: its catalog's OID, its own OID, and a column number (0: the whole
/// object).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ObjectAddress {
    pub class: u32,
    pub oid: u32,
    pub sub: i32,
}

impl ObjectAddress {
    pub fn new(class: u32, oid: u32) -> Self {
        ObjectAddress { class, oid, sub: 0 }
    }
}

/// `pg_depend.deptype`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DependencyKind {
    /// `n`: dropped only by CASCADE; a RESTRICT drop fails.
    Normal,
    /// `a`, `P`, `S`: dropped with what it depends on.
    Automatic,
    /// `i`: part of what it depends on (a view's rule, a constraint's index): dropping it
    /// drops its owner.
    Internal,
    /// `e`: a member of an extension (dropped by DROP EXTENSION only).
    Extension,
}

impl DependencyKind {
    pub fn from_deptype(c: char) -> Option<Self> {
        match c {
            'n' => Some(Self::Normal),
            'a' | 'P' | 'S' => Some(Self::Automatic),
            'i' => Some(Self::Internal),
            'e' => Some(Self::Extension),
            _ => None,
        }
    }
}

/// The kinds of named objects a DROP statement can name, for [`DependencyGraph::lookup`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum NamedKind {
    Schema,
    /// Types and domains (`pg_type`).
    Type,
    /// Functions, procedures and aggregates (`pg_proc`).
    Routine,
    Statistics,
    /// Relations (`pg_class`): tables, views, sequences, foreign tables, ...
    Relation,
    Server,
    ForeignDataWrapper,
    Collation,
    Extension,
    Language,
    Publication,
}

#[derive(Debug, Clone)]
struct Edge {
    dependent: ObjectAddress,
    /// The column of the referenced object the dependency is on (0: the whole object).
    referenced_sub: i32,
    kind: DependencyKind,
}

#[derive(Debug, Clone)]
struct Relation {
    name: RelName,
    /// `pg_class.relkind`.
    kind: char,
    /// The table of an index.
    index_of: Option<u32>,
}

#[derive(Debug, Clone)]
struct Named {
    address: ObjectAddress,
    /// Argument count of a routine.
    args: Option<usize>,
}

/// What a DROP takes with it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DropReach {
    /// Every relation the application uses that is locked (tables, views, materialized views,
    /// sequences, foreign tables; an index counts as a lock on its table), with the strongest
    /// mode, in name order.
    pub locks: Vec<(RelName, LockMode)>,
    /// A RESTRICT drop that PostgreSQL refuses: the first dependent it names.
    pub refused_by: Option<String>,
}

/// `pg_depend` for the user's objects, with what is needed to name what a drop locks.
#[derive(Debug, Clone, Default)]
pub struct DependencyGraph {
    dependents: HashMap<(u32, u32), Vec<Edge>>,
    relations: HashMap<u32, Relation>,
    /// A constraint, trigger, rule, default, policy, statistics object or publication
    /// membership → the relation it belongs to.
    owners: HashMap<(u32, u32), u32>,
    names: HashMap<(NamedKind, String), Vec<Named>>,
    /// An object that is part of another (internal dependency) → that owner.
    internal_owner: HashMap<(u32, u32), ObjectAddress>,
    /// Role name → the objects of this database it owns (`pg_shdepend`).
    owned: HashMap<String, Vec<ObjectAddress>>,
}

impl DependencyGraph {
    /// A `pg_depend` row: `dependent` depends on (`referenced`, its column `referenced_sub`).
    pub fn learn_dependency(
        &mut self,
        dependent: ObjectAddress,
        referenced: (u32, u32),
        referenced_sub: i32,
        kind: DependencyKind,
    ) {
        if kind == DependencyKind::Internal && dependent.sub == 0 {
            self.internal_owner.insert(
                (dependent.class, dependent.oid),
                ObjectAddress {
                    class: referenced.0,
                    oid: referenced.1,
                    sub: referenced_sub,
                },
            );
        }
        self.dependents.entry(referenced).or_default().push(Edge {
            dependent,
            referenced_sub,
            kind,
        });
    }

    /// A relation (`pg_class` row): its name, its `relkind` and, for an index, its table.
    pub fn learn_relation(&mut self, oid: u32, name: RelName, kind: char, index_of: Option<u32>) {
        self.learn_name(
            NamedKind::Relation,
            &name,
            ObjectAddress::new(PG_CLASS, oid),
            None,
        );
        self.relations.insert(
            oid,
            Relation {
                name,
                kind,
                index_of,
            },
        );
    }

    /// An object that belongs to a relation (`pg_constraint.conrelid`, `pg_trigger.tgrelid`,
    /// ...).
    pub fn learn_owner(&mut self, object: (u32, u32), relation: u32) {
        self.owners.insert(object, relation);
    }

    /// A named object DROP can name: `name` is `schema.name` for objects in a schema.
    pub fn learn_name(
        &mut self,
        kind: NamedKind,
        name: &RelName,
        address: ObjectAddress,
        args: Option<usize>,
    ) {
        self.names
            .entry((kind, name.key()))
            .or_default()
            .push(Named { address, args });
    }

    /// The object DROP names: `schema.name` exactly, an unqualified name in `public` or else
    /// in the one schema that has it; a routine by its argument count when given. `None`
    /// when not known or ambiguous.
    pub fn lookup(
        &self,
        kind: NamedKind,
        name: &RelName,
        args: Option<usize>,
    ) -> Option<ObjectAddress> {
        let pick = |v: &Vec<Named>| -> Option<ObjectAddress> {
            let fits: Vec<&Named> = v
                .iter()
                .filter(|n| args.is_none() || n.args.is_none() || n.args == args)
                .collect();
            (fits.len() == 1).then(|| fits[0].address)
        };
        if name.schema.is_some()
            || matches!(
                kind,
                NamedKind::Schema
                    | NamedKind::Server
                    | NamedKind::ForeignDataWrapper
                    | NamedKind::Extension
                    | NamedKind::Language
                    | NamedKind::Publication
            )
        {
            return self.names.get(&(kind, name.key())).and_then(pick);
        }
        if let Some(v) = self
            .names
            .get(&(kind, RelName::new(Some("public"), &name.name).key()))
        {
            return pick(v);
        }
        let mut found = self
            .names
            .iter()
            .filter(|((k, key), _)| {
                *k == kind && key.rsplit_once('.').is_some_and(|(_, n)| n == name.name)
            })
            .map(|(_, v)| v);
        match (found.next(), found.next()) {
            (Some(v), None) => pick(v),
            _ => None,
        }
    }

    /// An object of this database owned by `role`.
    pub fn learn_owned(&mut self, role: &str, object: ObjectAddress) {
        self.owned.entry(role.to_string()).or_default().push(object);
    }

    /// The objects `role` owns (none when the graph knows none).
    pub fn owned_by(&self, role: &str) -> &[ObjectAddress] {
        self.owned.get(role).map(Vec::as_slice).unwrap_or_default()
    }

    /// The relations the application uses among `objects` (tables, views, materialized
    /// views, sequences, foreign tables), in name order.
    pub fn relations_among(&self, objects: &[ObjectAddress]) -> Vec<RelName> {
        let mut out: Vec<RelName> = objects
            .iter()
            .filter(|o| o.class == PG_CLASS)
            .filter_map(|o| self.relations.get(&o.oid))
            .filter(|r| !matches!(r.kind, 'i' | 'I' | 'c' | 't'))
            .map(|r| r.name.clone())
            .collect();
        out.sort_by_key(|r| r.key());
        out.dedup();
        out
    }

    /// The relation `oid` names, when the graph knows it.
    pub fn relation(&self, oid: u32) -> Option<&RelName> {
        self.relations.get(&oid).map(|r| &r.name)
    }

    /// The tables publication `publication` lists by name (its `pg_publication_rel` rows).
    pub fn publication_tables(&self, publication: ObjectAddress) -> Vec<RelName> {
        let mut out: Vec<RelName> = self
            .dependents
            .get(&(publication.class, publication.oid))
            .into_iter()
            .flatten()
            .filter(|e| e.dependent.class == PG_PUBLICATION_REL)
            .filter_map(|e| self.owner(e.dependent).cloned())
            .collect();
        out.sort_by_key(|r| r.key());
        out.dedup();
        out
    }

    /// The relation an object belongs to (the table of a statistics object, ...).
    pub fn owner(&self, object: ObjectAddress) -> Option<&RelName> {
        self.owners
            .get(&(object.class, object.oid))
            .and_then(|oid| self.relation(*oid))
    }

    /// What dropping `targets` takes with it (`findDependentObjects`): everything that
    /// depends on them automatically, and with `cascade` everything that depends on them at
    /// all, recursively; and the relations that locks.
    pub fn drop_reach(&self, targets: &[ObjectAddress], cascade: bool) -> DropReach {
        let mut seen: HashSet<ObjectAddress> = HashSet::new();
        let mut stack: Vec<ObjectAddress> = targets.to_vec();
        let mut pending: Vec<ObjectAddress> = Vec::new();
        while let Some(obj) = stack.pop() {
            if !seen.insert(obj) {
                continue;
            }
            for e in self
                .dependents
                .get(&(obj.class, obj.oid))
                .into_iter()
                .flatten()
            {
                // A dependency on another column of a relation whose one column is dropped.
                if obj.sub != 0 && e.referenced_sub != obj.sub {
                    continue;
                }
                // A relation's own columns are part of it.
                if e.dependent.class == obj.class && e.dependent.oid == obj.oid {
                    continue;
                }
                match e.kind {
                    DependencyKind::Automatic | DependencyKind::Internal => {}
                    DependencyKind::Extension if obj.class == PG_EXTENSION => {}
                    DependencyKind::Extension => continue,
                    DependencyKind::Normal if cascade => {}
                    DependencyKind::Normal => {
                        // Refused unless the dependent goes anyway (the relation's own rule).
                        pending.push(e.dependent);
                        continue;
                    }
                }
                stack.push(e.dependent);
                // Dropping part of an object (a view's rule) drops the object (the view).
                if let Some(owner) = self
                    .internal_owner
                    .get(&(e.dependent.class, e.dependent.oid))
                {
                    if (owner.class, owner.oid) != (obj.class, obj.oid) {
                        stack.push(*owner);
                    }
                }
            }
        }
        let dropped =
            |o: &ObjectAddress| seen.contains(o) || seen.contains(&ObjectAddress { sub: 0, ..*o });
        let refused_by = pending
            .iter()
            .find(|o| !dropped(o))
            .map(|o| self.describe(*o));
        let mut locks: BTreeMap<String, (RelName, LockMode)> = BTreeMap::new();
        let mut lock = |oid: u32, mode: LockMode| {
            if let Some(r) = self
                .relations
                .get(&oid)
                .filter(|r| !matches!(r.kind, 'i' | 'I' | 'c' | 't'))
            {
                let e = locks
                    .entry(r.name.key())
                    .or_insert_with(|| (r.name.clone(), mode));
                e.1 = e.1.max(mode);
            }
        };
        for obj in &seen {
            match obj.class {
                PG_CLASS => {
                    lock(obj.oid, LockMode::AccessExclusive);
                    if obj.sub == 0 {
                        if let Some(table) = self.relations.get(&obj.oid).and_then(|r| r.index_of) {
                            lock(table, LockMode::AccessExclusive);
                        }
                    }
                }
                PG_STATISTIC_EXT => {
                    if let Some(rel) = self.owners.get(&(obj.class, obj.oid)) {
                        lock(*rel, LockMode::ShareUpdateExclusive);
                    }
                }
                PG_PUBLICATION_REL => {}
                _ => {
                    if let Some(rel) = self.owners.get(&(obj.class, obj.oid)) {
                        lock(*rel, LockMode::AccessExclusive);
                    }
                }
            }
        }
        DropReach {
            locks: locks.into_values().collect(),
            refused_by: if cascade { None } else { refused_by },
        }
    }

    fn describe(&self, obj: ObjectAddress) -> String {
        let owner = self.owners.get(&(obj.class, obj.oid)).copied();
        match (
            obj.class,
            self.relations.get(&obj.oid),
            owner.and_then(|o| self.relations.get(&o)),
        ) {
            (PG_CLASS, Some(r), _) if obj.sub != 0 => format!("a column of {}", r.name),
            (PG_CLASS, Some(r), _) => r.name.to_string(),
            (_, _, Some(r)) => format!("an object of {}", r.name),
            _ => "another object".to_string(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rel(n: &str) -> RelName {
        RelName::new(Some("public"), n)
    }

    /// A function used by a trigger and by a column default: RESTRICT is refused, CASCADE
    /// drops the trigger and the default and locks both tables; a view on a dropped column
    /// goes too, a view on another column does not.
    #[test]
    fn cascade_follows_dependents_to_the_tables_it_locks() {
        let mut g = DependencyGraph::default();
        g.learn_relation(100, rel("t"), 'r', None);
        g.learn_relation(101, rel("t_a_idx"), 'i', Some(100));
        g.learn_relation(200, rel("u"), 'r', None);
        g.learn_relation(300, rel("v_a"), 'v', None);
        g.learn_relation(301, rel("v_b"), 'v', None);
        let f = ObjectAddress::new(PG_PROC, 10);
        g.learn_name(NamedKind::Routine, &rel("f"), f, Some(0));
        // trigger 20 on t calls f; default 30 of u calls f
        g.learn_owner((PG_TRIGGER, 20), 100);
        g.learn_dependency(
            ObjectAddress::new(PG_TRIGGER, 20),
            (PG_PROC, 10),
            0,
            DependencyKind::Normal,
        );
        g.learn_owner((PG_ATTRDEF, 30), 200);
        g.learn_dependency(
            ObjectAddress::new(PG_ATTRDEF, 30),
            (PG_PROC, 10),
            0,
            DependencyKind::Normal,
        );
        // index on t(a) and views' rules on t's columns 1 and 2
        g.learn_dependency(
            ObjectAddress::new(PG_CLASS, 101),
            (PG_CLASS, 100),
            1,
            DependencyKind::Automatic,
        );
        g.learn_owner((PG_REWRITE, 40), 300);
        g.learn_dependency(
            ObjectAddress::new(PG_REWRITE, 40),
            (PG_CLASS, 100),
            1,
            DependencyKind::Normal,
        );
        g.learn_owner((PG_REWRITE, 41), 301);
        g.learn_dependency(
            ObjectAddress::new(PG_REWRITE, 41),
            (PG_CLASS, 100),
            2,
            DependencyKind::Normal,
        );
        g.learn_dependency(
            ObjectAddress::new(PG_REWRITE, 40),
            (PG_CLASS, 300),
            0,
            DependencyKind::Internal,
        );
        // v_on_v reads v_a: dropping v_a's rule drops v_a, and so v_on_v
        g.learn_relation(302, rel("v_on_v"), 'v', None);
        g.learn_owner((PG_REWRITE, 42), 302);
        g.learn_dependency(
            ObjectAddress::new(PG_REWRITE, 42),
            (PG_CLASS, 302),
            0,
            DependencyKind::Internal,
        );
        g.learn_dependency(
            ObjectAddress::new(PG_REWRITE, 42),
            (PG_CLASS, 300),
            0,
            DependencyKind::Normal,
        );

        assert_eq!(
            g.lookup(NamedKind::Routine, &RelName::new(None, "f"), None),
            Some(f)
        );
        let restrict = g.drop_reach(&[f], false);
        assert!(restrict.refused_by.is_some());
        assert!(restrict.locks.is_empty());
        let cascade = g.drop_reach(&[f], true);
        let names: Vec<String> = cascade.locks.iter().map(|(r, _)| r.key()).collect();
        assert_eq!(names, ["t", "u"]);
        // Dropping column 1 of t takes the index and the view reading column 1 only.
        let col = ObjectAddress {
            class: PG_CLASS,
            oid: 100,
            sub: 1,
        };
        let reach = g.drop_reach(&[col], true);
        let names: Vec<String> = reach.locks.iter().map(|(r, _)| r.key()).collect();
        assert_eq!(
            names,
            ["t", "v_a", "v_on_v"],
            "the index counts as a lock on its table; a view on the dropped view goes too"
        );
        assert!(reach
            .locks
            .iter()
            .all(|(_, m)| *m == LockMode::AccessExclusive));
    }

    /// Statistics lock their table SHARE UPDATE EXCLUSIVE; extension members go only with
    /// their extension; an unqualified name found in two schemas other than public is
    /// ambiguous.
    #[test]
    fn statistics_extensions_and_ambiguous_names() {
        let mut g = DependencyGraph::default();
        g.learn_relation(100, RelName::new(Some("a"), "t"), 'r', None);
        g.learn_relation(200, RelName::new(Some("b"), "t"), 'r', None);
        let st = ObjectAddress::new(PG_STATISTIC_EXT, 5);
        g.learn_owner((PG_STATISTIC_EXT, 5), 100);
        let reach = g.drop_reach(&[st], false);
        assert_eq!(
            reach.locks,
            vec![(RelName::new(Some("a"), "t"), LockMode::ShareUpdateExclusive)]
        );
        let ext = ObjectAddress::new(PG_EXTENSION, 7);
        let member = ObjectAddress::new(PG_CLASS, 200);
        g.learn_dependency(member, (PG_EXTENSION, 7), 0, DependencyKind::Extension);
        g.learn_dependency(member, (PG_CLASS, 100), 0, DependencyKind::Extension);
        assert_eq!(g.drop_reach(&[ext], false).locks.len(), 1);
        assert!(
            g.drop_reach(&[ObjectAddress::new(PG_CLASS, 100)], true)
                .locks
                .len()
                == 1
        );
        assert_eq!(
            g.lookup(NamedKind::Relation, &RelName::new(None, "t"), None),
            None
        );
        assert!(g
            .lookup(NamedKind::Relation, &RelName::new(Some("b"), "t"), None)
            .is_some());
    }
}
