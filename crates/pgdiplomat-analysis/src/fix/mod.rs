//! `fix`: rewrites an unsafe migration into the safe choreography — a sequence of parts, each
//! either one short transaction or one statement that must run outside any transaction — so
//! that no part holds a lock that blocks reads or writes for longer than a catalog update.
//! Changes that cannot be made safe in place (a rewriting type change, a rename) are kept and
//! preceded by an explained expand/contract plan, never silently rewritten.

use pg_query::NodeEnum;
use pgdiplomat_locks::{LockMode, StatementForm as F};

use crate::analyze::{AnalysisOptions, Analyzer, Effect};
use crate::model::names::string_list;
use crate::model::{quote_ident, RelName, StatementKind};
use crate::parse::{parse_sql, SyntaxError};
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
    notes: &mut Vec<String>,
) -> Option<Vec<FixedPart>> {
    let e = cx.effect;
    let form = e.form()?;
    let table = e.op.table.clone();
    match (form, cx.node) {
        (F::CreateIndex, NodeEnum::IndexStmt(i)) => {
            let mut i = i.clone();
            i.concurrent = true;
            let name = (!i.idxname.is_empty()).then(|| {
                RelName::new(table.as_ref().and_then(|t| t.schema.as_deref()), &i.idxname)
            });
            let sql = deparse(NodeEnum::IndexStmt(i))?;
            notes.push(format!("`{}`: built CONCURRENTLY (SHARE UPDATE EXCLUSIVE instead of SHARE: writes continue)", first_line(cx.sql)));
            let reverse = name
                .map(|n| vec![format!("DROP INDEX CONCURRENTLY IF EXISTS {};", n.quoted())])
                .unwrap_or_default();
            Some(vec![FixedPart::outside(sql, reverse)])
        }
        (F::DropIndex, NodeEnum::DropStmt(d)) => {
            let mut d = d.clone();
            d.concurrent = true;
            if d.behavior == pg_query::protobuf::DropBehavior::DropCascade as i32
                || d.objects.len() != 1
            {
                return None;
            }
            notes.push(format!(
                "`{}`: dropped CONCURRENTLY (no ACCESS EXCLUSIVE on the table)",
                first_line(cx.sql)
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
            let cols = string_list(&con.keys);
            let t = table?;
            if cols.is_empty() {
                return None;
            }
            let kind = if form == F::AddUnique {
                "UNIQUE"
            } else {
                "PRIMARY KEY"
            };
            // PostgreSQL's own names for unnamed constraints: <table>_<cols>_key, <table>_pkey.
            let conname = if !con.conname.is_empty() {
                con.conname.clone()
            } else if form == F::AddUnique {
                format!("{}_{}_key", t.name, cols.join("_"))
            } else {
                format!("{}_pkey", t.name)
            };
            let index = format!("{conname}_idx");
            let col_list: Vec<String> = cols.iter().map(|c| quote_ident(c)).collect();
            let mut parts = Vec::new();
            if form == F::AddPrimaryKey {
                for c in &cols {
                    parts.extend(not_null_via_check(&t, c, cx.pg_version));
                }
            }
            parts.push(FixedPart::outside(
                format!(
                    "CREATE UNIQUE INDEX CONCURRENTLY {} ON {} ({});",
                    quote_ident(&index),
                    t.quoted(),
                    col_list.join(", ")
                ),
                vec![format!(
                    "DROP INDEX CONCURRENTLY IF EXISTS {};",
                    RelName::new(t.schema.as_deref(), &index).quoted()
                )],
            ));
            parts.push(FixedPart::tx(
                vec![
                    LOCK_TIMEOUT_PREAMBLE.into(),
                    format!(
                        "ALTER TABLE {} ADD CONSTRAINT {} {kind} USING INDEX {};",
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
If the build fails on duplicates it leaves an INVALID index: remove it with DROP INDEX CONCURRENTLY {} and fix the data",
                first_line(cx.sql),
                quote_ident(&index)
            ));
            Some(parts)
        }
        (F::AddCheck | F::AddForeignKey, NodeEnum::AlterTableStmt(a)) => {
            let cmd = cmd?;
            let Some(NodeEnum::Constraint(con)) = cmd.def.as_ref().and_then(|d| d.node.as_ref())
            else {
                return None;
            };
            let t = table?;
            let mut con = (**con).clone();
            if con.conname.is_empty() {
                // PostgreSQL's own choice: <table>_<first column>_check, <table>_<columns>_fkey.
                let cols = string_list(if con.fk_attrs.is_empty() {
                    &con.keys
                } else {
                    &con.fk_attrs
                });
                let suffix = if form == F::AddCheck { "check" } else { "fkey" };
                let first_column = con.raw_expr.as_deref().and_then(first_column_ref);
                let what = if !cols.is_empty() {
                    cols.join("_")
                } else {
                    first_column
                        .or_else(|| e.op.column.clone())
                        .unwrap_or_else(|| "check".into())
                };
                con.conname = format!("{}_{}_{}", t.name, what, suffix);
            }
            con.skip_validation = true;
            con.initially_valid = false;
            let mut new_cmd = cmd.clone();
            new_cmd.def = Some(Box::new(pg_query::protobuf::Node {
                node: Some(NodeEnum::Constraint(Box::new(con.clone()))),
            }));
            let add = alter_cmd_node(&t, &new_cmd, a)?;
            notes.push(format!(
                "`{}`: added NOT VALID (no scan under the strong lock), then validated in a later transaction under SHARE UPDATE EXCLUSIVE",
                first_line(cx.sql)
            ));
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
            plain.constraints.retain(|c| {
                !matches!(c.node.as_ref(), Some(NodeEnum::Constraint(k)) if k.contype == pg_query::protobuf::ConstrType::ConstrDefault as i32 || k.contype == pg_query::protobuf::ConstrType::ConstrNotnull as i32)
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
            notes.push(format!(
                "`{}`: the column is added without its volatile default (instant), the default is set for new rows, \
existing rows are backfilled in batches of {BACKFILL_BATCH} by primary key (`pgdiplomat apply` runs the marked UPDATE \
batch by batch, resumably; another runner runs it as one statement){}",
                first_line(cx.sql),
                if not_null { ", then NOT NULL is added through a validated CHECK" } else { "" }
            ));
            Some(parts)
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

/// The first column an expression names.
fn first_column_ref(expr: &pg_query::protobuf::Node) -> Option<String> {
    let mut found = None;
    crate::model::expr::visit(expr, &mut |n| {
        if found.is_none() {
            if let NodeEnum::ColumnRef(c) = n {
                found = string_list(&c.fields).pop();
            }
        }
    });
    found
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
    let parsed = parse_sql(&source.text)?;
    let mut analyzer = Analyzer::new(AnalysisOptions {
        assume_in_transaction: false,
        ..options
    });
    let analysis = analyzer.analyze_file(&parsed);
    let mut fixed = Fixed::default();
    let mut current: Option<FixedPart> = None;
    let flush = |current: &mut Option<FixedPart>, fixed: &mut Fixed| {
        if let Some(p) = current.take() {
            if p.statements.iter().any(|s| s != LOCK_TIMEOUT_PREAMBLE) {
                fixed.parts.push(p);
            }
        }
    };
    for (stmt, a) in parsed.statements.iter().zip(&analysis.statements) {
        let sql = source.slice(&stmt.span);
        match &a.kind {
            // Transaction control and timeouts are decided by the fix itself.
            StatementKind::Begin
            | StatementKind::Commit
            | StatementKind::Rollback
            | StatementKind::SetTimeout { .. } => continue,
            _ => {}
        }
        let Some(node) = stmt.node.as_ref() else {
            continue;
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
        for (i, e) in a.effects.iter().enumerate() {
            let cx = Ctx {
                effect: e,
                node,
                sql,
                pg_version: options.pg_version,
            };
            let parts = if on_existing(e) {
                fix_effect(&cx, cmds.get(i).copied().flatten(), &mut fixed.notes)
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
                flush(&mut current, &mut fixed);
                fixed
                    .parts
                    .push(FixedPart::outside(format!("{sql};"), vec![]));
                continue;
            }
            let part = current.get_or_insert_with(|| FixedPart::tx(Vec::new(), Vec::new()));
            if needs_timeout && !part.statements.iter().any(|s| s == LOCK_TIMEOUT_PREAMBLE) {
                part.statements.insert(0, LOCK_TIMEOUT_PREAMBLE.into());
            }
            part.statements.push(format!("{sql};"));
            continue;
        }
        // Subcommands of a multi-command ALTER TABLE that needed no fix run first, as they were.
        if let (NodeEnum::AlterTableStmt(at), false) = (node, kept_cmds.is_empty()) {
            let mut rest = at.clone();
            rest.cmds = kept_cmds
                .iter()
                .filter_map(|&i| at.cmds.get(i).cloned())
                .collect();
            if let Some(s) = deparse(NodeEnum::AlterTableStmt(rest)) {
                let part = current.get_or_insert_with(|| {
                    FixedPart::tx(vec![LOCK_TIMEOUT_PREAMBLE.into()], Vec::new())
                });
                part.statements.push(s);
            }
        }
        flush(&mut current, &mut fixed);
        fixed.parts.extend(replacement);
    }
    flush(&mut current, &mut fixed);
    Ok(fixed)
}

#[cfg(test)]
mod tests;
