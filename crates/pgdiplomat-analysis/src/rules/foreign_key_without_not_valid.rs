//! `foreign-key-without-not-valid`: adding a foreign key to an existing table checks every row
//! while blocking writes on both the table and the table it references. So does a new column
//! with a DEFAULT and REFERENCES: every row gets the default and is checked, under ACCESS
//! EXCLUSIVE.

use pg_query::NodeEnum;
use pgdiplomat_locks::{Scan, StatementForm};

use pg_query::protobuf::{self, ConstrType};

use super::check_without_not_valid::{
    add_column_without, alter_cmd, node, not_valid_then_validate, validate_lock,
};
use super::{describe_lock, Finding, Rule, RuleContext, Severity};
use crate::analyze::Effect;
use crate::model::names::string_list;

pub struct ForeignKeyWithoutNotValid;

impl Rule for ForeignKeyWithoutNotValid {
    fn id(&self) -> &'static str {
        "foreign-key-without-not-valid"
    }
    fn severity(&self) -> Severity {
        Severity::Error
    }
    fn summary(&self) -> &'static str {
        "ADD FOREIGN KEY without NOT VALID blocks writes on both tables while every row is checked"
    }
    fn explanation(&self) -> &'static str {
        "ALTER TABLE ... ADD CONSTRAINT ... FOREIGN KEY takes SHARE ROW EXCLUSIVE on the table and \
on the table it references, and keeps both while PostgreSQL checks that every existing row has a \
match: INSERT, UPDATE and DELETE on both tables wait for the whole scan, which on a large table \
takes minutes. Add the foreign key NOT VALID instead: the locks are held only for a catalog \
change, and new and updated rows are checked from then on. Then run ALTER TABLE ... VALIDATE \
CONSTRAINT in a separate transaction: it scans under SHARE UPDATE EXCLUSIVE on the table and ROW \
SHARE on the referenced table, which let reads and writes continue. ADD COLUMN ... DEFAULT ... \
REFERENCES is the same check under ACCESS EXCLUSIVE (every row gets the default): add the column \
with its default first, then the foreign key NOT VALID. Tables created earlier in the same \
migration run are empty and are not flagged."
    }
    fn bad_example(&self) -> &'static str {
        "ALTER TABLE orders ADD CONSTRAINT orders_user_id_fkey FOREIGN KEY (user_id) REFERENCES users_user (id);"
    }
    fn good_example(&self) -> &'static str {
        "SET lock_timeout = '2s';
ALTER TABLE orders ADD CONSTRAINT orders_user_id_fkey FOREIGN KEY (user_id) REFERENCES users_user (id) NOT VALID;
-- in a separate transaction:
ALTER TABLE orders VALIDATE CONSTRAINT orders_user_id_fkey;"
    }
    fn check(&self, ctx: &RuleContext<'_>, out: &mut Vec<Finding>) {
        for (i, e) in ctx.stmt.effects.iter().enumerate() {
            if e.new_table {
                continue;
            }
            let column_form = match e.form() {
                Some(StatementForm::AddForeignKey) => false,
                Some(StatementForm::AddColumnReferencesWithDefault) => true,
                _ => continue,
            };
            let what = match (&e.op.constraint, &e.op.column) {
                (_, Some(col)) if column_form => {
                    format!("ADD COLUMN {col} ... DEFAULT ... REFERENCES")
                }
                (Some(c), _) => format!("ADD CONSTRAINT {c} FOREIGN KEY"),
                _ => "ADD FOREIGN KEY".to_string(),
            };
            let locks: Vec<String> = e
                .locks
                .iter()
                .map(|l| describe_lock(l.mode, &l.relation))
                .collect();
            let scan = if e.fact.is_some_and(|f| f.scan == Scan::Table) {
                " while it checks every row"
            } else {
                ""
            };
            let mut f = ctx.finding(self, format!("{what} takes {}{scan}", locks.join(" and ")));
            let fix = if column_form {
                column_fix(ctx, i, e)
            } else {
                fix(ctx, i, e)
            };
            let mut help = format!(
                "{}add the foreign key NOT VALID (only new and updated rows are checked), then run \
VALIDATE CONSTRAINT in a separate transaction{}",
                if column_form {
                    "add the column with its default but without REFERENCES (no row is checked), then "
                } else {
                    ""
                },
                validate_lock(StatementForm::ValidateForeignKey, ctx)
            );
            if let Some((_, Some(name))) = &fix {
                help.push_str(&format!(
                    "; the constraint has no name, so the fix names it {name} (the name PostgreSQL would choose)"
                ));
            }
            f.help = Some(help);
            f.fix_sql = fix.map(|f| f.0);
            out.push(f);
        }
    }
}

/// The NOT VALID + VALIDATE pair, and the name chosen when the constraint had none
/// (`<table>_<columns>_fkey`, as PostgreSQL names it).
fn fix(ctx: &RuleContext<'_>, i: usize, e: &Effect) -> Option<(String, Option<String>)> {
    let (stmt, cmd) = alter_cmd(ctx.node, i)?;
    let table = e.op.table.as_ref()?;
    let Some(NodeEnum::Constraint(con)) = cmd.def.as_ref().and_then(|d| d.node.as_ref()) else {
        return None;
    };
    let mut con = (**con).clone();
    let unnamed = con.conname.is_empty();
    if unnamed {
        let cols = string_list(&con.fk_attrs);
        con.conname = format!("{}_{}_fkey", table.name, cols.join("_"));
    }
    let name = con.conname.clone();
    let sql = not_valid_then_validate(stmt, cmd, con, table)?;
    Some((sql, unnamed.then_some(name)))
}

/// ADD COLUMN without its REFERENCES, then the key NOT VALID and VALIDATE, and the name chosen
/// when the key had none (`<table>_<column>_fkey`).
fn column_fix(ctx: &RuleContext<'_>, i: usize, e: &Effect) -> Option<(String, Option<String>)> {
    let (stmt, cmd) = alter_cmd(ctx.node, i)?;
    let table = e.op.table.as_ref()?;
    let Some(NodeEnum::ColumnDef(cd)) = cmd.def.as_ref().and_then(|d| d.node.as_ref()) else {
        return None;
    };
    let mut sql = vec![add_column_without(
        stmt,
        cmd,
        cd,
        ConstrType::ConstrForeign,
    )?];
    let mut generated = None;
    for c in &cd.constraints {
        let Some(NodeEnum::Constraint(con)) = c.node.as_ref() else {
            continue;
        };
        if con.contype != ConstrType::ConstrForeign as i32 {
            continue;
        }
        let mut con = (**con).clone();
        con.fk_attrs = vec![node(NodeEnum::String(protobuf::String {
            sval: cd.colname.clone(),
        }))];
        if con.conname.is_empty() {
            con.conname = format!("{}_{}_fkey", table.name, cd.colname);
            generated = Some(con.conname.clone());
        }
        sql.push(not_valid_then_validate(stmt, cmd, con, table)?);
    }
    Some((sql.join("\n"), generated))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::test_support::*;

    const ID: &str = "foreign-key-without-not-valid";

    #[test]
    fn flags_a_new_column_whose_default_every_row_checks_against_the_referenced_table() {
        let f = assert_fires(
            ID,
            "ALTER TABLE t ADD COLUMN owner_id int DEFAULT 1 REFERENCES pk (id);",
            1,
        );
        assert_eq!(
            f[0].message,
            "ADD COLUMN owner_id ... DEFAULT ... REFERENCES takes ACCESS EXCLUSIVE on t (blocks \
reads and writes) and SHARE ROW EXCLUSIVE on pk (blocks writes) while it checks every row"
        );
        assert_eq!(
            f[0].fix_sql.as_deref(),
            Some(
                "ALTER TABLE t ADD COLUMN owner_id int DEFAULT 1;\n\
ALTER TABLE t ADD CONSTRAINT t_owner_id_fkey FOREIGN KEY (owner_id) REFERENCES pk (id) NOT VALID;\n\
-- in a separate transaction:\n\
ALTER TABLE t VALIDATE CONSTRAINT t_owner_id_fkey;"
            )
        );
        assert!(f[0].help.as_deref().unwrap().contains("t_owner_id_fkey"));
    }

    #[test]
    fn a_new_column_without_a_default_or_with_default_null_checks_nothing() {
        assert_clean(
            ID,
            "ALTER TABLE t ADD COLUMN owner_id int REFERENCES pk (id);",
        );
        assert_clean(
            ID,
            "ALTER TABLE t ADD COLUMN owner_id int DEFAULT NULL::int REFERENCES pk (id);",
        );
    }

    #[test]
    fn flags_foreign_key_naming_both_locks_with_the_not_valid_fix() {
        let f = assert_fires(
            ID,
            "ALTER TABLE t ADD CONSTRAINT t_ref_fk FOREIGN KEY (ref_id) REFERENCES pk (id);",
            1,
        );
        assert_eq!(
            f[0].message,
            "ADD CONSTRAINT t_ref_fk FOREIGN KEY takes SHARE ROW EXCLUSIVE on t (blocks writes) \
and SHARE ROW EXCLUSIVE on pk (blocks writes) while it checks every row"
        );
        assert_eq!(
            f[0].fix_sql.as_deref(),
            Some(
                "ALTER TABLE t ADD CONSTRAINT t_ref_fk FOREIGN KEY (ref_id) REFERENCES pk (id) NOT VALID;\n\
-- in a separate transaction:\n\
ALTER TABLE t VALIDATE CONSTRAINT t_ref_fk;"
            )
        );
        assert!(f[0]
            .help
            .as_deref()
            .unwrap()
            .contains("SHARE UPDATE EXCLUSIVE"));
    }

    #[test]
    fn unnamed_foreign_key_gets_the_postgres_name_in_the_fix() {
        let f = assert_fires(
            ID,
            "ALTER TABLE t ADD FOREIGN KEY (a, b) REFERENCES pk (x, y) ON DELETE CASCADE;",
            1,
        );
        assert_eq!(
            f[0].fix_sql.as_deref(),
            Some(
                "ALTER TABLE t ADD CONSTRAINT t_a_b_fkey FOREIGN KEY (a, b) REFERENCES pk (x, y) ON DELETE CASCADE NOT VALID;\n\
-- in a separate transaction:\n\
ALTER TABLE t VALIDATE CONSTRAINT t_a_b_fkey;"
            )
        );
        assert!(f[0]
            .help
            .as_deref()
            .unwrap()
            .contains("names it t_a_b_fkey"));
    }

    #[test]
    fn not_valid_foreign_key_is_clean() {
        assert_clean(
            ID,
            "ALTER TABLE t ADD CONSTRAINT t_ref_fk FOREIGN KEY (ref_id) REFERENCES pk (id) NOT VALID;\n\
ALTER TABLE t VALIDATE CONSTRAINT t_ref_fk;",
        );
    }

    #[test]
    fn foreign_key_on_a_table_created_earlier_in_the_run_is_clean() {
        assert_clean(
            ID,
            "CREATE TABLE t (ref_id int);\n\
ALTER TABLE t ADD CONSTRAINT t_ref_fk FOREIGN KEY (ref_id) REFERENCES pk (id);",
        );
    }

    #[test]
    fn examples() {
        assert_examples(&ForeignKeyWithoutNotValid);
    }
}
