//! `cascade-reach-unknown`: a DROP (of a schema, function, server, a role's objects, ...)
//! that takes other objects with it, under ACCESS EXCLUSIVE on their tables, where which
//! objects is not known without the database's dependency graph.

use pgdiplomat_locks::{LockMode, RelationRole};

use super::{Finding, Rule, RuleContext, Severity};

pub struct CascadeReachUnknown;

impl Rule for CascadeReachUnknown {
    fn id(&self) -> &'static str {
        "cascade-reach-unknown"
    }
    fn severity(&self) -> Severity {
        Severity::Warning
    }
    fn summary(&self) -> &'static str {
        "a DROP takes unknown objects with it, under ACCESS EXCLUSIVE on their tables"
    }
    fn explanation(&self) -> &'static str {
        "DROP SCHEMA ... CASCADE, DROP FUNCTION ... CASCADE, DROP SERVER ... CASCADE, DROP \
OWNED, REASSIGN OWNED and the like lock no table by name, but everything they take with them \
does: every table, view and sequence of a dropped schema, every table that loses a trigger, \
column default, index, constraint or column to the dropped function or type, every relation a \
role owns. Each gets ACCESS EXCLUSIVE, which blocks reads and writes until the transaction \
ends. Which ones only the database's dependency graph (pg_depend) tells: lint and explain \
with `--database-url` name every table, or trace the statement on a copy of the schema. Then \
run it under a short lock_timeout, or drop the dependents first, one table at a time."
    }
    fn bad_example(&self) -> &'static str {
        "SET lock_timeout = '2s';\nDROP FUNCTION audit_trigger() CASCADE;"
    }
    fn good_example(&self) -> &'static str {
        "SET lock_timeout = '2s';\nDROP TRIGGER audit ON accounts;\nDROP FUNCTION audit_trigger();"
    }
    fn check(&self, ctx: &RuleContext<'_>, out: &mut Vec<Finding>) {
        for e in ctx.effects_on_existing() {
            let Some(fact) = e.fact else { continue };
            let unknown = e.unknown_related().into_iter().any(|(role, mode)| {
                role == RelationRole::Dependents && mode >= LockMode::ShareRowExclusive
            });
            // A drop that names its table is judged by that table's lock; this is for what
            // only the dependency graph names.
            if !unknown || e.op.table.is_some() {
                continue;
            }
            let mut f = ctx.finding(
                self,
                format!(
                    "{}: takes ACCESS EXCLUSIVE on every table it drops or changes through what depends on it, and which ones is not known without the database schema",
                    fact.title.split(" (").next().unwrap_or(fact.title)
                ),
            );
            f.help = Some(
                "lint with --database-url to name every table it reaches (or trace it on a copy of the schema); run it under a short lock_timeout"
                    .into(),
            );
            out.push(f);
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::rules::test_support::*;

    const ID: &str = "cascade-reach-unknown";

    #[test]
    fn drops_that_reach_unknown_dependents_are_reported() {
        for sql in [
            "DROP SCHEMA s CASCADE;",
            "DROP FUNCTION f() CASCADE;",
            "DROP SERVER s CASCADE;",
            "DROP OWNED BY app;",
            "REASSIGN OWNED BY app TO bob;",
        ] {
            let f = assert_fires(ID, sql, 1);
            assert!(
                f[0].message
                    .contains("not known without the database schema"),
                "{sql}: {}",
                f[0].message
            );
        }
    }

    /// RESTRICT drops of non-relations take nothing with them but what PostgreSQL would
    /// refuse over.
    #[test]
    fn restrict_drops_are_quiet() {
        for sql in ["DROP SCHEMA s;", "DROP FUNCTION f();", "DROP SERVER s;"] {
            assert_fires(ID, sql, 0);
        }
    }
}
