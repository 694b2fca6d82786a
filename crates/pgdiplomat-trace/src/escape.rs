//! Statements whose effects outlive a rollback.
//!
//! `trace --database-url` runs each file in a transaction that is rolled back, so that tracing
//! leaves the user's database as it was. Some effects are not transactional: sequence values
//! moved by `nextval`/`setval` (explicit calls, or column defaults and identity columns filled
//! by `INSERT`, `COPY` and `MERGE`), session advisory locks, signals to other backends, files
//! written by `COPY ... TO`, and statements that cannot run in a transaction at all
//! (`CREATE DATABASE`, tablespaces, `ALTER SYSTEM`, `VACUUM`, `CHECKPOINT`, ...). Those
//! statements are found here, before they run, so the trace can skip them and say why.
//! (`ALTER SEQUENCE`, `NOTIFY` and `LISTEN` are transactional: checked on PostgreSQL 15.)
//!
//! Sequences created earlier in the same rolled-back transaction are exempt: they disappear
//! with it.

use std::collections::HashSet;

use pg_query::protobuf::{self, Token};
use pg_query::{NodeEnum, NodeRef};
use pgdiplomat_pg::postgres::Client;
use pgdiplomat_pg::quote_ident;

use crate::observe::PgError;

/// Functions whose effect a rollback does not undo, and what that effect is.
const NON_TRANSACTIONAL_FUNCTIONS: &[(&str, &str)] = &[
    ("nextval", "moves a sequence"),
    ("setval", "moves a sequence"),
    ("pg_advisory_lock", "takes a session advisory lock"),
    ("pg_advisory_lock_shared", "takes a session advisory lock"),
    ("pg_try_advisory_lock", "takes a session advisory lock"),
    (
        "pg_try_advisory_lock_shared",
        "takes a session advisory lock",
    ),
    ("pg_terminate_backend", "terminates another session"),
    ("pg_cancel_backend", "cancels another session's query"),
    ("pg_reload_conf", "reloads the server configuration"),
    ("pg_rotate_logfile", "rotates the server log"),
    ("pg_switch_wal", "switches the WAL file"),
    ("pg_create_restore_point", "writes a restore point"),
    ("pg_promote", "promotes a standby"),
    (
        "pg_create_physical_replication_slot",
        "creates a replication slot",
    ),
    (
        "pg_create_logical_replication_slot",
        "creates a replication slot",
    ),
    ("pg_drop_replication_slot", "drops a replication slot"),
    ("pg_stat_reset", "resets statistics"),
    ("pg_stat_reset_shared", "resets statistics"),
    ("pg_stat_reset_single_table_counters", "resets statistics"),
    (
        "pg_stat_reset_single_function_counters",
        "resets statistics",
    ),
    ("pg_stat_reset_slru", "resets statistics"),
    ("pg_stat_reset_replication_slot", "resets statistics"),
    ("lo_export", "writes a file on the server"),
    ("dblink", "runs SQL in another session"),
    ("dblink_exec", "runs SQL in another session"),
];

/// Why `node` (the statement `sql`) would change the database in a way the trace's rollback
/// cannot undo, or `None`. `created` holds the oids of relations created earlier in the
/// rolled-back transaction (their sequences go away with it). Reads the catalog on `client`
/// for the columns that `INSERT`/`COPY`/`MERGE` fill from sequences.
pub fn escapes_rollback(
    client: &mut Client,
    node: Option<&NodeEnum>,
    sql: &str,
    created: &HashSet<u32>,
) -> Result<Option<String>, PgError> {
    if let Some(why) = node.and_then(statement_outside_transactions) {
        return Ok(Some(why));
    }
    if let Some(why) = function_call(client, sql, created)? {
        return Ok(Some(why));
    }
    match node {
        Some(node) => implicit_sequence_use(client, node, sql, created),
        None => Ok(None),
    }
}

/// Statements that cannot run inside a transaction (so cannot be rolled back), or that act
/// outside it.
fn statement_outside_transactions(node: &NodeEnum) -> Option<String> {
    use protobuf::TransactionStmtKind as K;
    let what = match node {
        NodeEnum::CreatedbStmt(_) => "CREATE DATABASE",
        NodeEnum::DropdbStmt(_) => "DROP DATABASE",
        NodeEnum::CreateTableSpaceStmt(_) => "CREATE TABLESPACE",
        NodeEnum::DropTableSpaceStmt(_) => "DROP TABLESPACE",
        NodeEnum::AlterSystemStmt(_) => "ALTER SYSTEM",
        NodeEnum::CheckPointStmt(_) => "CHECKPOINT",
        NodeEnum::VacuumStmt(v) if v.is_vacuumcmd => "VACUUM",
        NodeEnum::ClusterStmt(c) if c.relation.is_none() => "CLUSTER without a table",
        NodeEnum::ReindexStmt(r)
            if r.kind == protobuf::ReindexObjectType::ReindexObjectSystem as i32
                || r.kind == protobuf::ReindexObjectType::ReindexObjectDatabase as i32 =>
        {
            "REINDEX SYSTEM/DATABASE"
        }
        NodeEnum::TransactionStmt(t)
            if matches!(
                K::try_from(t.kind),
                Ok(K::TransStmtCommitPrepared | K::TransStmtRollbackPrepared)
            ) =>
        {
            return Some(
                "COMMIT/ROLLBACK PREPARED ends another transaction; a rollback cannot undo it"
                    .into(),
            )
        }
        NodeEnum::CopyStmt(c) if c.is_program => {
            return Some("COPY ... PROGRAM runs a program on the server".into())
        }
        NodeEnum::CopyStmt(c) if !c.is_from && !c.filename.is_empty() => {
            return Some("COPY ... TO a file writes the file on the server".into())
        }
        _ => return None,
    };
    Some(format!(
        "{what} cannot run inside a transaction and cannot be rolled back"
    ))
}

/// The text of a string constant token (`'it''s'` → `it's`), when it is a plain one.
fn string_constant(raw: &str) -> Option<String> {
    let inner = raw.strip_prefix('\'')?.strip_suffix('\'')?;
    Some(inner.replace("''", "'"))
}

/// An explicit call of a function from [`NON_TRANSACTIONAL_FUNCTIONS`] anywhere in `sql`
/// (found in the token stream, so calls inside any expression count).
fn function_call(
    client: &mut Client,
    sql: &str,
    created: &HashSet<u32>,
) -> Result<Option<String>, PgError> {
    let Ok(tokens) = pg_query::scan_tokens(sql) else {
        return Ok(None);
    };
    let tokens: Vec<&protobuf::ScanToken> = tokens
        .iter()
        .filter(|t| t.token != Token::SqlComment as i32 && t.token != Token::CComment as i32)
        .collect();
    let text = |t: &protobuf::ScanToken| sql.get(t.start as usize..t.end as usize).unwrap_or("");
    for (i, t) in tokens.iter().enumerate() {
        if t.token != Token::Ident as i32 {
            continue;
        }
        if tokens.get(i + 1).map(|n| n.token) != Some(Token::Ascii40 as i32) {
            continue;
        }
        let raw = text(t);
        let name = raw.trim_matches('"').to_ascii_lowercase();
        let Some((_, effect)) = NON_TRANSACTIONAL_FUNCTIONS.iter().find(|(f, _)| *f == name) else {
            continue;
        };
        if name == "nextval" || name == "setval" {
            // A sequence created in this transaction is dropped by the rollback.
            let arg = tokens
                .get(i + 2)
                .filter(|a| a.token == Token::Sconst as i32)
                .and_then(|a| string_constant(text(a)));
            if let Some(seq) = arg {
                let oid: Option<u32> = client
                    .query_one("SELECT to_regclass($1)::oid", &[&seq])?
                    .get(0);
                if oid.is_some_and(|o| created.contains(&o)) {
                    continue;
                }
            }
        }
        return Ok(Some(format!(
            "calls {name}(), which {effect}; a rollback does not undo that"
        )));
    }
    Ok(None)
}

fn qualified(r: &protobuf::RangeVar) -> String {
    if r.schemaname.is_empty() {
        quote_ident(&r.relname)
    } else {
        format!("{}.{}", quote_ident(&r.schemaname), quote_ident(&r.relname))
    }
}

/// Columns of `table` filled from a sequence (a default calling `nextval`, or an identity
/// column), with the sequence's oid and name.
const SEQUENCE_COLUMNS: &str = "
SELECT a.attname::text, s.oid, s.oid::regclass::text
  FROM pg_attribute a
  JOIN pg_attrdef ad ON ad.adrelid = a.attrelid AND ad.adnum = a.attnum
  JOIN pg_depend d ON d.classid = 'pg_attrdef'::regclass AND d.objid = ad.oid
                  AND d.refclassid = 'pg_class'::regclass
  JOIN pg_class s ON s.oid = d.refobjid AND s.relkind = 'S'
 WHERE a.attrelid = to_regclass($1) AND a.attnum > 0 AND NOT a.attisdropped
UNION
SELECT a.attname::text, s.oid, s.oid::regclass::text
  FROM pg_attribute a
  JOIN pg_depend d ON d.refclassid = 'pg_class'::regclass AND d.refobjid = a.attrelid
                  AND d.refobjsubid = a.attnum AND d.classid = 'pg_class'::regclass
                  AND d.deptype = 'i'
  JOIN pg_class s ON s.oid = d.objid AND s.relkind = 'S'
 WHERE a.attrelid = to_regclass($1) AND a.attidentity <> '' AND NOT a.attisdropped";

/// `INSERT`, `COPY FROM` and `MERGE` (also inside `WITH`) that leave a sequence-backed column
/// to its default, and `UPDATE ... SET col = DEFAULT`: each evaluates `nextval`.
fn implicit_sequence_use(
    client: &mut Client,
    node: &NodeEnum,
    sql: &str,
    created: &HashSet<u32>,
) -> Result<Option<String>, PgError> {
    let uses_default_keyword = pg_query::scan_tokens(sql)
        .map(|ts| ts.iter().any(|t| t.token == Token::Default as i32))
        .unwrap_or(true);
    // (verb, table, columns given explicitly; None: every column may take its default)
    let mut targets: Vec<(&str, String, Option<Vec<String>>)> = Vec::new();
    for (n, _, _, _) in node.nodes() {
        match n {
            NodeRef::InsertStmt(i) => {
                if let Some(r) = &i.relation {
                    let cols: Vec<String> = i
                        .cols
                        .iter()
                        .filter_map(|c| match c.node.as_ref()? {
                            NodeEnum::ResTarget(t) => Some(t.name.clone()),
                            _ => None,
                        })
                        .collect();
                    let given = (!cols.is_empty() && !uses_default_keyword).then_some(cols);
                    targets.push(("INSERT", qualified(r), given));
                }
            }
            NodeRef::CopyStmt(c) if c.is_from => {
                if let Some(r) = &c.relation {
                    let cols: Vec<String> = c
                        .attlist
                        .iter()
                        .filter_map(|c| match c.node.as_ref()? {
                            NodeEnum::String(s) => Some(s.sval.clone()),
                            _ => None,
                        })
                        .collect();
                    targets.push(("COPY", qualified(r), (!cols.is_empty()).then_some(cols)));
                }
            }
            NodeRef::MergeStmt(m) => {
                if let Some(r) = &m.relation {
                    targets.push(("MERGE", qualified(r), None));
                }
            }
            NodeRef::UpdateStmt(u) if uses_default_keyword => {
                if let Some(r) = &u.relation {
                    targets.push(("UPDATE", qualified(r), None));
                }
            }
            _ => {}
        }
    }
    for (verb, table, given) in targets {
        for row in client.query(SEQUENCE_COLUMNS, &[&table])? {
            let column: String = row.get(0);
            let seq_oid: u32 = row.get(1);
            let seq: String = row.get(2);
            if created.contains(&seq_oid) || given.as_ref().is_some_and(|g| g.contains(&column)) {
                continue;
            }
            return Ok(Some(format!(
                "{verb} may fill {table}.{} from sequence {seq} (nextval), which a rollback does not undo",
                quote_ident(&column)
            )));
        }
    }
    Ok(None)
}
