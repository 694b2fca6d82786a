//! The execution plan: each migration file becomes a list of steps. A step is one short
//! transaction (retried as a whole when its lock cannot be had in time), one statement that
//! must run outside any transaction (CONCURRENTLY), or session settings.

use pg_query::NodeEnum;
use pgdiplomat_analysis::analyze::{AnalysisOptions, Analyzer};
use pgdiplomat_analysis::directives::{is_backfill_attempt, parse_directive, Directive};
use pgdiplomat_analysis::model::{RelName, StatementKind};
use pgdiplomat_analysis::parse::{parse_sql, SyntaxError};
use pgdiplomat_analysis::source::SourceFile;
use pgdiplomat_locks::TransactionUse;
use sha2::{Digest, Sha256};

/// How a step runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum StepKind {
    /// One transaction; retried from the start when a lock is not granted within lock_timeout.
    Transaction,
    /// Outside any transaction, with statement_timeout = 0 (CONCURRENTLY, VACUUM).
    Concurrent,
    /// An UPDATE marked `-- pgdiplomat:backfill`: run in primary-key batches, one short
    /// transaction each, resumably.
    Backfill,
}

/// How a backfill runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct BackfillSpec {
    pub batch: u64,
    pub pause_ms: u64,
}

impl Default for BackfillSpec {
    fn default() -> Self {
        BackfillSpec {
            batch: 10_000,
            pause_ms: 10,
        }
    }
}

/// What an index statement that runs outside a transaction does, for cleanup and resume.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub enum IndexOp {
    Create {
        index: RelName,
        table: RelName,
        unique: bool,
        columns: Vec<String>,
        if_not_exists: bool,
    },
    Drop {
        index: RelName,
    },
    Reindex {
        index: Option<RelName>,
        table: Option<RelName>,
    },
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct PlannedStatement {
    pub sql: String,
    pub line: usize,
    pub column: usize,
    /// The lock-table forms of the statement, e.g. `ADD COLUMN (nullable, no default)`.
    pub forms: Vec<&'static str>,
    pub index_op: Option<IndexOp>,
    /// For a backfill step: the batching, and the UPDATE's table.
    pub backfill: Option<(BackfillSpec, RelName)>,
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct Step {
    pub kind: StepKind,
    pub statements: Vec<PlannedStatement>,
    /// A lock that blocks reads or writes on an existing relation: run under lock_timeout and
    /// retry, so that a waiting migration never queues the application behind it.
    pub negotiate: bool,
    /// Relations whose locks block the application, e.g. `ACCESS EXCLUSIVE on users_user`.
    pub blocking_locks: Vec<String>,
    /// Tables the step touches (for preflight).
    pub tables: Vec<String>,
    /// Session settings in force for this step (`SET search_path ...` from the file).
    pub settings: Vec<String>,
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct Migration {
    /// The file name: the key in the history table.
    pub name: String,
    pub path: String,
    pub checksum: String,
    pub steps: Vec<Step>,
    /// Statements the plan leaves out and why (`SET lock_timeout`: apply manages timeouts).
    pub notes: Vec<String>,
}

/// A migration that cannot be planned.
#[derive(Debug, Clone, thiserror::Error)]
pub enum PlanError {
    #[error("{file}:{line}:{column}: syntax error: {message}")]
    Syntax {
        file: String,
        line: usize,
        column: usize,
        message: String,
    },
    #[error("{file}:{line}:{column}: {message}")]
    Invalid {
        file: String,
        line: usize,
        column: usize,
        message: String,
    },
}

pub fn checksum(text: &str) -> String {
    let digest = Sha256::digest(text.as_bytes());
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

fn index_op(node: Option<&NodeEnum>) -> Option<IndexOp> {
    match node? {
        NodeEnum::IndexStmt(i) if i.concurrent => {
            let table = RelName::from_range_var(i.relation.as_ref()?);
            if i.idxname.is_empty() {
                return None;
            }
            let columns = i
                .index_params
                .iter()
                .filter_map(|p| match p.node.as_ref()? {
                    NodeEnum::IndexElem(e) if !e.name.is_empty() => Some(e.name.clone()),
                    _ => None,
                })
                .collect();
            Some(IndexOp::Create {
                index: RelName::new(table.schema.as_deref(), &i.idxname),
                table,
                unique: i.unique,
                columns,
                if_not_exists: i.if_not_exists,
            })
        }
        NodeEnum::DropStmt(d) if d.concurrent => {
            let NodeEnum::List(l) = d.objects.first()?.node.as_ref()? else {
                return None;
            };
            Some(IndexOp::Drop {
                index: RelName::from_name_list(&l.items)?,
            })
        }
        NodeEnum::ReindexStmt(r) => {
            let rel = r.relation.as_ref().map(RelName::from_range_var);
            let is_index =
                r.kind == pg_query::protobuf::ReindexObjectType::ReindexObjectIndex as i32;
            Some(if is_index {
                IndexOp::Reindex {
                    index: rel,
                    table: None,
                }
            } else {
                IndexOp::Reindex {
                    index: None,
                    table: rel,
                }
            })
        }
        _ => None,
    }
}

/// Plans one migration file. `analyzer` carries what earlier files created.
pub fn plan_migration(
    source: &SourceFile,
    analyzer: &mut Analyzer,
) -> Result<Migration, PlanError> {
    let parsed = parse_sql(&source.text).map_err(|e: SyntaxError| {
        let lc = source.line_col(e.offset);
        PlanError::Syntax {
            file: source.name.clone(),
            line: lc.line,
            column: lc.column,
            message: e.message,
        }
    })?;
    let analysis = analyzer.analyze_file(&parsed);
    let name = std::path::Path::new(&source.name)
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| source.name.clone());
    let mut m = Migration {
        name,
        path: source.name.clone(),
        checksum: checksum(&source.text),
        steps: Vec::new(),
        notes: Vec::new(),
    };
    let mut settings: Vec<String> = Vec::new();
    let mut open: Option<Step> = None; // an explicit BEGIN ... COMMIT block
    for (stmt, a) in parsed.statements.iter().zip(&analysis.statements) {
        let sql = source.slice(&stmt.span).to_string();
        let lc = source.line_col(stmt.span.start);
        let invalid = |message: String| PlanError::Invalid {
            file: source.name.clone(),
            line: lc.line,
            column: lc.column,
            message,
        };
        match &a.kind {
            StatementKind::Begin => {
                if open.is_some() {
                    return Err(invalid("BEGIN inside a transaction block".into()));
                }
                open = Some(Step {
                    kind: StepKind::Transaction,
                    statements: Vec::new(),
                    negotiate: false,
                    blocking_locks: Vec::new(),
                    tables: Vec::new(),
                    settings: settings.clone(),
                });
                continue;
            }
            StatementKind::Commit => {
                match open.take() {
                    Some(step) if !step.statements.is_empty() => m.steps.push(step),
                    Some(_) => {}
                    None => m.notes.push(format!(
                        "line {}: COMMIT outside a transaction block ignored",
                        lc.line
                    )),
                }
                continue;
            }
            StatementKind::Rollback => {
                return Err(invalid(
                    "ROLLBACK in a migration: nothing before it would be applied".into(),
                ))
            }
            StatementKind::SetTimeout { .. } => {
                m.notes.push(format!("line {}: `{sql}` left out: apply sets lock_timeout and statement_timeout itself", lc.line));
                continue;
            }
            StatementKind::Other => {
                if let Some(NodeEnum::VariableSetStmt(_)) = &stmt.node {
                    settings.push(sql);
                    continue;
                }
            }
            StatementKind::Operations(_) => {}
        }
        // DO blocks may COMMIT (a batched backfill does), which only works outside a transaction.
        let forbidden = a.effects.iter().any(|e| {
            e.fact
                .is_some_and(|f| f.transaction == TransactionUse::Forbidden)
        }) || matches!(stmt.node, Some(NodeEnum::DoStmt(_)));
        let blocking: Vec<String> = a
            .effects
            .iter()
            .flat_map(|e| e.locks_on_existing())
            .filter(|l| l.mode.blocks_writes())
            .map(|l| format!("{} on {}", l.mode, l.relation))
            .collect();
        let tables: Vec<String> = a
            .effects
            .iter()
            .flat_map(|e| {
                [
                    e.op.table.as_ref(),
                    e.op.referenced.as_ref(),
                    e.op.partition.as_ref(),
                ]
            })
            .flatten()
            .map(|t| t.key())
            .collect();
        let mut backfill = None;
        for c in &stmt.leading_comments {
            let body = source.slice(&c.body);
            let at = source.line_col(c.span.start);
            let invalid = |message: String| PlanError::Invalid {
                file: source.name.clone(),
                line: at.line,
                column: at.column,
                message,
            };
            match parse_directive(body) {
                Some(Ok(Directive::Backfill { batch, pause_ms })) => {
                    let d = BackfillSpec::default();
                    backfill = Some(BackfillSpec {
                        batch: batch.unwrap_or(d.batch),
                        pause_ms: pause_ms.unwrap_or(d.pause_ms),
                    });
                }
                // A misspelled or malformed backfill directive must not turn into one
                // whole-table UPDATE.
                Some(Err(e)) if is_backfill_attempt(body) => {
                    return Err(invalid(format!(
                        "invalid `pgdiplomat:backfill` directive: {e}; refusing to run the UPDATE unbatched"
                    )));
                }
                None if is_backfill_attempt(body) => {
                    return Err(invalid(format!(
                        "`{}` looks like a `pgdiplomat:backfill` directive but is not one \
                         (write `-- pgdiplomat:backfill batch=N`); refusing to run the UPDATE unbatched",
                        body.trim()
                    )));
                }
                _ => {}
            }
        }
        let backfill = match (backfill, &stmt.node) {
            (Some(spec), Some(NodeEnum::UpdateStmt(u))) => u
                .relation
                .as_ref()
                .map(|r| (spec, RelName::from_range_var(r))),
            (Some(_), _) => {
                return Err(invalid(
                    "`-- pgdiplomat:backfill` must precede an UPDATE statement".into(),
                ))
            }
            (None, _) => None,
        };
        let planned = PlannedStatement {
            backfill: backfill.clone(),
            sql: sql.clone(),
            line: lc.line,
            column: lc.column,
            forms: a
                .effects
                .iter()
                .filter_map(|e| e.fact.map(|f| f.title))
                .collect(),
            index_op: if forbidden {
                index_op(stmt.node.as_ref())
            } else {
                None
            },
        };
        if let Some(step) = open.as_mut() {
            if backfill.is_some() {
                return Err(invalid("a `pgdiplomat:backfill` UPDATE commits between batches: it cannot be inside BEGIN ... COMMIT".into()));
            }
            if forbidden {
                return Err(invalid(format!(
                    "`{}` cannot run inside BEGIN ... COMMIT: PostgreSQL refuses it in a transaction block",
                    sql.lines().next().unwrap_or("")
                )));
            }
            step.negotiate |= !blocking.is_empty();
            step.blocking_locks.extend(blocking);
            step.tables.extend(tables);
            step.statements.push(planned);
            continue;
        }
        m.steps.push(Step {
            kind: if backfill.is_some() {
                StepKind::Backfill
            } else if forbidden {
                StepKind::Concurrent
            } else {
                StepKind::Transaction
            },
            negotiate: !forbidden && !blocking.is_empty(),
            blocking_locks: blocking,
            tables,
            statements: vec![planned],
            settings: settings.clone(),
        });
    }
    if let Some(step) = open {
        if !step.statements.is_empty() {
            m.notes.push("the file ends inside BEGIN without COMMIT: the block is applied as one transaction".into());
            m.steps.push(step);
        }
    }
    for step in &mut m.steps {
        step.tables.sort();
        step.tables.dedup();
        step.blocking_locks.dedup();
    }
    Ok(m)
}

/// Plans files in order.
pub fn plan(sources: &[SourceFile], pg_version: u32) -> Result<Vec<Migration>, PlanError> {
    let mut analyzer = Analyzer::new(AnalysisOptions {
        pg_version,
        assume_in_transaction: false,
    });
    sources
        .iter()
        .map(|s| plan_migration(s, &mut analyzer))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan_one(sql: &str) -> Migration {
        plan(&[SourceFile::new("m/0001_x.sql", sql)], 17)
            .unwrap()
            .remove(0)
    }

    #[test]
    fn the_seed_safe_migration_is_a_concurrent_step_then_a_negotiated_transaction() {
        let m = plan_one(include_str!("../../../examples/seed/safe.sql"));
        assert_eq!(m.name, "0001_x.sql");
        assert_eq!(m.steps.len(), 2);
        assert_eq!(m.steps[0].kind, StepKind::Concurrent);
        assert!(!m.steps[0].negotiate);
        assert!(matches!(
            m.steps[0].statements[0].index_op,
            Some(IndexOp::Create { unique: true, .. })
        ));
        assert_eq!(m.steps[1].kind, StepKind::Transaction);
        assert!(m.steps[1].negotiate);
        assert_eq!(
            m.steps[1].blocking_locks,
            vec!["ACCESS EXCLUSIVE on users_user".to_string()]
        );
        assert!(m.notes[0].contains("SET lock_timeout"), "{:?}", m.notes);
    }

    #[test]
    fn explicit_transaction_blocks_stay_together() {
        let m = plan_one("BEGIN; ALTER TABLE a ADD COLUMN x int; ALTER TABLE b ADD COLUMN y int; COMMIT; ALTER TABLE c ADD COLUMN z int;");
        assert_eq!(m.steps.len(), 2);
        assert_eq!(m.steps[0].statements.len(), 2);
        assert_eq!(m.steps[0].tables, vec!["a".to_string(), "b".to_string()]);
    }

    #[test]
    fn concurrently_inside_begin_is_a_planning_error_with_its_position() {
        let err = plan(
            &[SourceFile::new(
                "x.sql",
                "BEGIN;\nCREATE INDEX CONCURRENTLY i ON t (a);\nCOMMIT;",
            )],
            17,
        )
        .unwrap_err();
        assert!(
            err.to_string()
                .starts_with("x.sql:2:1: `CREATE INDEX CONCURRENTLY i ON t (a)` cannot run inside"),
            "{err}"
        );
    }

    #[test]
    fn checksum_changes_with_the_text() {
        assert_ne!(checksum("a"), checksum("b"));
        assert_eq!(checksum("a").len(), 64);
    }
}
