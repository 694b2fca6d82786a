//! `require-concurrent-reindex`: `REINDEX` without `CONCURRENTLY` blocks writes on the table and,
//! through ACCESS EXCLUSIVE on the indexes, the SELECTs that would use them, for the whole
//! rebuild.

use pg_query::protobuf::{self, ReindexObjectType, ReindexStmt};
use pg_query::NodeEnum;
use pgdiplomat_locks::{RelationRole, StatementForm};

use super::{describe_lock, Finding, Rule, RuleContext, Severity};
use crate::analyze::Effect;
use crate::model::{quote_ident, RelName};

pub struct RequireConcurrentReindex;

impl Rule for RequireConcurrentReindex {
    fn id(&self) -> &'static str {
        "require-concurrent-reindex"
    }
    fn severity(&self) -> Severity {
        Severity::Warning
    }
    fn summary(&self) -> &'static str {
        "REINDEX without CONCURRENTLY blocks writes, and reads that use the index, for the whole rebuild"
    }
    fn explanation(&self) -> &'static str {
        "A plain REINDEX takes SHARE on the table, which blocks every INSERT, UPDATE and DELETE, and \
ACCESS EXCLUSIVE on the index (REINDEX TABLE: on every index of the table). The planner locks the \
indexes of every table a query reads, so SELECTs on the table wait too, and all of them wait for \
the whole rebuild, which on a large table takes minutes. REINDEX ... CONCURRENTLY (PostgreSQL 12 \
and later) builds a new copy of each index next to the old one and swaps them, holding only SHARE \
UPDATE EXCLUSIVE, so reads and writes continue. It must run outside a transaction block, and a \
failure leaves an INVALID `_ccnew` index behind that must be dropped. Indexes of tables created \
earlier in the same migration run are not flagged."
    }
    fn bad_example(&self) -> &'static str {
        "REINDEX INDEX users_email_idx;"
    }
    fn good_example(&self) -> &'static str {
        "REINDEX INDEX CONCURRENTLY users_email_idx;"
    }
    fn check(&self, ctx: &RuleContext<'_>, out: &mut Vec<Finding>) {
        for e in ctx.effects_on_existing() {
            let Some(form @ (StatementForm::ReindexIndex | StatementForm::ReindexTable)) = e.form()
            else {
                continue;
            };
            let stmt = match ctx.node {
                Some(NodeEnum::ReindexStmt(r)) => Some(r),
                _ => None,
            };
            let what = e.fact.map(|f| f.title).unwrap_or("REINDEX");
            let mut f = ctx.finding(
                self,
                format!(
                    "{what} takes {} while it rebuilds {}",
                    locks(e, stmt),
                    if form == StatementForm::ReindexIndex {
                        "the index"
                    } else {
                        "every index"
                    }
                ),
            );
            let note = e.fact.map(|f| f.note).filter(|n| !n.is_empty());
            f.help = Some(format!(
                "rebuild with REINDEX ... CONCURRENTLY, outside a transaction block{}",
                note.map(|n| format!(". {n}")).unwrap_or_default()
            ));
            f.fix_sql = stmt.and_then(concurrent_version);
            out.push(f);
        }
    }
}

/// `SHARE on t (blocks writes) and ACCESS EXCLUSIVE on t_a_idx (blocks reads and writes)`.
/// REINDEX SCHEMA / DATABASE / SYSTEM name no table: their locks apply to each table in turn.
fn locks(e: &Effect, stmt: Option<&ReindexStmt>) -> String {
    let whole = stmt.is_some_and(|r| r.relation.is_none());
    let scope = stmt
        .map(|r| match kind(r) {
            ReindexObjectType::ReindexObjectSchema => format!(" of schema {}", r.name),
            _ => String::new(),
        })
        .unwrap_or_default();
    e.locks
        .iter()
        .map(|l| {
            if whole {
                let relation = match l.role {
                    RelationRole::Table => format!("each table{scope}"),
                    _ => "its indexes".to_string(),
                };
                describe_lock(l.mode, &relation)
            } else {
                describe_lock(l.mode, &l.relation)
            }
        })
        .collect::<Vec<_>>()
        .join(" and ")
}

fn kind(r: &ReindexStmt) -> ReindexObjectType {
    ReindexObjectType::try_from(r.kind).unwrap_or(ReindexObjectType::Undefined)
}

/// The same REINDEX with CONCURRENTLY. Written as `REINDEX INDEX CONCURRENTLY name` when there
/// are no other options (the spelling every supported version accepts); otherwise deparsed
/// with `concurrently` added to the option list. REINDEX SYSTEM cannot run concurrently.
fn concurrent_version(r: &ReindexStmt) -> Option<String> {
    let keyword = match kind(r) {
        ReindexObjectType::ReindexObjectIndex => "INDEX",
        ReindexObjectType::ReindexObjectTable => "TABLE",
        ReindexObjectType::ReindexObjectSchema => "SCHEMA",
        ReindexObjectType::ReindexObjectDatabase => "DATABASE",
        _ => return None,
    };
    if r.params.is_empty() {
        let target = match (&r.relation, r.name.as_str()) {
            (Some(rv), _) => format!(" {}", RelName::from_range_var(rv).quoted()),
            (None, "") => String::new(),
            (None, name) => format!(" {}", quote_ident(name)),
        };
        return Some(format!("REINDEX {keyword} CONCURRENTLY{target};"));
    }
    let mut r = r.clone();
    r.params.push(protobuf::Node {
        node: Some(NodeEnum::DefElem(Box::new(protobuf::DefElem {
            defname: "concurrently".into(),
            defaction: protobuf::DefElemAction::DefelemUnspec as i32,
            location: -1,
            arg_location: -1,
            ..Default::default()
        }))),
    });
    crate::parse::deparse_statement(NodeEnum::ReindexStmt(r))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::test_support::*;

    const ID: &str = "require-concurrent-reindex";

    #[test]
    fn flags_reindex_index_naming_the_index_lock() {
        let f = assert_fires(ID, "REINDEX INDEX t_a_idx;", 1);
        assert_eq!(f[0].severity, Severity::Warning);
        assert_eq!(
            f[0].message,
            "REINDEX INDEX takes SHARE on the table of index t_a_idx (blocks writes) and \
ACCESS EXCLUSIVE on t_a_idx (blocks reads and writes) while it rebuilds the index"
        );
        assert!(f[0]
            .help
            .as_deref()
            .unwrap()
            .contains("also blocks SELECTs"));
        assert_eq!(
            f[0].fix_sql.as_deref(),
            Some("REINDEX INDEX CONCURRENTLY t_a_idx;")
        );
    }

    #[test]
    fn flags_reindex_table() {
        let f = assert_fires(ID, "REINDEX TABLE app.\"Users\";", 1);
        assert!(
            f[0].message
                .contains("ACCESS EXCLUSIVE on indexes of app.Users"),
            "{}",
            f[0].message
        );
        assert_eq!(
            f[0].fix_sql.as_deref(),
            Some("REINDEX TABLE CONCURRENTLY app.\"Users\";")
        );
    }

    #[test]
    fn keeps_other_options_in_the_fix() {
        let f = assert_fires(ID, "REINDEX (VERBOSE) TABLE t;", 1);
        assert_eq!(
            f[0].fix_sql.as_deref(),
            Some("REINDEX (VERBOSE, CONCURRENTLY) TABLE t;")
        );
    }

    #[test]
    fn reindex_schema_describes_each_table() {
        let f = assert_fires(ID, "REINDEX SCHEMA app;", 1);
        assert!(
            f[0].message
                .contains("SHARE on each table of schema app (blocks writes)"),
            "{}",
            f[0].message
        );
        assert_eq!(
            f[0].fix_sql.as_deref(),
            Some("REINDEX SCHEMA CONCURRENTLY app;")
        );
    }

    #[test]
    fn concurrent_reindex_is_clean() {
        assert_clean(ID, "REINDEX INDEX CONCURRENTLY t_a_idx;");
        assert_clean(ID, "REINDEX (CONCURRENTLY) TABLE t;");
    }

    #[test]
    fn reindex_on_a_table_created_earlier_in_the_run_is_clean() {
        assert_clean(
            ID,
            "CREATE TABLE t (a int);\nCREATE INDEX t_a_idx ON t (a);\nREINDEX INDEX t_a_idx;\nREINDEX TABLE t;",
        );
    }

    #[test]
    fn examples() {
        assert_examples(&RequireConcurrentReindex);
    }
}
