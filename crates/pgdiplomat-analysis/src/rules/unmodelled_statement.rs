//! `unmodelled-statement`: a statement (or ALTER TABLE subcommand) on existing objects whose
//! locks the model cannot describe. Said out loud instead of passing as "no lock".

use super::{Finding, Rule, RuleContext, Severity};

pub struct UnmodelledStatement;

impl Rule for UnmodelledStatement {
    fn id(&self) -> &'static str {
        "unmodelled-statement"
    }
    fn severity(&self) -> Severity {
        Severity::Warning
    }
    fn summary(&self) -> &'static str {
        "pgdiplomat cannot tell which locks this statement takes"
    }
    fn explanation(&self) -> &'static str {
        "Every statement of PostgreSQL's grammar is classified: most map to rows of the lock \
table, queries and new objects take no lock that blocks the application, and the rest are not \
modelled — what DROP ... CASCADE also drops (of a view, sequence or type the run does not \
know), DROP STATISTICS on an unknown table, CALL, DO blocks and a few ALTER TABLE \
subcommands (what a DROP of a schema, function or server reaches is `cascade-reach-unknown`). For those, pgdiplomat does not know which relations are locked, in which mode, \
or for how long, and it says so instead of reporting that nothing happens. Trace the statement on a \
copy of the schema (`pgdiplomat trace`) to see what it really takes, run it under a short \
lock_timeout, and ignore this finding with a reason once you know."
    }
    fn bad_example(&self) -> &'static str {
        "SET lock_timeout = '2s';\nDROP TYPE mood CASCADE;"
    }
    fn good_example(&self) -> &'static str {
        "SET lock_timeout = '2s';\n\
-- pgdiplomat:ignore unmodelled-statement -- traced: drops column diary.m (ACCESS EXCLUSIVE on diary, instant)\n\
DROP TYPE mood CASCADE;"
    }
    fn check(&self, ctx: &RuleContext<'_>, out: &mut Vec<Finding>) {
        for e in ctx.effects_on_existing() {
            let Some(what) = &e.op.not_modelled else {
                continue;
            };
            let on =
                e.op.table
                    .as_ref()
                    .map(|t| format!(" on {t}"))
                    .unwrap_or_default();
            let mut f = ctx.finding(
                self,
                format!("not modelled: {what}{on}: pgdiplomat cannot tell which locks this takes or for how long"),
            );
            f.help = Some(
                "trace it on a copy of the schema (`pgdiplomat trace`) to see its locks, and run it \
under a short lock_timeout"
                    .into(),
            );
            out.push(f);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::test_support::*;

    const ID: &str = "unmodelled-statement";

    #[test]
    fn statements_the_issue_found_silent_are_reported() {
        for sql in [
            "DROP DOMAIN d CASCADE;",
            "DROP VIEW v CASCADE;",
            "DROP STATISTICS s;",
            "DROP TYPE mood CASCADE;",
        ] {
            let f = assert_fires(ID, sql, 1);
            assert!(
                f[0].message.starts_with("not modelled: "),
                "{sql}: {}",
                f[0].message
            );
        }
    }

    #[test]
    fn the_table_is_named_when_known() {
        let f = assert_fires(ID, "DROP SEQUENCE app.s CASCADE;", 1);
        assert!(f[0].message.contains(" on app.s:"), "{}", f[0].message);
    }

    #[test]
    fn queries_new_objects_and_modelled_statements_are_not_reported() {
        for sql in [
            "SELECT 1;",
            "SET search_path = app;",
            "CREATE VIEW v AS SELECT 1;",
            "CREATE FUNCTION f() RETURNS int LANGUAGE sql AS 'SELECT 1';",
            "CREATE SEQUENCE s;",
            "ALTER INDEX parent_idx ATTACH PARTITION child_idx;",
            "COMMENT ON FUNCTION f() IS 'x';",
            "DROP FUNCTION f();",
            "ALTER FUNCTION f() RENAME TO g;",
            "CREATE INDEX CONCURRENTLY i ON t (a);",
            "GRANT SELECT ON t TO app;",
        ] {
            assert_clean(ID, sql);
        }
    }

    #[test]
    fn objects_created_earlier_in_the_run_are_not_reported() {
        assert_clean(
            ID,
            "CREATE TABLE t (a int);\nCREATE RULE r AS ON INSERT TO t DO INSTEAD NOTHING;",
        );
    }

    #[test]
    fn examples() {
        assert_examples(&UnmodelledStatement);
    }
}
