//! `unsupported-on-version`: the statement uses a feature the target PostgreSQL version does not
//! have, so the migration fails there.

use super::{Finding, Rule, RuleContext, Severity};

pub struct UnsupportedOnVersion;

impl Rule for UnsupportedOnVersion {
    fn id(&self) -> &'static str {
        "unsupported-on-version"
    }
    fn severity(&self) -> Severity {
        Severity::Error
    }
    fn summary(&self) -> &'static str {
        "the statement uses a feature the target PostgreSQL version does not have"
    }
    fn explanation(&self) -> &'static str {
        "Some forms only exist from a given major version on: DETACH PARTITION CONCURRENTLY (14), \
ALTER COLUMN SET COMPRESSION (14), ALTER TABLE SET ACCESS METHOD (15), ALTER COLUMN SET EXPRESSION \
(17), virtual generated columns and NOT NULL constraints added NOT VALID (18). On an older server \
the statement is a syntax or feature error and the migration fails — often only in production, \
when development runs a newer PostgreSQL. Check the version the migrations target (--pg-version) \
and write the change with what that version has: for example a CHECK (col IS NOT NULL) NOT VALID \
constraint, validated later, instead of NOT NULL ... NOT VALID before 18. The check applies to \
every statement, including those on tables created in the same run."
    }
    fn bad_example(&self) -> &'static str {
        "ALTER TABLE users_user ADD CONSTRAINT users_user_email_nn NOT NULL email NOT VALID;"
    }
    fn good_example(&self) -> &'static str {
        "SET lock_timeout = '2s';\n\
ALTER TABLE users_user ADD CONSTRAINT users_user_email_nn CHECK (email IS NOT NULL) NOT VALID;"
    }
    fn check(&self, ctx: &RuleContext<'_>, out: &mut Vec<Finding>) {
        let version = ctx.options.pg_version;
        for e in &ctx.stmt.effects {
            let Some(fact) = e.fact else { continue };
            let Some(why) = fact.unsupported else {
                continue;
            };
            let mut f = ctx.finding(
                self,
                format!(
                    "{} does not exist on PostgreSQL {version}: {why}",
                    fact.title
                ),
            );
            f.help = Some(
                "write the change with what the target version supports, or set the version the \
migrations really run on (--pg-version)"
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

    const ID: &str = "unsupported-on-version";

    #[test]
    fn detach_partition_concurrently_on_13_is_flagged() {
        let f = findings_with(
            ID,
            "ALTER TABLE parted DETACH PARTITION parted_1 CONCURRENTLY;",
            on_version(13),
        );
        assert_eq!(f.len(), 1, "{f:#?}");
        assert_eq!(
            f[0].message,
            "ALTER TABLE ... DETACH PARTITION CONCURRENTLY does not exist on PostgreSQL 13: \
DETACH PARTITION CONCURRENTLY arrived in PostgreSQL 14"
        );
    }

    #[test]
    fn set_access_method_on_14_is_flagged_and_fine_on_15() {
        let sql = "ALTER TABLE t SET ACCESS METHOD heap;";
        assert_eq!(findings_with(ID, sql, on_version(14)).len(), 1);
        assert!(findings_with(ID, sql, on_version(15)).is_empty());
    }

    #[test]
    fn supported_statements_are_clean() {
        assert!(findings_with(
            ID,
            "ALTER TABLE parted DETACH PARTITION parted_1 CONCURRENTLY;",
            on_version(14)
        )
        .is_empty());
        assert_clean(ID, "CREATE INDEX CONCURRENTLY t_a_idx ON t (a);");
    }

    #[test]
    fn applies_to_tables_created_in_the_run_too() {
        let f = findings_with(
            ID,
            "CREATE TABLE t (a int);\nALTER TABLE t ALTER COLUMN a SET COMPRESSION pglz;",
            on_version(13),
        );
        assert_eq!(f.len(), 1, "{f:#?}");
    }

    #[test]
    fn examples() {
        assert_examples(&UnsupportedOnVersion);
    }
}
