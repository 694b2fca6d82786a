//! What the run has learned about the schema so far: tables created by earlier statements or
//! files (new and empty, so operations on them are safe), their columns and types, their
//! constraints (validated or not) and indexes.

use std::collections::HashMap;

use pg_query::protobuf::{self, AlterTableType, ConstrType, ObjectType};
use pg_query::NodeEnum;

use super::expr::not_null_check_columns;
use super::names::{string_list, RelName};
use super::types::ColumnType;

#[derive(Debug, Clone, Default)]
pub struct SchemaState {
    tables: HashMap<String, TableState>,
    /// index key → table key
    indexes: HashMap<String, IndexState>,
    /// Other relations created by this run (sequences, views): nothing uses them yet.
    other_created: std::collections::HashSet<String>,
}

#[derive(Debug, Clone, Default)]
pub struct TableState {
    /// Created by this run: new and empty as far as the migration is concerned.
    pub created_in_run: bool,
    pub partitioned: bool,
    pub columns: HashMap<String, ColumnState>,
    pub constraints: HashMap<String, ConstraintState>,
}

#[derive(Debug, Clone, Default)]
pub struct ColumnState {
    pub ty: Option<ColumnType>,
    pub not_null: bool,
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
    pub referenced: Option<RelName>,
    /// For a foreign key: the referenced columns (empty when it names none: the primary key).
    pub referenced_columns: Vec<String>,
}

#[derive(Debug, Clone)]
pub struct IndexState {
    pub table: Option<RelName>,
    pub created_in_run: bool,
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
        t.columns
            .insert(column.to_string(), ColumnState { ty, not_null });
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
    ) {
        let proves_not_null = if kind == ConstraintKind::Check {
            let sql = format!("ALTER TABLE x ADD CONSTRAINT c {definition}");
            crate::parse::parse_sql(&sql)
                .ok()
                .and_then(|p| {
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
                    con.raw_expr.as_ref().map(|e| not_null_check_columns(e))
                })
                .unwrap_or_default()
        } else {
            Vec::new()
        };
        self.table_mut(table).constraints.insert(
            name.to_string(),
            ConstraintState {
                kind,
                validated,
                proves_not_null,
                referenced,
                referenced_columns,
            },
        );
    }

    /// Records an index that exists in the database.
    pub fn learn_existing_index(&mut self, index: &RelName, table: &RelName) {
        self.table_mut(table);
        self.indexes.insert(
            index.key(),
            IndexState {
                table: Some(table.clone()),
                created_in_run: false,
            },
        );
    }

    pub fn table(&self, name: &RelName) -> Option<&TableState> {
        self.tables.get(&name.key())
    }

    /// Whether the table was created earlier in this run (and so is empty and unused).
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
            NodeEnum::CreateStmt(c) => {
                let Some(rv) = &c.relation else { return };
                let name = RelName::from_range_var(rv);
                let mut table = TableState {
                    created_in_run: true,
                    partitioned: c.partspec.is_some(),
                    ..Default::default()
                };
                for elt in &c.table_elts {
                    match elt.node.as_ref() {
                        Some(NodeEnum::ColumnDef(cd)) => {
                            let col = column_state(cd);
                            for con in column_constraints(cd) {
                                record_constraint(&mut table, &con, Some(&cd.colname), true);
                            }
                            table.columns.insert(cd.colname.clone(), col);
                        }
                        Some(NodeEnum::Constraint(con)) => {
                            record_constraint(&mut table, con, None, true);
                        }
                        _ => {}
                    }
                }
                self.tables.insert(name.key(), table);
            }
            NodeEnum::CreateTableAsStmt(c) => {
                if let Some(into) = &c.into {
                    if let Some(rv) = &into.rel {
                        let name = RelName::from_range_var(rv);
                        self.tables.insert(
                            name.key(),
                            TableState {
                                created_in_run: true,
                                ..Default::default()
                            },
                        );
                    }
                }
            }
            NodeEnum::CreateSeqStmt(c) => {
                if let Some(rv) = &c.sequence {
                    self.other_created.insert(RelName::from_range_var(rv).key());
                }
            }
            NodeEnum::ViewStmt(v) if !v.replace => {
                if let Some(rv) = &v.view {
                    self.other_created.insert(RelName::from_range_var(rv).key());
                }
            }
            NodeEnum::IndexStmt(i) => {
                let table = i.relation.as_ref().map(RelName::from_range_var);
                let created_in_run = table.as_ref().is_some_and(|t| self.is_new_table(t));
                if !i.idxname.is_empty() {
                    let schema = i.relation.as_ref().map(|r| r.schemaname.as_str());
                    let key = RelName::new(schema, &i.idxname).key();
                    self.indexes.insert(
                        key,
                        IndexState {
                            table,
                            created_in_run,
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
                            self.tables.remove(&name.key());
                        }
                        ObjectType::ObjectSequence | ObjectType::ObjectView => {
                            self.other_created.remove(&name.key());
                        }
                        ObjectType::ObjectIndex => {
                            self.indexes.remove(&name.key());
                        }
                        _ => {}
                    }
                }
            }
            _ => {}
        }
    }

    fn apply_alter_cmd(&mut self, table: &RelName, cmd: &protobuf::AlterTableCmd) {
        let subtype = AlterTableType::try_from(cmd.subtype).unwrap_or(AlterTableType::Undefined);
        let def = cmd.def.as_ref().and_then(|d| d.node.as_ref());
        let t = self.table_mut(table);
        match (subtype, def) {
            (AlterTableType::AtAddColumn, Some(NodeEnum::ColumnDef(cd))) => {
                let col = column_state(cd);
                for con in column_constraints(cd) {
                    record_constraint(t, &con, Some(&cd.colname), false);
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
                record_constraint(t, con, None, false);
            }
            (AlterTableType::AtValidateConstraint, _) => {
                if let Some(c) = t.constraints.get_mut(&cmd.name) {
                    c.validated = true;
                }
            }
            (AlterTableType::AtDropConstraint, _) => {
                t.constraints.remove(&cmd.name);
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
                let t = self.table_mut(&name);
                if let Some(c) = t.constraints.remove(&r.subname) {
                    t.constraints.insert(r.newname.clone(), c);
                }
            }
            _ => {}
        }
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
    ColumnState { ty, not_null }
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

fn record_constraint(
    t: &mut TableState,
    con: &protobuf::Constraint,
    column: Option<&str>,
    new_table: bool,
) {
    let Some(kind) = constraint_kind(con) else {
        return;
    };
    if kind == ConstraintKind::PrimaryKey {
        let keys = if con.keys.is_empty() {
            column.map(|c| vec![c.to_string()]).unwrap_or_default()
        } else {
            string_list(&con.keys)
        };
        for k in keys {
            t.columns.entry(k).or_default().not_null = true;
        }
    }
    // Unnamed constraints get a placeholder name (PostgreSQL's own choice depends on what
    // else exists); they still count for NOT NULL proofs and foreign-key lookups.
    let name = if con.conname.is_empty() {
        let cols = if con.keys.is_empty() && con.fk_attrs.is_empty() {
            column.unwrap_or("?").to_string()
        } else {
            string_list(if con.fk_attrs.is_empty() {
                &con.keys
            } else {
                &con.fk_attrs
            })
            .join("_")
        };
        format!("<unnamed {kind:?} on {cols} #{}>", t.constraints.len())
    } else {
        con.conname.clone()
    };
    let validated = new_table || !con.skip_validation;
    let proves_not_null = if kind == ConstraintKind::Check {
        con.raw_expr
            .as_ref()
            .map(|e| not_null_check_columns(e))
            .unwrap_or_default()
    } else {
        Vec::new()
    };
    t.constraints.insert(
        name,
        ConstraintState {
            kind,
            validated,
            proves_not_null,
            referenced: con.pktable.as_ref().map(RelName::from_range_var),
            referenced_columns: string_list(&con.pk_attrs),
        },
    );
}
