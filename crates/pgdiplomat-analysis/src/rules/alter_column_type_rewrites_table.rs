//! `alter-column-type-rewrites-table`: `ALTER COLUMN ... TYPE` to a type the stored values are not
//! binary compatible with rewrites the table and rebuilds its indexes under ACCESS EXCLUSIVE.
//! When the old type is unknown and the change might be a binary-coercible widening, the finding
//! is a warning.

use pg_query::protobuf::AlterTableType;
use pg_query::NodeEnum;
use pgdiplomat_locks::StatementForm;

use super::add_column_rewrites_table::work;
use super::check_without_not_valid::{alter_cmd, deparse_alter, node, table_lock};
use super::{Finding, Rule, RuleContext, Severity};
use crate::analyze::Effect;
use crate::model::quote_ident;

pub struct AlterColumnTypeRewritesTable;

impl Rule for AlterColumnTypeRewritesTable {
    fn id(&self) -> &'static str {
        "alter-column-type-rewrites-table"
    }
    fn severity(&self) -> Severity {
        Severity::Error
    }
    fn summary(&self) -> &'static str {
        "ALTER COLUMN TYPE rewrites the table and its indexes while blocking reads and writes"
    }
    fn explanation(&self) -> &'static str {
        "ALTER TABLE ... ALTER COLUMN ... TYPE takes ACCESS EXCLUSIVE on the table. Unless the old \
and new types are binary compatible (varchar(n) to a longer varchar or to text, a wider numeric \
precision), PostgreSQL rewrites every row and rebuilds every index while holding it: every \
SELECT, INSERT, UPDATE and DELETE on the table waits until the rewrite is done, which on a large \
table takes minutes to hours; changing a referenced key also re-checks the referencing tables. \
Change the type by expand and contract instead: add a new column of the new type, keep it in sync \
(a trigger, or the application writing both), backfill existing rows in batches, switch readers \
to it, then swap the columns in one short transaction and drop the old one later. When the run \
does not know the column's current type (it was created before these migrations) and the new \
type might be a binary-compatible widening, the finding is a warning: check the current type. \
Tables created earlier in the same migration run are empty and are not flagged."
    }
    fn bad_example(&self) -> &'static str {
        "ALTER TABLE orders ALTER COLUMN quantity TYPE bigint;"
    }
    fn good_example(&self) -> &'static str {
        "SET lock_timeout = '2s';
ALTER TABLE orders ADD COLUMN quantity_new bigint;
-- keep quantity_new in sync (trigger or application), backfill in batches,
-- then swap the columns in one short transaction"
    }
    fn check(&self, ctx: &RuleContext<'_>, out: &mut Vec<Finding>) {
        for (i, e) in ctx.stmt.effects.iter().enumerate() {
            if e.new_table || e.form() != Some(StatementForm::AlterColumnTypeRewrite) {
                continue;
            }
            let col = e.op.column.as_deref().unwrap_or("?");
            let new =
                e.op.type_change
                    .as_ref()
                    .map(|(_, new)| format!(" {new}"))
                    .unwrap_or_default();
            let detail =
                e.op.detail
                    .as_deref()
                    .map(|d| format!(" ({d})"))
                    .unwrap_or_default();
            let message = if e.op.assumed {
                format!(
                    "ALTER COLUMN {col} TYPE{new} takes {} and may rewrite every row{detail}",
                    table_lock(e)
                )
            } else {
                format!(
                    "ALTER COLUMN {col} TYPE{new} takes {}{}{detail}",
                    table_lock(e),
                    work(e)
                )
            };
            let mut f = ctx.finding(self, message);
            if e.op.assumed {
                f.severity = Severity::Warning;
            }
            let mut help = String::from(
                "change the type by expand and contract: add a column of the new type, keep it in \
sync (trigger or application), backfill in batches, then swap the columns in one short transaction",
            );
            if e.op.assumed {
                help.push_str(
                    "; if the current type is binary compatible with the new one (e.g. a shorter \
varchar), there is no rewrite and the finding can be ignored",
                );
            }
            f.help = Some(help);
            f.fix_sql = fix(ctx, i, e);
            out.push(f);
        }
    }
}

/// The first steps of expand and contract: the new column, then the rest as comments (they
/// need application changes in between).
fn fix(ctx: &RuleContext<'_>, i: usize, e: &Effect) -> Option<String> {
    let (stmt, cmd) = alter_cmd(ctx.node, i)?;
    let table = e.op.table.as_ref()?;
    let Some(NodeEnum::ColumnDef(cd)) = cmd.def.as_ref().and_then(|d| d.node.as_ref()) else {
        return None;
    };
    let col = cmd.name.as_str();
    let new_col = format!("{col}_new");
    let mut def = (**cd).clone();
    def.colname = new_col.clone();
    def.raw_default = None;
    def.constraints.clear();
    let mut add = cmd.clone();
    add.subtype = AlterTableType::AtAddColumn as i32;
    add.name = String::new();
    add.def = Some(Box::new(node(NodeEnum::ColumnDef(Box::new(def)))));
    let add = deparse_alter(stmt, add)?;
    let (t, c, n) = (table.quoted(), quote_ident(col), quote_ident(&new_col));
    Some(format!(
        "{add}\n\
-- keep {n} in sync with {c} (a trigger, or the application writing both)\n\
-- backfill in batches: UPDATE {t} SET {n} = {c} WHERE {n} IS NULL AND <key range>;\n\
-- switch readers to {n}, then in one short transaction rename {c} away and {n} to {c}; drop the old column later"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::test_support::*;

    const ID: &str = "alter-column-type-rewrites-table";

    #[test]
    fn flags_int_to_bigint_as_an_error_with_the_expand_fix() {
        let f = assert_fires(ID, "ALTER TABLE t ALTER COLUMN a TYPE bigint;", 1);
        assert_eq!(f[0].severity, Severity::Error);
        assert_eq!(
            f[0].message,
            "ALTER COLUMN a TYPE bigint takes ACCESS EXCLUSIVE on t (blocks reads and writes) \
while it rewrites every row and rebuilds every index"
        );
        assert_eq!(
            f[0].fix_sql.as_deref(),
            Some(
                "ALTER TABLE t ADD COLUMN a_new bigint;\n\
-- keep a_new in sync with a (a trigger, or the application writing both)\n\
-- backfill in batches: UPDATE t SET a_new = a WHERE a_new IS NULL AND <key range>;\n\
-- switch readers to a_new, then in one short transaction rename a away and a_new to a; drop the old column later"
            )
        );
    }

    #[test]
    fn unknown_old_type_that_may_be_a_widening_is_a_warning() {
        let f = assert_fires(ID, "ALTER TABLE t ALTER COLUMN b TYPE varchar(20);", 1);
        assert_eq!(f[0].severity, Severity::Warning);
        assert!(
            f[0].message.contains("may rewrite every row")
                && f[0].message.contains("current type of b is unknown"),
            "{}",
            f[0].message
        );
    }

    #[test]
    fn known_widening_is_clean_and_known_narrowing_is_an_error() {
        assert_clean(
            ID,
            "ALTER TABLE t ADD COLUMN b varchar(10);\nALTER TABLE t ALTER COLUMN b TYPE varchar(20);",
        );
        assert_clean(
            ID,
            "ALTER TABLE t ADD COLUMN b varchar(10);\nALTER TABLE t ALTER COLUMN b TYPE text;",
        );
        let f = assert_fires(
            ID,
            "ALTER TABLE t ADD COLUMN b varchar(10);\nALTER TABLE t ALTER COLUMN b TYPE varchar(5);",
            1,
        );
        assert_eq!(f[0].severity, Severity::Error);
        assert!(
            f[0].message
                .contains("TYPE varchar(5) takes ACCESS EXCLUSIVE on t (blocks reads and writes) while it rewrites every row and rebuilds every index (from varchar(10))"),
            "{}",
            f[0].message
        );
    }

    #[test]
    fn using_clause_is_an_error_and_not_copied_into_the_fix() {
        let f = assert_fires(
            ID,
            "ALTER TABLE t ALTER COLUMN b TYPE text USING lower(b);",
            1,
        );
        assert_eq!(f[0].severity, Severity::Error);
        assert!(f[0]
            .fix_sql
            .as_deref()
            .unwrap()
            .starts_with("ALTER TABLE t ADD COLUMN b_new text;\n"));
    }

    #[test]
    fn type_change_on_a_table_created_earlier_in_the_run_is_clean() {
        assert_clean(
            ID,
            "CREATE TABLE t (a int);\nALTER TABLE t ALTER COLUMN a TYPE bigint;",
        );
    }

    #[test]
    fn examples() {
        assert_examples(&AlterColumnTypeRewritesTable);
    }
}
