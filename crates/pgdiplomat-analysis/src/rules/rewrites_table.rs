//! `rewrites-table`: statements that write a new copy of an existing table and all its indexes
//! (SET TABLESPACE, SET LOGGED/UNLOGGED, SET ACCESS METHOD, SET EXPRESSION, CLUSTER, VACUUM FULL,
//! REFRESH MATERIALIZED VIEW) hold their lock for the whole copy.
//!
//! The ADD COLUMN and ALTER COLUMN TYPE rewrites have rules of their own; TRUNCATE also gets a
//! new file but loses the data, which is a different matter.

use pgdiplomat_locks::{RelationRole, Rewrite, StatementForm};

use super::{describe_lock, Finding, Rule, RuleContext, Severity};
use crate::analyze::Effect;

pub struct RewritesTable;

/// Forms whose rewrite another rule reports (or that are not about availability).
const OWN_RULE: &[StatementForm] = &[
    StatementForm::AddColumnVolatileDefault,
    StatementForm::AddColumnIdentity,
    StatementForm::AddColumnSerial,
    StatementForm::AddColumnGeneratedStored,
    StatementForm::AddColumnPrimaryKey,
    StatementForm::AlterColumnTypeRewrite,
    StatementForm::Truncate,
];

impl Rule for RewritesTable {
    fn id(&self) -> &'static str {
        "rewrites-table"
    }
    fn severity(&self) -> Severity {
        Severity::Error
    }
    fn summary(&self) -> &'static str {
        "a statement rewrites the whole table and its indexes while holding a blocking lock"
    }
    fn explanation(&self) -> &'static str {
        "ALTER TABLE ... SET TABLESPACE, SET LOGGED / SET UNLOGGED, SET ACCESS METHOD, \
ALTER COLUMN ... SET EXPRESSION, CLUSTER, VACUUM FULL and REFRESH MATERIALIZED VIEW write a new \
copy of the table (and rebuild every index) while holding ACCESS EXCLUSIVE: every SELECT, INSERT, \
UPDATE and DELETE on it waits for the whole copy, which takes minutes to hours on a large table, \
and the copy needs as much free disk again as the table. Rebuild tables online with pg_repack or \
pg_squeeze instead of CLUSTER or VACUUM FULL (they copy in the background and lock only briefly \
at the end; pg_repack --tablespace moves a table too); refresh materialized views with REFRESH \
MATERIALIZED VIEW CONCURRENTLY, which needs a unique index on the view and lets SELECTs continue; \
for the other forms add a new column or table and move to it, or schedule a maintenance window. \
Tables created earlier in the same migration run are empty and are not flagged."
    }
    fn bad_example(&self) -> &'static str {
        "VACUUM FULL users_user;\nREFRESH MATERIALIZED VIEW daily_sales;"
    }
    fn good_example(&self) -> &'static str {
        "-- Rebuild users_user online, outside the migration: pg_repack --table=users_user\n\
SET lock_timeout = '2s';\nREFRESH MATERIALIZED VIEW CONCURRENTLY daily_sales;"
    }
    fn check(&self, ctx: &RuleContext<'_>, out: &mut Vec<Finding>) {
        for e in ctx.effects_on_existing() {
            let Some(fact) = e.fact else { continue };
            if fact.rewrite != Rewrite::Table || OWN_RULE.contains(&fact.form) {
                continue;
            }
            let what = target(e);
            let lock = e
                .locks
                .iter()
                .filter(|l| l.role == RelationRole::Table)
                .max_by_key(|l| l.mode)
                .or_else(|| e.locks.iter().max_by_key(|l| l.mode))
                .map(|l| {
                    let relation = if e.op.table.is_some() {
                        l.relation.as_str()
                    } else {
                        "each table in turn"
                    };
                    format!(" while holding {}", describe_lock(l.mode, relation))
                })
                .unwrap_or_default();
            let indexes = if e.op.table.is_some() {
                "every index on it"
            } else {
                "their indexes"
            };
            let mut f = ctx.finding(
                self,
                format!("{} rewrites {what} and {indexes}{lock}", fact.title),
            );
            let advice = advice(fact.form);
            f.help = Some(if fact.note.is_empty() {
                advice.to_string()
            } else {
                format!("{advice}. {}", fact.note)
            });
            if fact.form == StatementForm::RefreshMaterializedView {
                if let Some(view) = &e.op.table {
                    f.fix_sql = Some(format!(
                        "REFRESH MATERIALIZED VIEW CONCURRENTLY {};",
                        view.quoted()
                    ));
                }
            }
            out.push(f);
        }
    }
}

/// The relation(s) rewritten, for the message.
fn target(e: &Effect) -> String {
    match (&e.op.table, e.form()) {
        (Some(t), _) => t.to_string(),
        (None, Some(StatementForm::Cluster)) => "every previously clustered table".into(),
        (None, _) => {
            e.op.detail
                .clone()
                .unwrap_or_else(|| "the table".to_string())
        }
    }
}

fn advice(form: StatementForm) -> &'static str {
    match form {
        StatementForm::Cluster | StatementForm::VacuumFull => {
            "rebuild the table online with pg_repack or pg_squeeze, which copy it in the background \
and lock it only briefly at the end"
        }
        StatementForm::RefreshMaterializedView => {
            "use REFRESH MATERIALIZED VIEW CONCURRENTLY (it needs a unique index on the view), \
which lets SELECTs continue during the refresh"
        }
        StatementForm::SetTablespace => {
            "move the table online with pg_repack --tablespace, or run this in a maintenance window"
        }
        StatementForm::SetLogged | StatementForm::SetUnlogged => {
            "there is no online form: run it in a maintenance window, or copy the data into a new \
table created with the wanted persistence and switch to it"
        }
        StatementForm::SetAccessMethod => {
            "there is no online form: copy the data in batches into a new table using the access \
method and switch to it, or run this in a maintenance window"
        }
        StatementForm::SetExpression => {
            "add a new generated column with the new expression (or a nullable column backfilled \
in batches), switch the application to it, then drop the old one"
        }
        _ => "run it in a maintenance window, or copy the data into a new table and switch to it",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::test_support::*;

    const ID: &str = "rewrites-table";

    #[test]
    fn vacuum_full_is_flagged_with_the_lock_and_pg_repack() {
        let f = assert_fires(ID, "VACUUM FULL t;", 1);
        assert!(
            f[0].message
                .contains("VACUUM FULL rewrites t and every index on it while holding ACCESS EXCLUSIVE on t (blocks reads and writes)"),
            "{}",
            f[0].message
        );
        assert!(f[0].help.as_deref().unwrap().contains("pg_repack"));
    }

    #[test]
    fn cluster_is_flagged() {
        let f = assert_fires(ID, "CLUSTER t USING t_pkey;", 1);
        assert!(f[0].help.as_deref().unwrap().contains("pg_squeeze"));
        let f = assert_fires(ID, "CLUSTER;", 1);
        assert!(
            f[0].message.starts_with(
                "CLUSTER rewrites every previously clustered table and their indexes while holding ACCESS EXCLUSIVE on each table in turn"
            ),
            "{}",
            f[0].message
        );
    }

    #[test]
    fn table_level_rewrites_are_flagged_with_their_notes() {
        let f = assert_fires(ID, "ALTER TABLE t SET TABLESPACE fast_ssd;", 1);
        assert!(
            f[0].help.as_deref().unwrap().contains("file by file"),
            "{:?}",
            f[0].help
        );
        assert_fires(ID, "ALTER TABLE t SET LOGGED;", 1);
        assert_fires(ID, "ALTER TABLE t SET UNLOGGED;", 1);
        assert_fires(ID, "ALTER TABLE t SET ACCESS METHOD heap;", 1);
        assert_fires(
            ID,
            "ALTER TABLE t ALTER COLUMN g SET EXPRESSION AS (a * 3);",
            1,
        );
    }

    #[test]
    fn refresh_materialized_view_suggests_concurrently() {
        let f = assert_fires(ID, "REFRESH MATERIALIZED VIEW \"Sales\";", 1);
        assert_eq!(
            f[0].fix_sql.as_deref(),
            Some("REFRESH MATERIALIZED VIEW CONCURRENTLY \"Sales\";")
        );
        assert_clean(ID, "REFRESH MATERIALIZED VIEW CONCURRENTLY sales;");
    }

    #[test]
    fn rewrites_with_their_own_rule_and_truncate_are_left_to_others() {
        assert_clean(ID, "ALTER TABLE t ADD COLUMN r float8 DEFAULT random();");
        assert_clean(ID, "ALTER TABLE t ADD COLUMN s serial;");
        assert_clean(
            ID,
            "ALTER TABLE t ALTER COLUMN a TYPE bigint USING a::bigint;",
        );
        assert_clean(ID, "TRUNCATE t;");
    }

    #[test]
    fn not_a_rewrite_on_older_versions_is_not_flagged() {
        // SET ACCESS METHOD does not exist on 14: unsupported-on-version reports it.
        let f = findings_with(ID, "ALTER TABLE t SET ACCESS METHOD heap;", on_version(14));
        assert!(f.is_empty(), "{f:#?}");
    }

    #[test]
    fn plain_vacuum_is_clean() {
        assert_clean(ID, "VACUUM t;");
    }

    #[test]
    fn tables_created_earlier_in_the_run_are_clean() {
        assert_clean(
            ID,
            "CREATE TABLE t (a int); ALTER TABLE t SET TABLESPACE fast_ssd; VACUUM FULL t;",
        );
        assert_clean(
            ID,
            "CREATE MATERIALIZED VIEW mv AS SELECT 1 AS a; REFRESH MATERIALIZED VIEW mv;",
        );
    }

    #[test]
    fn examples() {
        assert_examples(&RewritesTable);
    }
}
