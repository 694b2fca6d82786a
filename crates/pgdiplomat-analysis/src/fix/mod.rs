//! `fix`: rewrites an unsafe migration into the safe choreography — a sequence of parts, each
//! either one short transaction or one statement that must run outside any transaction — so
//! that no part holds a lock that blocks reads or writes for longer than a catalog update.
//! Changes that cannot be made safe in place (a rewriting type change, a rename) are kept and
//! preceded by an explained expand/contract plan, never silently rewritten.

use std::ops::Range;

use pg_query::NodeEnum;
use pgdiplomat_locks::{LockMode, StatementForm as F};

use pg_query::protobuf::{self, ConstrType};

use crate::analyze::{AnalysisOptions, AnalyzedStatement, Analyzer, Effect};
use crate::model::names::string_list;
use crate::model::{quote_ident, RelName, SchemaState, StatementKind};
use crate::parse::{parse_sql_chunked, Statement, SyntaxError};
use crate::source::SourceFile;

/// One part of the fixed migration.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct FixedPart {
    /// SQL statements, each ending with `;`.
    pub statements: Vec<String>,
    /// `false` when the part must run outside a transaction block (CONCURRENTLY).
    pub in_transaction: bool,
    /// What undoes this part (for Django's `reverse_sql`), when it can be written.
    pub reverse: Vec<String>,
}

impl FixedPart {
    fn tx(statements: Vec<String>, reverse: Vec<String>) -> Self {
        FixedPart {
            statements,
            in_transaction: true,
            reverse,
        }
    }
    fn outside(statement: String, reverse: Vec<String>) -> Self {
        FixedPart {
            statements: vec![statement],
            in_transaction: false,
            reverse,
        }
    }

    /// The part as SQL text, with a lock_timeout preamble when it takes a blocking lock.
    pub fn sql(&self) -> String {
        self.statements.join("\n")
    }
}

/// The result of fixing a file.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct Fixed {
    pub parts: Vec<FixedPart>,
    /// What was changed and why, and plans for what could not be changed in place.
    pub notes: Vec<String>,
}

impl Fixed {
    /// Whether anything was rewritten.
    pub fn changed(&self) -> bool {
        !self.notes.is_empty()
    }

    /// All parts as one script, with comments marking where a new transaction (or none) begins.
    pub fn render(&self) -> String {
        let mut out = String::new();
        for n in &self.notes {
            for (i, line) in n.lines().enumerate() {
                out.push_str(if i == 0 {
                    "-- pgdiplomat fix: "
                } else {
                    "--   "
                });
                out.push_str(line);
                out.push('\n');
            }
        }
        for (i, p) in self.parts.iter().enumerate() {
            let how = if p.in_transaction {
                "one transaction"
            } else {
                "outside any transaction (no BEGIN)"
            };
            out.push_str(&format!(
                "\n-- part {} of {}: {how}\n",
                i + 1,
                self.parts.len()
            ));
            out.push_str(&p.sql());
            out.push('\n');
        }
        out
    }
}

/// The lock_timeout every part that takes a blocking lock starts with.
pub const LOCK_TIMEOUT_PREAMBLE: &str = "SET lock_timeout = '2s';";

/// Rows per batch in generated backfills.
pub const BACKFILL_BATCH: u32 = 10_000;

/// A SQL string literal.
fn quote_literal(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

/// Why a fix drops `IF NOT EXISTS` from a concurrent index build.
const IF_NOT_EXISTS_NOTE: &str =
    "; IF NOT EXISTS is dropped: after a failed concurrent build it would keep the \
INVALID index left behind, so any leftover is dropped first and the index is built again";

use crate::parse::deparse_statement as deparse;

fn alter_cmd_node(
    rel: &RelName,
    cmd: &pg_query::protobuf::AlterTableCmd,
    base: &pg_query::protobuf::AlterTableStmt,
) -> Option<String> {
    let mut a = base.clone();
    a.cmds = vec![pg_query::protobuf::Node {
        node: Some(NodeEnum::AlterTableCmd(Box::new(cmd.clone()))),
    }];
    let _ = rel;
    deparse(NodeEnum::AlterTableStmt(a))
}

struct Ctx<'a> {
    effect: &'a Effect,
    node: &'a NodeEnum,
    sql: &'a str,
    pg_version: u32,
    /// The schema state before the statement.
    schema: &'a SchemaState,
}

/// Names generated for the current statement: taken, though the schema state does not know
/// them yet.
#[derive(Default)]
struct Taken(Vec<String>);

impl Taken {
    fn has(&self, n: &str) -> bool {
        self.0.iter().any(|t| t == n)
    }
    fn take(&mut self, n: String) -> String {
        self.0.push(n.clone());
        n
    }
}

/// What the run knows about whether `table` is partitioned: `Some(true)`, `Some(false)`, or
/// `None` when it does not know the table.
fn partitioned(schema: &SchemaState, table: &RelName) -> Option<bool> {
    schema
        .table(table)
        .filter(|t| t.kind_known)
        .map(|t| t.partitioned)
}

/// The note's warning for a table the run knows nothing about.
fn unknown_partitioning_warning(table: &RelName) -> String {
    format!(
        ". Whether {table} is partitioned is unknown here: on a partitioned table CONCURRENTLY fails \
(PostgreSQL cannot build or drop an index on a partitioned table concurrently); fix with the \
database's schema to get the choreography for one (CREATE INDEX ... ON ONLY the parent, CREATE \
INDEX CONCURRENTLY on each partition, ALTER INDEX ... ATTACH PARTITION each)"
    )
}

/// Whether an effect needs fixing: it acts on a relation that already exists.
fn on_existing(e: &Effect) -> bool {
    !e.new_table
}

fn blocks(e: &Effect) -> bool {
    e.locks_on_existing().any(|l| l.mode >= LockMode::Share)
}

/// A backfill of `column` with `expr` where it is still NULL, marked for `pgdiplomat apply` to
/// run in primary-key batches of `batch` rows, one short transaction each, resumably.
pub fn backfill_statements(table: &RelName, column: &str, expr: &str, batch: u32) -> Vec<String> {
    let c = quote_ident(column);
    vec![
        format!("-- pgdiplomat:backfill batch={batch}"),
        format!(
            "UPDATE {} SET {c} = {expr} WHERE {c} IS NULL;",
            table.quoted()
        ),
    ]
}

fn not_null_via_check(table: &RelName, column: &str, pg_version: u32) -> Vec<FixedPart> {
    let t = table.quoted();
    let c = quote_ident(column);
    let check = quote_ident(&format!("{}_{}_not_null_check", table.name, column));
    if pg_version >= 18 {
        let con = quote_ident(&format!("{}_{}_not_null", table.name, column));
        return vec![
            FixedPart::tx(
                vec![
                    LOCK_TIMEOUT_PREAMBLE.into(),
                    format!("ALTER TABLE {t} ADD CONSTRAINT {con} NOT NULL {c} NOT VALID;"),
                ],
                vec![format!("ALTER TABLE {t} ALTER COLUMN {c} DROP NOT NULL;")],
            ),
            FixedPart::tx(
                vec![format!("ALTER TABLE {t} VALIDATE CONSTRAINT {con};")],
                vec![],
            ),
        ];
    }
    vec![
        FixedPart::tx(
            vec![
                LOCK_TIMEOUT_PREAMBLE.into(),
                format!(
                    "ALTER TABLE {t} ADD CONSTRAINT {check} CHECK ({c} IS NOT NULL) NOT VALID;"
                ),
            ],
            vec![format!(
                "ALTER TABLE {t} DROP CONSTRAINT IF EXISTS {check};"
            )],
        ),
        FixedPart::tx(
            vec![format!("ALTER TABLE {t} VALIDATE CONSTRAINT {check};")],
            vec![],
        ),
        FixedPart::tx(
            vec![
                LOCK_TIMEOUT_PREAMBLE.into(),
                format!("ALTER TABLE {t} ALTER COLUMN {c} SET NOT NULL;"),
                format!("ALTER TABLE {t} DROP CONSTRAINT {check};"),
            ],
            vec![format!("ALTER TABLE {t} ALTER COLUMN {c} DROP NOT NULL;")],
        ),
    ]
}

/// The safe parts for one operation, or `None` to keep the statement as it is.
fn fix_effect(
    cx: &Ctx<'_>,
    cmd: Option<&pg_query::protobuf::AlterTableCmd>,
    taken: &mut Taken,
    notes: &mut Vec<String>,
) -> Option<Vec<FixedPart>> {
    let e = cx.effect;
    let form = e.form()?;
    let table = e.op.table.clone();
    match (form, cx.node) {
        (F::CreateIndex, NodeEnum::IndexStmt(i)) => {
            let t = table?;
            let index_name = if i.idxname.is_empty() {
                taken.take(cx.schema.choose_index_name(&t, i, &|n| taken.has(n)))
            } else {
                i.idxname.clone()
            };
            let name = RelName::new(t.schema.as_deref(), &index_name);
            match partitioned(cx.schema, &t) {
                Some(true) => return partitioned_index(cx, i, &t, &index_name, taken, notes),
                Some(false) => {}
                None => {}
            }
            let mut i = i.clone();
            i.concurrent = true;
            let if_not_exists = std::mem::take(&mut i.if_not_exists);
            let sql = deparse(NodeEnum::IndexStmt(i))?;
            notes.push(format!(
                "`{}`: built CONCURRENTLY (SHARE UPDATE EXCLUSIVE instead of SHARE: writes continue){}{}",
                first_line(cx.sql),
                if if_not_exists { IF_NOT_EXISTS_NOTE } else { "" },
                if partitioned(cx.schema, &t).is_none() {
                    unknown_partitioning_warning(&t)
                } else {
                    String::new()
                }
            ));
            let reverse = vec![format!(
                "DROP INDEX CONCURRENTLY IF EXISTS {};",
                name.quoted()
            )];
            let mut parts = Vec::new();
            if if_not_exists {
                parts.push(FixedPart::outside(reverse[0].clone(), vec![]));
            }
            parts.push(FixedPart::outside(sql, reverse));
            Some(parts)
        }
        (F::CreateIndexConcurrently, NodeEnum::IndexStmt(i)) if i.if_not_exists => {
            let t = table?;
            if i.idxname.is_empty() {
                return None;
            }
            let name = RelName::new(t.schema.as_deref(), &i.idxname);
            let mut i = i.clone();
            i.if_not_exists = false;
            let drop = format!("DROP INDEX CONCURRENTLY IF EXISTS {};", name.quoted());
            notes.push(format!(
                "`{}`: {}",
                first_line(cx.sql),
                IF_NOT_EXISTS_NOTE.trim_start_matches("; ")
            ));
            Some(vec![
                FixedPart::outside(drop.clone(), vec![]),
                FixedPart::outside(deparse(NodeEnum::IndexStmt(i))?, vec![drop]),
            ])
        }
        (
            F::AddColumnCheck | F::AddColumnReferences | F::AddColumnReferencesWithDefault,
            NodeEnum::AlterTableStmt(a),
        ) => {
            let cmd = cmd?;
            let Some(NodeEnum::ColumnDef(cd)) = cmd.def.as_ref().and_then(|d| d.node.as_ref())
            else {
                return None;
            };
            let t = table?;
            let is_later = |k: &protobuf::Constraint| {
                k.contype == ConstrType::ConstrCheck as i32
                    || k.contype == ConstrType::ConstrForeign as i32
            };
            let later: Vec<protobuf::Constraint> = cd
                .constraints
                .iter()
                .filter_map(|c| match c.node.as_ref() {
                    Some(NodeEnum::Constraint(k)) if is_later(k) => Some((**k).clone()),
                    _ => None,
                })
                .collect();
            // NOT NULL without a DEFAULT fails on rows whatever is done with the constraints.
            let not_null = cd.is_not_null
                || cd.constraints.iter().any(|c| matches!(c.node.as_ref(), Some(NodeEnum::Constraint(k)) if k.contype == ConstrType::ConstrNotnull as i32));
            let has_default = cd.constraints.iter().any(|c| matches!(c.node.as_ref(), Some(NodeEnum::Constraint(k)) if k.contype == ConstrType::ConstrDefault as i32));
            if later.is_empty() || (not_null && !has_default) {
                return None;
            }
            let mut plain = (**cd).clone();
            plain.constraints.retain(
                |c| !matches!(c.node.as_ref(), Some(NodeEnum::Constraint(k)) if is_later(k)),
            );
            let mut add_cmd = cmd.clone();
            add_cmd.def = Some(Box::new(pg_query::protobuf::Node {
                node: Some(NodeEnum::ColumnDef(Box::new(plain))),
            }));
            let add = alter_cmd_node(&t, &add_cmd, a)?;
            let mut parts = vec![FixedPart::tx(
                vec![LOCK_TIMEOUT_PREAMBLE.into(), add],
                vec![format!(
                    "ALTER TABLE {} DROP COLUMN IF EXISTS {};",
                    t.quoted(),
                    quote_ident(&cd.colname)
                )],
            )];
            for k in &later {
                parts.extend(not_valid_parts(cx, &t, a, k, Some(&cd.colname), taken)?);
            }
            notes.push(format!(
                "`{}`: the column is added without its {} (a catalog change), which {} added NOT VALID and validated \
in a later transaction under SHARE UPDATE EXCLUSIVE",
                first_line(cx.sql),
                if later.len() == 1 { "constraint" } else { "constraints" },
                if later.len() == 1 { "is then" } else { "are then" },
            ));
            Some(parts)
        }
        (F::AddColumnSerial, NodeEnum::AlterTableStmt(a)) => {
            let cmd = cmd?;
            let Some(NodeEnum::ColumnDef(cd)) = cmd.def.as_ref().and_then(|d| d.node.as_ref())
            else {
                return None;
            };
            let t = table?;
            // Only a bare serial column: with other constraints the statement is kept.
            if !cd.constraints.is_empty() {
                return None;
            }
            let base = match cd
                .type_name
                .as_ref()
                .and_then(crate::model::ColumnType::from_type_name)?
                .name
                .as_str()
            {
                "smallserial" | "serial2" => "smallint",
                "serial" | "serial4" => "integer",
                "bigserial" | "serial8" => "bigint",
                _ => return None,
            };
            let seq_name = taken.take(crate::model::names::make_object_name(
                &t.name,
                Some(&cd.colname),
                "seq",
            ));
            let seq = RelName::new(t.schema.as_deref(), &seq_name);
            let c = quote_ident(&cd.colname);
            let tq = t.quoted();
            let next = format!("nextval({})", quote_literal(&seq.quoted()));
            let mut parts = vec![FixedPart::tx(
                vec![
                    format!("CREATE SEQUENCE {} AS {base};", seq.quoted()),
                    LOCK_TIMEOUT_PREAMBLE.into(),
                    format!("ALTER TABLE {tq} ADD COLUMN {c} {base};"),
                    format!("ALTER TABLE {tq} ALTER COLUMN {c} SET DEFAULT {next};"),
                    format!("ALTER SEQUENCE {} OWNED BY {tq}.{c};", seq.quoted()),
                ],
                vec![
                    format!("ALTER TABLE {tq} DROP COLUMN IF EXISTS {c};"),
                    format!("DROP SEQUENCE IF EXISTS {};", seq.quoted()),
                ],
            )];
            parts.push(FixedPart::tx(
                backfill_statements(&t, &cd.colname, &next, BACKFILL_BATCH),
                vec![],
            ));
            parts.extend(not_null_via_check(&t, &cd.colname, cx.pg_version));
            let _ = a;
            notes.push(format!(
                "`{}`: a serial column fills every existing row from its sequence, rewriting the table under ACCESS \
EXCLUSIVE. Instead the sequence is created, the column added without a default (instant), the default set for new \
rows, existing rows backfilled in batches of {BACKFILL_BATCH} by primary key, and NOT NULL added through a \
validated CHECK",
                first_line(cx.sql)
            ));
            Some(parts)
        }
        (F::DropIndex, NodeEnum::DropStmt(d)) => {
            let mut d = d.clone();
            d.concurrent = true;
            if d.behavior == pg_query::protobuf::DropBehavior::DropCascade as i32
                || d.objects.len() != 1
            {
                return None;
            }
            let on =
                e.op.index
                    .as_ref()
                    .and_then(|i| cx.schema.index(i))
                    .and_then(|i| i.table.clone());
            let known = on.as_ref().and_then(|t| partitioned(cx.schema, t));
            if known == Some(true) {
                notes.push(format!(
                    "`{}` drops an index of a partitioned table: PostgreSQL cannot drop it CONCURRENTLY \
(nor the partitions' indexes one by one), so it takes ACCESS EXCLUSIVE on the tables for the catalog change. \
The statement is kept unchanged below, behind a lock_timeout.",
                    first_line(cx.sql)
                ));
                return None;
            }
            notes.push(format!(
                "`{}`: dropped CONCURRENTLY (no ACCESS EXCLUSIVE on the table){}",
                first_line(cx.sql),
                if known.is_none() {
                    ". If it is the index of a partitioned table, DROP INDEX CONCURRENTLY fails there"
                } else {
                    ""
                }
            ));
            Some(vec![FixedPart::outside(
                deparse(NodeEnum::DropStmt(d))?,
                vec![],
            )])
        }
        (F::AddUnique | F::AddPrimaryKey, NodeEnum::AlterTableStmt(_)) => {
            let cmd = cmd?;
            let Some(NodeEnum::Constraint(con)) = cmd.def.as_ref().and_then(|d| d.node.as_ref())
            else {
                return None;
            };
            unique_parts(cx, &table?, con, None, taken, notes)
        }
        (F::AddCheck | F::AddForeignKey, NodeEnum::AlterTableStmt(a)) => {
            let cmd = cmd?;
            let Some(NodeEnum::Constraint(con)) = cmd.def.as_ref().and_then(|d| d.node.as_ref())
            else {
                return None;
            };
            let parts = not_valid_parts(cx, &table?, a, con, None, taken)?;
            notes.push(format!(
                "`{}`: added NOT VALID (no scan under the strong lock), then validated in a later transaction under SHARE UPDATE EXCLUSIVE",
                first_line(cx.sql)
            ));
            Some(parts)
        }
        (F::SetNotNull, NodeEnum::AlterTableStmt(_)) => {
            let t = table?;
            let c = e.op.column.clone()?;
            notes.push(format!(
                "`{}`: NOT NULL is proven by a CHECK added NOT VALID and validated separately, so SET NOT NULL skips its scan",
                first_line(cx.sql)
            ));
            Some(not_null_via_check(&t, &c, cx.pg_version))
        }
        (F::AddColumnVolatileDefault, NodeEnum::AlterTableStmt(a)) => {
            let cmd = cmd?;
            let Some(NodeEnum::ColumnDef(cd)) = cmd.def.as_ref().and_then(|d| d.node.as_ref())
            else {
                return None;
            };
            let t = table?;
            let mut plain = (**cd).clone();
            let default_expr = plain
                .constraints
                .iter()
                .find_map(|c| match c.node.as_ref()? {
                    NodeEnum::Constraint(k)
                        if k.contype == pg_query::protobuf::ConstrType::ConstrDefault as i32 =>
                    {
                        k.raw_expr.clone()
                    }
                    _ => None,
                })?;
            let not_null = plain.is_not_null
                || plain.constraints.iter().any(|c| matches!(c.node.as_ref(), Some(NodeEnum::Constraint(k)) if k.contype == pg_query::protobuf::ConstrType::ConstrNotnull as i32));
            // CHECK, REFERENCES and UNIQUE would be checked against every backfilled row under
            // the ADD COLUMN's lock: they are added after the backfill, the safe way.
            let later: Vec<protobuf::Constraint> = plain
                .constraints
                .iter()
                .filter_map(|c| match c.node.as_ref() {
                    Some(NodeEnum::Constraint(k))
                        if [
                            ConstrType::ConstrCheck,
                            ConstrType::ConstrForeign,
                            ConstrType::ConstrUnique,
                        ]
                        .iter()
                        .any(|t| k.contype == *t as i32) =>
                    {
                        Some((**k).clone())
                    }
                    _ => None,
                })
                .collect();
            if later
                .iter()
                .any(|k| k.contype == ConstrType::ConstrUnique as i32 && !k.indexspace.is_empty())
            {
                return None;
            }
            plain.constraints.retain(|c| {
                !matches!(c.node.as_ref(), Some(NodeEnum::Constraint(k)) if [ConstrType::ConstrDefault, ConstrType::ConstrNotnull, ConstrType::ConstrCheck, ConstrType::ConstrForeign, ConstrType::ConstrUnique].iter().any(|t| k.contype == *t as i32))
            });
            plain.is_not_null = false;
            let mut add_cmd = cmd.clone();
            add_cmd.def = Some(Box::new(pg_query::protobuf::Node {
                node: Some(NodeEnum::ColumnDef(Box::new(plain.clone()))),
            }));
            let add = alter_cmd_node(&t, &add_cmd, a)?;
            let expr = default_expr.deparse_expr()?;
            let c = quote_ident(&cd.colname);
            let mut parts = vec![
                FixedPart::tx(
                    vec![
                        LOCK_TIMEOUT_PREAMBLE.into(),
                        add,
                        format!(
                            "ALTER TABLE {} ALTER COLUMN {c} SET DEFAULT {expr};",
                            t.quoted()
                        ),
                    ],
                    vec![format!(
                        "ALTER TABLE {} DROP COLUMN IF EXISTS {c};",
                        t.quoted()
                    )],
                ),
                FixedPart::tx(
                    backfill_statements(&t, &cd.colname, &expr, BACKFILL_BATCH),
                    vec![],
                ),
            ];
            if not_null {
                parts.extend(not_null_via_check(&t, &cd.colname, cx.pg_version));
            }
            let mut kinds = Vec::new();
            let mut unique_notes = Vec::new();
            for k in &later {
                if k.contype == ConstrType::ConstrUnique as i32 {
                    kinds.push("UNIQUE (a concurrent unique index, then USING INDEX)");
                    parts.extend(unique_parts(
                        cx,
                        &t,
                        k,
                        Some(&cd.colname),
                        taken,
                        &mut unique_notes,
                    )?);
                } else {
                    kinds.push(if k.contype == ConstrType::ConstrCheck as i32 {
                        "CHECK (NOT VALID, then VALIDATE)"
                    } else {
                        "REFERENCES (NOT VALID, then VALIDATE)"
                    });
                    parts.extend(not_valid_parts(cx, &t, a, k, Some(&cd.colname), taken)?);
                }
            }
            notes.push(format!(
                "`{}`: the column is added without its volatile default (instant), the default is set for new rows, \
existing rows are backfilled in batches of {BACKFILL_BATCH} by primary key (`pgdiplomat apply` runs the marked UPDATE \
batch by batch, resumably; another runner runs it as one statement){}{}",
                first_line(cx.sql),
                if not_null { ", then NOT NULL is added through a validated CHECK" } else { "" },
                if kinds.is_empty() {
                    String::new()
                } else {
                    format!(", then its constraints are added the safe way: {}", kinds.join(", "))
                }
            ));
            Some(parts)
        }
        // The old type is unknown and some old type would change only the catalog (a longer
        // varchar, varchar to text, a wider numeric): say both outcomes, no needless plan.
        (F::AlterColumnTypeRewrite, _)
            if e.op.type_change.as_ref().is_some_and(|(old, new)| {
                old.is_none()
                    && !new.array
                    && matches!(
                        new.name.as_str(),
                        "varchar" | "text" | "numeric" | "varbit" | "inet" | "citext"
                    )
            }) =>
        {
            let t = table?;
            let c = e.op.column.clone()?;
            let new =
                e.op.type_change
                    .as_ref()
                    .map(|(_, n)| n.to_string())
                    .unwrap_or_default();
            notes.push(format!(
                "`{}` may rewrite {t}: the current type of {c} is not known here. If it is binary coercible to {new} \
(varchar(n) with n up to the new length, varchar to text, a numeric of the same scale and no smaller precision), \
PostgreSQL only changes the catalog and the statement below is safe behind its lock_timeout. Otherwise it rewrites \
the table under ACCESS EXCLUSIVE: add a column of the new type, keep both in sync, backfill in batches, switch \
readers, then drop the old one (expand/contract). Lint with --database-url to know. The statement is kept \
unchanged below.",
                first_line(cx.sql)
            ));
            None
        }
        (F::AlterColumnTypeRewrite, _) => {
            let t = table?;
            let c = e.op.column.clone()?;
            notes.push(format!(
                "`{}` rewrites {t} under ACCESS EXCLUSIVE and cannot be made safe in place. Expand/contract plan:\n\
1. ALTER TABLE {tq} ADD COLUMN {new} <new type>;  (instant)\n\
2. keep it in sync: a trigger (or the application) writes both columns;\n\
3. backfill {new} from {c} in batches by primary key;\n\
4. add constraints/indexes on {new} (NOT VALID + VALIDATE, CONCURRENTLY);\n\
5. switch the application to {new}, then in one short transaction rename {c} → {c}_old and {new} → {c};\n\
6. drop {c}_old once nothing reads it.\n\
The statement is kept unchanged below.",
                first_line(cx.sql),
                tq = t.quoted(),
                new = quote_ident(&format!("{c}_new")),
            ));
            None
        }
        (F::AddColumnNotNullNoDefault, _) => {
            notes.push(format!(
                "`{}` fails on a table with rows (every existing row would be NULL) and cannot be fixed without a value. \
Either give it a constant DEFAULT (instant since PostgreSQL 11), or add it nullable, backfill it in batches, and add \
NOT NULL through a CHECK added NOT VALID and validated separately. The statement is kept unchanged below.",
                first_line(cx.sql)
            ));
            None
        }
        (F::RenameColumn | F::RenameTable, _) => {
            notes.push(format!(
                "`{}` breaks running code that uses the old name and cannot be made safe in place. Expand/contract plan: \
for a table, rename it and create a view with the old name in the same transaction; for a column, add the new column, \
write both, backfill, switch readers, then drop the old one. The statement is kept unchanged below.",
                first_line(cx.sql)
            ));
            None
        }
        _ => None,
    }
}

/// `WITH (...)` for index storage parameters, as PostgreSQL's deparser writes them.
fn reloptions_sql(options: &[protobuf::Node]) -> Option<String> {
    if options.is_empty() {
        return Some(String::new());
    }
    let probe = protobuf::IndexStmt {
        idxname: "x".into(),
        relation: Some(protobuf::RangeVar {
            relname: "x".into(),
            inh: true,
            relpersistence: "p".into(),
            ..Default::default()
        }),
        access_method: "btree".into(),
        index_params: vec![protobuf::Node {
            node: Some(NodeEnum::IndexElem(Box::new(protobuf::IndexElem {
                name: "x".into(),
                ordering: protobuf::SortByDir::SortbyDefault as i32,
                nulls_ordering: protobuf::SortByNulls::SortbyNullsDefault as i32,
                ..Default::default()
            }))),
        }],
        options: options.to_vec(),
        ..Default::default()
    };
    let sql = NodeEnum::IndexStmt(Box::new(probe))
        .deparse(Default::default())
        .ok()?;
    let at = sql.find(" WITH (")?;
    Some(sql[at..].to_string())
}

/// UNIQUE / PRIMARY KEY `con` on existing table `t`: NOT NULL first for a key, a unique index
/// built CONCURRENTLY with the constraint's options (INCLUDE, NULLS NOT DISTINCT, WITH), then
/// `ADD CONSTRAINT ... USING INDEX` with its DEFERRABLE clauses. `column` is the column of a
/// column constraint. `None` keeps the statement (with a note) when an option cannot be
/// carried over or the table is partitioned.
fn unique_parts(
    cx: &Ctx<'_>,
    t: &RelName,
    con: &protobuf::Constraint,
    column: Option<&str>,
    taken: &mut Taken,
    notes: &mut Vec<String>,
) -> Option<Vec<FixedPart>> {
    let primary = con.contype == ConstrType::ConstrPrimary as i32;
    let kind = if primary { "PRIMARY KEY" } else { "UNIQUE" };
    let mut cols = string_list(&con.keys);
    if cols.is_empty() {
        cols.extend(column.map(str::to_string));
    }
    if cols.is_empty() {
        return None;
    }
    if partitioned(cx.schema, t) == Some(true) {
        notes.push(format!(
            "`{}` adds a {kind} constraint to a partitioned table: PostgreSQL builds no index on a partitioned \
table CONCURRENTLY and refuses ADD CONSTRAINT ... USING INDEX there. Build the unique index per partition \
(CREATE UNIQUE INDEX CONCURRENTLY, then ADD CONSTRAINT ... USING INDEX on each partition) at a quiet time, or \
run it when the lock can be afforded. The statement is kept unchanged below.",
            first_line(cx.sql)
        ));
        return None;
    }
    if !con.indexspace.is_empty() {
        notes.push(format!(
            "`{}`: USING INDEX TABLESPACE cannot be carried over to the concurrent choreography without changing \
what the constraint is; the statement is kept unchanged below. To avoid the lock, build the index yourself with \
CREATE UNIQUE INDEX CONCURRENTLY ... TABLESPACE {} and attach it with ADD CONSTRAINT ... {kind} USING INDEX.",
            first_line(cx.sql),
            quote_ident(&con.indexspace)
        ));
        return None;
    }
    let ns = t.schema.as_deref();
    let conname = if con.conname.is_empty() {
        cx.schema
            .choose_name_for_constraint(t, con, column, &|n| taken.has(n))?
    } else {
        con.conname.clone()
    };
    let conname = taken.take(conname);
    let index =
        taken.take(
            cx.schema
                .choose_relation_name(ns, &conname, None, "idx", false, &|n| taken.has(n)),
        );
    let list = |names: &[String]| {
        names
            .iter()
            .map(|c| quote_ident(c))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let including = string_list(&con.including);
    let mut create = format!(
        "CREATE UNIQUE INDEX CONCURRENTLY {} ON {} ({})",
        quote_ident(&index),
        t.quoted(),
        list(&cols)
    );
    if !including.is_empty() {
        create.push_str(&format!(" INCLUDE ({})", list(&including)));
    }
    if con.nulls_not_distinct {
        create.push_str(" NULLS NOT DISTINCT");
    }
    create.push_str(&reloptions_sql(&con.options)?);
    create.push(';');
    let mut deferral = String::new();
    if con.deferrable {
        deferral.push_str(" DEFERRABLE");
    }
    if con.initdeferred {
        deferral.push_str(" INITIALLY DEFERRED");
    }
    let mut parts = Vec::new();
    if primary {
        for c in &cols {
            parts.extend(not_null_via_check(t, c, cx.pg_version));
        }
    }
    parts.push(FixedPart::outside(
        create,
        vec![format!(
            "DROP INDEX CONCURRENTLY IF EXISTS {};",
            RelName::new(ns, &index).quoted()
        )],
    ));
    parts.push(FixedPart::tx(
        vec![
            LOCK_TIMEOUT_PREAMBLE.into(),
            format!(
                "ALTER TABLE {} ADD CONSTRAINT {} {kind} USING INDEX {}{deferral};",
                t.quoted(),
                quote_ident(&conname),
                quote_ident(&index)
            ),
        ],
        vec![format!(
            "ALTER TABLE {} DROP CONSTRAINT IF EXISTS {};",
            t.quoted(),
            quote_ident(&conname)
        )],
    ));
    notes.push(format!(
        "`{}`: the unique index is built CONCURRENTLY, then attached with {kind} USING INDEX (a catalog change). \
If the build fails on duplicates it leaves an INVALID index: remove it with DROP INDEX CONCURRENTLY {} and fix the data{}",
        first_line(cx.sql),
        quote_ident(&index),
        if partitioned(cx.schema, t).is_none() {
            ". On a partitioned table neither step works (no concurrent index build, no USING INDEX): keep the original there"
        } else {
            ""
        }
    ));
    Some(parts)
}

/// CHECK / FOREIGN KEY `con` on existing table `t` (`column` for a column constraint): added
/// NOT VALID under its own name (PostgreSQL's choice when it has none), validated in a later
/// transaction. Every other option of the constraint is kept as written.
fn not_valid_parts(
    cx: &Ctx<'_>,
    t: &RelName,
    base: &protobuf::AlterTableStmt,
    con: &protobuf::Constraint,
    column: Option<&str>,
    taken: &mut Taken,
) -> Option<Vec<FixedPart>> {
    let mut con = con.clone();
    if con.conname.is_empty() {
        con.conname = cx
            .schema
            .choose_name_for_constraint(t, &con, column, &|n| taken.has(n))?;
    }
    taken.take(con.conname.clone());
    if let Some(c) = column {
        if con.contype == ConstrType::ConstrForeign as i32 && con.fk_attrs.is_empty() {
            con.fk_attrs = vec![protobuf::Node {
                node: Some(NodeEnum::String(protobuf::String {
                    sval: c.to_string(),
                })),
            }];
        }
    }
    con.skip_validation = true;
    con.initially_valid = false;
    let cmd = protobuf::AlterTableCmd {
        subtype: protobuf::AlterTableType::AtAddConstraint as i32,
        def: Some(Box::new(protobuf::Node {
            node: Some(NodeEnum::Constraint(Box::new(con.clone()))),
        })),
        behavior: protobuf::DropBehavior::DropRestrict as i32,
        ..Default::default()
    };
    let add = alter_cmd_node(t, &cmd, base)?;
    Some(vec![
        FixedPart::tx(
            vec![LOCK_TIMEOUT_PREAMBLE.into(), add],
            vec![format!(
                "ALTER TABLE {} DROP CONSTRAINT IF EXISTS {};",
                t.quoted(),
                quote_ident(&con.conname)
            )],
        ),
        FixedPart::tx(
            vec![format!(
                "ALTER TABLE {} VALIDATE CONSTRAINT {};",
                t.quoted(),
                quote_ident(&con.conname)
            )],
            vec![],
        ),
    ])
}

/// CREATE INDEX on partitioned table `t`: the index on the parent alone (`ON ONLY`, a
/// catalog change), one index per partition built CONCURRENTLY, then each attached. `None`
/// (with a note) when the partitions are not known or are partitioned themselves.
fn partitioned_index(
    cx: &Ctx<'_>,
    i: &protobuf::IndexStmt,
    t: &RelName,
    index_name: &str,
    taken: &mut Taken,
    notes: &mut Vec<String>,
) -> Option<Vec<FixedPart>> {
    let partitions = cx
        .schema
        .table(t)
        .map(|s| s.partitions.clone())
        .unwrap_or_default();
    let leaf = |p: &RelName| partitioned(cx.schema, p) == Some(false);
    if partitions.is_empty() || !partitions.iter().all(leaf) {
        notes.push(format!(
            "`{}`: {t} is partitioned and PostgreSQL cannot build an index on a partitioned table CONCURRENTLY. \
The partitions are not all known here (or are partitioned themselves), so the statement is kept unchanged below. \
The choreography: CREATE INDEX {idx} ON ONLY {tq} (...) (a catalog change; the index is invalid until every \
partition has one), then for each partition CREATE INDEX CONCURRENTLY <partition index> ON <partition> (...) and \
ALTER INDEX {idx} ATTACH PARTITION <partition index>.",
            first_line(cx.sql),
            idx = quote_ident(index_name),
            tq = t.quoted(),
        ));
        return None;
    }
    let ns = t.schema.as_deref();
    let parent = RelName::new(ns, index_name);
    let mut only = i.clone();
    only.idxname = index_name.to_string();
    only.concurrent = false;
    if let Some(rv) = only.relation.as_mut() {
        rv.inh = false;
    }
    let mut parts = vec![FixedPart::tx(
        vec![
            LOCK_TIMEOUT_PREAMBLE.into(),
            deparse(NodeEnum::IndexStmt(Box::new(only)))?,
        ],
        vec![format!("DROP INDEX IF EXISTS {};", parent.quoted())],
    )];
    let mut attach = vec![LOCK_TIMEOUT_PREAMBLE.to_string()];
    for p in &partitions {
        let mut child = i.clone();
        child.if_not_exists = false;
        let child_name = taken.take(cx.schema.choose_index_name(p, &child, &|n| taken.has(n)));
        child.idxname = child_name.clone();
        child.concurrent = true;
        if let Some(rv) = child.relation.as_mut() {
            rv.schemaname = p.schema.clone().unwrap_or_default();
            rv.relname = p.name.clone();
        }
        let child_rel = RelName::new(p.schema.as_deref().or(ns), &child_name);
        parts.push(FixedPart::outside(
            deparse(NodeEnum::IndexStmt(Box::new(child)))?,
            vec![format!(
                "DROP INDEX CONCURRENTLY IF EXISTS {};",
                child_rel.quoted()
            )],
        ));
        attach.push(format!(
            "ALTER INDEX {} ATTACH PARTITION {};",
            parent.quoted(),
            child_rel.quoted()
        ));
    }
    parts.push(FixedPart::tx(attach, vec![]));
    notes.push(format!(
        "`{}`: {t} is partitioned, where CONCURRENTLY fails: the index is created ON ONLY {t} (a catalog change), \
built CONCURRENTLY on each of its {} partitions, and each is attached (the parent's index becomes valid with the last). \
A partition added meanwhile gets its index when it is attached",
        first_line(cx.sql),
        partitions.len()
    ));
    Some(parts)
}

fn first_line(sql: &str) -> &str {
    sql.lines().next().unwrap_or("")
}

trait DeparseExpr {
    fn deparse_expr(&self) -> Option<String>;
}

impl DeparseExpr for pg_query::protobuf::Node {
    /// An expression as SQL, by deparsing `SELECT <expr>`.
    fn deparse_expr(&self) -> Option<String> {
        let target = pg_query::protobuf::ResTarget {
            val: Some(Box::new(self.clone())),
            ..Default::default()
        };
        let select = pg_query::protobuf::SelectStmt {
            target_list: vec![pg_query::protobuf::Node {
                node: Some(NodeEnum::ResTarget(Box::new(target))),
            }],
            limit_option: pg_query::protobuf::LimitOption::Default as i32,
            op: pg_query::protobuf::SetOperation::SetopNone as i32,
            ..Default::default()
        };
        let sql = NodeEnum::SelectStmt(Box::new(select))
            .deparse(Default::default())
            .ok()?;
        sql.strip_prefix("SELECT ").map(str::to_string)
    }
}

/// Fixes one migration file.
pub fn fix_source(source: &SourceFile, options: AnalysisOptions) -> Result<Fixed, SyntaxError> {
    let mut analyzer = Analyzer::new(options);
    fix_source_with(&mut analyzer, source)
}

/// Statements per parse chunk: bounds the memory held in parse trees.
const CHUNK_STATEMENTS: usize = 2_000;

/// Fixes one migration file against what `analyzer` already knows (earlier files, or a live
/// database's schema loaded into `analyzer.schema`). The file is parsed in chunks and fixed
/// statement by statement, so no parse tree of the whole file is ever held.
pub fn fix_source_with(analyzer: &mut Analyzer, source: &SourceFile) -> Result<Fixed, SyntaxError> {
    fix_text(analyzer, source, source).map(|(fixed, _)| fixed)
}

/// Fixes a file prepared by [`crate::preprocess`]: analysed from `pre.text`, while statements
/// kept as they are and the notes quote `source` (the offsets are the same). Also returns the
/// spans of the statements that were rewritten: their new SQL is built from the analysed text,
/// so it holds stand-in names where the file has placeholders.
pub fn fix_preprocessed(
    analyzer: &mut Analyzer,
    source: &SourceFile,
    pre: &crate::preprocess::Preprocessed,
) -> Result<(Fixed, Vec<Range<usize>>), SyntaxError> {
    let analysed = SourceFile::new(source.name.clone(), pre.text.clone());
    fix_text(analyzer, &analysed, source)
}

/// Fixes `analysed`, quoting `shown` (the same text, or the file it was preprocessed from).
fn fix_text(
    analyzer: &mut Analyzer,
    analysed: &SourceFile,
    shown: &SourceFile,
) -> Result<(Fixed, Vec<Range<usize>>), SyntaxError> {
    analyzer.options.assume_in_transaction = false;
    let pg_version = analyzer.options.pg_version;
    let mut out = Out::default();
    let mut session = analyzer.start_file();
    parse_sql_chunked(&analysed.text, CHUNK_STATEMENTS, |chunk| {
        for stmt in &chunk.statements {
            analyzer.analyze_statement_with(stmt, &mut session, |a, schema| {
                out.statement(shown, stmt, a, schema, pg_version)
            });
        }
    })?;
    out.flush();
    Ok((out.fixed, out.rewritten))
}

/// The fixed migration being built: finished parts, and the transaction being filled.
#[derive(Default)]
struct Out {
    fixed: Fixed,
    current: Option<FixedPart>,
    /// Spans of the statements replaced by new SQL.
    rewritten: Vec<Range<usize>>,
}

impl Out {
    fn flush(&mut self) {
        if let Some(p) = self.current.take() {
            if p.statements.iter().any(|s| s != LOCK_TIMEOUT_PREAMBLE) {
                self.fixed.parts.push(p);
            }
        }
    }

    fn statement(
        &mut self,
        source: &SourceFile,
        stmt: &Statement,
        a: &AnalyzedStatement,
        schema: &SchemaState,
        pg_version: u32,
    ) {
        let sql = source.slice(&stmt.span);
        match &a.kind {
            // Transaction control and timeouts are decided by the fix itself.
            StatementKind::Begin
            | StatementKind::Commit
            | StatementKind::Rollback
            | StatementKind::SetTimeout { .. } => return,
            _ => {}
        }
        let Some(node) = stmt.node.as_ref() else {
            return;
        };
        let cmds: Vec<Option<&pg_query::protobuf::AlterTableCmd>> = match node {
            NodeEnum::AlterTableStmt(at) => at
                .cmds
                .iter()
                .map(|c| match c.node.as_ref() {
                    Some(NodeEnum::AlterTableCmd(cmd)) => Some(&**cmd),
                    _ => None,
                })
                .collect(),
            _ => vec![None],
        };
        let mut replacement: Vec<FixedPart> = Vec::new();
        let mut kept_cmds: Vec<usize> = Vec::new();
        let mut taken = Taken::default();
        for (i, e) in a.effects.iter().enumerate() {
            let cx = Ctx {
                effect: e,
                node,
                sql,
                pg_version,
                schema,
            };
            let parts = if on_existing(e) {
                fix_effect(
                    &cx,
                    cmds.get(i).copied().flatten(),
                    &mut taken,
                    &mut self.fixed.notes,
                )
            } else {
                None
            };
            match parts {
                Some(p) => replacement.extend(p),
                None => kept_cmds.push(i),
            }
        }
        if replacement.is_empty() {
            // Unchanged: joins the current transaction (with a lock_timeout when it blocks).
            let needs_timeout = a.effects.iter().any(|e| on_existing(e) && blocks(e));
            let outside = a.effects.iter().any(|e| {
                e.fact
                    .is_some_and(|f| f.transaction == pgdiplomat_locks::TransactionUse::Forbidden)
            });
            if outside {
                self.flush();
                self.fixed
                    .parts
                    .push(FixedPart::outside(format!("{sql};"), vec![]));
                return;
            }
            let part = self
                .current
                .get_or_insert_with(|| FixedPart::tx(Vec::new(), Vec::new()));
            if needs_timeout && !part.statements.iter().any(|s| s == LOCK_TIMEOUT_PREAMBLE) {
                part.statements.insert(0, LOCK_TIMEOUT_PREAMBLE.into());
            }
            part.statements.push(format!("{sql};"));
            return;
        }
        self.rewritten.push(stmt.span.clone());
        // Subcommands of a multi-command ALTER TABLE that needed no fix run first, as they were.
        if let (NodeEnum::AlterTableStmt(at), false) = (node, kept_cmds.is_empty()) {
            let mut rest = at.clone();
            rest.cmds = kept_cmds
                .iter()
                .filter_map(|&i| at.cmds.get(i).cloned())
                .collect();
            if let Some(s) = deparse(NodeEnum::AlterTableStmt(rest)) {
                let part = self.current.get_or_insert_with(|| {
                    FixedPart::tx(vec![LOCK_TIMEOUT_PREAMBLE.into()], Vec::new())
                });
                part.statements.push(s);
            }
        }
        self.flush();
        self.fixed.parts.extend(replacement);
    }
}

#[cfg(test)]
mod tests;
