//! What the run has learned about the schema so far: tables created by earlier statements or
//! files (new and empty, so operations on them are safe), their columns and types, their
//! constraints (validated or not) and indexes.

use std::collections::HashMap;

use pg_query::protobuf::{self, AlterTableType, ConstrType, ObjectType};
use pg_query::NodeEnum;

use super::expr::{column_refs, not_null_check_columns};
use super::implication::{bound_implied, PartitionKey};
use super::names::{index_column_names, make_object_name, name_addition, string_list, RelName};
use super::types::ColumnType;

#[derive(Debug, Clone, Default)]
pub struct SchemaState {
    tables: HashMap<String, TableState>,
    /// index key → table key
    indexes: HashMap<String, IndexState>,
    /// Other relations created by this run (sequences, views): nothing uses them yet.
    other_created: std::collections::HashSet<String>,
    /// Views and materialized views per relation they read (relation key → views, each with
    /// the columns it uses, empty when not known): what CASCADE reaches.
    views: HashMap<String, Vec<(RelName, Vec<String>)>>,
    /// Domains by name (unqualified, lower case).
    domains: HashMap<String, DomainState>,
    /// The session TimeZone, when known (from the database, or `SET TimeZone` in the run).
    timezone: Option<String>,
    /// User functions by name: whether some overload is volatile.
    functions: HashMap<String, bool>,
    /// How many known constraints of each schema have each name (for choosing new names).
    names: NameCounts,
    /// The catalog's dependency graph, when read from a database: what a DROP takes with it.
    depend: Option<std::sync::Arc<super::depend::DependencyGraph>>,
    /// Extended statistics objects (key) → the table they are on.
    statistics: HashMap<String, RelName>,
    /// Where a table or index lives: its tablespace and (tables) access method, when known.
    placement: HashMap<String, Placement>,
}

/// A relation's tablespace and access method, each when known.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Placement {
    pub tablespace: Option<String>,
    pub access_method: Option<String>,
}

/// Constraint names per schema: how many constraints have the name, and how many of them are
/// backed by an index of that name (unique, primary key, exclusion).
#[derive(Debug, Clone, Default)]
struct NameCounts(HashMap<(String, String), [u32; 2]>);

impl NameCounts {
    fn change(&mut self, ns: &str, name: &str, kind: ConstraintKind, add: bool) {
        let key = (ns.to_string(), name.to_string());
        let e = self.0.entry(key.clone()).or_default();
        let indexed = matches!(
            kind,
            ConstraintKind::Unique | ConstraintKind::PrimaryKey | ConstraintKind::Exclude
        );
        for (i, on) in [(0, true), (1, indexed)] {
            if on {
                e[i] = if add {
                    e[i] + 1
                } else {
                    e[i].saturating_sub(1)
                };
            }
        }
        if e == &[0, 0] {
            self.0.remove(&key);
        }
    }
    fn add_table(&mut self, ns: &str, t: &TableState) {
        for (n, c) in &t.constraints {
            self.change(ns, n, c.kind, true);
        }
    }
    fn remove_table(&mut self, ns: &str, t: &TableState) {
        for (n, c) in &t.constraints {
            self.change(ns, n, c.kind, false);
        }
    }
    fn get(&self, ns: &str, name: &str) -> [u32; 2] {
        self.0
            .get(&(ns.to_string(), name.to_string()))
            .copied()
            .unwrap_or_default()
    }
}

/// The schema part of a table key (`""` for `public` or none).
fn ns_of(table: &RelName) -> &str {
    match table.schema.as_deref() {
        None | Some("public") => "",
        Some(s) => s,
    }
}

#[derive(Debug, Clone, Default)]
pub struct TableState {
    /// Created by this run: new and empty as far as the migration is concerned.
    pub created_in_run: bool,
    pub partitioned: bool,
    /// Whether the run knows what kind of table this is (created in the run, or read from a
    /// database): only then does `partitioned == false` mean "not partitioned".
    pub kind_known: bool,
    /// The partitions of a partitioned table, as far as the run knows them.
    pub partitions: Vec<RelName>,
    /// The partitioned table this one is a partition of.
    pub parent: Option<RelName>,
    /// Tables that inherit from this one (plain inheritance, not partitions).
    pub children: Vec<RelName>,
    /// The DEFAULT partition of a partitioned table.
    pub default_partition: Option<RelName>,
    /// The partition key of a partitioned table, when it is one plain column.
    pub partition_key: Option<PartitionKey>,
    /// A foreign table: its rows are remote, nothing local is scanned or rewritten.
    pub foreign: bool,
    /// The database says the table has no row (its heap has no page).
    pub known_empty: bool,
    /// Created in the run with rows (CREATE TABLE AS, SELECT INTO): new and unused, but work
    /// on it takes as long as on any table of its size.
    pub populated: bool,
    pub columns: HashMap<String, ColumnState>,
    pub constraints: HashMap<String, ConstraintState>,
}

#[derive(Debug, Clone, Default)]
pub struct ColumnState {
    pub ty: Option<ColumnType>,
    pub not_null: bool,
    /// The sequence the column owns (serial, identity).
    pub sequence: Option<RelName>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConstraintKind {
    Check,
    ForeignKey,
    Unique,
    PrimaryKey,
    Exclude,
    NotNull,
}

#[derive(Debug, Clone)]
pub struct ConstraintState {
    pub kind: ConstraintKind,
    pub validated: bool,
    /// For `CHECK (col IS NOT NULL)`: the column it proves NOT NULL.
    pub proves_not_null: Vec<String>,
    /// A CHECK constraint's expression (what an ATTACH PARTITION bound may be proven by).
    pub check: Option<protobuf::Node>,
    pub referenced: Option<RelName>,
    /// For a foreign key: the referenced columns (empty when it names none: the primary key).
    pub referenced_columns: Vec<String>,
    /// The table's columns the constraint uses (its keys, or the columns of a CHECK).
    pub columns: Vec<String>,
}

/// A domain: its base type, whether it has constraints (CHECK or NOT NULL), whether its own
/// default is volatile.
#[derive(Debug, Clone, Default)]
pub struct DomainState {
    pub base: Option<ColumnType>,
    pub constrained: bool,
    pub volatile_default: bool,
}

#[derive(Debug, Clone, Default)]
pub struct IndexState {
    pub table: Option<RelName>,
    pub created_in_run: bool,
    /// The columns the index uses: keys, expressions and predicate.
    pub columns: Vec<String>,
    /// Some key is an expression, or the index is partial: PostgreSQL then rebuilds it on any
    /// type change of its columns (CheckIndexCompatible does not compare expressions or
    /// predicates), binary coercible or not.
    pub expression_or_predicate: bool,
    /// The access method (`btree`, `gin`, ...), when known.
    pub method: Option<String>,
}

impl SchemaState {
    /// Records a column of a table that exists in the database (not created by this run).
    pub fn learn_existing_column(
        &mut self,
        table: &RelName,
        column: &str,
        ty: Option<ColumnType>,
        not_null: bool,
    ) {
        let t = self.table_mut(table);
        let c = t.columns.entry(column.to_string()).or_default();
        c.ty = ty;
        c.not_null = not_null;
    }

    /// Records the sequence a column of the database owns (serial, identity).
    pub fn learn_owned_sequence(&mut self, table: &RelName, column: &str, sequence: &RelName) {
        let t = self.table_mut(table);
        t.columns.entry(column.to_string()).or_default().sequence = Some(sequence.clone());
    }

    /// Records that `view` (a view or materialized view) reads `relation`, using `columns`
    /// of it (empty: not known which).
    pub fn learn_view_dependency(
        &mut self,
        relation: &RelName,
        view: &RelName,
        columns: Vec<String>,
    ) {
        let e = self.views.entry(relation.key()).or_default();
        match e.iter_mut().find(|(v, _)| v.key() == view.key()) {
            Some((_, cols)) => {
                for c in columns {
                    if !cols.contains(&c) {
                        cols.push(c);
                    }
                }
            }
            None => e.push((view.clone(), columns)),
        }
    }

    /// Records a domain of the database (or created by the run).
    pub fn learn_domain(&mut self, name: &str, domain: DomainState) {
        self.domains.insert(name.to_ascii_lowercase(), domain);
    }

    /// The domain called `name`, when the run knows one.
    pub fn domain(&self, name: &str) -> Option<&DomainState> {
        self.domains.get(&name.to_ascii_lowercase())
    }

    /// The tables with a column of domain `name`, when the run knows the domain (created in
    /// the run or read from the database): the users it has seen.
    pub fn domain_users(&self, name: &str) -> Option<Vec<RelName>> {
        self.domain(name)?;
        let name = name.to_ascii_lowercase();
        let mut out: Vec<RelName> = self
            .tables
            .iter()
            .filter(|(_, t)| {
                t.columns.values().any(|c| {
                    c.ty.as_ref()
                        .is_some_and(|ty| ty.name.eq_ignore_ascii_case(&name))
                })
            })
            .filter_map(|(k, _)| rel_of_key(k))
            .collect();
        out.sort_by_key(|r| r.key());
        Some(out)
    }

    /// The relations a view (or materialized view) reads, recursively through views on
    /// views; `None` when the run knows no view of that name.
    pub fn view_bases(&self, view: &RelName) -> Option<Vec<RelName>> {
        let key = view.key();
        let direct = |v: &str| -> Vec<RelName> {
            self.views
                .iter()
                .filter(|(_, vs)| vs.iter().any(|(x, _)| x.key() == v))
                .filter_map(|(k, _)| rel_of_key(k))
                .collect()
        };
        let first = direct(&key);
        if first.is_empty() {
            return None;
        }
        let mut out: Vec<RelName> = Vec::new();
        let mut stack = first;
        while let Some(r) = stack.pop() {
            if out.contains(&r) {
                continue;
            }
            stack.extend(direct(&r.key()));
            out.push(r);
        }
        out.sort_by_key(|r| r.key());
        Some(out)
    }

    /// Records a user function (from the database, or CREATE FUNCTION in the run): whether an
    /// overload of that name is volatile.
    pub fn learn_function(&mut self, name: &str, volatile: bool) {
        let e = self.functions.entry(name.to_string()).or_insert(false);
        *e |= volatile;
    }

    /// Whether the user function `name` may be volatile; `None` when the run knows none.
    pub fn function_is_volatile(&self, name: &str) -> Option<bool> {
        self.functions.get(name).copied()
    }

    /// Records the session TimeZone (read from the database, or set by the run).
    pub fn learn_timezone(&mut self, tz: &str) {
        self.timezone = Some(tz.to_string());
    }

    /// Whether the session TimeZone is UTC (then timestamp ↔ timestamptz keeps every stored
    /// value); `None` when not known.
    pub fn timezone_is_utc(&self) -> Option<bool> {
        let tz = self
            .timezone
            .as_deref()?
            .trim()
            .trim_matches('\'')
            .to_ascii_lowercase();
        Some(matches!(
            tz.as_str(),
            "utc"
                | "etc/utc"
                | "gmt"
                | "etc/gmt"
                | "uct"
                | "etc/uct"
                | "zulu"
                | "etc/zulu"
                | "universal"
                | "etc/universal"
                | "z"
                | "gmt0"
                | "etc/gmt0"
                | "gmt+0"
                | "gmt-0"
                | "etc/gmt+0"
                | "etc/gmt-0"
                | "greenwich"
                | "etc/greenwich"
                | "0"
        ))
    }

    /// Records the DEFAULT partition of a partitioned table.
    pub fn learn_default_partition(&mut self, parent: &RelName, partition: &RelName) {
        self.learn_partition(parent, partition);
        self.table_mut(parent).default_partition = Some(partition.clone());
    }

    /// The DEFAULT partition of `parent`: `Some(None)` when the run knows it has none, `None`
    /// when the run does not know the table.
    pub fn default_partition(&self, parent: &RelName) -> Option<Option<RelName>> {
        let t = self.table(parent)?;
        (t.kind_known || t.default_partition.is_some()).then(|| t.default_partition.clone())
    }

    /// The indexes using `column` of `table`, each with whether it has expressions; `None`
    /// when the run does not know the table's indexes.
    pub fn column_indexes(&self, table: &RelName, column: &str) -> Option<Vec<(RelName, bool)>> {
        let t = self.table(table)?;
        t.kind_known
            .then(|| self.known_column_indexes(table, column))
    }

    /// The indexes using `column` of `table` that the run knows of (maybe not all of them).
    pub fn known_column_indexes(&self, table: &RelName, column: &str) -> Vec<(RelName, bool)> {
        let key = table.key();
        let mut out: Vec<(RelName, bool)> = self
            .indexes
            .iter()
            .filter(|(_, i)| i.table.as_ref().is_some_and(|t| t.key() == key))
            .filter(|(_, i)| i.columns.iter().any(|c| c == column))
            .map(|(k, i)| (index_rel(k, table), i.expression_or_predicate))
            .collect();
        out.sort_by_key(|(r, _)| r.key());
        out
    }

    /// Whether a validated CHECK constraint of `table` uses `column`.
    pub fn column_has_check(&self, table: &RelName, column: &str) -> bool {
        self.table(table).is_some_and(|t| {
            t.constraints.values().any(|c| {
                c.kind == ConstraintKind::Check
                    && c.validated
                    && c.columns.iter().any(|x| x == column)
            })
        })
    }

    /// Every table the foreign keys of `table` reference, in a stable order.
    pub fn foreign_key_targets(&self, table: &RelName) -> Vec<RelName> {
        let mut out: Vec<RelName> = self
            .table(table)
            .map(|t| {
                t.constraints
                    .values()
                    .filter(|c| c.kind == ConstraintKind::ForeignKey)
                    .filter_map(|c| c.referenced.clone())
                    .collect()
            })
            .unwrap_or_default();
        out.sort_by_key(|r| r.key());
        out.dedup();
        out
    }

    /// Tables referenced by the foreign keys of `table` that include `column`.
    pub fn referenced_by_column(&self, table: &RelName, column: &str) -> Vec<RelName> {
        let mut out: Vec<RelName> = Vec::new();
        if let Some(t) = self.table(table) {
            for c in t.constraints.values() {
                if c.kind == ConstraintKind::ForeignKey && c.columns.iter().any(|x| x == column) {
                    if let Some(r) = &c.referenced {
                        if !out.contains(r) {
                            out.push(r.clone());
                        }
                    }
                }
            }
        }
        out
    }

    /// The sequences owned by `table`'s columns (`column`: only that one's).
    pub fn owned_sequences(&self, table: &RelName, column: Option<&str>) -> Option<Vec<RelName>> {
        let t = self.table(table)?;
        let column_seq = column
            .and_then(|c| t.columns.get(c))
            .and_then(|c| c.sequence.clone());
        if !t.kind_known {
            // A column the run saw get its sequence (ADD COLUMN ... serial / identity).
            return column_seq.map(|s| vec![s]);
        }
        let mut out: Vec<RelName> = t
            .columns
            .iter()
            .filter(|(n, _)| column.is_none_or(|c| c == n.as_str()))
            .filter_map(|(_, c)| c.sequence.clone())
            .collect();
        out.sort_by_key(|r| r.key());
        Some(out)
    }

    /// Views and materialized views reading `relation` (using `column`, when given),
    /// recursively (views on those views).
    pub fn dependent_views(&self, relation: &RelName, column: Option<&str>) -> Vec<RelName> {
        let mut out: Vec<RelName> = Vec::new();
        let mut stack: Vec<(RelName, Option<String>)> =
            vec![(relation.clone(), column.map(String::from))];
        while let Some((r, col)) = stack.pop() {
            for (v, cols) in self.views.get(&r.key()).into_iter().flatten() {
                let uses = match &col {
                    Some(c) => cols.is_empty() || cols.contains(c),
                    None => true,
                };
                if uses && !out.contains(v) {
                    out.push(v.clone());
                    stack.push((v.clone(), None));
                }
            }
        }
        out.sort_by_key(|r| r.key());
        out
    }

    /// The table owning an index-backed constraint (primary key, unique, exclusion) called
    /// `name` in the schema of `index`: that index belongs to the constraint.
    pub fn constraint_owning_index(&self, index: &RelName) -> Option<RelName> {
        let ns = ns_of(index);
        self.tables
            .iter()
            .filter(|(k, _)| rel_of_key(k).is_some_and(|r| ns_of(&r) == ns))
            .find(|(_, t)| {
                t.constraints.get(&index.name).is_some_and(|c| {
                    matches!(
                        c.kind,
                        ConstraintKind::PrimaryKey
                            | ConstraintKind::Unique
                            | ConstraintKind::Exclude
                    )
                })
            })
            .and_then(|(k, _)| rel_of_key(k))
    }

    /// Views and materialized views known to use `column` of `relation` (only those whose
    /// columns are known: read from the database).
    pub fn views_using_column(&self, relation: &RelName, column: &str) -> Vec<RelName> {
        let mut out: Vec<RelName> = self
            .views
            .get(&relation.key())
            .into_iter()
            .flatten()
            .filter(|(_, cols)| cols.iter().any(|c| c == column))
            .map(|(v, _)| v.clone())
            .collect();
        out.sort_by_key(|r| r.key());
        out
    }

    /// Tables with a foreign key to `table` (any column), recursively when `recursive`
    /// (TRUNCATE ... CASCADE reaches the referencing tables of the referencing tables).
    pub fn all_referencing_tables(&self, table: &RelName, recursive: bool) -> Vec<RelName> {
        let mut out: Vec<RelName> = Vec::new();
        let mut stack = vec![table.clone()];
        while let Some(x) = stack.pop() {
            let key = x.key();
            let mut found: Vec<RelName> = self
                .tables
                .iter()
                .filter(|(_, t)| {
                    t.constraints.values().any(|c| {
                        c.kind == ConstraintKind::ForeignKey
                            && c.referenced.as_ref().is_some_and(|r| r.key() == key)
                    })
                })
                .filter_map(|(k, _)| rel_of_key(k))
                .collect();
            found.sort_by_key(|r| r.key());
            for f in found {
                if f.key() != table.key() && !out.contains(&f) {
                    out.push(f.clone());
                    if recursive {
                        stack.push(f);
                    }
                }
            }
        }
        out.sort_by_key(|r| r.key());
        out
    }

    #[allow(clippy::too_many_arguments)]
    /// Records a constraint that exists in the database. `definition` is what
    /// `pg_get_constraintdef` prints (e.g. `CHECK ((a IS NOT NULL))`).
    pub fn learn_existing_constraint(
        &mut self,
        table: &RelName,
        name: &str,
        kind: ConstraintKind,
        validated: bool,
        definition: &str,
        referenced: Option<RelName>,
        referenced_columns: Vec<String>,
        columns: Vec<String>,
    ) {
        let check = if kind == ConstraintKind::Check {
            let sql = format!("ALTER TABLE x ADD CONSTRAINT c {definition}");
            crate::parse::parse_sql(&sql).ok().and_then(|p| {
                let node = p.statements.into_iter().next()?.node?;
                let NodeEnum::AlterTableStmt(a) = node else {
                    return None;
                };
                let NodeEnum::AlterTableCmd(cmd) = a.cmds.first()?.node.as_ref()? else {
                    return None;
                };
                let NodeEnum::Constraint(con) = cmd.def.as_ref()?.node.as_ref()? else {
                    return None;
                };
                con.raw_expr.as_deref().cloned()
            })
        } else {
            None
        };
        let proves_not_null = check
            .as_ref()
            .map(not_null_check_columns)
            .unwrap_or_default();
        let t = self.tables.entry(table.key()).or_default();
        let old = t.constraints.insert(
            name.to_string(),
            ConstraintState {
                kind,
                validated,
                proves_not_null,
                check,
                referenced,
                referenced_columns,
                columns,
            },
        );
        if let Some(old) = old {
            self.names.change(ns_of(table), name, old.kind, false);
        }
        self.names.change(ns_of(table), name, kind, true);
    }

    /// Records an index that exists in the database.
    pub fn learn_existing_index(
        &mut self,
        index: &RelName,
        table: &RelName,
        columns: Vec<String>,
        expression_or_predicate: bool,
        method: Option<String>,
    ) {
        self.table_mut(table);
        self.indexes.insert(
            index.key(),
            IndexState {
                table: Some(table.clone()),
                created_in_run: false,
                columns,
                expression_or_predicate,
                method,
            },
        );
    }

    /// Records what kind of table a table of the database is (partitioned or not).
    pub fn learn_existing_table(&mut self, table: &RelName, partitioned: bool) {
        let t = self.table_mut(table);
        t.partitioned = partitioned;
        t.kind_known = true;
    }

    /// Ends a deploy: every relation the run has created so far now exists in the database
    /// with rows and traffic (the next migration file runs against it in production), while
    /// what the run knows of it (columns, types, constraints, indexes, partitions) stays.
    /// Relations created after this are new again. `lint DIR` calls it between files.
    pub fn settle_created(&mut self) {
        for t in self.tables.values_mut() {
            if t.created_in_run {
                t.created_in_run = false;
                t.known_empty = false;
                t.populated = false;
            }
        }
        for i in self.indexes.values_mut() {
            i.created_in_run = false;
        }
        self.other_created.clear();
    }

    /// Records a partitioned table's key as `pg_get_partkeydef` prints it (`LIST (id)`).
    pub fn learn_partition_key(&mut self, table: &RelName, definition: &str) {
        self.table_mut(table).partition_key = PartitionKey::from_definition(definition);
    }

    /// Whether attaching `partition` to `parent` with `bound` checks no row because the
    /// partition's valid CHECK constraints and NOT NULL columns already imply the bound
    /// (see [`implication`](super::implication)). False whenever the run does not know the
    /// key, the partition's constraints, or whether the partition is itself partitioned.
    pub fn attach_bound_implied(
        &self,
        parent: &RelName,
        partition: &RelName,
        bound: &protobuf::PartitionBoundSpec,
    ) -> bool {
        let (Some(p), Some(c)) = (self.table(parent), self.table(partition)) else {
            return false;
        };
        let Some(key) = &p.partition_key else {
            return false;
        };
        if !c.kind_known || c.partitioned || c.foreign {
            return false;
        }
        let not_null = c.columns.get(&key.column).is_some_and(|col| col.not_null);
        let checks: Vec<&protobuf::Node> = c
            .constraints
            .values()
            .filter(|k| k.kind == ConstraintKind::Check && k.validated)
            .filter_map(|k| k.check.as_ref())
            .collect();
        bound_implied(key, bound, not_null, &checks)
    }

    /// Records that the database's `table` has no row (its heap has no page).
    pub fn learn_empty_table(&mut self, table: &RelName) {
        self.table_mut(table).known_empty = true;
    }

    /// Records that `table` is a foreign table.
    pub fn learn_foreign_table(&mut self, table: &RelName) {
        let t = self.table_mut(table);
        t.foreign = true;
        t.kind_known = true;
    }

    /// Whether the run knows `table` as a foreign table.
    pub fn is_foreign_table(&self, table: &RelName) -> bool {
        self.table(table).is_some_and(|t| t.foreign)
    }

    /// Records that `partition` is a partition of `parent`.
    pub fn learn_partition(&mut self, parent: &RelName, partition: &RelName) {
        let p = self.table_mut(parent);
        if !p.partitions.contains(partition) {
            p.partitions.push(partition.clone());
        }
        self.table_mut(partition).parent = Some(parent.clone());
    }

    /// Records that `child` inherits from `parent` (plain inheritance).
    pub fn learn_inheritance(&mut self, parent: &RelName, child: &RelName) {
        let p = self.table_mut(parent);
        if !p.children.contains(child) {
            p.children.push(child.clone());
        }
    }

    fn forget_inheritance(&mut self, parent: &RelName, child: &RelName) {
        if let Some(p) = self.tables.get_mut(&parent.key()) {
            let key = child.key();
            p.children.retain(|c| c.key() != key);
        }
    }

    /// Every partition and inheritance child of `table`, recursively, each with whether it is
    /// a partition; `None` when the run does not know the table (it may have any).
    pub fn descendants(&self, table: &RelName) -> Option<Vec<(RelName, bool)>> {
        let t = self.table(table)?;
        if !t.kind_known && t.partitions.is_empty() && t.children.is_empty() {
            return None;
        }
        let mut out: Vec<(RelName, bool)> = Vec::new();
        let mut seen = std::collections::HashSet::from([table.key()]);
        let mut stack = vec![table.clone()];
        while let Some(x) = stack.pop() {
            let Some(ts) = self.table(&x) else { continue };
            let kids = ts.partitions.iter().map(|p| (p, true));
            for (k, is_partition) in kids.chain(ts.children.iter().map(|c| (c, false))) {
                if seen.insert(k.key()) {
                    out.push((k.clone(), is_partition));
                    stack.push(k.clone());
                }
            }
        }
        out.sort_by_key(|(r, _)| r.key());
        Some(out)
    }

    fn forget_partition(&mut self, parent: &RelName, partition: &RelName) {
        let key = partition.key();
        if let Some(p) = self.tables.get_mut(&parent.key()) {
            p.partitions.retain(|c| c.key() != key);
        }
        if let Some(c) = self.tables.get_mut(&key) {
            c.parent = None;
        }
        if let Some(p) = self.tables.get_mut(&parent.key()) {
            if p.default_partition.as_ref().is_some_and(|d| d.key() == key) {
                p.default_partition = None;
            }
        }
    }

    /// Whether the run knows a constraint called `name` in schema `ns` (PostgreSQL's
    /// `ConstraintNameExists`).
    pub fn constraint_name_exists(&self, ns: Option<&str>, name: &str) -> bool {
        let rel = RelName::new(ns, name);
        self.names.get(ns_of(&rel), name)[0] > 0
    }

    /// Whether the run knows a relation called `name` in schema `ns`: a table, an index, or
    /// the index of a unique, primary key or exclusion constraint.
    pub fn relation_name_exists(&self, ns: Option<&str>, name: &str) -> bool {
        let rel = RelName::new(ns, name);
        let key = rel.key();
        self.tables.contains_key(&key)
            || self.indexes.contains_key(&key)
            || self.names.get(ns_of(&rel), name)[1] > 0
    }

    /// Where `relation` lives (tablespace, access method), as far as the run knows.
    pub fn placement(&self, relation: &RelName) -> Option<&Placement> {
        self.placement.get(&relation.key())
    }

    pub fn learn_placement(&mut self, relation: &RelName, placement: Placement) {
        self.placement.insert(relation.key(), placement);
    }

    /// The table of extended statistics object `name`, when the run knows it.
    pub fn statistics_table(&self, name: &RelName) -> Option<&RelName> {
        self.statistics.get(&name.key())
    }

    pub fn learn_statistics(&mut self, name: &RelName, table: &RelName) {
        self.statistics.insert(name.key(), table.clone());
    }

    /// The catalog's dependency graph (read from a database; `None` for a run on files alone).
    pub fn dependencies(&self) -> Option<&super::depend::DependencyGraph> {
        self.depend.as_deref()
    }

    pub fn learn_dependencies(&mut self, graph: super::depend::DependencyGraph) {
        self.depend = Some(std::sync::Arc::new(graph));
    }

    /// Whether the run knows `name` as a relation: a table, an index, a view or a
    /// materialized view (where an unqualified name resolves on the search_path).
    pub fn knows_relation(&self, name: &RelName) -> bool {
        self.table(name).is_some() || self.index(name).is_some() || self.view_bases(name).is_some()
    }

    /// PostgreSQL's `ChooseConstraintName`: `name1_name2_label`, then `label1`, `label2`, ...
    /// until no known constraint of the schema and none of `taken` has the name.
    pub fn choose_constraint_name(
        &self,
        ns: Option<&str>,
        name1: &str,
        name2: Option<&str>,
        label: &str,
        taken: &dyn Fn(&str) -> bool,
    ) -> String {
        choose(name1, name2, label, |n| {
            taken(n) || self.constraint_name_exists(ns, n)
        })
    }

    /// PostgreSQL's `ChooseRelationName`: like [`Self::choose_constraint_name`], avoiding the
    /// names of relations (and, for a constraint's index, of constraints too).
    pub fn choose_relation_name(
        &self,
        ns: Option<&str>,
        name1: &str,
        name2: Option<&str>,
        label: &str,
        is_constraint: bool,
        taken: &dyn Fn(&str) -> bool,
    ) -> String {
        choose(name1, name2, label, |n| {
            taken(n)
                || self.relation_name_exists(ns, n)
                || (is_constraint && self.constraint_name_exists(ns, n))
        })
    }

    /// The name PostgreSQL gives an unnamed constraint `con` added to `table` (`column` for a
    /// column constraint), as `ChooseConstraintName` / `ChooseIndexName` pick it.
    pub fn choose_name_for_constraint(
        &self,
        table: &RelName,
        con: &protobuf::Constraint,
        column: Option<&str>,
        taken: &dyn Fn(&str) -> bool,
    ) -> Option<String> {
        let ns = table.schema.as_deref();
        let t = table.name.as_str();
        let cols = |list: &[protobuf::Node]| -> Vec<String> {
            let l = string_list(list);
            if l.is_empty() {
                column.map(|c| vec![c.to_string()]).unwrap_or_default()
            } else {
                l
            }
        };
        Some(match constraint_kind(con)? {
            ConstraintKind::PrimaryKey => {
                self.choose_relation_name(ns, t, None, "pkey", true, taken)
            }
            ConstraintKind::Unique => {
                let mut names = cols(&con.keys);
                names.extend(string_list(&con.including));
                let add = name_addition(&names);
                self.choose_relation_name(ns, t, Some(&add), "key", true, taken)
            }
            ConstraintKind::Exclude => self.choose_relation_name(ns, t, None, "excl", true, taken),
            ConstraintKind::ForeignKey => {
                let add = name_addition(&cols(&con.fk_attrs));
                self.choose_constraint_name(ns, t, Some(&add), "fkey", taken)
            }
            ConstraintKind::Check => {
                // One distinct column: <table>_<column>_check; otherwise <table>_check.
                let mut refs: Vec<String> = Vec::new();
                if let Some(e) = con.raw_expr.as_deref() {
                    super::expr::visit(e, &mut |n| {
                        if let NodeEnum::ColumnRef(c) = n {
                            if let Some(name) = string_list(&c.fields).pop() {
                                if !refs.contains(&name) {
                                    refs.push(name);
                                }
                            }
                        }
                    });
                }
                let col = match refs.as_slice() {
                    [one] => Some(one.as_str()),
                    _ => None,
                };
                self.choose_constraint_name(ns, t, col, "check", taken)
            }
            ConstraintKind::NotNull => {
                let c = cols(&con.keys).into_iter().next();
                self.choose_constraint_name(ns, t, c.as_deref(), "not_null", taken)
            }
        })
    }

    /// The name PostgreSQL gives an unnamed index (`ChooseIndexName`).
    pub fn choose_index_name(
        &self,
        table: &RelName,
        i: &protobuf::IndexStmt,
        taken: &dyn Fn(&str) -> bool,
    ) -> String {
        let mut elems = i.index_params.clone();
        elems.extend(i.index_including_params.iter().cloned());
        let names = index_column_names(&elems);
        let (name2, label) = if i.primary {
            (None, "pkey")
        } else if !i.exclude_op_names.is_empty() {
            (Some(name_addition(&names)), "excl")
        } else if i.isconstraint {
            (Some(name_addition(&names)), "key")
        } else {
            (Some(name_addition(&names)), "idx")
        };
        self.choose_relation_name(
            table.schema.as_deref(),
            &table.name,
            name2.as_deref(),
            label,
            i.isconstraint,
            taken,
        )
    }

    pub fn table(&self, name: &RelName) -> Option<&TableState> {
        self.tables.get(&name.key())
    }

    /// Whether the table was created earlier in this run (and so is empty and unused).
    /// Whether the run knows `name` exists: created by it, read from a database, or named by
    /// an earlier statement that changed it.
    pub fn knows_table(&self, name: &RelName) -> bool {
        self.tables.contains_key(&name.key())
    }

    /// Whether `name` (a table, index, sequence or view) was created in this deploy: an index
    /// or sequence of a new table is new with it.
    pub fn is_new_relation(&self, name: &RelName) -> bool {
        if self.is_new_table(name) || self.index(name).is_some_and(|i| i.created_in_run) {
            return true;
        }
        let key = name.key();
        self.tables.values().any(|t| {
            t.created_in_run
                && t.columns
                    .values()
                    .any(|c| c.sequence.as_ref().is_some_and(|s| s.key() == key))
        })
    }

    /// Whether `name` was created in this deploy with rows (CREATE TABLE AS, SELECT INTO).
    pub fn is_new_populated_table(&self, name: &RelName) -> bool {
        self.table(name)
            .is_some_and(|t| t.created_in_run && t.populated)
    }

    pub fn is_new_table(&self, name: &RelName) -> bool {
        self.table(name).is_some_and(|t| t.created_in_run)
            || self.other_created.contains(&name.key())
    }

    pub fn index(&self, name: &RelName) -> Option<&IndexState> {
        self.indexes.get(&name.key())
    }

    pub fn column(&self, table: &RelName, column: &str) -> Option<&ColumnState> {
        self.table(table)?.columns.get(column)
    }

    pub fn constraint(&self, table: &RelName, name: &str) -> Option<&ConstraintState> {
        self.table(table)?.constraints.get(name)
    }

    /// Tables with a foreign key on `table` that involves `column` (or may: a key that names
    /// no columns references the primary key, whose columns the run may not know).
    pub fn referencing_tables(&self, table: &RelName, column: &str) -> Vec<RelName> {
        let target = table.key();
        let mut out: Vec<RelName> = self
            .tables
            .iter()
            .filter(|(_, t)| {
                t.constraints.values().any(|c| {
                    c.kind == ConstraintKind::ForeignKey
                        && c.referenced.as_ref().is_some_and(|r| r.key() == target)
                        && (c.referenced_columns.is_empty()
                            || c.referenced_columns.iter().any(|rc| rc == column))
                })
            })
            .map(|(key, _)| match key.split_once('.') {
                Some((s, n)) => RelName::new(Some(s), n),
                None => RelName::new(None, key),
            })
            .collect();
        out.sort_by_key(|r| r.key());
        out
    }

    /// A validated CHECK constraint proves `column IS NOT NULL`.
    pub fn has_valid_not_null_check(&self, table: &RelName, column: &str) -> bool {
        self.table(table).is_some_and(|t| {
            t.constraints
                .values()
                .any(|c| c.validated && c.proves_not_null.iter().any(|p| p == column))
        })
    }

    fn table_mut(&mut self, name: &RelName) -> &mut TableState {
        self.tables.entry(name.key()).or_default()
    }

    /// Records the effect of one statement.
    pub fn apply(&mut self, node: &NodeEnum) {
        match node {
            NodeEnum::CreateForeignTableStmt(f) => {
                if let Some(base) = &f.base_stmt {
                    self.apply(&NodeEnum::CreateStmt(base.clone()));
                    if let Some(rv) = &base.relation {
                        self.learn_foreign_table(&RelName::from_range_var(rv));
                    }
                }
            }
            NodeEnum::CreateStmt(c) => {
                let Some(rv) = &c.relation else { return };
                // IF NOT EXISTS of a table the run knows does nothing.
                if c.if_not_exists && self.knows_table(&RelName::from_range_var(rv)) {
                    return;
                }
                if !c.tablespacename.is_empty() || !c.access_method.is_empty() {
                    self.learn_placement(
                        &RelName::from_range_var(rv),
                        Placement {
                            tablespace: Some(c.tablespacename.clone()).filter(|t| !t.is_empty()),
                            access_method: Some(c.access_method.clone()).filter(|a| !a.is_empty()),
                        },
                    );
                }
                let name = RelName::from_range_var(rv);
                let mut table = TableState {
                    created_in_run: true,
                    partitioned: c.partspec.is_some(),
                    partition_key: c.partspec.as_ref().and_then(PartitionKey::from_spec),
                    kind_known: true,
                    ..Default::default()
                };
                for elt in &c.table_elts {
                    match elt.node.as_ref() {
                        Some(NodeEnum::ColumnDef(cd)) => {
                            let mut col = column_state(cd);
                            if owns_sequence(cd) {
                                let seq = make_object_name(&name.name, Some(&cd.colname), "seq");
                                col.sequence = Some(RelName::new(name.schema.as_deref(), &seq));
                            }
                            for con in column_constraints(cd) {
                                let n = self.name_for(&name, Some(&table), &con, Some(&cd.colname));
                                record_constraint(&mut table, &con, n, true, Some(&cd.colname));
                            }
                            table.columns.insert(cd.colname.clone(), col);
                        }
                        Some(NodeEnum::Constraint(con)) => {
                            let n = self.name_for(&name, Some(&table), con, None);
                            record_constraint(&mut table, con, n, true, None);
                        }
                        _ => {}
                    }
                }
                self.names.add_table(ns_of(&name), &table);
                if let Some(old) = self.tables.insert(name.key(), table) {
                    self.names.remove_table(ns_of(&name), &old);
                }
                let parents = c
                    .inh_relations
                    .iter()
                    .filter_map(|n| match n.node.as_ref() {
                        Some(NodeEnum::RangeVar(rv)) => Some(RelName::from_range_var(rv)),
                        _ => None,
                    });
                let is_default = c.partbound.as_ref().is_some_and(|b| b.is_default);
                for parent in parents.collect::<Vec<_>>() {
                    if is_default {
                        self.learn_default_partition(&parent, &name);
                    } else if c.partbound.is_some() {
                        self.learn_partition(&parent, &name);
                    } else {
                        self.learn_inheritance(&parent, &name);
                    }
                }
            }
            NodeEnum::CreateTableAsStmt(c) => {
                if let Some(into) = &c.into {
                    if let Some(rv) = &into.rel {
                        let name = RelName::from_range_var(rv);
                        if c.objtype == ObjectType::ObjectMatview as i32 {
                            if let Some(q) = &c.query {
                                for r in query_relations(q) {
                                    self.learn_view_dependency(&r, &name, Vec::new());
                                }
                            }
                        }
                        let old = self.tables.insert(
                            name.key(),
                            TableState {
                                created_in_run: true,
                                kind_known: true,
                                // AS SELECT fills it, unless WITH NO DATA.
                                populated: !into.skip_data,
                                ..Default::default()
                            },
                        );
                        if let Some(old) = old {
                            self.names.remove_table(ns_of(&name), &old);
                        }
                    }
                }
            }
            // SELECT ... INTO t creates t with the rows of the query.
            NodeEnum::SelectStmt(sel) if sel.into_clause.is_some() => {
                if let Some(rv) = sel.into_clause.as_ref().and_then(|i| i.rel.as_ref()) {
                    let name = RelName::from_range_var(rv);
                    let old = self.tables.insert(
                        name.key(),
                        TableState {
                            created_in_run: true,
                            kind_known: true,
                            populated: true,
                            ..Default::default()
                        },
                    );
                    if let Some(old) = old {
                        self.names.remove_table(ns_of(&name), &old);
                    }
                }
            }
            NodeEnum::CreateDomainStmt(d) => {
                let names = string_list(&d.domainname);
                if let Some(name) = names.last() {
                    let mut domain = DomainState {
                        base: d.type_name.as_ref().and_then(ColumnType::from_type_name),
                        ..Default::default()
                    };
                    for c in &d.constraints {
                        if let Some(NodeEnum::Constraint(con)) = c.node.as_ref() {
                            match ConstrType::try_from(con.contype) {
                                Ok(ConstrType::ConstrCheck | ConstrType::ConstrNotnull) => {
                                    domain.constrained = true
                                }
                                Ok(ConstrType::ConstrDefault) => {
                                    domain.volatile_default =
                                        con.raw_expr.as_deref().is_some_and(|e| {
                                            matches!(
                                                super::expr::default_kind(e),
                                                super::expr::DefaultKind::Volatile(_)
                                            )
                                        })
                                }
                                _ => {}
                            }
                        }
                    }
                    self.learn_domain(name, domain);
                }
            }
            NodeEnum::CreateFunctionStmt(f) if !f.is_procedure => {
                if let Some(name) = string_list(&f.funcname).last() {
                    // VOLATILE is PostgreSQL's default.
                    let volatile = !f.options.iter().any(|o| match o.node.as_ref() {
                        Some(NodeEnum::DefElem(d)) if d.defname == "volatility" => matches!(
                            d.arg.as_ref().and_then(|a| a.node.as_ref()),
                            Some(NodeEnum::String(s)) if s.sval == "immutable" || s.sval == "stable"
                        ),
                        _ => false,
                    });
                    // A SQL function PostgreSQL inlines is as volatile as its body.
                    let volatile = volatile
                        && !super::expr::sql_function_inlines_non_volatile(f, &|n| {
                            self.function_is_volatile(n)
                        });
                    self.learn_function(name, volatile);
                }
            }
            NodeEnum::VariableSetStmt(v) if v.name.eq_ignore_ascii_case("timezone") => {
                let value = v.args.first().and_then(|a| match a.node.as_ref()? {
                    NodeEnum::AConst(c) => match c.val.as_ref()? {
                        protobuf::a_const::Val::Sval(s) => Some(s.sval.clone()),
                        protobuf::a_const::Val::Ival(i) => Some(i.ival.to_string()),
                        _ => None,
                    },
                    _ => None,
                });
                match value {
                    Some(tz) => self.learn_timezone(&tz),
                    None => self.timezone = None,
                }
            }
            NodeEnum::CreateStatsStmt(c) => {
                let name = RelName::from_name_list(&c.defnames);
                let table = c.relations.first().and_then(|n| match n.node.as_ref() {
                    Some(NodeEnum::RangeVar(rv)) => Some(RelName::from_range_var(rv)),
                    _ => None,
                });
                if let (Some(name), Some(table)) = (name, table) {
                    self.learn_statistics(&name, &table);
                }
            }
            NodeEnum::CreateSeqStmt(c) => {
                if let Some(rv) = &c.sequence {
                    self.other_created.insert(RelName::from_range_var(rv).key());
                }
            }
            NodeEnum::ViewStmt(v) => {
                if let Some(rv) = &v.view {
                    let view = RelName::from_range_var(rv);
                    if !v.replace {
                        self.other_created.insert(view.key());
                    }
                    if let Some(q) = &v.query {
                        for r in query_relations(q) {
                            self.learn_view_dependency(&r, &view, Vec::new());
                        }
                    }
                }
            }
            NodeEnum::IndexStmt(i) => {
                let table = i.relation.as_ref().map(RelName::from_range_var);
                let created_in_run = table.as_ref().is_some_and(|t| self.is_new_table(t));
                let idxname = match (&table, i.idxname.is_empty()) {
                    (_, false) => Some(i.idxname.clone()),
                    (Some(t), true) => Some(self.choose_index_name(t, i, &|_| false)),
                    (None, true) => None,
                };
                if let Some(idxname) = idxname {
                    let schema = i.relation.as_ref().map(|r| r.schemaname.as_str());
                    let key = RelName::new(schema, &idxname).key();
                    if !i.table_space.is_empty() {
                        self.placement.insert(
                            key.clone(),
                            Placement {
                                tablespace: Some(i.table_space.clone()),
                                access_method: None,
                            },
                        );
                    }
                    let mut columns: Vec<String> = Vec::new();
                    let mut expression_or_predicate = false;
                    for p in &i.index_params {
                        if let Some(NodeEnum::IndexElem(ie)) = p.node.as_ref() {
                            if !ie.name.is_empty() {
                                columns.push(ie.name.clone());
                            } else if let Some(e) = &ie.expr {
                                expression_or_predicate = true;
                                columns.extend(column_refs(e));
                            }
                        }
                    }
                    if let Some(w) = &i.where_clause {
                        expression_or_predicate = true;
                        columns.extend(column_refs(w));
                    }
                    self.indexes.insert(
                        key,
                        IndexState {
                            table,
                            created_in_run,
                            columns,
                            expression_or_predicate,
                            method: Some(if i.access_method.is_empty() {
                                "btree".to_string()
                            } else {
                                i.access_method.to_ascii_lowercase()
                            }),
                        },
                    );
                }
            }
            NodeEnum::AlterTableStmt(a) => {
                let Some(rv) = &a.relation else { return };
                let name = RelName::from_range_var(rv);
                for cmd in &a.cmds {
                    if let Some(NodeEnum::AlterTableCmd(cmd)) = cmd.node.as_ref() {
                        self.apply_alter_cmd(&name, cmd);
                    }
                }
            }
            NodeEnum::RenameStmt(r) => self.apply_rename(r),
            NodeEnum::DropStmt(d) => {
                let kind = ObjectType::try_from(d.remove_type).unwrap_or(ObjectType::Undefined);
                for obj in &d.objects {
                    let Some(NodeEnum::List(list)) = obj.node.as_ref() else {
                        continue;
                    };
                    let Some(name) = RelName::from_name_list(&list.items) else {
                        continue;
                    };
                    match kind {
                        ObjectType::ObjectTable | ObjectType::ObjectMatview => {
                            if let Some(old) = self.tables.remove(&name.key()) {
                                self.names.remove_table(ns_of(&name), &old);
                            }
                        }
                        ObjectType::ObjectSequence | ObjectType::ObjectView => {
                            self.other_created.remove(&name.key());
                        }
                        ObjectType::ObjectIndex => {
                            self.indexes.remove(&name.key());
                        }
                        ObjectType::ObjectStatisticExt => {
                            self.statistics.remove(&name.key());
                        }
                        _ => {}
                    }
                }
            }
            _ => {}
        }
    }

    /// The name an unnamed constraint gets (its own name when it has one).
    fn name_for(
        &self,
        table: &RelName,
        t: Option<&TableState>,
        con: &protobuf::Constraint,
        column: Option<&str>,
    ) -> String {
        if !con.conname.is_empty() {
            return con.conname.clone();
        }
        self.choose_name_for_constraint(table, con, column, &|n| {
            t.is_some_and(|t| t.constraints.contains_key(n))
        })
        .unwrap_or_default()
    }

    fn apply_alter_cmd(&mut self, table: &RelName, cmd: &protobuf::AlterTableCmd) {
        let subtype = AlterTableType::try_from(cmd.subtype).unwrap_or(AlterTableType::Undefined);
        let def = cmd.def.as_ref().and_then(|d| d.node.as_ref());
        match (subtype, def) {
            (AlterTableType::AtAttachPartition, Some(NodeEnum::PartitionCmd(pc))) => {
                if let Some(rv) = &pc.name {
                    let part = RelName::from_range_var(rv);
                    if pc.bound.as_ref().is_some_and(|b| b.is_default) {
                        self.learn_default_partition(table, &part);
                    } else {
                        self.learn_partition(table, &part);
                    }
                }
                return;
            }
            (AlterTableType::AtDetachPartition, Some(NodeEnum::PartitionCmd(pc))) => {
                if let Some(rv) = &pc.name {
                    self.forget_partition(table, &RelName::from_range_var(rv));
                }
                return;
            }
            (AlterTableType::AtAddInherit, Some(NodeEnum::RangeVar(rv))) => {
                self.learn_inheritance(&RelName::from_range_var(rv), table);
                return;
            }
            (AlterTableType::AtDropInherit, Some(NodeEnum::RangeVar(rv))) => {
                self.forget_inheritance(&RelName::from_range_var(rv), table);
                return;
            }
            _ => {}
        }
        let names: Vec<String> = match (subtype, def) {
            (AlterTableType::AtAddColumn, Some(NodeEnum::ColumnDef(cd))) => {
                let t = self.table(table);
                let mut names: Vec<String> = Vec::new();
                for con in column_constraints(cd) {
                    let n = if con.conname.is_empty() {
                        self.choose_name_for_constraint(table, &con, Some(&cd.colname), &|n| {
                            names.iter().any(|m| m == n)
                                || t.is_some_and(|t| t.constraints.contains_key(n))
                        })
                        .unwrap_or_default()
                    } else {
                        con.conname.clone()
                    };
                    names.push(n);
                }
                names
            }
            (AlterTableType::AtAddConstraint, Some(NodeEnum::Constraint(con))) => {
                vec![self.name_for(table, self.table(table), con, None)]
            }
            _ => Vec::new(),
        };
        let ns = ns_of(table);
        let t = self.tables.entry(table.key()).or_default();
        let counts = &mut self.names;
        match (subtype, def) {
            (AlterTableType::AtAddColumn, Some(NodeEnum::ColumnDef(cd))) => {
                let mut col = column_state(cd);
                if owns_sequence(cd) {
                    let seq = make_object_name(&table.name, Some(&cd.colname), "seq");
                    col.sequence = Some(RelName::new(table.schema.as_deref(), &seq));
                }
                for (con, name) in column_constraints(cd).iter().zip(names) {
                    record_constraint_counted(t, counts, ns, con, name, Some(&cd.colname));
                }
                t.columns.insert(cd.colname.clone(), col);
            }
            (AlterTableType::AtDropColumn, _) => {
                t.columns.remove(&cmd.name);
            }
            (AlterTableType::AtAlterColumnType, Some(NodeEnum::ColumnDef(cd))) => {
                let ty = cd.type_name.as_ref().and_then(ColumnType::from_type_name);
                t.columns.entry(cmd.name.clone()).or_default().ty = ty;
            }
            (AlterTableType::AtSetNotNull, _) => {
                t.columns.entry(cmd.name.clone()).or_default().not_null = true;
            }
            (AlterTableType::AtDropNotNull, _) => {
                t.columns.entry(cmd.name.clone()).or_default().not_null = false;
            }
            (AlterTableType::AtAddConstraint, Some(NodeEnum::Constraint(con))) => {
                if let Some(name) = names.into_iter().next() {
                    record_constraint_counted(t, counts, ns, con, name, None);
                }
            }
            (AlterTableType::AtValidateConstraint, _) => {
                if let Some(c) = t.constraints.get_mut(&cmd.name) {
                    c.validated = true;
                }
            }
            (AlterTableType::AtDropConstraint, _) => {
                if let Some(old) = t.constraints.remove(&cmd.name) {
                    counts.change(ns, &cmd.name, old.kind, false);
                }
            }
            _ => {}
        }
    }

    fn apply_rename(&mut self, r: &protobuf::RenameStmt) {
        let kind = ObjectType::try_from(r.rename_type).unwrap_or(ObjectType::Undefined);
        let Some(rv) = &r.relation else { return };
        let name = RelName::from_range_var(rv);
        match kind {
            ObjectType::ObjectTable | ObjectType::ObjectMatview => {
                if let Some(t) = self.tables.remove(&name.key()) {
                    let new = RelName::new(name.schema.as_deref(), &r.newname);
                    self.tables.insert(new.key(), t);
                }
            }
            ObjectType::ObjectIndex => {
                if let Some(i) = self.indexes.remove(&name.key()) {
                    let new = RelName::new(name.schema.as_deref(), &r.newname);
                    self.indexes.insert(new.key(), i);
                }
            }
            ObjectType::ObjectColumn => {
                let t = self.table_mut(&name);
                if let Some(c) = t.columns.remove(&r.subname) {
                    t.columns.insert(r.newname.clone(), c);
                }
            }
            ObjectType::ObjectTabconstraint => {
                let t = self.tables.entry(name.key()).or_default();
                if let Some(c) = t.constraints.remove(&r.subname) {
                    let ns = ns_of(&name);
                    self.names.change(ns, &r.subname, c.kind, false);
                    self.names.change(ns, &r.newname, c.kind, true);
                    if let Some(old) = t.constraints.insert(r.newname.clone(), c) {
                        self.names.change(ns, &r.newname, old.kind, false);
                    }
                }
            }
            _ => {}
        }
    }
}

/// `makeObjectName(name1, name2, label)`, then with `label1`, `label2`, ... until `exists` is
/// false (PostgreSQL's `ChooseConstraintName` / `ChooseRelationName` loop).
fn choose(name1: &str, name2: Option<&str>, label: &str, exists: impl Fn(&str) -> bool) -> String {
    let mut pass = 0;
    loop {
        let l = if pass == 0 {
            label.to_string()
        } else {
            format!("{label}{pass}")
        };
        let name = make_object_name(name1, name2, &l);
        if !exists(&name) {
            return name;
        }
        pass += 1;
    }
}

fn column_state(cd: &protobuf::ColumnDef) -> ColumnState {
    let ty = cd.type_name.as_ref().and_then(ColumnType::from_type_name);
    let not_null = cd.is_not_null
        || column_constraints(cd).iter().any(|c| {
            matches!(
                ConstrType::try_from(c.contype),
                Ok(ConstrType::ConstrNotnull
                    | ConstrType::ConstrPrimary
                    | ConstrType::ConstrIdentity)
            )
        });
    ColumnState {
        ty,
        not_null,
        sequence: None,
    }
}

/// A serial column or an identity column owns a sequence named `<table>_<column>_seq`.
fn owns_sequence(cd: &protobuf::ColumnDef) -> bool {
    cd.type_name
        .as_ref()
        .and_then(ColumnType::from_type_name)
        .is_some_and(|t| t.is_serial())
        || column_constraints(cd)
            .iter()
            .any(|c| ConstrType::try_from(c.contype) == Ok(ConstrType::ConstrIdentity))
}

/// The relations a query reads (its range variables, CTE names included).
pub(crate) fn query_relations(q: &protobuf::Node) -> Vec<RelName> {
    let mut out: Vec<RelName> = Vec::new();
    super::expr::visit(q, &mut |n| {
        if let NodeEnum::RangeVar(rv) = n {
            let r = RelName::from_range_var(rv);
            if !out.contains(&r) {
                out.push(r);
            }
        }
    });
    out
}

/// An index's name in the schema of its table.
fn index_rel(key: &str, table: &RelName) -> RelName {
    let name = key.rsplit('.').next().unwrap_or(key);
    RelName::new(table.schema.as_deref(), name)
}

/// A relation name back from its key.
fn rel_of_key(key: &str) -> Option<RelName> {
    match key.split_once('.') {
        Some((s, n)) => Some(RelName::new(Some(s), n)),
        None => Some(RelName::new(None, key)),
    }
}

/// The `Constraint` nodes attached to a column definition.
pub fn column_constraints(cd: &protobuf::ColumnDef) -> Vec<protobuf::Constraint> {
    cd.constraints
        .iter()
        .filter_map(|c| match c.node.as_ref()? {
            NodeEnum::Constraint(c) => Some((**c).clone()),
            _ => None,
        })
        .collect()
}

pub fn constraint_kind(con: &protobuf::Constraint) -> Option<ConstraintKind> {
    Some(match ConstrType::try_from(con.contype).ok()? {
        ConstrType::ConstrCheck => ConstraintKind::Check,
        ConstrType::ConstrForeign => ConstraintKind::ForeignKey,
        ConstrType::ConstrUnique => ConstraintKind::Unique,
        ConstrType::ConstrPrimary => ConstraintKind::PrimaryKey,
        ConstrType::ConstrExclusion => ConstraintKind::Exclude,
        ConstrType::ConstrNotnull => ConstraintKind::NotNull,
        _ => return None,
    })
}

/// [`record_constraint`] on a table already in the schema state, keeping the name counts.
fn record_constraint_counted(
    t: &mut TableState,
    counts: &mut NameCounts,
    ns: &str,
    con: &protobuf::Constraint,
    name: String,
    column: Option<&str>,
) {
    let Some(kind) = constraint_kind(con) else {
        return;
    };
    if let Some(old) = t.constraints.get(&name) {
        counts.change(ns, &name, old.kind, false);
    }
    counts.change(ns, &name, kind, true);
    record_constraint(t, con, name, false, column);
}

fn record_constraint(
    t: &mut TableState,
    con: &protobuf::Constraint,
    name: String,
    new_table: bool,
    column: Option<&str>,
) {
    let Some(kind) = constraint_kind(con) else {
        return;
    };
    if kind == ConstraintKind::PrimaryKey {
        let keys = string_list(&con.keys);
        for k in keys {
            t.columns.entry(k).or_default().not_null = true;
        }
    }
    let validated = new_table || !con.skip_validation;
    let check = con
        .raw_expr
        .as_deref()
        .filter(|_| kind == ConstraintKind::Check)
        .cloned();
    let proves_not_null = check
        .as_ref()
        .map(not_null_check_columns)
        .unwrap_or_default();
    t.constraints.insert(
        name,
        ConstraintState {
            kind,
            validated,
            proves_not_null,
            check,
            referenced: con.pktable.as_ref().map(RelName::from_range_var),
            referenced_columns: string_list(&con.pk_attrs),
            columns: constraint_columns(con, column),
        },
    );
}

/// The columns of its table a constraint uses (`column`: the column it is declared on).
fn constraint_columns(con: &protobuf::Constraint, column: Option<&str>) -> Vec<String> {
    let mut cols: Vec<String> = Vec::new();
    cols.extend(string_list(&con.fk_attrs));
    cols.extend(string_list(&con.keys));
    if let Some(e) = &con.raw_expr {
        cols.extend(column_refs(e));
    }
    if let Some(c) = column {
        if !cols.iter().any(|x| x == c) {
            cols.push(c.to_string());
        }
    }
    cols
}
