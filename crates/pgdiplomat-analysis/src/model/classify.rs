//! Maps each parsed statement to what it does: transaction control, timeout settings, or a
//! list of [`Operation`]s, each one [`StatementForm`] of the lock table applied to named
//! relations. This is the only place that reads parse trees for locking purposes.

use pg_query::protobuf::{self, AlterTableType, ConstrType, ObjectType};
use pg_query::NodeEnum;
use pgdiplomat_locks::{LockMode, RelationRole as R, StatementForm as F, StatementForm};

use super::depend::{DropReach, NamedKind};
use super::expr::{default_kind_with, DefaultKind};
use super::names::{string_list, RelName};
use super::schema::{column_constraints, ConstraintKind, ConstraintState, SchemaState};
use super::types::{is_binary_coercible, may_be_binary_coercible, ColumnType};

/// What one statement is, as far as locking and sessions go.
#[derive(Debug, Clone, PartialEq)]
pub enum StatementKind {
    Begin,
    Commit,
    Rollback,
    /// `SET [LOCAL] lock_timeout|statement_timeout`, `RESET`, `SET ... TO DEFAULT`.
    SetTimeout {
        timeout: Timeout,
        millis: Option<u64>,
        local: bool,
    },
    /// Schema changes and data changes, one operation per ALTER TABLE subcommand.
    Operations(Vec<Operation>),
    /// Anything that takes no lock worth describing (SELECT, SET search_path, ...).
    Other,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Timeout {
    Lock,
    Statement,
}

/// One operation of a statement: a form from the lock table applied to relations.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Operation {
    pub form: Option<StatementForm>,
    /// The table, matview or partitioned parent the operation is about.
    pub table: Option<RelName>,
    pub index: Option<RelName>,
    pub referenced: Option<RelName>,
    /// More referenced tables, when there are several (DROP TABLE with several foreign keys).
    pub also_referenced: Vec<RelName>,
    /// Tables whose foreign keys point at the changed column (ALTER COLUMN TYPE).
    pub referencing: Vec<RelName>,
    pub partition: Option<RelName>,
    pub column: Option<String>,
    pub constraint: Option<String>,
    /// `LOCK TABLE ... IN <mode> MODE` overrides the table row's default mode.
    pub explicit_lock: Option<LockMode>,
    /// A qualification found while classifying ("old type unknown", the volatile function ...).
    pub detail: Option<String>,
    /// The form was chosen without knowing the existing schema (could be better with a database).
    pub assumed: bool,
    /// Column types of an ALTER COLUMN TYPE (old may be unknown).
    pub type_change: Option<(Option<ColumnType>, ColumnType)>,
    /// For DDL carrying `IF [NOT] EXISTS`.
    pub if_exists: bool,
    /// Set (with `form` = `None`) when the model cannot describe what this does: the statement
    /// or subcommand, and why it matters. Reported, never passed silently.
    pub not_modelled: Option<String>,
    /// `ONLY`: the statement does not recurse to partitions or inheritance children.
    pub only: bool,
    /// The table's partitions and inheritance children, recursively, each with whether it is a
    /// partition (filled by the analyser from the schema); `None` when the schema does not know.
    pub descendants: Option<Vec<(RelName, bool)>>,
    /// The relations of the schema-graph roles ([`RelationRole::from_schema_graph`]: indexes
    /// on the column, DEFAULT partition, parent, owned sequences, CASCADE dependents) as the
    /// schema resolved them; a role of the fact missing here is not known (explain: "any").
    pub related: Vec<(pgdiplomat_locks::RelationRole, Vec<RelName>)>,
    /// `SET/RESET (...)` of storage parameters: the kinds the relation may be (`table`,
    /// `view`, an index method) and the option names (`toast.x` for TOAST options). The
    /// analyser picks the form from each option's measured lock level on the version.
    pub storage_parameters: Option<(Vec<&'static str>, Vec<String>)>,
    /// Why PostgreSQL will refuse the statement, when the schema shows it (a second primary
    /// key, a column a view uses, a partition's own column ...).
    pub refused: Option<String>,
}

impl Operation {
    /// The relations of a schema-graph role, when the schema resolved them.
    pub fn related(&self, role: pgdiplomat_locks::RelationRole) -> Option<&[RelName]> {
        self.related
            .iter()
            .find(|(r, _)| *r == role)
            .map(|(_, v)| v.as_slice())
    }

    fn with(
        mut self,
        role: pgdiplomat_locks::RelationRole,
        relations: Option<Vec<RelName>>,
    ) -> Self {
        if let Some(rels) = relations {
            self.related.retain(|(r, _)| *r != role);
            self.related.push((role, rels));
        }
        self
    }

    fn new(form: StatementForm, table: Option<RelName>) -> Self {
        Operation {
            form: Some(form),
            table,
            ..Default::default()
        }
    }

    /// What the model cannot describe, on `table` when it is known.
    pub fn not_modelled(what: impl Into<String>, table: Option<RelName>) -> Self {
        Operation {
            table,
            not_modelled: Some(what.into()),
            ..Default::default()
        }
    }
}

/// Classifies one statement given what the run knows so far. Every statement node type is
/// covered ([`super::coverage::STATEMENTS`]): what the model cannot describe comes back as an
/// operation with `not_modelled` set, never as [`StatementKind::Other`].
pub fn classify(node: &NodeEnum, schema: &SchemaState) -> StatementKind {
    match classify_node(node, schema) {
        StatementKind::Operations(ops) => {
            // Operations with neither a form nor a not-modelled note (COMMENT ON FUNCTION, ...)
            // take no lock that matters.
            let ops: Vec<Operation> = ops
                .into_iter()
                .filter(|o| o.form.is_some() || o.not_modelled.is_some())
                .collect();
            if ops.is_empty() {
                StatementKind::Other
            } else {
                StatementKind::Operations(ops)
            }
        }
        kind => kind,
    }
}

fn classify_node(node: &NodeEnum, schema: &SchemaState) -> StatementKind {
    use StatementKind::*;
    match node {
        NodeEnum::TransactionStmt(t) => {
            use protobuf::TransactionStmtKind as K;
            match K::try_from(t.kind).unwrap_or(K::Undefined) {
                K::TransStmtBegin | K::TransStmtStart => Begin,
                K::TransStmtCommit | K::TransStmtPrepare => Commit,
                K::TransStmtRollback => Rollback,
                _ => Other,
            }
        }
        NodeEnum::VariableSetStmt(v) => classify_set(v),
        NodeEnum::IndexStmt(i) => Operations(vec![Operation {
            only: i.relation.as_ref().is_some_and(|rv| !rv.inh),
            ..classify_index(i, schema)
        }]),
        NodeEnum::DropStmt(d) => Operations(classify_drop(d, schema)),
        NodeEnum::AlterTableStmt(a) => Operations(classify_alter_table(a, schema)),
        NodeEnum::RenameStmt(r) => Operations(classify_rename(r)),
        NodeEnum::AlterObjectSchemaStmt(a)
            if matches!(
                ObjectType::try_from(a.object_type),
                Ok(ObjectType::ObjectTable | ObjectType::ObjectMatview | ObjectType::ObjectView)
            ) =>
        {
            Operations(vec![Operation {
                detail: Some(format!("moved to schema {}", a.newschema)),
                ..Operation::new(
                    F::SetSchema,
                    a.relation.as_ref().map(RelName::from_range_var),
                )
            }])
        }
        NodeEnum::ReindexStmt(r) => Operations(vec![classify_reindex(r, schema)]),
        NodeEnum::DropOwnedStmt(d) => {
            let cascade = d.behavior == protobuf::DropBehavior::DropCascade as i32;
            let dependents = owned_objects(schema, &d.roles).map(|(g, objects)| {
                g.drop_reach(&objects, cascade)
                    .locks
                    .into_iter()
                    .map(|(r, _)| r)
                    .collect()
            });
            Operations(vec![
                Operation::new(F::DropOwned, None).with(R::Dependents, dependents)
            ])
        }
        NodeEnum::ReassignOwnedStmt(r) => {
            let dependents =
                owned_objects(schema, &r.roles).map(|(g, objects)| g.relations_among(&objects));
            Operations(vec![
                Operation::new(F::ReassignOwned, None).with(R::Dependents, dependents)
            ])
        }
        NodeEnum::CreateStmt(c) => {
            let mut op = classify_create_table(c, schema);
            if c.if_not_exists {
                // Whether the table exists decides whether anything happens: the run knows it
                // exists when it has seen it, else the table is assumed new.
                op.if_exists = true;
                op.assumed = !c
                    .relation
                    .as_ref()
                    .is_some_and(|rv| schema.knows_table(&RelName::from_range_var(rv)));
            }
            Operations(vec![op])
        }
        NodeEnum::AlterDomainStmt(d) => Operations(vec![classify_alter_domain(d, schema)]),
        NodeEnum::AlterPublicationStmt(p) => {
            let tables: Vec<Operation> = p
                .pubobjects
                .iter()
                .filter_map(|o| match o.node.as_ref() {
                    Some(NodeEnum::PublicationObjSpec(spec)) => spec
                        .pubtable
                        .as_ref()
                        .and_then(|t| t.relation.as_ref())
                        .map(|rv| {
                            Operation::new(
                                F::AlterPublicationTables,
                                Some(RelName::from_range_var(rv)),
                            )
                        }),
                    _ => None,
                })
                .collect();
            let mut tables = tables;
            // SET replaces the list: the tables it had lose their membership too.
            if p.action == protobuf::AlterPublicationAction::ApSetObjects as i32 {
                if let Some(g) = schema.dependencies() {
                    let publication = g.lookup(
                        NamedKind::Publication,
                        &RelName::new(None, &p.pubname),
                        None,
                    );
                    for t in publication
                        .map(|a| g.publication_tables(a))
                        .unwrap_or_default()
                    {
                        if !tables
                            .iter()
                            .any(|o| o.table.as_ref().map(RelName::key) == Some(t.key()))
                        {
                            tables.push(Operation::new(F::AlterPublicationTables, Some(t)));
                        }
                    }
                }
            }
            if tables.is_empty() {
                Operations(vec![Operation::new(F::PublicationCatalogOnly, None)])
            } else {
                Operations(tables)
            }
        }
        NodeEnum::TruncateStmt(t) => Operations(
            t.relations
                .iter()
                .filter_map(|n| match n.node.as_ref() {
                    Some(NodeEnum::RangeVar(rv)) => {
                        let table = RelName::from_range_var(rv);
                        let cascade = t.behavior == protobuf::DropBehavior::DropCascade as i32;
                        let known = schema.table(&table).is_some_and(|s| s.kind_known);
                        let sequences = if t.restart_seqs {
                            schema.owned_sequences(&table, None)
                        } else {
                            Some(Vec::new())
                        };
                        let dependents = match (cascade, known) {
                            (false, _) => Some(Vec::new()),
                            (true, true) => Some(schema.all_referencing_tables(&table, true)),
                            (true, false) => None,
                        };
                        Some(
                            Operation {
                                only: !rv.inh,
                                ..Operation::new(F::Truncate, Some(table))
                            }
                            .with(R::OwnedSequences, sequences)
                            .with(R::Dependents, dependents),
                        )
                    }
                    _ => None,
                })
                .collect(),
        ),
        NodeEnum::ClusterStmt(c) => Operations(vec![Operation::new(
            F::Cluster,
            c.relation.as_ref().map(RelName::from_range_var),
        )]),
        NodeEnum::VacuumStmt(v) => Operations(classify_vacuum(v)),
        NodeEnum::RefreshMatViewStmt(r) => Operations(vec![Operation::new(
            if r.concurrent {
                F::RefreshMaterializedViewConcurrently
            } else {
                F::RefreshMaterializedView
            },
            r.relation.as_ref().map(RelName::from_range_var),
        )]),
        // A statement-level trigger is not cloned onto the partitions.
        NodeEnum::CreateTrigStmt(t) => Operations(vec![Operation {
            only: !t.row,
            ..Operation::new(
                F::CreateTrigger,
                t.relation.as_ref().map(RelName::from_range_var),
            )
        }]),
        NodeEnum::AlterEnumStmt(_) => Operations(vec![Operation::new(F::AlterTypeAddValue, None)]),
        NodeEnum::GrantStmt(_) => Operations(vec![Operation::new(F::Grant, None)]),
        NodeEnum::CommentStmt(c) => Operations(vec![classify_comment(c)]),
        NodeEnum::CreatePolicyStmt(p) => Operations(vec![Operation::new(
            F::CreatePolicy,
            p.table.as_ref().map(RelName::from_range_var),
        )]),
        NodeEnum::AlterPolicyStmt(p) => Operations(vec![Operation::new(
            F::CreatePolicy,
            p.table.as_ref().map(RelName::from_range_var),
        )]),
        NodeEnum::LockStmt(l) => Operations(
            l.relations
                .iter()
                .filter_map(range_var)
                .map(|rv| Operation {
                    explicit_lock: lock_mode_from_int(l.mode),
                    ..Operation::new(F::LockTable, Some(rv))
                })
                .collect(),
        ),
        NodeEnum::UpdateStmt(u) => Operations(vec![dml(
            u.relation.as_ref(),
            u.where_clause.is_none(),
            true,
            schema,
        )]),
        NodeEnum::DeleteStmt(d) => Operations(vec![dml(
            d.relation.as_ref(),
            d.where_clause.is_none(),
            true,
            schema,
        )]),
        NodeEnum::InsertStmt(i) => Operations(vec![dml(i.relation.as_ref(), false, false, schema)]),
        NodeEnum::MergeStmt(m) => Operations(vec![dml(m.relation.as_ref(), false, true, schema)]),
        NodeEnum::AlterObjectSchemaStmt(a) => {
            match ObjectType::try_from(a.object_type) {
                Ok(ObjectType::ObjectSequence) => Operations(vec![Operation::not_modelled(
                    "ALTER SEQUENCE ... SET SCHEMA",
                    a.relation.as_ref().map(RelName::from_range_var),
                )]),
                // Functions, types, ...: a lock on that object only.
                _ => Other,
            }
        }
        // A new view locks nothing that exists; replacing one takes ACCESS EXCLUSIVE on it.
        NodeEnum::ViewStmt(v) if !v.replace => Other,
        NodeEnum::ViewStmt(v) => Operations(vec![Operation::new(
            F::CreateOrReplaceView,
            v.view.as_ref().map(RelName::from_range_var),
        )]),
        NodeEnum::CreateForeignTableStmt(f)
            if f.base_stmt.as_ref().is_some_and(|b| b.partbound.is_some()) =>
        {
            Operations(vec![Operation::not_modelled(
                "CREATE FOREIGN TABLE ... PARTITION OF (locks the partitioned parent)",
                f.base_stmt
                    .as_ref()
                    .and_then(|b| b.inh_relations.first())
                    .and_then(range_var),
            )])
        }
        NodeEnum::ExplainStmt(e)
            if e.options.iter().any(
                |o| matches!(o.node.as_ref(), Some(NodeEnum::DefElem(d)) if d.defname == "analyze"),
            ) =>
        {
            Operations(vec![Operation::not_modelled(
                "EXPLAIN ANALYZE runs the statement it explains",
                None,
            )])
        }
        // The rule's actions are parsed at creation: the tables they write get ROW EXCLUSIVE.
        NodeEnum::RuleStmt(r) => Operations(vec![Operation::new(
            F::CreateRule,
            r.relation.as_ref().map(RelName::from_range_var),
        )
        .with(
            R::RowsReach,
            Some(
                r.actions
                    .iter()
                    .flat_map(super::schema::query_relations)
                    .collect(),
            ),
        )]),
        NodeEnum::CreateStatsStmt(c) => Operations(vec![Operation::new(
            F::CreateStatistics,
            c.relations.first().and_then(range_var),
        )]),
        NodeEnum::AlterSeqStmt(a) => Operations(vec![Operation::new(
            F::AlterSequence,
            a.sequence.as_ref().map(RelName::from_range_var),
        )]),
        NodeEnum::CreateTableAsStmt(c) => Operations(vec![Operation::new(
            F::CreateTableAs,
            c.into
                .as_ref()
                .and_then(|i| i.rel.as_ref())
                .map(RelName::from_range_var),
        )]),
        NodeEnum::SelectStmt(s) if s.into_clause.is_some() => Operations(vec![Operation::new(
            F::CreateTableAs,
            s.into_clause
                .as_ref()
                .and_then(|i| i.rel.as_ref())
                .map(RelName::from_range_var),
        )]),
        NodeEnum::CreatePublicationStmt(p) => Operations(
            p.pubobjects
                .iter()
                .filter_map(|o| match o.node.as_ref() {
                    Some(NodeEnum::PublicationObjSpec(spec)) => spec
                        .pubtable
                        .as_ref()
                        .and_then(|t| t.relation.as_ref())
                        .map(|rv| {
                            Operation::new(F::CreatePublication, Some(RelName::from_range_var(rv)))
                        }),
                    _ => None,
                })
                .collect(),
        ),
        other => match super::coverage::coverage(other) {
            Some(super::coverage::Coverage::NotModelled(why)) => {
                Operations(vec![Operation::not_modelled(why, None)])
            }
            _ => Other,
        },
    }
}

/// DML: ROW EXCLUSIVE on the table, and on what its rows may reach: partitions and
/// inheritance children (unless ONLY), a view's base tables, and — for UPDATE / DELETE — the
/// tables whose foreign keys point at it (their RI triggers lock them).
fn dml(
    rv: Option<&protobuf::RangeVar>,
    whole_table: bool,
    removes_rows: bool,
    schema: &SchemaState,
) -> Operation {
    let table = rv.map(RelName::from_range_var);
    let reach = table.as_ref().and_then(|t| {
        let known = schema.table(t).is_some_and(|s| s.kind_known) || schema.view_bases(t).is_some();
        if !known {
            return None;
        }
        let mut out: Vec<RelName> = Vec::new();
        if rv.is_some_and(|r| r.inh) {
            out.extend(schema.descendants(t).into_iter().flatten().map(|(r, _)| r));
        }
        out.extend(schema.view_bases(t).into_iter().flatten());
        if removes_rows {
            out.extend(schema.all_referencing_tables(t, true));
        }
        out.sort_by_key(|r| r.key());
        out.dedup();
        Some(out)
    });
    Operation {
        detail: whole_table.then(|| "no WHERE clause: every row is changed".to_string()),
        ..Operation::new(F::Dml, table)
    }
    .with(R::RowsReach, reach)
}

fn range_var(node: &protobuf::Node) -> Option<RelName> {
    match node.node.as_ref()? {
        NodeEnum::RangeVar(rv) => Some(RelName::from_range_var(rv)),
        _ => None,
    }
}

/// PostgreSQL's LOCKMODE numbering: 1 = AccessShare ... 8 = AccessExclusive.
fn lock_mode_from_int(mode: i32) -> Option<LockMode> {
    LockMode::ALL.get((mode as usize).checked_sub(1)?).copied()
}

fn classify_set(v: &protobuf::VariableSetStmt) -> StatementKind {
    use protobuf::VariableSetKind as K;
    let timeout = match v.name.as_str() {
        "lock_timeout" => Timeout::Lock,
        "statement_timeout" => Timeout::Statement,
        _ => return StatementKind::Other,
    };
    let millis = match K::try_from(v.kind).unwrap_or(K::Undefined) {
        K::VarSetValue => v.args.first().and_then(parse_duration_arg),
        K::VarSetDefault | K::VarReset => None,
        _ => return StatementKind::Other,
    };
    StatementKind::SetTimeout {
        timeout,
        millis: millis.filter(|m| *m > 0),
        local: v.is_local,
    }
}

/// `'5s'`, `5000`, `'1min'` → milliseconds. 0 means "no timeout" (returned as Some(0)).
fn parse_duration_arg(node: &protobuf::Node) -> Option<u64> {
    let NodeEnum::AConst(c) = node.node.as_ref()? else {
        return None;
    };
    match c.val.as_ref()? {
        protobuf::a_const::Val::Ival(i) => Some(i.ival.max(0) as u64),
        protobuf::a_const::Val::Sval(s) => parse_duration(&s.sval),
        protobuf::a_const::Val::Fval(f) => f.fval.parse::<f64>().ok().map(|v| v.max(0.0) as u64),
        _ => None,
    }
}

/// Parses a PostgreSQL time setting (`100ms`, `5s`, `2min`, `1h`, bare number = ms).
pub fn parse_duration(s: &str) -> Option<u64> {
    let s = s.trim();
    let split = s
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(s.len());
    let (num, unit) = s.split_at(split);
    let value: f64 = num.parse().ok()?;
    let factor = match unit.trim() {
        "" | "ms" => 1.0,
        "us" => 0.001,
        "s" => 1000.0,
        "min" => 60_000.0,
        "h" => 3_600_000.0,
        "d" => 86_400_000.0,
        _ => return None,
    };
    Some((value * factor) as u64)
}

fn classify_index(i: &protobuf::IndexStmt, schema: &SchemaState) -> Operation {
    let table = i.relation.as_ref().map(RelName::from_range_var);
    let index = (!i.idxname.is_empty()).then(|| {
        RelName::new(
            i.relation.as_ref().map(|r| r.schemaname.as_str()),
            &i.idxname,
        )
    });
    // IF NOT EXISTS and the run knows an index of that name: PostgreSQL skips the build.
    let skipped = i.if_not_exists
        && !i.concurrent
        && index.as_ref().is_some_and(|x| schema.index(x).is_some());
    Operation {
        index,
        if_exists: i.if_not_exists,
        ..Operation::new(
            if skipped {
                F::CreateIndexSkipped
            } else if i.concurrent {
                F::CreateIndexConcurrently
            } else {
                F::CreateIndex
            },
            table,
        )
    }
}

fn classify_drop(d: &protobuf::DropStmt, schema: &SchemaState) -> Vec<Operation> {
    let kind = ObjectType::try_from(d.remove_type).unwrap_or(ObjectType::Undefined);
    let mut out = Vec::new();
    let cascade = d.behavior == protobuf::DropBehavior::DropCascade as i32;
    for obj in &d.objects {
        // What the database's dependency graph says the drop takes with it.
        let reach = drop_reach(schema, kind, obj, cascade);
        let target_key = reach.as_ref().map(|(t, _)| t.key());
        // The relations reached, without the one dropped.
        let reached = |reach: &Option<(RelName, DropReach)>| -> Option<Vec<RelName>> {
            reach.as_ref().map(|(_, r)| {
                r.locks
                    .iter()
                    .map(|(n, _)| n.clone())
                    .filter(|n| Some(n.key()) != target_key)
                    .collect()
            })
        };
        let refused = reach.as_ref().and_then(|(t, r)| {
            r.refused_by.as_ref().map(|by| {
                format!("{by} depends on {t}: PostgreSQL refuses to drop it without CASCADE")
            })
        });
        if kind == ObjectType::ObjectPublication {
            out.push(Operation::new(F::PublicationCatalogOnly, None));
            continue;
        }
        if kind == ObjectType::ObjectSchema {
            let dependents = reached(&reach).or_else(|| (!cascade).then(Vec::new));
            out.push(
                Operation {
                    if_exists: d.missing_ok,
                    refused,
                    ..Operation::new(F::DropSchema, None)
                }
                .with(R::Dependents, dependents),
            );
            continue;
        }
        if kind == ObjectType::ObjectStatisticExt {
            let name = match obj.node.as_ref() {
                Some(NodeEnum::List(l)) => RelName::from_name_list(&l.items),
                _ => None,
            };
            let table = reach
                .as_ref()
                .and_then(|(_, r)| r.locks.first().map(|(t, _)| t.clone()))
                .or_else(|| {
                    name.as_ref()
                        .and_then(|n| schema.statistics_table(n))
                        .cloned()
                });
            match table {
                Some(t) => out.push(Operation {
                    if_exists: d.missing_ok,
                    ..Operation::new(F::DropStatistics, Some(t))
                }),
                None => out.push(Operation::not_modelled(
                    "DROP STATISTICS (SHARE UPDATE EXCLUSIVE on the table the statistics are on, which is not known without the database schema)",
                    None,
                )),
            }
            continue;
        }
        if other_object(kind) {
            // A function, collation, server, ...: it locks only what it takes with it, which
            // the dependency graph tells; without it, only a RESTRICT drop is known to take
            // nothing (an extension takes its members even then).
            let dependents = reached(&reach)
                .or_else(|| (!cascade && kind != ObjectType::ObjectExtension).then(Vec::new));
            if reach.is_some() || kind != ObjectType::ObjectExtension {
                out.push(
                    Operation {
                        if_exists: d.missing_ok,
                        refused,
                        ..Operation::new(F::DropObject, None)
                    }
                    .with(R::Dependents, dependents),
                );
            }
            continue;
        }
        if matches!(kind, ObjectType::ObjectType | ObjectType::ObjectDomain) {
            // CASCADE drops the columns of that type: known for a domain the run knows.
            let name = match obj.node.as_ref() {
                Some(NodeEnum::TypeName(t)) => string_list(&t.names).last().cloned(),
                _ => None,
            };
            let dependents = match (cascade, kind) {
                _ if reach.is_some() => reached(&reach),
                (false, _) => Some(Vec::new()),
                (true, ObjectType::ObjectDomain) => {
                    name.as_deref().and_then(|n| schema.domain_users(n))
                }
                (true, _) => None,
            };
            if dependents.is_some() {
                out.push(
                    Operation {
                        if_exists: d.missing_ok,
                        refused,
                        detail: cascade
                            .then(|| "CASCADE drops every column of the domain".to_string()),
                        ..Operation::new(F::DropType, None)
                    }
                    .with(R::Dependents, dependents),
                );
            }
            continue;
        }
        let list = match obj.node.as_ref() {
            Some(NodeEnum::List(l)) => &l.items[..],
            _ => continue,
        };
        match kind {
            ObjectType::ObjectIndex => {
                let Some(index) = RelName::from_name_list(list) else {
                    continue;
                };
                let table = schema.index(&index).and_then(|i| i.table.clone());
                let refused = schema.constraint_owning_index(&index).map(|t| {
                    format!(
                        "{index} belongs to constraint {} of {t}: drop the constraint instead",
                        index.name
                    )
                });
                out.push(Operation {
                    index: Some(index),
                    refused,
                    if_exists: d.missing_ok,
                    ..Operation::new(
                        if d.concurrent {
                            F::DropIndexConcurrently
                        } else {
                            F::DropIndex
                        },
                        table,
                    )
                });
            }
            ObjectType::ObjectTable | ObjectType::ObjectMatview => {
                let Some(table) = RelName::from_name_list(list) else {
                    continue;
                };
                // Every table its foreign keys reference, in a stable order.
                let mut referenced = schema.foreign_key_targets(&table).into_iter();
                let cascade = d.behavior == protobuf::DropBehavior::DropCascade as i32;
                let known = schema.table(&table).filter(|t| t.kind_known);
                let parent = known.map(|t| t.parent.clone().into_iter().collect::<Vec<_>>());
                let default = known.map(|t| {
                    t.parent
                        .as_ref()
                        .and_then(|p| schema.default_partition(p).flatten())
                        .filter(|d| d.key() != table.key())
                        .into_iter()
                        .collect::<Vec<_>>()
                });
                let dependents = match (cascade, known) {
                    (true, _) if reach.is_some() => reached(&reach),
                    (false, _) => Some(Vec::new()),
                    (true, Some(_)) => {
                        let mut deps = schema.all_referencing_tables(&table, false);
                        deps.extend(schema.dependent_views(&table, None));
                        Some(deps)
                    }
                    (true, None) => None,
                };
                out.push(
                    Operation {
                        referenced: referenced.next(),
                        also_referenced: referenced.collect(),
                        if_exists: d.missing_ok,
                        refused,
                        ..Operation::new(F::DropTable, Some(table.clone()))
                    }
                    .with(R::Parent, parent)
                    .with(R::DefaultPartition, default)
                    .with(R::OwnedSequences, schema.owned_sequences(&table, None))
                    .with(R::Dependents, dependents),
                );
            }
            ObjectType::ObjectTrigger => {
                // [schema.]table.trigger
                let table = RelName::from_name_list(&list[..list.len().saturating_sub(1)]);
                out.push(Operation::new(F::DropTrigger, table));
            }
            ObjectType::ObjectRule => {
                let table = RelName::from_name_list(&list[..list.len().saturating_sub(1)]);
                out.push(Operation::new(F::DropRule, table));
            }
            ObjectType::ObjectView | ObjectType::ObjectSequence => {
                let form = if kind == ObjectType::ObjectView {
                    F::DropView
                } else {
                    F::DropSequence
                };
                let name = RelName::from_name_list(list);
                // Views on the view, when the run knows the view (it reads something known).
                let dependents = match (cascade, kind, &name) {
                    _ if reach.is_some() => reached(&reach),
                    (false, _, _) => Some(Vec::new()),
                    (true, ObjectType::ObjectView, Some(v)) if schema.view_bases(v).is_some() => {
                        Some(schema.dependent_views(v, None))
                    }
                    _ => None,
                };
                out.push(
                    Operation {
                        if_exists: d.missing_ok,
                        refused,
                        ..Operation::new(form, name)
                    }
                    .with(R::Dependents, dependents),
                );
            }
            ObjectType::ObjectForeignTable => {
                let Some(table) = RelName::from_name_list(list) else {
                    continue;
                };
                let known = schema.table(&table).filter(|t| t.kind_known);
                let parent = known.map(|t| t.parent.clone().into_iter().collect::<Vec<_>>());
                let default = known.map(|t| {
                    t.parent
                        .as_ref()
                        .and_then(|p| schema.default_partition(p).flatten())
                        .into_iter()
                        .collect::<Vec<_>>()
                });
                let dependents = reached(&reach).or_else(|| (!cascade).then(Vec::new));
                out.push(
                    Operation {
                        if_exists: d.missing_ok,
                        refused,
                        ..Operation::new(F::DropForeignTable, Some(table))
                    }
                    .with(R::Parent, parent)
                    .with(R::DefaultPartition, default)
                    .with(R::Dependents, dependents),
                );
            }
            ObjectType::ObjectPolicy => {
                let table = RelName::from_name_list(&list[..list.len().saturating_sub(1)]);
                out.push(Operation::new(F::CreatePolicy, table));
            }

            _ => {}
        }
    }
    let unresolved_cascade = out.iter().any(|o| {
        matches!(o.form, Some(F::DropView | F::DropSequence)) && o.related(R::Dependents).is_none()
    });
    if cascade && (unresolved_cascade || kind == ObjectType::ObjectRule) {
        // The object itself is modelled; what CASCADE also drops is not (yet).
        out.push(Operation::not_modelled(
            "CASCADE: also drops every object that depends on it (views, columns, defaults)",
            out.first().and_then(|o| o.table.clone()),
        ));
    }
    if out.is_empty() {
        if let Some(what) = unmodelled_drop(kind, cascade) {
            out.push(Operation::not_modelled(
                what,
                d.objects.first().and_then(|o| match o.node.as_ref() {
                    Some(NodeEnum::List(l)) if relation_like(kind) => {
                        RelName::from_name_list(&l.items)
                    }
                    _ => None,
                }),
            ));
        }
    }
    out
}

/// The objects the roles own, when the schema has the database's dependency graph and every
/// role is named (not CURRENT_USER and the like).
fn owned_objects<'a>(
    schema: &'a SchemaState,
    roles: &[protobuf::Node],
) -> Option<(
    &'a super::depend::DependencyGraph,
    Vec<super::depend::ObjectAddress>,
)> {
    let graph = schema.dependencies()?;
    let mut objects = Vec::new();
    for r in roles {
        match r.node.as_ref()? {
            NodeEnum::RoleSpec(spec)
                if spec.roletype == protobuf::RoleSpecType::RolespecCstring as i32 =>
            {
                objects.extend_from_slice(graph.owned_by(&spec.rolename))
            }
            _ => return None,
        }
    }
    Some((graph, objects))
}

/// Drops of objects that are not relations, types, schemas or statistics (which lock a table
/// only through what depends on them).
fn other_object(kind: ObjectType) -> bool {
    use ObjectType as O;
    matches!(
        kind,
        O::ObjectFunction
            | O::ObjectProcedure
            | O::ObjectRoutine
            | O::ObjectAggregate
            | O::ObjectForeignServer
            | O::ObjectFdw
            | O::ObjectCollation
            | O::ObjectExtension
            | O::ObjectLanguage
    )
}

/// The object a DROP names and what dropping it takes with it, when the schema has the
/// database's dependency graph and the graph knows the object.
fn drop_reach(
    schema: &SchemaState,
    kind: ObjectType,
    obj: &protobuf::Node,
    cascade: bool,
) -> Option<(RelName, DropReach)> {
    use ObjectType as O;
    let graph = schema.dependencies()?;
    let named = match kind {
        O::ObjectSchema => NamedKind::Schema,
        O::ObjectForeignServer => NamedKind::Server,
        O::ObjectFdw => NamedKind::ForeignDataWrapper,
        O::ObjectExtension => NamedKind::Extension,
        O::ObjectLanguage => NamedKind::Language,
        O::ObjectType | O::ObjectDomain => NamedKind::Type,
        O::ObjectFunction | O::ObjectProcedure | O::ObjectRoutine | O::ObjectAggregate => {
            NamedKind::Routine
        }
        O::ObjectStatisticExt => NamedKind::Statistics,
        O::ObjectCollation => NamedKind::Collation,
        O::ObjectTable
        | O::ObjectView
        | O::ObjectMatview
        | O::ObjectSequence
        | O::ObjectForeignTable => NamedKind::Relation,
        _ => return None,
    };
    let (name, args) = match obj.node.as_ref()? {
        NodeEnum::String(s) => (RelName::new(None, &s.sval), None),
        NodeEnum::List(l) => (RelName::from_name_list(&l.items)?, None),
        NodeEnum::TypeName(t) => (RelName::from_name_list(&t.names)?, None),
        NodeEnum::ObjectWithArgs(o) => (
            RelName::from_name_list(&o.objname)?,
            (!o.args_unspecified).then_some(o.objargs.len()),
        ),
        _ => return None,
    };
    let target = graph.lookup(named, &name, args)?;
    let mut reach = graph.drop_reach(&[target], cascade);
    if named == NamedKind::Statistics {
        reach.locks = graph
            .owner(target)
            .map(|t| (t.clone(), LockMode::ShareUpdateExclusive))
            .into_iter()
            .collect();
    }
    let name = match named {
        NamedKind::Relation => graph.relation(target.oid).cloned().unwrap_or(name),
        _ => name,
    };
    Some((name, reach))
}

/// Object types whose name is a relation name (`[schema.]name`).
fn relation_like(kind: ObjectType) -> bool {
    matches!(
        kind,
        ObjectType::ObjectView | ObjectType::ObjectSequence | ObjectType::ObjectForeignTable
    )
}

/// What a DROP of an object type the model has no form for does to existing relations, or
/// `None` when it locks only the object itself (a function, a role, ...) and drops nothing
/// else.
fn unmodelled_drop(kind: ObjectType, cascade: bool) -> Option<String> {
    use ObjectType as O;
    let name = match kind {
        O::ObjectView => "DROP VIEW (ACCESS EXCLUSIVE on the view; queries using it fail)",
        O::ObjectSequence => "DROP SEQUENCE (defaults using it fail)",
        O::ObjectType | O::ObjectDomain => "DROP TYPE / DROP DOMAIN",
        O::ObjectSchema => "DROP SCHEMA",
        O::ObjectRule => "DROP RULE (ACCESS EXCLUSIVE on the table)",
        O::ObjectStatisticExt => "DROP STATISTICS",
        O::ObjectExtension => "DROP EXTENSION (drops the extension's objects)",
        O::ObjectForeignTable => "DROP FOREIGN TABLE",
        O::ObjectTrigger | O::ObjectPolicy | O::ObjectIndex | O::ObjectTable | O::ObjectMatview => {
            return None
        }
        _ if cascade => "DROP ... CASCADE",
        _ => return None,
    };
    Some(if cascade {
        format!("{name}, with CASCADE: also drops every object that depends on it (columns, views, constraints)")
    } else {
        name.to_string()
    })
}

fn classify_reindex(r: &protobuf::ReindexStmt, schema: &SchemaState) -> Operation {
    use protobuf::ReindexObjectType as K;
    let concurrent = r.params.iter().any(|p| match p.node.as_ref() {
        Some(NodeEnum::DefElem(d)) => d.defname == "concurrently",
        _ => false,
    });
    let rel = r.relation.as_ref().map(RelName::from_range_var);
    let kind = K::try_from(r.kind).unwrap_or(K::Undefined);
    // A partitioned table or index has no storage: PostgreSQL reindexes each partition in a
    // transaction of its own.
    let partitioned = |t: &RelName| {
        schema
            .table(t)
            .is_some_and(|t| t.kind_known && t.partitioned)
    };
    let table_of_index = match kind {
        K::ReindexObjectIndex => rel
            .as_ref()
            .and_then(|i| schema.index(i))
            .and_then(|i| i.table.clone()),
        K::ReindexObjectTable => rel.clone(),
        _ => None,
    };
    if let Some(t) = table_of_index.filter(|t| !concurrent && partitioned(t)) {
        return Operation {
            index: (kind == K::ReindexObjectIndex)
                .then(|| rel.clone())
                .flatten(),
            ..Operation::new(F::ReindexPartitioned, Some(t))
        };
    }
    match kind {
        K::ReindexObjectIndex => Operation {
            index: rel,
            ..Operation::new(
                if concurrent {
                    F::ReindexConcurrently
                } else {
                    F::ReindexIndex
                },
                None,
            )
        },
        _ => Operation::new(
            if concurrent {
                F::ReindexConcurrently
            } else {
                F::ReindexTable
            },
            rel,
        ),
    }
}

fn classify_create_table(c: &protobuf::CreateStmt, schema: &SchemaState) -> Operation {
    let table = c.relation.as_ref().map(RelName::from_range_var);
    if let Some(bound) = &c.partbound {
        if let Some(parent) = c.inh_relations.first().and_then(range_var) {
            let default = if bound.is_default {
                Some(Vec::new())
            } else {
                schema
                    .default_partition(&parent)
                    .map(|d| d.into_iter().collect())
            };
            // The parent's foreign keys are cloned onto the partition: SHARE ROW EXCLUSIVE on
            // each referenced table.
            let mut referenced = schema.foreign_key_targets(&parent).into_iter();
            return Operation {
                partition: table,
                referenced: referenced.next(),
                also_referenced: referenced.collect(),
                ..Operation::new(F::CreateTablePartitionOf, Some(parent))
            }
            .with(R::DefaultPartition, default);
        }
    }
    let mut referenced = None;
    for elt in &c.table_elts {
        let cons: Vec<protobuf::Constraint> = match elt.node.as_ref() {
            Some(NodeEnum::ColumnDef(cd)) => column_constraints(cd),
            Some(NodeEnum::Constraint(con)) => vec![(**con).clone()],
            _ => vec![],
        };
        if let Some(pk) = cons
            .iter()
            .find(|c| c.contype == ConstrType::ConstrForeign as i32)
            .and_then(|c| c.pktable.as_ref())
        {
            referenced = Some(RelName::from_range_var(pk));
            break;
        }
    }
    let parents: Vec<RelName> = c.inh_relations.iter().filter_map(range_var).collect();
    if !parents.is_empty() {
        return Operation {
            referenced,
            partition: table,
            ..Operation::new(F::CreateTableInherits, None)
        }
        .with(R::Parent, Some(parents));
    }
    match referenced {
        Some(r) => Operation {
            referenced: Some(r),
            partition: table,
            ..Operation::new(F::CreateTableWithForeignKey, None)
        },
        None => Operation {
            partition: table,
            ..Operation::new(F::CreateTable, None)
        },
    }
}

fn classify_vacuum(v: &protobuf::VacuumStmt) -> Vec<Operation> {
    let full = v.options.iter().any(|o| match o.node.as_ref() {
        Some(NodeEnum::DefElem(d)) => d.defname == "full" && !matches!(d.arg.as_ref().and_then(|a| a.node.as_ref()), Some(NodeEnum::Boolean(b)) if !b.boolval),
        _ => false,
    });
    let form = if !v.is_vacuumcmd {
        F::Analyze
    } else if full {
        F::VacuumFull
    } else {
        F::Vacuum
    };
    let rels: Vec<Operation> = v
        .rels
        .iter()
        .filter_map(|r| match r.node.as_ref()? {
            NodeEnum::VacuumRelation(vr) => vr.relation.as_ref().map(RelName::from_range_var),
            _ => None,
        })
        .map(|rel| Operation::new(form, Some(rel)))
        .collect();
    if rels.is_empty() {
        vec![Operation {
            detail: Some("every table of the database".into()),
            ..Operation::new(form, None)
        }]
    } else {
        rels
    }
}

fn classify_comment(c: &protobuf::CommentStmt) -> Operation {
    let kind = ObjectType::try_from(c.objtype).unwrap_or(ObjectType::Undefined);
    let table = match (kind, c.object.as_ref().and_then(|o| o.node.as_ref())) {
        (
            ObjectType::ObjectTable | ObjectType::ObjectView | ObjectType::ObjectMatview,
            Some(NodeEnum::List(l)),
        ) => RelName::from_name_list(&l.items),
        (ObjectType::ObjectColumn, Some(NodeEnum::List(l))) => {
            RelName::from_name_list(&l.items[..l.items.len().saturating_sub(1)])
        }
        _ => None,
    };
    if table.is_some() {
        Operation::new(F::Comment, table)
    } else {
        Operation {
            form: None,
            ..Default::default()
        }
    }
}

fn classify_rename(r: &protobuf::RenameStmt) -> Vec<Operation> {
    let kind = ObjectType::try_from(r.rename_type).unwrap_or(ObjectType::Undefined);
    let rel = r.relation.as_ref().map(RelName::from_range_var);
    let op = match kind {
        ObjectType::ObjectTable | ObjectType::ObjectMatview | ObjectType::ObjectView => Operation {
            detail: Some(format!("renamed to {}", r.newname)),
            ..Operation::new(F::RenameTable, rel)
        },
        ObjectType::ObjectColumn => Operation {
            column: Some(r.subname.clone()),
            detail: Some(format!("renamed to {}", r.newname)),
            ..Operation::new(F::RenameColumn, rel)
        },
        ObjectType::ObjectTabconstraint => Operation {
            constraint: Some(r.subname.clone()),
            ..Operation::new(F::RenameConstraint, rel)
        },
        ObjectType::ObjectIndex => Operation {
            index: rel,
            ..Operation::new(F::AlterIndexRename, None)
        },
        ObjectType::ObjectTrigger => Operation {
            detail: Some(format!("renamed to {}", r.newname)),
            ..Operation::new(F::RenameTrigger, rel)
        },
        ObjectType::ObjectRule => Operation {
            detail: Some(format!("renamed to {}", r.newname)),
            ..Operation::new(F::RenameRule, rel)
        },
        ObjectType::ObjectSequence => Operation {
            detail: Some(format!("renamed to {}", r.newname)),
            ..Operation::new(F::RenameSequence, rel)
        },
        ObjectType::ObjectPolicy
        | ObjectType::ObjectForeignTable
        | ObjectType::ObjectDomconstraint => {
            Operation::not_modelled(format!("ALTER {} ... RENAME", object_type_sql(kind)), rel)
        }
        // Functions, types, schemas, roles ...: a lock on that object only.
        _ => return vec![],
    };
    vec![op]
}

fn object_type_sql(kind: ObjectType) -> &'static str {
    match kind {
        ObjectType::ObjectTrigger => "TRIGGER",
        ObjectType::ObjectRule => "RULE",
        ObjectType::ObjectPolicy => "POLICY",
        ObjectType::ObjectSequence => "SEQUENCE",
        ObjectType::ObjectForeignTable => "FOREIGN TABLE",
        ObjectType::ObjectDomconstraint => "DOMAIN ... CONSTRAINT",
        _ => "object",
    }
}

fn classify_alter_table(a: &protobuf::AlterTableStmt, schema: &SchemaState) -> Vec<Operation> {
    let Some(rv) = &a.relation else { return vec![] };
    let rel = RelName::from_range_var(rv);
    let on_index = a.objtype == ObjectType::ObjectIndex as i32;
    let on_sequence = a.objtype == ObjectType::ObjectSequence as i32;
    // `DROP CONSTRAINT <pkey>, ADD PRIMARY KEY (...)` (or dropping a key column) in one
    // statement: the new key is added after the old one is gone.
    let drops_primary_key = schema.table(&rel).is_some_and(|t| {
        let pk: Vec<(&String, &ConstraintState)> = t
            .constraints
            .iter()
            .filter(|(_, c)| c.kind == ConstraintKind::PrimaryKey)
            .collect();
        a.cmds.iter().any(|c| match c.node.as_ref() {
            Some(NodeEnum::AlterTableCmd(cmd)) => {
                let dropped = |name: &str| pk.iter().any(|(n, _)| n.as_str() == name);
                let key_column =
                    |name: &str| pk.iter().any(|(_, k)| k.columns.iter().any(|c| c == name));
                (cmd.subtype == AlterTableType::AtDropConstraint as i32 && dropped(&cmd.name))
                    || (cmd.subtype == AlterTableType::AtDropColumn as i32 && key_column(&cmd.name))
            }
            _ => false,
        })
    });
    a.cmds
        .iter()
        .filter_map(|c| match c.node.as_ref()? {
            NodeEnum::AlterTableCmd(cmd) => {
                let mut op = Operation {
                    only: !rv.inh,
                    ..classify_alter_cmd(&rel, on_index, on_sequence, cmd, schema)
                };
                // Dropping a column or constraint under ONLY still locks the children (their
                // inherited copies are updated).
                if matches!(
                    op.form,
                    Some(F::DropColumn | F::DropConstraint | F::DropForeignKey)
                ) {
                    op.only = false;
                }
                if matches!(
                    op.form,
                    Some(F::SetStorageParameters | F::AlterIndexSetStorage)
                ) {
                    op.storage_parameters =
                        Some((storage_kinds(a, &rel, schema), option_names(cmd)));
                }
                op.refused = refusal(&op, &rel, on_index, schema);
                if drops_primary_key
                    && op
                        .refused
                        .as_deref()
                        .is_some_and(|r| r.ends_with("already has a primary key"))
                {
                    op.refused = None;
                }
                Some(op)
            }
            _ => None,
        })
        .collect()
}

/// Why PostgreSQL will refuse an ALTER TABLE subcommand, as far as the schema shows it.
fn refusal(op: &Operation, rel: &RelName, on_index: bool, schema: &SchemaState) -> Option<String> {
    if on_index {
        return None;
    }
    let t = schema.table(rel)?;
    let existing = !t.created_in_run;
    match op.form? {
        F::AddColumnPrimaryKey | F::AddPrimaryKey | F::AddPrimaryKeyUsingIndex
        | F::AddPrimaryKeyUsingIndexSetsNotNull
            if t.constraints.values().any(|c| c.kind == ConstraintKind::PrimaryKey) =>
        {
            Some(format!("{rel} already has a primary key"))
        }
        F::AddColumnNullable
        | F::AddColumnNonVolatileDefault
        | F::AddColumnVolatileDefault
        | F::AddColumnNotNullWithDefault
        | F::AddColumnNotNullNoDefault
        | F::AddColumnCheck
        | F::AddColumnReferences
        | F::AddColumnReferencesWithDefault
        | F::AddColumnUnique
        | F::AddColumnPrimaryKey
        | F::AddColumnIdentity
        | F::AddColumnSerial
        | F::AddColumnGeneratedStored
        | F::AddColumnGeneratedVirtual
            if t.parent.is_some() =>
        {
            Some(format!("{rel} is a partition: columns are added to its partitioned table"))
        }
        // Fails if the table has a row; a table whose heap has no page has none.
        F::AddColumnNotNullNoDefault if existing && t.kind_known && !t.known_empty => Some(format!(
            "every existing row of {rel} would be NULL in a NOT NULL column (it fails unless {rel} is empty)"
        )),
        F::SetStorageParameters | F::SetStorageParametersExclusive if t.partitioned && t.kind_known => {
            Some(format!("{rel} is partitioned: a partitioned table takes no storage parameters"))
        }
        F::AlterColumnTypeRewrite
        | F::AlterColumnTypeNoRewrite
        | F::AlterColumnTypeRecheck
        | F::AlterColumnTypeRebuildIndex => {
            let column = op.column.as_deref()?;
            let views = schema.views_using_column(rel, column);
            (!views.is_empty()).then(|| {
                let names: Vec<String> = views.iter().map(|v| v.to_string()).collect();
                format!("{}.{column} is used by {}: a column a view uses cannot change type", rel, names.join(", "))
            })
        }
        _ => None,
    }
}

/// What kind of relation an `ALTER ... SET (...)` may be about, for the option lock levels.
fn storage_kinds(
    a: &protobuf::AlterTableStmt,
    rel: &RelName,
    schema: &SchemaState,
) -> Vec<&'static str> {
    use super::reloptions::INDEX_METHODS;
    match ObjectType::try_from(a.objtype).unwrap_or(ObjectType::Undefined) {
        ObjectType::ObjectIndex => match schema.index(rel).and_then(|i| i.method.as_deref()) {
            Some(m) => INDEX_METHODS.iter().copied().filter(|k| *k == m).collect(),
            None => INDEX_METHODS.to_vec(),
        },
        ObjectType::ObjectView => vec!["view"],
        ObjectType::ObjectMatview => vec!["table"],
        _ if schema.table(rel).is_some_and(|t| t.kind_known) => vec!["table"],
        _ => vec!["table", "view"],
    }
}

/// The option names of `SET (...)` / `RESET (...)`, `toast.`-prefixed for TOAST options.
fn option_names(cmd: &protobuf::AlterTableCmd) -> Vec<String> {
    let Some(NodeEnum::List(list)) = cmd.def.as_ref().and_then(|d| d.node.as_ref()) else {
        return Vec::new();
    };
    list.items
        .iter()
        .filter_map(|n| match n.node.as_ref()? {
            NodeEnum::DefElem(d) if d.defnamespace.is_empty() => Some(d.defname.clone()),
            NodeEnum::DefElem(d) => Some(format!("{}.{}", d.defnamespace, d.defname)),
            _ => None,
        })
        .collect()
}

fn classify_alter_cmd(
    rel: &RelName,
    on_index: bool,
    on_sequence: bool,
    cmd: &protobuf::AlterTableCmd,
    schema: &SchemaState,
) -> Operation {
    use AlterTableType as A;
    let table = Some(rel.clone());
    let col = || Some(cmd.name.clone()).filter(|n| !n.is_empty());
    let def = cmd.def.as_ref().and_then(|d| d.node.as_ref());
    let subtype = A::try_from(cmd.subtype).unwrap_or(A::Undefined);
    if on_index {
        let form = match subtype {
            A::AtSetTableSpace
                if schema
                    .placement(rel)
                    .and_then(|p| p.tablespace.as_deref())
                    .is_some_and(|t| t == cmd.name) =>
            {
                F::AlterIndexNoMove
            }
            A::AtSetTableSpace => F::AlterIndexSetTablespace,
            A::AtSetRelOptions | A::AtResetRelOptions => F::AlterIndexSetStorage,
            A::AtSetStatistics => F::AlterIndexSetStatistics,
            A::AtAttachPartition => {
                let partition = match def {
                    Some(NodeEnum::PartitionCmd(pc)) => {
                        pc.name.as_ref().map(RelName::from_range_var)
                    }
                    _ => None,
                };
                return Operation {
                    index: table,
                    partition,
                    ..Operation::new(F::AttachIndexPartition, None)
                };
            }
            _ => {
                return Operation {
                    index: table,
                    ..Operation::not_modelled(
                        format!("ALTER INDEX ... {}", subtype_sql(subtype)),
                        None,
                    )
                }
            }
        };
        return Operation {
            index: table,
            ..Operation::new(form, None)
        };
    }
    let simple = |form| Operation {
        column: col(),
        ..Operation::new(form, table.clone())
    };
    match subtype {
        A::AtAddColumn => match def {
            Some(NodeEnum::ColumnDef(cd)) => classify_add_column(rel, cd, schema),
            _ => Operation::default(),
        },
        A::AtDropColumn => {
            let cascade = cmd.behavior == protobuf::DropBehavior::DropCascade as i32;
            let known = schema.table(rel).is_some_and(|t| t.kind_known);
            let dependents = match (cascade, known) {
                (false, _) => Some(Vec::new()),
                (true, true) => {
                    let mut deps = schema.referencing_tables(rel, &cmd.name);
                    deps.extend(schema.dependent_views(rel, Some(&cmd.name)));
                    Some(deps)
                }
                (true, false) => None,
            };
            let mut referenced = schema.referenced_by_column(rel, &cmd.name).into_iter();
            Operation {
                referenced: referenced.next(),
                also_referenced: referenced.collect(),
                ..simple(F::DropColumn)
            }
            .with(
                R::OwnedSequences,
                schema.owned_sequences(rel, Some(&cmd.name)),
            )
            .with(R::Dependents, dependents)
        }
        A::AtAlterColumnType => {
            let Some(NodeEnum::ColumnDef(cd)) = def else {
                return Operation::default();
            };
            classify_alter_type(rel, &cmd.name, cd, schema)
        }
        A::AtColumnDefault => {
            if cmd.def.is_some() {
                simple(F::SetDefault)
            } else {
                simple(F::DropDefault)
            }
        }
        A::AtSetNotNull => {
            if schema.column(rel, &cmd.name).is_some_and(|c| c.not_null) {
                Operation {
                    detail: Some(format!(
                        "{} is already NOT NULL: nothing to check",
                        cmd.name
                    )),
                    ..simple(F::SetNotNullProvenByCheck)
                }
            } else if schema.has_valid_not_null_check(rel, &cmd.name) || schema.is_new_table(rel) {
                simple(F::SetNotNullProvenByCheck)
            } else {
                simple(F::SetNotNull)
            }
        }
        A::AtDropNotNull => simple(F::DropNotNull),
        A::AtSetStatistics => simple(F::SetStatistics),
        A::AtSetOptions | A::AtResetOptions => simple(F::SetStatistics),
        A::AtSetStorage => simple(F::SetColumnStorage),
        A::AtSetCompression => simple(F::SetCompression),
        A::AtAddIdentity => simple(F::AddIdentity),
        A::AtSetIdentity => simple(F::SetIdentity).with(
            R::OwnedSequences,
            schema.owned_sequences(rel, Some(&cmd.name)),
        ),
        A::AtDropIdentity => simple(F::DropIdentity).with(
            R::OwnedSequences,
            schema.owned_sequences(rel, Some(&cmd.name)),
        ),
        A::AtSetExpression => simple(F::SetExpression),
        A::AtDropExpression => simple(F::DropExpression),
        A::AtAddConstraint => match def {
            Some(NodeEnum::Constraint(con)) => classify_add_constraint(rel, con, schema),
            _ => Operation::default(),
        },
        A::AtValidateConstraint => {
            let kind = schema
                .constraint(rel, &cmd.name)
                .map(|c| (c.kind, c.referenced.clone()));
            match kind {
                Some((ConstraintKind::ForeignKey, referenced)) => Operation {
                    constraint: col(),
                    referenced,
                    ..Operation::new(F::ValidateForeignKey, table)
                },
                Some(_) => Operation { constraint: col(), ..Operation::new(F::ValidateCheck, table) },
                None => Operation {
                    constraint: col(),
                    assumed: true,
                    detail: Some("constraint type unknown: a foreign key also takes ROW SHARE on the referenced table".into()),
                    ..Operation::new(F::ValidateCheck, table)
                },
            }
        }
        A::AtDropConstraint => {
            let c = schema.constraint(rel, &cmd.name);
            match c.map(|c| (c.kind, c.referenced.clone())) {
                Some((ConstraintKind::ForeignKey, referenced)) => Operation {
                    constraint: col(),
                    referenced,
                    ..Operation::new(F::DropForeignKey, table)
                },
                _ => {
                    let cascade = cmd.behavior == protobuf::DropBehavior::DropCascade as i32;
                    // CASCADE drops the foreign keys that use a dropped key's index.
                    let dependents = match (cascade, c) {
                        (false, _) => Some(Vec::new()),
                        (true, Some(c)) => {
                            let mut deps: Vec<RelName> = Vec::new();
                            for col in &c.columns {
                                for r in schema.referencing_tables(rel, col) {
                                    if !deps.contains(&r) {
                                        deps.push(r);
                                    }
                                }
                            }
                            Some(deps)
                        }
                        (true, None) => None,
                    };
                    Operation {
                        constraint: col(),
                        assumed: c.is_none(),
                        detail: c.is_none().then(|| "if it is a foreign key, the referenced table is locked ACCESS EXCLUSIVE too".to_string()),
                        if_exists: cmd.missing_ok,
                        ..Operation::new(F::DropConstraint, table)
                    }
                    .with(R::Dependents, dependents)
                }
            }
        }
        A::AtChangeOwner => simple(F::OwnerTo),
        A::AtClusterOn | A::AtDropCluster => simple(F::ClusterOn),
        A::AtSetLogged | A::AtSetUnLogged if on_sequence => simple(F::AlterSequenceSetLogged),
        A::AtSetLogged => simple(F::SetLogged),
        A::AtSetUnLogged => simple(F::SetUnlogged),
        A::AtDropOids => simple(F::SetWithoutOids),
        A::AtSetAccessMethod | A::AtSetTableSpace => {
            let place = schema.placement(rel);
            let current = if subtype == A::AtSetAccessMethod {
                place.and_then(|p| p.access_method.as_deref())
            } else {
                place.and_then(|p| p.tablespace.as_deref())
            };
            match current {
                Some(c) if c == cmd.name => Operation {
                    detail: Some(format!("{rel} is already in {c}: nothing moves")),
                    ..simple(F::AlterTableNoMove)
                },
                _ if subtype == A::AtSetAccessMethod => simple(F::SetAccessMethod),
                _ => simple(F::SetTablespace),
            }
        }
        A::AtSetRelOptions | A::AtResetRelOptions | A::AtReplaceRelOptions => {
            simple(F::SetStorageParameters)
        }
        A::AtEnableTrig
        | A::AtEnableAlwaysTrig
        | A::AtEnableReplicaTrig
        | A::AtDisableTrig
        | A::AtEnableTrigAll
        | A::AtDisableTrigAll
        | A::AtEnableTrigUser
        | A::AtDisableTrigUser => simple(F::EnableDisableTrigger),
        A::AtAddInherit | A::AtDropInherit => {
            let parent = match def {
                Some(NodeEnum::RangeVar(rv)) => Some(RelName::from_range_var(rv)),
                _ => None,
            };
            Operation {
                referenced: parent,
                ..simple(if subtype == A::AtDropInherit {
                    F::DropInherit
                } else {
                    F::InheritChange
                })
            }
        }
        A::AtReplicaIdentity => simple(F::ReplicaIdentity),
        A::AtAlterConstraint => Operation {
            constraint: match def {
                Some(NodeEnum::Constraint(c)) => Some(c.conname.clone()),
                _ => None,
            },
            ..simple(F::AlterConstraint)
        },
        A::AtEnableRowSecurity
        | A::AtDisableRowSecurity
        | A::AtForceRowSecurity
        | A::AtNoForceRowSecurity => simple(F::RowLevelSecurity),
        A::AtAttachPartition | A::AtDetachPartition | A::AtDetachPartitionFinalize => {
            let Some(NodeEnum::PartitionCmd(pc)) = def else {
                return Operation::default();
            };
            let partition = pc.name.as_ref().map(RelName::from_range_var);
            let is_default = pc.bound.as_ref().is_some_and(|b| b.is_default);
            // No row to check: a foreign table's are remote; a DEFAULT partition with no
            // other partition beside it may hold any row.
            // Nor when the partition's valid CHECK constraints imply the bound and no DEFAULT
            // partition has to be scanned for rows that now belong to the new one.
            let no_default = schema
                .table(rel)
                .is_some_and(|t| t.kind_known && t.default_partition.is_none());
            let unchecked = partition
                .as_ref()
                .is_some_and(|p| schema.is_foreign_table(p))
                || (no_default
                    && partition
                        .as_ref()
                        .zip(pc.bound.as_ref())
                        .is_some_and(|(p, b)| schema.attach_bound_implied(rel, p, b)))
                || (is_default
                    && schema.table(rel).is_some_and(|t| {
                        t.kind_known
                            && t.partitions
                                .iter()
                                .all(|p| Some(p.key()) == partition.as_ref().map(RelName::key))
                    }));
            let form = match subtype {
                A::AtAttachPartition if unchecked => F::AttachPartitionUnchecked,
                A::AtAttachPartition => F::AttachPartition,
                _ if pc.concurrent => F::DetachPartitionConcurrently,
                _ => F::DetachPartition,
            };
            // The DEFAULT partition is locked ACCESS EXCLUSIVE (and on ATTACH scanned) — also
            // when it is the one detached (PostgreSQL 13 locks a plain detached partition only
            // SHARE UPDATE EXCLUSIVE) — unless it is the one attached.
            let default = if pc.bound.as_ref().is_some_and(|b| b.is_default) {
                Some(Vec::new())
            } else {
                schema
                    .default_partition(rel)
                    .map(|d| d.into_iter().collect())
            };
            // A partitioned partition brings its own partitions; ATTACH clones the parent's
            // foreign keys onto the partition (SHARE ROW EXCLUSIVE on what they reference).
            let sub = partition.as_ref().and_then(|p| {
                schema.descendants(p).map(|d| {
                    d.into_iter()
                        .filter(|(_, part)| *part)
                        .map(|(r, _)| r)
                        .collect()
                })
            });
            let mut referenced =
                if matches!(form, F::AttachPartition | F::AttachPartitionUnchecked) {
                    schema.foreign_key_targets(rel)
                } else {
                    Vec::new()
                }
                .into_iter();
            Operation {
                partition,
                referenced: referenced.next(),
                also_referenced: referenced.collect(),
                ..Operation::new(form, table)
            }
            .with(R::DefaultPartition, default)
            .with(R::SubPartitions, sub)
        }
        _ => Operation::not_modelled(format!("ALTER TABLE ... {}", subtype_sql(subtype)), table),
    }
}

/// An ALTER TABLE subcommand as the user would recognise it.
fn subtype_sql(subtype: AlterTableType) -> String {
    use AlterTableType as A;
    match subtype {
        A::AtAlterConstraint => "ALTER CONSTRAINT".into(),
        A::AtAttachPartition => "ATTACH PARTITION".into(),
        A::AtAddOf => "OF type".into(),
        A::AtDropOf => "NOT OF".into(),
        A::AtGenericOptions => "OPTIONS (...)".into(),
        A::AtColumnDefault => "ALTER COLUMN ... SET DEFAULT".into(),
        A::AtSetStatistics => "ALTER COLUMN ... SET STATISTICS".into(),
        A::AtEnableRule | A::AtEnableAlwaysRule | A::AtEnableReplicaRule | A::AtDisableRule => {
            "ENABLE/DISABLE RULE".into()
        }
        other => {
            // `AtAddColumnToView` → "add column to view"
            let name = format!("{other:?}");
            let name = name.strip_prefix("At").unwrap_or(&name);
            let mut out = String::new();
            for (i, c) in name.chars().enumerate() {
                if c.is_uppercase() && i > 0 {
                    out.push(' ');
                }
                out.push(c.to_ascii_uppercase());
            }
            out
        }
    }
}

fn classify_add_column(rel: &RelName, cd: &protobuf::ColumnDef, schema: &SchemaState) -> Operation {
    let table = Some(rel.clone());
    let column = Some(cd.colname.clone());
    let ty = cd.type_name.as_ref().and_then(ColumnType::from_type_name);
    let cons = column_constraints(cd);
    let has = |t: ConstrType| cons.iter().any(|c| c.contype == t as i32);
    let default = cons
        .iter()
        .find(|c| c.contype == ConstrType::ConstrDefault as i32)
        .and_then(|c| c.raw_expr.as_deref());
    let op = |form, detail: Option<String>| Operation {
        column: column.clone(),
        detail,
        ..Operation::new(form, table.clone())
    };
    if has(ConstrType::ConstrPrimary) {
        return op(F::AddColumnPrimaryKey, None);
    }
    if has(ConstrType::ConstrIdentity) {
        return op(F::AddColumnIdentity, None);
    }
    if let Some(generated) = cons
        .iter()
        .find(|c| c.contype == ConstrType::ConstrGenerated as i32)
    {
        // PostgreSQL 18 made VIRTUAL the default; older versions only know STORED.
        let virtual_ = generated.generated_kind == "v";
        return op(
            if virtual_ {
                F::AddColumnGeneratedVirtual
            } else {
                F::AddColumnGeneratedStored
            },
            None,
        );
    }
    if ty.as_ref().is_some_and(ColumnType::is_serial) {
        return op(F::AddColumnSerial, None);
    }
    // A domain with a CHECK or NOT NULL checks every row; one whose own default is volatile
    // (and no DEFAULT here) computes it per row: both rewrite the table.
    if let Some((name, d)) = ty
        .as_ref()
        .and_then(|t| schema.domain(&t.name).map(|d| (&t.name, d)))
    {
        if d.constrained || (d.volatile_default && default.is_none()) {
            let why = if d.constrained {
                format!("domain {name} has constraints: PostgreSQL checks and rewrites every row")
            } else {
                format!("domain {name} has a volatile default: every row gets its own value")
            };
            return op(F::AddColumnVolatileDefault, Some(why));
        }
    }
    // A volatile default rewrites the table; a CHECK, REFERENCES or UNIQUE on the column is then
    // checked during that rewrite, under the same ACCESS EXCLUSIVE lock.
    if let Some(expr) = default {
        if let DefaultKind::Volatile(func) =
            default_kind_with(expr, &|f| schema.function_is_volatile(f))
        {
            let with = [
                (ConstrType::ConstrUnique, "UNIQUE"),
                (ConstrType::ConstrForeign, "REFERENCES"),
                (ConstrType::ConstrCheck, "CHECK"),
            ]
            .iter()
            .filter(|(t, _)| has(*t))
            .map(|(_, n)| *n)
            .collect::<Vec<_>>();
            let detail = if with.is_empty() {
                format!("{func}() is volatile")
            } else {
                format!(
                    "{func}() is volatile; the column's {} is checked during the rewrite",
                    with.join(" and ")
                )
            };
            let mut o = op(F::AddColumnVolatileDefault, Some(detail));
            o.referenced = cons
                .iter()
                .find(|c| c.contype == ConstrType::ConstrForeign as i32)
                .and_then(|fk| fk.pktable.as_ref().map(RelName::from_range_var));
            return o;
        }
    }
    if has(ConstrType::ConstrUnique) {
        return op(F::AddColumnUnique, None);
    }
    if let Some(fk) = cons
        .iter()
        .find(|c| c.contype == ConstrType::ConstrForeign as i32)
    {
        // Every row gets a non-NULL default: the key is checked for each (a join of both tables).
        let form = if default.is_some_and(|d| !is_null_const(d)) {
            F::AddColumnReferencesWithDefault
        } else {
            F::AddColumnReferences
        };
        let mut o = op(form, None);
        o.referenced = fk.pktable.as_ref().map(RelName::from_range_var);
        return o;
    }
    if has(ConstrType::ConstrCheck) {
        return op(F::AddColumnCheck, None);
    }
    let not_null = cd.is_not_null || has(ConstrType::ConstrNotnull);
    match (not_null, default.is_some()) {
        (true, true) => op(F::AddColumnNotNullWithDefault, None),
        (true, false) => op(F::AddColumnNotNullNoDefault, None),
        (false, true) => op(F::AddColumnNonVolatileDefault, None),
        (false, false) => op(F::AddColumnNullable, None),
    }
}

fn classify_alter_type(
    rel: &RelName,
    column: &str,
    cd: &protobuf::ColumnDef,
    schema: &SchemaState,
) -> Operation {
    let Some(new) = cd.type_name.as_ref().and_then(ColumnType::from_type_name) else {
        return Operation::default();
    };
    let old = schema.column(rel, column).and_then(|c| c.ty.clone());
    // A domain is stored as its base type: a constraint-free domain is binary coercible with
    // it; one with constraints checks (rewrites) every row.
    let new_domain = schema.domain(&new.name);
    let stored_new = new_domain
        .and_then(|d| d.base.clone())
        .unwrap_or_else(|| new.clone());
    let stored_old = old.as_ref().map(|o| {
        schema
            .domain(&o.name)
            .and_then(|d| d.base.clone())
            .unwrap_or_else(|| o.clone())
    });
    // `USING col::newtype` is what PostgreSQL does without USING: no different.
    let has_using = cd
        .raw_default
        .as_ref()
        .is_some_and(|u| !is_plain_cast_of(u, column, &new));
    let indexes = schema.column_indexes(rel, column);
    let mut referenced = schema.referenced_by_column(rel, column).into_iter();
    let base = Operation {
        referencing: schema.referencing_tables(rel, column),
        referenced: referenced.next(),
        also_referenced: referenced.collect(),
        column: Some(column.to_string()),
        type_change: Some((old.clone(), new.clone())),
        ..Operation::new(F::AlterColumnTypeRewrite, Some(rel.clone()))
    }
    .with(
        R::ColumnIndexes,
        indexes
            .as_ref()
            .map(|i| i.iter().map(|(r, _)| r.clone()).collect()),
    );
    let utc_timestamp_change = stored_old.as_ref().is_some_and(|o| {
        matches!(
            (o.name.as_str(), stored_new.name.as_str()),
            ("timestamp", "timestamptz") | ("timestamptz", "timestamp")
        ) && (stored_new.mods.is_empty() || o.mods == stored_new.mods)
    }) && schema.timezone_is_utc() == Some(true);
    let coercible = |o: &ColumnType| {
        !new_domain.is_some_and(|d| d.constrained)
            && (is_binary_coercible(o, &stored_new) || utc_timestamp_change)
    };
    match old {
        Some(old) if !has_using && stored_old.as_ref().is_some_and(coercible) => {
            let why_utc = if utc_timestamp_change { " (the session TimeZone is UTC)" } else { "" };
            // Still re-checked: a CHECK on the column; still rebuilt: an expression index.
            let expression_index = schema
                .known_column_indexes(rel, column)
                .into_iter()
                .find(|(_, e)| *e)
                .map(|(r, _)| r);
            let (form, why) = if let Some(i) = expression_index {
                (F::AlterColumnTypeRebuildIndex, format!(", but {i} (an expression or partial index) is rebuilt"))
            } else if schema.column_has_check(rel, column) {
                (F::AlterColumnTypeRecheck, ", but its CHECK constraints are checked again".to_string())
            } else {
                (F::AlterColumnTypeNoRewrite, String::new())
            };
            Operation {
                form: Some(form),
                detail: Some(format!("{old} → {new} is binary coercible{why_utc}{why}")),
                ..base
            }
        }
        Some(old) => Operation { detail: Some(format!("from {old}")), ..base },
        None if !has_using && may_be_binary_coercible(&new) => Operation {
            assumed: true,
            detail: Some(format!(
                "the current type of {column} is unknown: changing to {new} rewrites the table unless the old type is binary coercible (e.g. varchar(n) → {new})"
            )),
            ..base
        },
        None => base,
    }
}

/// ALTER DOMAIN: a constraint that is checked (ADD without NOT VALID, SET NOT NULL,
/// VALIDATE) reads every table with a column of the domain under SHARE; the rest is catalog.
fn classify_alter_domain(d: &protobuf::AlterDomainStmt, schema: &SchemaState) -> Operation {
    let name = string_list(&d.type_name);
    let domain = name.last().cloned().unwrap_or_default();
    let checks = match d.subtype.as_str() {
        "O" | "V" => true,
        "C" => !matches!(
            d.def.as_ref().and_then(|n| n.node.as_ref()),
            Some(NodeEnum::Constraint(c)) if c.skip_validation
        ),
        "T" | "N" | "X" => false,
        other => {
            return Operation::not_modelled(format!("ALTER DOMAIN (subcommand {other})"), None);
        }
    };
    if !checks {
        return Operation::new(F::AlterDomainCatalogOnly, None);
    }
    Operation {
        detail: Some(format!(
            "checks every value of domain {domain} in every table that uses it"
        )),
        ..Operation::new(F::AlterDomainCheck, None)
    }
    .with(R::DomainUsers, schema.domain_users(&domain))
}

/// Whether a USING expression is just `column::new_type` (or `CAST(column AS new_type)`).
fn is_plain_cast_of(using: &protobuf::Node, column: &str, new: &ColumnType) -> bool {
    let Some(NodeEnum::TypeCast(tc)) = using.node.as_ref() else {
        return false;
    };
    let same_type = tc
        .type_name
        .as_ref()
        .and_then(ColumnType::from_type_name)
        .as_ref()
        == Some(new);
    let of_column = match tc.arg.as_ref().and_then(|a| a.node.as_ref()) {
        Some(NodeEnum::ColumnRef(cr)) => {
            cr.fields.len() == 1
                && cr
                    .fields
                    .iter()
                    .filter_map(super::names::string_value)
                    .next()
                    == Some(column)
        }
        _ => false,
    };
    same_type && of_column
}

fn classify_add_constraint(
    rel: &RelName,
    con: &protobuf::Constraint,
    schema: &SchemaState,
) -> Operation {
    let table = Some(rel.clone());
    let name = Some(con.conname.clone()).filter(|n| !n.is_empty());
    let not_valid = con.skip_validation;
    let using_index = !con.indexname.is_empty();
    let op = |form| Operation {
        constraint: name.clone(),
        ..Operation::new(form, table.clone())
    };
    match ConstrType::try_from(con.contype).unwrap_or(ConstrType::Undefined) {
        ConstrType::ConstrCheck => op(if not_valid {
            F::AddCheckNotValid
        } else {
            F::AddCheck
        }),
        ConstrType::ConstrNotnull => {
            let column = string_list(&con.keys).into_iter().next();
            if not_valid {
                Operation {
                    column,
                    ..op(F::AddNotNullConstraintNotValid)
                }
            } else if column
                .as_deref()
                .is_some_and(|c| schema.has_valid_not_null_check(rel, c))
            {
                Operation {
                    column,
                    ..op(F::SetNotNullProvenByCheck)
                }
            } else {
                Operation {
                    column,
                    ..op(F::SetNotNull)
                }
            }
        }
        ConstrType::ConstrForeign => Operation {
            referenced: con.pktable.as_ref().map(RelName::from_range_var),
            ..op(if not_valid {
                F::AddForeignKeyNotValid
            } else {
                F::AddForeignKey
            })
        },
        ConstrType::ConstrUnique if using_index => Operation {
            index: Some(RelName::new(rel.schema.as_deref(), &con.indexname)),
            ..op(F::AddUniqueUsingIndex)
        },
        ConstrType::ConstrUnique => Operation {
            index: constraint_index(rel, con),
            ..op(F::AddUnique)
        },
        ConstrType::ConstrPrimary if using_index => {
            let index = RelName::new(rel.schema.as_deref(), &con.indexname);
            // Known key columns: NOT NULL already, or set (with a scan) by the key.
            let nullable: Option<Vec<String>> = schema
                .index(&index)
                .filter(|i| !i.columns.is_empty())
                .map(|i| {
                    i.columns
                        .iter()
                        .filter(|c| !schema.column(rel, c).is_some_and(|s| s.not_null))
                        .cloned()
                        .collect()
                });
            match nullable {
                Some(cols) if cols.is_empty() => Operation {
                    index: Some(index),
                    ..op(F::AddPrimaryKeyUsingIndex)
                },
                Some(cols) => Operation {
                    index: Some(index),
                    detail: Some(format!(
                        "{} nullable: PostgreSQL scans the table to set NOT NULL",
                        cols.join(", ")
                    )),
                    ..op(F::AddPrimaryKeyUsingIndexSetsNotNull)
                },
                None => Operation {
                    index: Some(index),
                    detail: Some(
                        "if a key column is nullable, PostgreSQL scans the table to set NOT NULL"
                            .into(),
                    ),
                    ..op(F::AddPrimaryKeyUsingIndex)
                },
            }
        }
        ConstrType::ConstrPrimary => Operation {
            index: constraint_index(rel, con),
            ..op(F::AddPrimaryKey)
        },
        ConstrType::ConstrExclusion => op(F::AddExclude),
        _ => Operation::default(),
    }
}

/// The relation names an operation's lock applies to, per role, for display.
pub fn relation_for_role(op: &Operation, role: pgdiplomat_locks::RelationRole) -> Option<String> {
    use pgdiplomat_locks::RelationRole as R;
    match role {
        R::Table => op.table.as_ref().map(|t| t.to_string()),
        R::Index | R::NewIndex => op.index.as_ref().map(|t| t.to_string()),
        R::AllIndexes => op.table.as_ref().map(|t| format!("indexes of {t}")),
        R::ReferencedTable => op.referenced.as_ref().map(|t| t.to_string()),
        R::ReferencingTables => op.table.as_ref().map(|t| format!("tables referencing {t}")),
        R::PartitionParent => op.table.as_ref().map(|t| t.to_string()),
        R::Partition => op.partition.as_ref().map(|t| t.to_string()),
        R::Descendants => op
            .table
            .as_ref()
            .map(|t| format!("any partitions and inheritance children of {t}")),
        R::Partitions => op.table.as_ref().map(|t| format!("any partitions of {t}")),
        R::ColumnIndexes => op.table.as_ref().map(|t| match &op.column {
            Some(c) => format!("any indexes on {t}.{c}"),
            None => format!("any indexes on the column of {t}"),
        }),
        R::DefaultPartition => op
            .table
            .as_ref()
            .map(|t| format!("the DEFAULT partition of {t}, if any")),
        R::Parent => op
            .table
            .as_ref()
            .map(|t| format!("the partitioned parent of {t}, if any")),
        R::OwnedSequences => op
            .table
            .as_ref()
            .map(|t| format!("any sequences owned by {t}")),
        R::Dependents => Some(match &op.table {
            Some(t) => format!("any dependents of {t}"),
            None => "any table or view with a column, default, trigger, constraint, index or view that depends on it".to_string(),
        }),
        R::DomainUsers => Some("every table with a column of the domain".to_string()),
        R::SubPartitions => op
            .partition
            .as_ref()
            .map(|p| format!("any partitions of {p}")),
        R::RowsReach => op.table.as_ref().map(|t| {
            format!("any partitions, base tables or referencing tables the rows of {t} reach")
        }),
    }
}

/// The index a UNIQUE / PRIMARY KEY constraint creates carries the constraint's name.
fn constraint_index(rel: &RelName, con: &protobuf::Constraint) -> Option<RelName> {
    (!con.conname.is_empty()).then(|| RelName::new(rel.schema.as_deref(), &con.conname))
}

/// `NULL` (possibly cast, `NULL::int`): a default that leaves every row NULL.
fn is_null_const(expr: &protobuf::Node) -> bool {
    match expr.node.as_ref() {
        Some(NodeEnum::AConst(c)) => c.isnull,
        Some(NodeEnum::TypeCast(tc)) => tc.arg.as_deref().is_some_and(is_null_const),
        _ => false,
    }
}
