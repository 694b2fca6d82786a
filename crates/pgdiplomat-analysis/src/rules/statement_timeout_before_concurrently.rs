//! `statement-timeout-before-concurrently`: a concurrent index build under a
//! `statement_timeout` is cancelled when it runs longer and leaves an INVALID index behind.

use pgdiplomat_locks::StatementForm;

use super::{Finding, Rule, RuleContext, Severity};

pub struct StatementTimeoutBeforeConcurrently;

impl Rule for StatementTimeoutBeforeConcurrently {
    fn id(&self) -> &'static str {
        "statement-timeout-before-concurrently"
    }
    fn severity(&self) -> Severity {
        Severity::Warning
    }
    fn summary(&self) -> &'static str {
        "a concurrent index build runs under a statement_timeout and can be cancelled halfway"
    }
    fn explanation(&self) -> &'static str {
        "CREATE INDEX CONCURRENTLY and REINDEX CONCURRENTLY scan the table twice and wait for \
every older transaction; on a large or busy table that takes far longer than the statement_timeout \
a migration usually sets for its quick DDL. When the timeout fires, the build is cancelled and an \
INVALID index is left behind: it serves no query, is still maintained by every write, and must be \
dropped (DROP INDEX CONCURRENTLY) before the build is retried. The work already done is lost. \
Turn the timeout off for the build with SET statement_timeout = 0 (lock_timeout still bounds the \
wait for the lock), then restore it."
    }
    fn bad_example(&self) -> &'static str {
        "SET statement_timeout = '30s';\n\
CREATE INDEX CONCURRENTLY users_email_idx ON users_user (email);"
    }
    fn good_example(&self) -> &'static str {
        "SET statement_timeout = 0;\n\
CREATE INDEX CONCURRENTLY users_email_idx ON users_user (email);"
    }
    fn check(&self, ctx: &RuleContext<'_>, out: &mut Vec<Finding>) {
        let Some(ms) = ctx.stmt.session.statement_timeout_ms.filter(|ms| *ms > 0) else {
            return;
        };
        for e in ctx.effects_on_existing() {
            let Some(fact) = e.fact else { continue };
            if !matches!(
                fact.form,
                StatementForm::CreateIndexConcurrently | StatementForm::ReindexConcurrently
            ) {
                continue;
            }
            let on =
                e.op.table
                    .as_ref()
                    .or(e.op.index.as_ref())
                    .map(|r| format!(" on {r}"))
                    .unwrap_or_default();
            let timeout = format_duration(ms);
            let mut f = ctx.finding(
                self,
                format!(
                    "{}{on} runs under statement_timeout = {timeout}: a build that takes longer is cancelled and leaves an INVALID index",
                    fact.title
                ),
            );
            f.help = Some(
                "disable the timeout for the build with SET statement_timeout = 0 and restore it \
afterwards"
                    .into(),
            );
            f.fix_sql = Some(format!(
                "SET statement_timeout = 0;\n{};\nSET statement_timeout = '{timeout}';",
                ctx.sql
            ));
            out.push(f);
        }
    }
}

/// `1800000` → `30min`, `30000` → `30s`, `1500` → `1500ms` (PostgreSQL's units).
fn format_duration(ms: u64) -> String {
    const UNITS: &[(u64, &str)] = &[
        (86_400_000, "d"),
        (3_600_000, "h"),
        (60_000, "min"),
        (1000, "s"),
    ];
    for &(factor, unit) in UNITS {
        if ms.is_multiple_of(factor) {
            return format!("{}{unit}", ms / factor);
        }
    }
    format!("{ms}ms")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::test_support::*;

    const ID: &str = "statement-timeout-before-concurrently";

    #[test]
    fn concurrent_build_under_a_timeout_is_flagged_with_the_value() {
        let f = assert_fires(
            ID,
            "SET statement_timeout = '5min';\nCREATE INDEX CONCURRENTLY t_a_idx ON t (a);",
            1,
        );
        assert!(
            f[0].message.contains("statement_timeout = 5min"),
            "{}",
            f[0].message
        );
        assert_eq!(
            f[0].fix_sql.as_deref(),
            Some(
                "SET statement_timeout = 0;\nCREATE INDEX CONCURRENTLY t_a_idx ON t (a);\n\
SET statement_timeout = '5min';"
            )
        );
    }

    #[test]
    fn reindex_concurrently_is_flagged_too() {
        let f = assert_fires(
            ID,
            "SET statement_timeout = 1500;\nREINDEX INDEX CONCURRENTLY t_a_idx;",
            1,
        );
        assert!(f[0].message.contains("1500ms"), "{}", f[0].message);
    }

    #[test]
    fn no_timeout_or_a_timeout_turned_off_is_clean() {
        assert_clean(ID, "CREATE INDEX CONCURRENTLY t_a_idx ON t (a);");
        assert_clean(
            ID,
            "SET statement_timeout = '30s';\nSET statement_timeout = 0;\nCREATE INDEX CONCURRENTLY t_a_idx ON t (a);",
        );
        assert_clean(
            ID,
            "SET statement_timeout = '30s';\nRESET statement_timeout;\nCREATE INDEX CONCURRENTLY t_a_idx ON t (a);",
        );
    }

    #[test]
    fn other_statements_under_a_timeout_are_not_this_rule() {
        assert_clean(
            ID,
            "SET statement_timeout = '30s';\nCREATE INDEX t_a_idx ON t (a);",
        );
    }

    #[test]
    fn index_on_a_table_created_earlier_in_the_run_is_clean() {
        assert_clean(
            ID,
            "SET statement_timeout = '30s';\nCREATE TABLE t (a int);\nCREATE INDEX CONCURRENTLY t_a_idx ON t (a);",
        );
    }

    #[test]
    fn durations_are_shown_in_postgres_units() {
        assert_eq!(format_duration(30_000), "30s");
        assert_eq!(format_duration(7_200_000), "2h");
        assert_eq!(format_duration(250), "250ms");
    }

    #[test]
    fn examples() {
        assert_examples(&StatementTimeoutBeforeConcurrently);
    }
}
