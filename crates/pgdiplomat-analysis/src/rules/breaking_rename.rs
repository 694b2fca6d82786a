//! `breaking-rename`: renaming an existing table or column breaks every running query that
//! still names the old one.

use pg_query::protobuf::ObjectType;
use pg_query::NodeEnum;
use pgdiplomat_locks::{RelationRole, StatementForm};

use super::{describe_lock, Finding, Rule, RuleContext, Severity};
use crate::model::{quote_ident, RelName};

pub struct BreakingRename;

impl Rule for BreakingRename {
    fn id(&self) -> &'static str {
        "breaking-rename"
    }
    fn severity(&self) -> Severity {
        Severity::Error
    }
    fn summary(&self) -> &'static str {
        "renaming a table or column breaks running code that uses the old name"
    }
    fn explanation(&self) -> &'static str {
        "RENAME TO and RENAME COLUMN are instant catalog changes, but the moment they commit, every \
query the running application sends with the old name fails (relation or column does not exist). \
During a deploy the old version of the code keeps running until the new one replaces it, so a \
rename in a migration means errors until then — and a rollback of the code breaks again. Rename \
in steps instead (expand and contract). For a column: add the new column, write to both from the \
application and backfill in batches, switch reads to the new column, and drop the old one in a \
later release. For a table: rename it and, in the same transaction, create a view with the old \
name (CREATE VIEW old AS SELECT * FROM new) so that old code keeps working through the \
automatically updatable view; drop the view once no code uses the old name. Renames in a table \
created earlier in the same migration run are not flagged."
    }
    fn bad_example(&self) -> &'static str {
        "ALTER TABLE users_user RENAME COLUMN name TO full_name;"
    }
    fn good_example(&self) -> &'static str {
        "SET lock_timeout = '2s';\n\
-- Release 1: add the new column; the application writes both and a batched job backfills it.\n\
ALTER TABLE users_user ADD COLUMN full_name text;\n\
-- A later release, once nothing reads users_user.name: drop it."
    }
    fn check(&self, ctx: &RuleContext<'_>, out: &mut Vec<Finding>) {
        let (new_name, renames_table) = match ctx.node {
            Some(NodeEnum::RenameStmt(r)) => (
                r.newname.clone(),
                r.rename_type == ObjectType::ObjectTable as i32,
            ),
            _ => return,
        };
        for e in ctx.effects_on_existing() {
            let Some(table) = &e.op.table else { continue };
            let lock = e
                .locks
                .iter()
                .find(|l| l.role == RelationRole::Table)
                .map(|l| format!(" ({} for an instant)", describe_lock(l.mode, &l.relation)))
                .unwrap_or_default();
            match e.form() {
                Some(StatementForm::RenameTable) => {
                    let mut f = ctx.finding(
                        self,
                        format!(
                            "renaming {table} to {new_name} breaks every running query that names {table}{lock}"
                        ),
                    );
                    f.help = Some(format!(
                        "in the same transaction, create a view named {table} over the renamed \
table so old code keeps working, and drop it once no code uses the old name; then silence this \
with `-- pgdiplomat:ignore breaking-rename <reason>`"
                    ));
                    if renames_table {
                        let new = RelName::new(table.schema.as_deref(), &new_name);
                        f.fix_sql = Some(format!(
                            "BEGIN;\nALTER TABLE {old} RENAME TO {new_ident};\n\
CREATE VIEW {old} AS SELECT * FROM {new};\nCOMMIT;",
                            old = table.quoted(),
                            new_ident = quote_ident(&new_name),
                            new = new.quoted(),
                        ));
                    }
                    out.push(f);
                }
                Some(StatementForm::RenameColumn) => {
                    let column = e.op.column.as_deref().unwrap_or("the column");
                    let mut f = ctx.finding(
                        self,
                        format!(
                            "renaming column {table}.{column} to {new_name} breaks every running query that names {column}{lock}"
                        ),
                    );
                    f.help = Some(format!(
                        "expand and contract: add column {new_name}, write both and backfill in \
batches, switch reads to it, and drop {column} in a later release"
                    ));
                    out.push(f);
                }
                _ => {}
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::test_support::*;

    const ID: &str = "breaking-rename";

    #[test]
    fn renaming_a_column_of_an_existing_table_is_flagged() {
        let f = assert_fires(ID, "ALTER TABLE t RENAME COLUMN a TO b;", 1);
        assert!(
            f[0].message.contains("renaming column t.a to b"),
            "{}",
            f[0].message
        );
        assert!(
            f[0].message
                .contains("ACCESS EXCLUSIVE on t (blocks reads and writes)"),
            "{}",
            f[0].message
        );
        assert!(f[0].help.as_deref().unwrap().contains("backfill"));
    }

    #[test]
    fn renaming_an_existing_table_suggests_a_view_with_the_old_name() {
        let f = assert_fires(ID, "ALTER TABLE app.\"Users\" RENAME TO accounts;", 1);
        assert_eq!(
            f[0].fix_sql.as_deref(),
            Some(
                "BEGIN;\nALTER TABLE app.\"Users\" RENAME TO accounts;\n\
CREATE VIEW app.\"Users\" AS SELECT * FROM app.accounts;\nCOMMIT;"
            )
        );
    }

    #[test]
    fn renaming_a_view_is_flagged_without_the_view_fix() {
        let f = assert_fires(ID, "ALTER VIEW v RENAME TO v2;", 1);
        assert_eq!(f[0].fix_sql, None);
    }

    #[test]
    fn renaming_an_index_or_constraint_is_not_this_rule() {
        assert_clean(ID, "ALTER INDEX t_a_idx RENAME TO t_a_idx2;");
        assert_clean(ID, "ALTER TABLE t RENAME CONSTRAINT c TO c2;");
    }

    #[test]
    fn renames_in_a_table_created_earlier_in_the_run_are_clean() {
        assert_clean(
            ID,
            "CREATE TABLE t (a int);\nALTER TABLE t RENAME COLUMN a TO b;\nALTER TABLE t RENAME TO t2;",
        );
    }

    #[test]
    fn examples() {
        assert_examples(&BreakingRename);
    }
}
