//! `check-without-not-valid`: adding a CHECK constraint to an existing table validates every
//! row while holding ACCESS EXCLUSIVE. Adding it `NOT VALID` is instant; `VALIDATE CONSTRAINT`
//! then scans under a lock that lets reads and writes continue.
//!
//! Also holds the helpers the constraint and ADD COLUMN rules share to rebuild one
//! `ALTER TABLE` subcommand as SQL.

use pg_query::protobuf::{self, AlterTableCmd, AlterTableStmt, AlterTableType, ConstrType};
use pg_query::NodeEnum;
use pgdiplomat_locks::{lookup, RelationRole, Scan, StatementForm};

use super::{describe_lock, Finding, Rule, RuleContext, Severity};
use crate::analyze::Effect;
use crate::model::expr::visit;
use crate::model::names::string_value;
use crate::model::{quote_ident, RelName};

pub struct CheckWithoutNotValid;

impl Rule for CheckWithoutNotValid {
    fn id(&self) -> &'static str {
        "check-without-not-valid"
    }
    fn severity(&self) -> Severity {
        Severity::Error
    }
    fn summary(&self) -> &'static str {
        "ADD CHECK without NOT VALID scans the whole table while blocking reads and writes"
    }
    fn explanation(&self) -> &'static str {
        "Adding a CHECK constraint (ALTER TABLE ... ADD CONSTRAINT ... CHECK, or ADD COLUMN ... \
CHECK) takes ACCESS EXCLUSIVE on the table and keeps it while PostgreSQL checks every existing \
row: every SELECT, INSERT, UPDATE and DELETE on the table waits for the whole scan, which on a \
large table takes minutes and piles up connections behind it. Add the constraint NOT VALID \
instead: that is a catalog change, and new and updated rows are checked from then on. Then run \
ALTER TABLE ... VALIDATE CONSTRAINT in a separate transaction: it scans the table under SHARE \
UPDATE EXCLUSIVE, which lets reads and writes continue. For an inline CHECK on a new column, add \
the column first and the constraint separately. Tables created earlier in the same migration run \
are empty and are not flagged."
    }
    fn bad_example(&self) -> &'static str {
        "ALTER TABLE orders ADD CONSTRAINT orders_total_positive CHECK (total > 0);"
    }
    fn good_example(&self) -> &'static str {
        "SET lock_timeout = '2s';
ALTER TABLE orders ADD CONSTRAINT orders_total_positive CHECK (total > 0) NOT VALID;
-- in a separate transaction:
ALTER TABLE orders VALIDATE CONSTRAINT orders_total_positive;"
    }
    fn check(&self, ctx: &RuleContext<'_>, out: &mut Vec<Finding>) {
        for (i, e) in ctx.stmt.effects.iter().enumerate() {
            if e.new_table {
                continue;
            }
            let (what, fix, unnamed) = match e.form() {
                Some(StatementForm::AddCheck) => {
                    let fix = add_check_fix(ctx, i, e);
                    let what = match &e.op.constraint {
                        Some(c) => format!("ADD CONSTRAINT {c} CHECK"),
                        None => "ADD CHECK".to_string(),
                    };
                    (
                        what,
                        fix.as_ref().map(|f| f.0.clone()),
                        fix.and_then(|f| f.1),
                    )
                }
                Some(StatementForm::AddColumnCheck) => {
                    let fix = add_column_check_fix(ctx, i, e);
                    let col = e.op.column.as_deref().unwrap_or("?");
                    (
                        format!("ADD COLUMN {col} ... CHECK"),
                        fix.as_ref().map(|f| f.0.clone()),
                        fix.and_then(|f| f.1),
                    )
                }
                _ => continue,
            };
            let scan = if e.fact.is_some_and(|f| f.scan == Scan::Table) {
                " while it checks every row"
            } else {
                ""
            };
            let mut f = ctx.finding(self, format!("{what} takes {}{scan}", table_lock(e)));
            let mut help = format!(
                "add the constraint NOT VALID (only new and updated rows are checked), then run \
VALIDATE CONSTRAINT in a separate transaction{}",
                validate_lock(StatementForm::ValidateCheck, ctx)
            );
            if let Some(name) = unnamed {
                help.push_str(&format!(
                    "; the constraint has no name, so the fix names it {name} (the name PostgreSQL would choose)"
                ));
            }
            f.help = Some(help);
            f.fix_sql = fix;
            out.push(f);
        }
    }
}

/// `ALTER TABLE ... ADD CONSTRAINT ... CHECK ... NOT VALID` + VALIDATE, and the name chosen
/// when the constraint had none.
fn add_check_fix(ctx: &RuleContext<'_>, i: usize, e: &Effect) -> Option<(String, Option<String>)> {
    let (stmt, cmd) = alter_cmd(ctx.node, i)?;
    let table = e.op.table.as_ref()?;
    let Some(NodeEnum::Constraint(con)) = cmd.def.as_ref().and_then(|d| d.node.as_ref()) else {
        return None;
    };
    let mut con = (**con).clone();
    let unnamed = con.conname.is_empty();
    if unnamed {
        let col = con.raw_expr.as_deref().and_then(first_column);
        con.conname = check_name(&table.name, col.as_deref(), 0);
    }
    let name = con.conname.clone();
    let sql = not_valid_then_validate(stmt, cmd, con, table)?;
    Some((sql, unnamed.then_some(name)))
}

/// The column added without its CHECKs, then each CHECK NOT VALID + VALIDATE.
fn add_column_check_fix(
    ctx: &RuleContext<'_>,
    i: usize,
    e: &Effect,
) -> Option<(String, Option<String>)> {
    let (stmt, cmd) = alter_cmd(ctx.node, i)?;
    let table = e.op.table.as_ref()?;
    let Some(NodeEnum::ColumnDef(cd)) = cmd.def.as_ref().and_then(|d| d.node.as_ref()) else {
        return None;
    };
    let mut sql = vec![add_column_without(stmt, cmd, cd, ConstrType::ConstrCheck)?];
    let mut generated = Vec::new();
    let mut n = 0;
    for c in &cd.constraints {
        let Some(NodeEnum::Constraint(con)) = c.node.as_ref() else {
            continue;
        };
        if con.contype != ConstrType::ConstrCheck as i32 {
            continue;
        }
        let mut con = (**con).clone();
        if con.conname.is_empty() {
            con.conname = check_name(&table.name, Some(&cd.colname), n);
            n += 1;
            generated.push(con.conname.clone());
        }
        sql.push(not_valid_then_validate(stmt, cmd, con, table)?);
    }
    Some((
        sql.join("\n"),
        (!generated.is_empty()).then(|| generated.join(", ")),
    ))
}

/// The name PostgreSQL gives an unnamed CHECK: `<table>_<first column>_check`, then `...1`.
fn check_name(table: &str, column: Option<&str>, n: usize) -> String {
    let base = match column {
        Some(c) => format!("{table}_{c}_check"),
        None => format!("{table}_check"),
    };
    if n == 0 {
        base
    } else {
        format!("{base}{n}")
    }
}

/// The first column an expression mentions.
fn first_column(expr: &protobuf::Node) -> Option<String> {
    let mut found = None;
    visit(expr, &mut |n| {
        if let (None, NodeEnum::ColumnRef(cr)) = (&found, n) {
            found = cr
                .fields
                .iter()
                .filter_map(string_value)
                .next_back()
                .map(str::to_string);
        }
    });
    found
}

/// `ALTER TABLE <t> ADD CONSTRAINT <con> ... NOT VALID;` then, in a separate transaction,
/// `ALTER TABLE <t> VALIDATE CONSTRAINT <con>;`. `template` is a subcommand of `stmt`.
pub(super) fn not_valid_then_validate(
    stmt: &AlterTableStmt,
    template: &AlterTableCmd,
    mut con: protobuf::Constraint,
    table: &RelName,
) -> Option<String> {
    con.skip_validation = true;
    con.initially_valid = false;
    let name = con.conname.clone();
    let mut cmd = template.clone();
    cmd.subtype = AlterTableType::AtAddConstraint as i32;
    cmd.name = String::new();
    cmd.def = Some(Box::new(node(NodeEnum::Constraint(Box::new(con)))));
    let add = deparse_alter(stmt, cmd)?;
    Some(format!(
        "{add}\n-- in a separate transaction:\nALTER TABLE {} VALIDATE CONSTRAINT {};",
        table.quoted(),
        quote_ident(&name)
    ))
}

/// The ALTER TABLE statement and its `i`-th subcommand (an ALTER TABLE has one effect per
/// subcommand, in order).
pub(super) fn alter_cmd(
    node: Option<&NodeEnum>,
    i: usize,
) -> Option<(&AlterTableStmt, &AlterTableCmd)> {
    let Some(NodeEnum::AlterTableStmt(a)) = node else {
        return None;
    };
    match a.cmds.get(i)?.node.as_ref()? {
        NodeEnum::AlterTableCmd(c) => Some((a, c)),
        _ => None,
    }
}

/// `stmt` with `cmd` as its only subcommand, deparsed, with the semicolon.
/// `ALTER TABLE ... ADD COLUMN` of `cd` without its constraints of type `without`.
pub(super) fn add_column_without(
    stmt: &AlterTableStmt,
    cmd: &AlterTableCmd,
    cd: &pg_query::protobuf::ColumnDef,
    without: ConstrType,
) -> Option<String> {
    let mut plain = cd.clone();
    plain.constraints.retain(|c| !is_constraint(c, without));
    let mut add = cmd.clone();
    add.def = Some(Box::new(node(NodeEnum::ColumnDef(Box::new(plain)))));
    deparse_alter(stmt, add)
}

pub(super) fn deparse_alter(stmt: &AlterTableStmt, cmd: AlterTableCmd) -> Option<String> {
    let mut stmt = stmt.clone();
    stmt.cmds = vec![node(NodeEnum::AlterTableCmd(Box::new(cmd)))];
    crate::parse::deparse_statement(NodeEnum::AlterTableStmt(stmt))
}

pub(super) fn node(n: NodeEnum) -> protobuf::Node {
    protobuf::Node { node: Some(n) }
}

pub(super) fn is_constraint(n: &protobuf::Node, t: ConstrType) -> bool {
    matches!(n.node.as_ref(), Some(NodeEnum::Constraint(c)) if c.contype == t as i32)
}

/// The lock on the operation's table, for messages: `ACCESS EXCLUSIVE on t (blocks ...)`.
pub(super) fn table_lock(e: &Effect) -> String {
    e.locks
        .iter()
        .find(|l| l.role == RelationRole::Table)
        .or_else(|| e.locks.iter().max_by_key(|l| l.mode))
        .map(|l| describe_lock(l.mode, &l.relation))
        .unwrap_or_else(|| "a lock".into())
}

/// ` (it scans under SHARE UPDATE EXCLUSIVE, which blocks ...)` for the validation step, from
/// the lock table.
pub(super) fn validate_lock(form: StatementForm, ctx: &RuleContext<'_>) -> String {
    lookup(form, ctx.options.pg_version)
        .and_then(|f| f.lock_on(RelationRole::Table))
        .map(|m| format!(" (it scans under {m}, which {})", m.impact()))
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::test_support::*;

    const ID: &str = "check-without-not-valid";

    #[test]
    fn flags_add_check_with_the_not_valid_fix() {
        let f = assert_fires(ID, "ALTER TABLE t ADD CONSTRAINT t_a_pos CHECK (a > 0);", 1);
        assert_eq!(
            f[0].message,
            "ADD CONSTRAINT t_a_pos CHECK takes ACCESS EXCLUSIVE on t (blocks reads and writes) \
while it checks every row"
        );
        assert_eq!(f[0].severity, Severity::Error);
        assert_eq!(
            f[0].fix_sql.as_deref(),
            Some(
                "ALTER TABLE t ADD CONSTRAINT t_a_pos CHECK (a > 0) NOT VALID;\n\
-- in a separate transaction:\n\
ALTER TABLE t VALIDATE CONSTRAINT t_a_pos;"
            )
        );
        assert!(f[0]
            .help
            .as_deref()
            .unwrap()
            .contains("SHARE UPDATE EXCLUSIVE"));
    }

    #[test]
    fn unnamed_check_gets_the_postgres_name_in_the_fix() {
        let f = assert_fires(
            ID,
            "ALTER TABLE app.\"Order\" ADD CHECK (b > 0 AND a > 0);",
            1,
        );
        assert_eq!(
            f[0].fix_sql.as_deref(),
            Some(
                "ALTER TABLE app.\"Order\" ADD CONSTRAINT \"Order_b_check\" CHECK (b > 0 AND a > 0) NOT VALID;\n\
-- in a separate transaction:\n\
ALTER TABLE app.\"Order\" VALIDATE CONSTRAINT \"Order_b_check\";"
            )
        );
        assert!(f[0]
            .help
            .as_deref()
            .unwrap()
            .contains("names it Order_b_check"));
    }

    #[test]
    fn flags_inline_check_on_a_new_column_and_splits_it() {
        let f = assert_fires(
            ID,
            "ALTER TABLE t ADD COLUMN n int DEFAULT 1 CHECK (n > 0);",
            1,
        );
        assert!(
            f[0].message
                .starts_with("ADD COLUMN n ... CHECK takes ACCESS EXCLUSIVE on t"),
            "{}",
            f[0].message
        );
        assert_eq!(
            f[0].fix_sql.as_deref(),
            Some(
                "ALTER TABLE t ADD COLUMN n int DEFAULT 1;\n\
ALTER TABLE t ADD CONSTRAINT t_n_check CHECK (n > 0) NOT VALID;\n\
-- in a separate transaction:\n\
ALTER TABLE t VALIDATE CONSTRAINT t_n_check;"
            )
        );
    }

    #[test]
    fn only_the_check_subcommand_is_flagged() {
        let f = assert_fires(
            ID,
            "ALTER TABLE t ADD COLUMN x int, ADD CONSTRAINT t_a_pos CHECK (a > 0);",
            1,
        );
        assert!(f[0]
            .fix_sql
            .as_deref()
            .unwrap()
            .starts_with("ALTER TABLE t ADD CONSTRAINT t_a_pos CHECK (a > 0) NOT VALID;"));
    }

    #[test]
    fn not_valid_check_is_clean() {
        assert_clean(
            ID,
            "ALTER TABLE t ADD CONSTRAINT t_a_pos CHECK (a > 0) NOT VALID;\n\
ALTER TABLE t VALIDATE CONSTRAINT t_a_pos;",
        );
    }

    #[test]
    fn check_on_a_table_created_earlier_in_the_run_is_clean() {
        assert_clean(
            ID,
            "CREATE TABLE t (a int);\n\
ALTER TABLE t ADD CONSTRAINT t_a_pos CHECK (a > 0);\n\
ALTER TABLE t ADD COLUMN n int CHECK (n > 0);",
        );
    }

    #[test]
    fn examples() {
        assert_examples(&CheckWithoutNotValid);
    }
}
