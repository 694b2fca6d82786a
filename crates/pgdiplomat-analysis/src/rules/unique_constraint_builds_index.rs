//! `unique-constraint-builds-index`: `ADD CONSTRAINT ... UNIQUE` / `PRIMARY KEY` without
//! `USING INDEX` builds the index while holding ACCESS EXCLUSIVE — the seed incident.

use pg_query::NodeEnum;
use pgdiplomat_locks::{RelationRole, StatementForm};

use super::{describe_lock, Finding, Rule, RuleContext, Severity};
use crate::model::{names::string_list, quote_ident};

pub struct UniqueConstraintBuildsIndex;

impl Rule for UniqueConstraintBuildsIndex {
    fn id(&self) -> &'static str {
        "unique-constraint-builds-index"
    }
    fn severity(&self) -> Severity {
        Severity::Error
    }
    fn summary(&self) -> &'static str {
        "ADD UNIQUE / PRIMARY KEY / EXCLUDE builds its index under ACCESS EXCLUSIVE: reads and writes stop"
    }
    fn explanation(&self) -> &'static str {
        "ALTER TABLE ... ADD CONSTRAINT ... UNIQUE (or PRIMARY KEY, or ADD COLUMN ... UNIQUE) builds \
a unique index while holding ACCESS EXCLUSIVE on the table: every SELECT, INSERT, UPDATE and DELETE \
waits for the whole build. This is the statement that froze production in the seed story. The safe \
choreography has two steps: build the index with CREATE UNIQUE INDEX CONCURRENTLY (SHARE UPDATE \
EXCLUSIVE: the application keeps running), then attach it with ADD CONSTRAINT ... UNIQUE USING INDEX, \
a catalog-only change. The concurrent build can fail on duplicate keys and leave an INVALID index: \
check for duplicates first and drop a failed index with DROP INDEX CONCURRENTLY. For a PRIMARY KEY, \
make the columns NOT NULL first (see set-not-null-scans-table) or the USING INDEX step scans the table. \
An EXCLUDE constraint builds its index the same way, and has no USING INDEX form: only a small \
table or a maintenance window makes it safe."
    }
    fn bad_example(&self) -> &'static str {
        "ALTER TABLE users_user ADD CONSTRAINT unq_email UNIQUE (email);"
    }
    fn good_example(&self) -> &'static str {
        "SET lock_timeout = '2s';\n\
CREATE UNIQUE INDEX CONCURRENTLY users_email_uniq ON users_user (email);\n\
ALTER TABLE users_user ADD CONSTRAINT unq_email UNIQUE USING INDEX users_email_uniq;"
    }
    fn check(&self, ctx: &RuleContext<'_>, out: &mut Vec<Finding>) {
        for e in ctx.effects_on_existing() {
            let kind = match e.form() {
                Some(StatementForm::AddUnique | StatementForm::AddColumnUnique) => "UNIQUE",
                Some(StatementForm::AddPrimaryKey) => "PRIMARY KEY",
                Some(StatementForm::AddExclude) => "EXCLUDE",
                _ => continue,
            };
            let Some(lock) = e.locks.iter().find(|l| l.role == RelationRole::Table) else {
                continue;
            };
            if kind == "EXCLUDE" {
                // PostgreSQL has no ADD CONSTRAINT ... EXCLUDE USING INDEX: no two-step way.
                let mut f = ctx.finding(
                    self,
                    format!(
                        "ADD EXCLUDE builds its index while holding {}",
                        describe_lock(lock.mode, &lock.relation)
                    ),
                );
                f.help = Some(
                    "an exclusion constraint cannot be attached from an index built CONCURRENTLY (there is no EXCLUDE ... USING INDEX): run it while the table is small or in a maintenance window, or, if every operator is `=`, use CREATE UNIQUE INDEX CONCURRENTLY and ADD CONSTRAINT ... UNIQUE USING INDEX instead"
                        .into(),
                );
                out.push(f);
                continue;
            }
            let mut f = ctx.finding(
                self,
                format!(
                    "ADD {kind} builds a unique index while holding {}",
                    describe_lock(lock.mode, &lock.relation)
                ),
            );
            f.help = Some(format!(
                "build the index with CREATE UNIQUE INDEX CONCURRENTLY (outside a transaction), then ADD CONSTRAINT ... {kind} USING INDEX"
            ));
            f.fix_sql = fix(ctx.node, kind);
            out.push(f);
        }
    }
}

/// The two-step choreography for `ALTER TABLE t ADD CONSTRAINT c UNIQUE (cols)`.
fn fix(node: Option<&NodeEnum>, kind: &str) -> Option<String> {
    let Some(NodeEnum::AlterTableStmt(a)) = node else {
        return None;
    };
    let rel = crate::model::RelName::from_range_var(a.relation.as_ref()?);
    for cmd in &a.cmds {
        let Some(NodeEnum::AlterTableCmd(cmd)) = cmd.node.as_ref() else {
            continue;
        };
        let Some(NodeEnum::Constraint(con)) = cmd.def.as_ref().and_then(|d| d.node.as_ref()) else {
            continue;
        };
        let cols = string_list(&con.keys);
        if cols.is_empty() {
            continue;
        }
        let conname = if con.conname.is_empty() {
            format!(
                "{}_{}_{}",
                rel.name,
                cols.join("_"),
                if kind == "UNIQUE" { "key" } else { "pkey" }
            )
        } else {
            con.conname.clone()
        };
        let index = format!("{conname}_idx");
        let col_list: Vec<String> = cols.iter().map(|c| quote_ident(c)).collect();
        return Some(format!(
            "-- outside a transaction block:\nCREATE UNIQUE INDEX CONCURRENTLY {idx} ON {t} ({cols});\n\
-- then, with a short lock_timeout:\nSET lock_timeout = '2s';\nALTER TABLE {t} ADD CONSTRAINT {con} {kind} USING INDEX {idx};",
            idx = quote_ident(&index),
            t = rel.quoted(),
            cols = col_list.join(", "),
            con = quote_ident(&conname),
        ));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::test_support::*;

    const ID: &str = "unique-constraint-builds-index";

    #[test]
    fn an_exclusion_constraint_builds_its_index_under_access_exclusive_with_no_two_step_fix() {
        let f = assert_fires(
            ID,
            "ALTER TABLE booking ADD CONSTRAINT no_overlap EXCLUDE USING gist (room WITH =, during WITH &&);",
            1,
        );
        assert!(
            f[0].message.starts_with(
                "ADD EXCLUDE builds its index while holding ACCESS EXCLUSIVE on booking"
            ),
            "{}",
            f[0].message
        );
        assert!(f[0].fix_sql.is_none());
        assert_clean(
            ID,
            "CREATE TABLE booking (room int, during tstzrange, EXCLUDE USING gist (room WITH =, during WITH &&));",
        );
    }

    #[test]
    fn the_seed_naive_migration_is_flagged_with_the_two_step_fix() {
        let f = assert_fires(
            ID,
            "ALTER TABLE users_user ADD CONSTRAINT unq_email UNIQUE (email);",
            1,
        );
        assert_eq!(
            f[0].message,
            "ADD UNIQUE builds a unique index while holding ACCESS EXCLUSIVE on users_user (blocks reads and writes)"
        );
        let fix = f[0].fix_sql.as_deref().unwrap();
        assert!(
            fix.contains("CREATE UNIQUE INDEX CONCURRENTLY unq_email_idx ON users_user (email);"),
            "{fix}"
        );
        assert!(
            fix.contains("ADD CONSTRAINT unq_email UNIQUE USING INDEX unq_email_idx;"),
            "{fix}"
        );
    }

    #[test]
    fn primary_key_and_inline_unique_column_are_flagged() {
        assert_fires(ID, "ALTER TABLE t ADD PRIMARY KEY (id);", 1);
        assert_fires(ID, "ALTER TABLE t ADD COLUMN code text UNIQUE;", 1);
    }

    #[test]
    fn identifiers_in_the_fix_are_quoted() {
        let f = assert_fires(
            ID,
            "ALTER TABLE \"Users\" ADD CONSTRAINT \"Uq\" UNIQUE (\"Email\");",
            1,
        );
        let fix = f[0].fix_sql.as_deref().unwrap();
        assert!(fix.contains("ON \"Users\" (\"Email\")"), "{fix}");
    }

    #[test]
    fn the_seed_safe_migration_is_clean() {
        assert_clean(ID, "CREATE UNIQUE INDEX CONCURRENTLY users_email_uniq ON users_user(email);\nALTER TABLE users_user ADD CONSTRAINT unq_email UNIQUE USING INDEX users_email_uniq;");
    }

    #[test]
    fn unique_on_a_table_created_in_the_run_is_clean() {
        assert_clean(
            ID,
            "CREATE TABLE t (a int); ALTER TABLE t ADD CONSTRAINT t_a_key UNIQUE (a);",
        );
    }

    #[test]
    fn examples() {
        assert_examples(&UniqueConstraintBuildsIndex);
    }
}
