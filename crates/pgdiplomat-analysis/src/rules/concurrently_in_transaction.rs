//! `concurrently-in-transaction`: a statement PostgreSQL refuses inside a transaction block
//! (the CONCURRENTLY forms, VACUUM) runs in one, so the migration fails.

use pgdiplomat_locks::TransactionUse;

use super::{Finding, Rule, RuleContext, Severity};

pub struct ConcurrentlyInTransaction;

impl Rule for ConcurrentlyInTransaction {
    fn id(&self) -> &'static str {
        "concurrently-in-transaction"
    }
    fn severity(&self) -> Severity {
        Severity::Error
    }
    fn summary(&self) -> &'static str {
        "a CONCURRENTLY statement or VACUUM runs inside a transaction block, which PostgreSQL refuses"
    }
    fn explanation(&self) -> &'static str {
        "CREATE INDEX CONCURRENTLY, DROP INDEX CONCURRENTLY, REINDEX CONCURRENTLY, DETACH PARTITION \
CONCURRENTLY and VACUUM commit internally, so PostgreSQL refuses them inside a transaction block \
with \"cannot run inside a transaction block\" and the migration fails. The transaction may be an \
explicit BEGIN or the one most migration tools wrap each migration in by default. Run the statement \
outside any transaction: after COMMIT, or in a migration of its own with the tool's transaction \
turned off (Django: atomic = False; Rails: disable_ddl_transaction!; Flyway: \
executeInTransaction=false; Alembic: autocommit_block()). This applies to every table, including \
ones created earlier in the run."
    }
    fn bad_example(&self) -> &'static str {
        "BEGIN;\nCREATE INDEX CONCURRENTLY users_email_idx ON users_user (email);\nCOMMIT;"
    }
    fn good_example(&self) -> &'static str {
        "-- In a migration that runs outside a transaction (Django atomic = False).\n\
CREATE INDEX CONCURRENTLY users_email_idx ON users_user (email);"
    }
    fn check(&self, ctx: &RuleContext<'_>, out: &mut Vec<Finding>) {
        let session = &ctx.stmt.session;
        if !session.in_transaction {
            return;
        }
        let why = if session.explicit_transaction {
            "inside BEGIN ... COMMIT"
        } else {
            "inside the transaction the migration tool wraps the file in"
        };
        for e in &ctx.stmt.effects {
            let Some(fact) = e.fact else { continue };
            if fact.transaction != TransactionUse::Forbidden {
                continue;
            }
            let mut f = ctx.finding(
                self,
                format!(
                    "{} cannot run inside a transaction block: it runs {why}, so PostgreSQL refuses it and the migration fails",
                    fact.title
                ),
            );
            f.help = Some(if session.explicit_transaction {
                "move it after COMMIT, outside the transaction block".into()
            } else {
                "put it in a migration of its own with the transaction turned off (Django: atomic = \
False; Rails: disable_ddl_transaction!; Flyway: executeInTransaction=false)"
                    .into()
            });
            out.push(f);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analyze::AnalysisOptions;
    use crate::rules::test_support::*;

    const ID: &str = "concurrently-in-transaction";

    fn assumed() -> AnalysisOptions {
        AnalysisOptions {
            assume_in_transaction: true,
            ..Default::default()
        }
    }

    #[test]
    fn concurrent_index_inside_begin_commit_is_flagged() {
        let f = assert_fires(
            ID,
            "BEGIN;\nCREATE INDEX CONCURRENTLY t_a_idx ON t (a);\nCOMMIT;",
            1,
        );
        assert!(
            f[0].message.starts_with(
                "CREATE INDEX CONCURRENTLY cannot run inside a transaction block: it runs inside BEGIN"
            ),
            "{}",
            f[0].message
        );
    }

    #[test]
    fn other_forbidden_forms_are_flagged_too() {
        assert_fires(
            ID,
            "BEGIN;\nDROP INDEX CONCURRENTLY t_a_idx;\nREINDEX TABLE CONCURRENTLY t;\nVACUUM t;\nCOMMIT;",
            3,
        );
    }

    #[test]
    fn the_transaction_of_the_migration_tool_counts() {
        let f = findings_with(ID, "CREATE INDEX CONCURRENTLY t_a_idx ON t (a);", assumed());
        assert_eq!(f.len(), 1, "{f:#?}");
        assert!(f[0].message.contains("migration tool"), "{}", f[0].message);
        assert!(f[0].help.as_deref().unwrap().contains("atomic = False"));
    }

    #[test]
    fn after_commit_a_concurrent_build_is_fine() {
        assert_clean(
            ID,
            "BEGIN;\nALTER TABLE t ADD COLUMN b int;\nCOMMIT;\nCREATE INDEX CONCURRENTLY t_b_idx ON t (b);",
        );
        assert_clean(ID, "CREATE INDEX CONCURRENTLY t_a_idx ON t (a);");
    }

    #[test]
    fn allowed_statements_in_a_transaction_are_clean() {
        assert_clean(ID, "BEGIN;\nCREATE INDEX t_a_idx ON t (a);\nCOMMIT;");
        assert!(findings_with(ID, "ALTER TABLE t ADD COLUMN b int;", assumed()).is_empty());
    }

    #[test]
    fn applies_to_tables_created_in_the_run_too() {
        assert_fires(
            ID,
            "BEGIN;\nCREATE TABLE t (a int);\nCREATE INDEX CONCURRENTLY t_a_idx ON t (a);\nCOMMIT;",
            1,
        );
    }

    #[test]
    fn examples() {
        assert_examples(&ConcurrentlyInTransaction);
    }
}
