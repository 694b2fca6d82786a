//! The regression-suite run: every schema-changing statement of PostgreSQL's own regression
//! suite (the psql scripts under `src/test/regress/sql`, as libpg_query ships them in
//! `test/sql/postgres_regress`) is traced on a real server the way the adversarial forms are
//! (`crate::forms`) and compared with the model's prediction.
//!
//! Each file runs in a fresh database copied from one that `test_setup.sql` built, on one
//! session, statement by statement in file order, so later statements see what earlier ones
//! made. Statements that change schema (DDL and maintenance: CREATE / ALTER / DROP / TRUNCATE /
//! COMMENT / GRANT / VACUUM / REINDEX / CLUSTER / REFRESH / LOCK ...) outside the file's own
//! `BEGIN ... COMMIT` blocks are traced: each runs in a transaction of its own that is then
//! committed (those that cannot run in a transaction run in autocommit, sampled from a second
//! connection), after the model predicted it on the schema introspected from the database at
//! that moment. Everything else runs untraced. Statements the server refuses (the suite is
//! full of intentional errors) count as server errors, outside the agreement rate.

pub mod script;

use std::collections::BTreeMap;
use std::io::Write;
use std::panic::AssertUnwindSafe;
use std::time::{Duration, Instant};

use pg_query::protobuf::{AlterTableType, ObjectType, TransactionStmtKind};
use pg_query::NodeEnum;
use pgdiplomat_analysis::analyze::{AnalysisOptions, Analyzer, Effect};
use pgdiplomat_analysis::model::{Operation, RelName, SchemaState};
use pgdiplomat_analysis::parse::parse_sql;
use pgdiplomat_locks::Rewrite;
use pgdiplomat_pg::postgres::Client;
use pgdiplomat_pg::{quote_ident, Cluster};
use serde::Serialize;

use crate::catalogue::CatalogueError;
use crate::compare::{check, Prediction};
use crate::observe::strongest;
use crate::run::{backend_pid, error_text, run_concurrently, run_in_transaction, Blocker, Run};
use script::{Item, Piece, Script};

/// The database each file runs in (some files name it).
pub const FILE_DB: &str = "regression";
/// The database `test_setup.sql` builds, copied for every other file.
pub const BASE_DB: &str = "regress_base";
/// The file that builds the shared tables of the suite.
pub const SETUP_FILE: &str = "test_setup.sql";

/// One traced statement.
#[derive(Debug, Clone, Serialize)]
pub struct Traced {
    pub file: String,
    pub line: usize,
    pub sql: String,
    /// Statement kind, e.g. `ALTER TABLE AddColumn`, `DROP INDEX`, `CreateFunction`.
    pub kind: String,
    /// `agree`, `disagree`, `not modelled`, `server error` or `harness error`.
    pub outcome: &'static str,
    /// The lock-table rows the model applied (or why it cannot say).
    pub model: Vec<String>,
    /// What those rows predict, per relation.
    pub predicted: Vec<String>,
    /// What PostgreSQL did: strongest new lock per relation, rewrites, scans.
    pub observed: Vec<String>,
    /// The differences (`compare::check`), or the server's error.
    pub details: Vec<String>,
    /// Ran outside a transaction, its locks sampled from another connection.
    pub sampled: bool,
    /// Milliseconds: introspecting the schema, the statement, and the whole trace.
    pub ms: [f64; 3],
    /// A disagreement that vanishes once the statement's unqualified names are resolved on the
    /// session's search_path (the model resolves them in `public`).
    pub search_path_only: bool,
    /// What the relations named in the differences are (`sequence`, `partition`, `inheritance
    /// child` of the statement's table, `view`, `table`, ...), for grouping.
    pub relation_kinds: BTreeMap<String, String>,
}

/// What one file did.
#[derive(Debug, Clone, Default, Serialize)]
pub struct FileRun {
    pub file: String,
    /// SQL statements in the file (psql meta-commands excluded).
    pub statements: usize,
    /// Statements sent to the server (traced or not).
    pub run: usize,
    /// Untraced statements the server refused.
    pub failed_untraced: usize,
    /// Statements not traced, by reason.
    pub skipped: BTreeMap<String, usize>,
    pub traced: Vec<Traced>,
    pub seconds: f64,
    /// Why the file stopped early.
    pub stopped: Option<String>,
    /// Statements pg_query does not parse (line, start of the text): run untraced.
    pub unparsed: Vec<(usize, String)>,
    /// Sessions reopened after the connection broke (line).
    pub reconnects: Vec<usize>,
}

impl FileRun {
    pub fn count(&self, outcome: &str) -> usize {
        self.traced.iter().filter(|t| t.outcome == outcome).count()
    }
}

/// The whole run.
#[derive(Debug, Clone, Default, Serialize)]
pub struct SuiteRun {
    pub server_version: String,
    pub files: Vec<FileRun>,
    /// Files not run because the time budget was used up.
    pub left_out: Vec<String>,
    pub seconds: f64,
}

#[derive(Debug, Clone, Copy)]
pub struct RegressOptions {
    pub server_major: u32,
    /// No statement starts after this.
    pub deadline: Instant,
}

/// What to do with a statement.
enum Disposition {
    /// Transaction control: `Some(true)` opens a block, `Some(false)` ends it.
    Control(Option<bool>),
    /// Not run at all, for this reason.
    NotRun(&'static str),
    /// Run without tracing, counted under this reason.
    Untraced(&'static str),
    /// Not schema-changing: run without tracing.
    Other,
    /// Traced.
    Ddl,
}

fn disposition(node: &NodeEnum) -> Disposition {
    use NodeEnum as N;
    match node {
        N::TransactionStmt(t) => {
            Disposition::Control(match TransactionStmtKind::try_from(t.kind) {
                Ok(TransactionStmtKind::TransStmtBegin | TransactionStmtKind::TransStmtStart) => {
                    Some(true)
                }
                Ok(
                    TransactionStmtKind::TransStmtCommit
                    | TransactionStmtKind::TransStmtRollback
                    | TransactionStmtKind::TransStmtPrepare,
                ) => Some(t.chain),
                _ => None,
            })
        }
        // SELECT ... INTO creates a table.
        N::SelectStmt(s) if s.into_clause.is_some() => Disposition::Ddl,
        N::SelectStmt(_)
        | N::InsertStmt(_)
        | N::UpdateStmt(_)
        | N::DeleteStmt(_)
        | N::MergeStmt(_)
        | N::VariableSetStmt(_)
        | N::VariableShowStmt(_)
        | N::ExplainStmt(_)
        | N::CopyStmt(_)
        | N::PrepareStmt(_)
        | N::ExecuteStmt(_)
        | N::DeallocateStmt(_)
        | N::DeclareCursorStmt(_)
        | N::FetchStmt(_)
        | N::ClosePortalStmt(_)
        | N::DoStmt(_)
        | N::CallStmt(_)
        | N::ListenStmt(_)
        | N::NotifyStmt(_)
        | N::UnlistenStmt(_)
        | N::CheckPointStmt(_)
        | N::DiscardStmt(_)
        | N::LoadStmt(_)
        | N::ConstraintsSetStmt(_) => Disposition::Other,
        N::CreatedbStmt(_)
        | N::DropdbStmt(_)
        | N::AlterDatabaseStmt(_)
        | N::AlterDatabaseSetStmt(_)
        | N::AlterDatabaseRefreshCollStmt(_) => {
            Disposition::NotRun("database-level statement (cluster-wide; not run)")
        }
        N::AlterSystemStmt(_) => Disposition::NotRun("ALTER SYSTEM (cluster-wide; not run)"),
        N::CreateRoleStmt(_)
        | N::AlterRoleStmt(_)
        | N::AlterRoleSetStmt(_)
        | N::DropRoleStmt(_)
        | N::GrantRoleStmt(_) => {
            Disposition::Untraced("role statement (cluster-wide; run untraced)")
        }
        N::CreateTableSpaceStmt(_)
        | N::DropTableSpaceStmt(_)
        | N::AlterTableSpaceOptionsStmt(_) => {
            Disposition::Untraced("tablespace statement (cluster-wide; run untraced)")
        }
        N::CreatePlangStmt(_) => Disposition::Untraced("CREATE LANGUAGE (run untraced)"),
        _ => Disposition::Ddl,
    }
}

fn object_type(t: i32) -> String {
    ObjectType::try_from(t)
        .map(|o| {
            o.as_str_name()
                .trim_start_matches("OBJECT_")
                .replace('_', " ")
        })
        .unwrap_or_else(|_| "?".into())
}

/// A short name for the kind of statement.
pub fn kind_label(node: &NodeEnum) -> String {
    use NodeEnum as N;
    match node {
        N::AlterTableStmt(s) => {
            let mut subs: Vec<String> = s
                .cmds
                .iter()
                .filter_map(|c| match &c.node {
                    Some(N::AlterTableCmd(c)) => AlterTableType::try_from(c.subtype)
                        .ok()
                        .map(|t| t.as_str_name().trim_start_matches("AT_").to_string()),
                    _ => None,
                })
                .collect();
            subs.sort();
            subs.dedup();
            format!("ALTER {} {}", object_type(s.objtype), subs.join("+"))
        }
        N::DropStmt(s) => format!(
            "DROP {}{}",
            object_type(s.remove_type),
            if s.concurrent { " CONCURRENTLY" } else { "" }
        ),
        N::RenameStmt(s) => format!("RENAME {}", object_type(s.rename_type)),
        N::AlterObjectSchemaStmt(s) => format!("SET SCHEMA {}", object_type(s.object_type)),
        N::AlterOwnerStmt(s) => format!("OWNER TO {}", object_type(s.object_type)),
        N::CommentStmt(s) => format!("COMMENT ON {}", object_type(s.objtype)),
        N::SecLabelStmt(s) => format!("SECURITY LABEL ON {}", object_type(s.objtype)),
        N::GrantStmt(s) => format!(
            "{} {}",
            if s.is_grant { "GRANT" } else { "REVOKE" },
            object_type(s.objtype)
        ),
        N::CreateStmt(s) if s.partbound.is_some() => "CREATE TABLE PARTITION OF".into(),
        N::CreateStmt(s) if !s.inh_relations.is_empty() => "CREATE TABLE INHERITS".into(),
        N::CreateStmt(s) if s.partspec.is_some() => "CREATE TABLE PARTITION BY".into(),
        N::CreateStmt(_) => "CREATE TABLE".into(),
        N::IndexStmt(s) => if s.concurrent {
            "CREATE INDEX CONCURRENTLY"
        } else {
            "CREATE INDEX"
        }
        .into(),
        N::CreateTableAsStmt(s) => format!("CREATE {} AS", object_type(s.objtype)),
        N::ViewStmt(_) => "CREATE VIEW".into(),
        N::DefineStmt(s) => format!("CREATE {}", object_type(s.kind)),
        N::TruncateStmt(_) => "TRUNCATE".into(),
        N::VacuumStmt(s) => if s.is_vacuumcmd { "VACUUM" } else { "ANALYZE" }.into(),
        N::ReindexStmt(_) => "REINDEX".into(),
        N::ClusterStmt(_) => "CLUSTER".into(),
        N::RefreshMatViewStmt(s) => if s.concurrent {
            "REFRESH MATERIALIZED VIEW CONCURRENTLY"
        } else {
            "REFRESH MATERIALIZED VIEW"
        }
        .into(),
        N::LockStmt(_) => "LOCK".into(),
        N::SelectStmt(_) => "SELECT INTO".into(),
        other => {
            let dbg = format!("{other:?}");
            let name = dbg.split('(').next().unwrap_or("?");
            name.trim_end_matches("Stmt").to_string()
        }
    }
}

/// The model's effects for one statement on `schema`, as `pgdiplomat trace` computes them.
fn analyse(
    sql: &str,
    version: u32,
    in_transaction: bool,
    schema: SchemaState,
) -> Result<Vec<Effect>, String> {
    let parsed = parse_sql(sql).map_err(|e| e.message)?;
    let mut analyzer = Analyzer::new(AnalysisOptions {
        pg_version: version.clamp(13, 18),
        assume_in_transaction: in_transaction,
    });
    analyzer.schema = schema;
    let analysis = std::panic::catch_unwind(AssertUnwindSafe(|| analyzer.analyze_file(&parsed)))
        .map_err(|p| {
            let msg = p
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| p.downcast_ref::<String>().cloned())
                .unwrap_or_default();
            format!("the analyser panicked: {msg}")
        })?;
    Ok(analysis
        .statements
        .last()
        .map(|s| s.effects.clone())
        .unwrap_or_default())
}

fn model_lines(effects: &[Effect]) -> Vec<String> {
    effects
        .iter()
        .map(|e| match (e.fact, &e.op.not_modelled) {
            (Some(f), _) => f.title.to_string(),
            (None, Some(why)) => format!("not modelled: {why}"),
            (None, None) => "no lock that matters".to_string(),
        })
        .collect()
}

fn prediction_lines(p: &Prediction) -> Vec<String> {
    let mut out: Vec<String> = p
        .locks
        .iter()
        .map(|(n, (_, m))| format!("{n} {m}"))
        .collect();
    if let Some(m) = p.new_index {
        out.push(format!("new index {m}"));
    }
    for (t, m) in &p.all_indexes {
        out.push(format!("indexes of {t} {m}"));
    }
    for (t, rewrite, target, scan, _) in &p.tables {
        match rewrite {
            Rewrite::Table => out.push(format!("rewrites {t}")),
            Rewrite::Indexes => out.push(format!("rebuilds indexes of {t}")),
            Rewrite::No => {}
        }
        if *scan == pgdiplomat_locks::Scan::Table {
            out.push(format!("scans {target}"));
        }
    }
    out.dedup();
    out
}

fn observed_lines(run: &Run) -> Vec<String> {
    let obs = &run.observation;
    let mut out: Vec<String> = strongest(&obs.locks)
        .into_iter()
        .map(|(n, m)| format!("{n} {m}"))
        .collect();
    for r in &obs.rewritten {
        out.push(format!("rewrote {r}"));
    }
    for (t, rows) in &obs.scanned {
        out.push(format!("scanned {t} ({rows} rows)"));
    }
    out
}

/// A session on the file's database: the statements' connection, and (made when first needed)
/// a second one that samples statements running outside a transaction.
struct Session<'c> {
    cluster: &'c Cluster,
    db: String,
    client: Client,
    pid: i32,
    monitor: Option<Client>,
}

impl<'c> Session<'c> {
    fn open(cluster: &'c Cluster, db: &str) -> Result<Self, CatalogueError> {
        let mut client = cluster.connect_db(db)?;
        let pid = backend_pid(&mut client)?;
        Ok(Session {
            cluster,
            db: db.to_string(),
            client,
            pid,
            monitor: None,
        })
    }

    fn reopen(&mut self) -> Result<(), CatalogueError> {
        let mut client = self.cluster.connect_db(&self.db)?;
        self.pid = backend_pid(&mut client)?;
        self.client = client;
        Ok(())
    }

    fn monitor(&mut self) -> Result<&mut Client, CatalogueError> {
        if self.monitor.is_none() {
            self.monitor = Some(self.cluster.connect_db(&self.db)?);
        }
        Ok(self.monitor.as_mut().expect("monitor"))
    }
}

fn copy_direction(node: Option<&NodeEnum>) -> Option<bool> {
    match node {
        Some(NodeEnum::CopyStmt(c)) if !c.is_program && c.filename.is_empty() => Some(c.is_from),
        _ => None,
    }
}

/// Who a session is and where it looks for names.
struct Identity {
    search_path: String,
    current_user: String,
    session_user: String,
}

impl Identity {
    fn of(client: &mut Client) -> Option<Identity> {
        let row = client
            .query_one(
                "SELECT current_setting('search_path'), current_user::text, session_user::text",
                &[],
            )
            .ok()?;
        Some(Identity {
            search_path: row.get(0),
            current_user: row.get(1),
            session_user: row.get(2),
        })
    }

    fn apply(&self, client: &mut Client) -> Result<(), pgdiplomat_pg::postgres::Error> {
        client.execute(
            "SELECT set_config('search_path', $1, false)",
            &[&self.search_path],
        )?;
        if self.session_user != pgdiplomat_pg::SUPERUSER {
            client.batch_execute(&format!(
                "SET SESSION AUTHORIZATION {}",
                quote_ident(&self.session_user)
            ))?;
        }
        if self.current_user != self.session_user {
            client.batch_execute(&format!("SET ROLE {}", quote_ident(&self.current_user)))?;
        }
        Ok(())
    }
}

/// What running a statement untraced came to.
enum Untraced {
    Ran,
    Refused,
    /// The connection broke (or fell out of step with the protocol): a new session was opened.
    Reopened,
}

/// SQLSTATEs a COPY probe from another session may get although the file's session would not
/// (temporary or uncommitted tables, locks the session holds).
const SESSION_DEPENDENT: &[&str] = &["42P01", "55P03", "57014", "3F000"];

/// Whether the server would accept `sql` (a `COPY ... FROM STDIN`) and ask for data, tried on
/// a second session with this one's search_path and role: a COPY the server refuses once it
/// executes leaves the client library out of step with the protocol, so it must not be sent on
/// the file's session. `None`: the probe cannot tell.
fn copy_would_start(
    s: &mut Session,
    sql: &str,
    who: &Identity,
) -> Result<Option<bool>, CatalogueError> {
    let mut probe = s.cluster.connect_db(&s.db)?;
    let setup = probe
        .batch_execute("SET lock_timeout = '200ms'; SET statement_timeout = '2s'")
        .and_then(|_| who.apply(&mut probe));
    if setup.is_err() {
        return Ok(None);
    }
    let verdict = match probe.copy_in(sql) {
        Ok(writer) => {
            drop(writer);
            Some(true)
        }
        Err(e) => match e.code() {
            Some(code) if SESSION_DEPENDENT.contains(&code.code()) => None,
            _ => Some(false),
        },
    };
    Ok(verdict)
}

fn is_superuser(client: &mut Client) -> bool {
    client
        .query_one(
            "SELECT rolsuper FROM pg_roles WHERE rolname = current_user",
            &[],
        )
        .is_ok_and(|r| r.get::<_, bool>(0))
}

/// `COPY ... FROM STDIN` run as `COPY ... FROM '<file>'` holding the data that follows it in
/// the script, so that no COPY protocol is involved (see [`copy_would_start`]). The data is
/// consumed as psql would consume it: when the server started copying (it succeeded, or failed
/// on a line of the data).
fn copy_from_file(
    s: &mut Session,
    script: &mut Script,
    rewritten: &str,
) -> Result<(), pgdiplomat_pg::postgres::Error> {
    let (data, end) = script.peek_copy_data();
    let path = copy_file(s);
    if let Err(e) = std::fs::write(&path, &data) {
        panic!("writing {}: {e}", path.display());
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let _ = std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644));
    }
    let result = s.client.batch_execute(rewritten);
    // psql reads the data once the server asked for it: the COPY failed on a line of the data,
    // or on a check PostgreSQL makes after that (CopyFrom: the target's kind, FREEZE).
    let started = match &result {
        Ok(()) => true,
        Err(e) => e.as_db_error().is_some_and(|d| {
            d.where_().is_some_and(|w| w.contains("COPY "))
                || d.message().starts_with("cannot copy to ")
                || d.message().starts_with("cannot perform COPY FREEZE")
        }),
    };
    if started {
        script.skip_to(end);
    }
    result
}

fn copy_file(s: &Session) -> std::path::PathBuf {
    s.cluster.dir().join("regress-copy.data")
}

/// The COPY statement reading [`copy_file`] instead of STDIN (by the deparser).
fn copy_from_file_sql(s: &Session, node: Option<&NodeEnum>) -> Option<String> {
    match node {
        Some(NodeEnum::CopyStmt(c)) => {
            let mut c = c.clone();
            c.filename = copy_file(s).to_string_lossy().into_owned();
            NodeEnum::CopyStmt(c).deparse(Default::default()).ok()
        }
        _ => None,
    }
}

/// Runs `p` without observing it.
fn run_untraced(
    s: &mut Session,
    script: &mut Script,
    p: &Piece,
    node: Option<&NodeEnum>,
) -> Result<Untraced, CatalogueError> {
    let result = match copy_direction(node) {
        // COPY FROM STDIN: the data follows in the script, read once the server asks for it.
        Some(true) if is_superuser(&mut s.client) && copy_from_file_sql(s, node).is_some() => {
            let sql = copy_from_file_sql(s, node).expect("checked");
            copy_from_file(s, script, &sql)
        }
        Some(true) => match s.client.prepare(&p.text) {
            Err(e) => Err(e),
            Ok(statement) => {
                let Some(who) = Identity::of(&mut s.client) else {
                    return Ok(Untraced::Refused);
                };
                if copy_would_start(s, &p.text, &who)? == Some(false) {
                    return Ok(Untraced::Refused);
                }
                let finished = match s.client.copy_in(&statement) {
                    Ok(mut writer) => {
                        let data = script.copy_data();
                        let _ = writer.write_all(data.as_bytes());
                        Some(writer.finish().map(|_| ()))
                    }
                    Err(_) => None,
                };
                match finished {
                    Some(r) => r,
                    None => {
                        // Out of step now (see `copy_would_start`): a new session, with the
                        // same role and search_path.
                        s.reopen()?;
                        let _ = who.apply(&mut s.client);
                        return Ok(Untraced::Reopened);
                    }
                }
            }
        },
        Some(false) => match s.client.copy_out(p.text.as_str()) {
            Ok(mut reader) => {
                let _ = std::io::copy(&mut reader, &mut std::io::sink());
                Ok(())
            }
            Err(e) => Err(e),
        },
        None => s.client.batch_execute(&p.text),
    };
    // A closed connection, or one out of step with the protocol: start a new session.
    if s.client.is_closed() || result.as_ref().is_err_and(|e| e.as_db_error().is_none()) {
        s.reopen()?;
        return Ok(Untraced::Reopened);
    }
    Ok(if result.is_ok() {
        Untraced::Ran
    } else {
        Untraced::Refused
    })
}

/// A relation the statement creates that only its session sees (TEMP, or in `pg_temp`), or
/// that is in `pg_catalog`.
fn creates_private_relation(node: &NodeEnum) -> bool {
    use NodeEnum as N;
    let rv = match node {
        N::CreateStmt(s) => s.relation.as_ref(),
        N::CreateTableAsStmt(s) => s.into.as_ref().and_then(|i| i.rel.as_ref()),
        N::SelectStmt(s) => s.into_clause.as_ref().and_then(|i| i.rel.as_ref()),
        N::ViewStmt(s) => s.view.as_ref(),
        N::CreateSeqStmt(s) => s.sequence.as_ref(),
        _ => None,
    };
    rv.is_some_and(|r| {
        r.relpersistence == "t"
            || r.schemaname.starts_with("pg_temp")
            || r.schemaname == "pg_catalog"
    })
}

/// Whether a relation the model names resolves (on the session's search_path) to a temporary
/// relation or one in `pg_catalog`: what happens to those is not observed (the trace reads user
/// schemas), and nobody else can wait for a temporary one.
fn names_private_relation(s: &mut Session, effects: &[Effect]) -> bool {
    let names: Vec<String> = effects
        .iter()
        .flat_map(|e| {
            [
                e.op.table.as_ref(),
                e.op.index.as_ref(),
                e.op.partition.as_ref(),
            ]
        })
        .flatten()
        .map(|r| match &r.schema {
            Some(schema) => format!("{}.{}", quote_ident(schema), quote_ident(&r.name)),
            None => quote_ident(&r.name),
        })
        .collect();
    if names.is_empty() {
        return false;
    }
    s.client
        .query_one(
            "SELECT coalesce(bool_or(n.nspname LIKE 'pg\\_temp%' OR n.nspname IN ('pg_catalog', 'pg_toast')), false)
               FROM unnest($1::text[]) r JOIN pg_class c ON c.oid = to_regclass(r)
               JOIN pg_namespace n ON n.oid = c.relnamespace",
            &[&names],
        )
        .is_ok_and(|r| r.get::<_, bool>(0))
}

/// Where the session's search_path puts the unqualified relation names of `effects` (an
/// existing relation's schema, else the creation schema), when that is not `public`.
fn resolve_names(s: &mut Session, effects: &[Effect]) -> BTreeMap<String, String> {
    let mut names: Vec<String> = Vec::new();
    let mut note = |r: &RelName| {
        if r.schema.is_none() && !names.contains(&r.name) {
            names.push(r.name.clone());
        }
    };
    for e in effects {
        let op = &e.op;
        op.table
            .iter()
            .chain(&op.index)
            .chain(&op.referenced)
            .chain(&op.partition)
            .for_each(&mut note);
        op.also_referenced
            .iter()
            .chain(&op.referencing)
            .for_each(&mut note);
    }
    if names.is_empty() {
        return BTreeMap::new();
    }
    let Ok(rows) = s.client.query(
        "SELECT r, coalesce((SELECT n.nspname::text FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                              WHERE c.oid = to_regclass(quote_ident(r))), current_schema()::text)
           FROM unnest($1::text[]) r
          WHERE current_setting('search_path') <> '\"$user\", public'",
        &[&names],
    ) else {
        return BTreeMap::new();
    };
    rows.into_iter()
        .filter_map(|r| {
            let schema: Option<String> = r.get(1);
            schema.filter(|s| s != "public").map(|s| (r.get(0), s))
        })
        .collect()
}

/// `op` with its unqualified names qualified as `resolved` says.
fn qualified(op: &Operation, resolved: &BTreeMap<String, String>) -> Operation {
    let q = |r: &RelName| match (&r.schema, resolved.get(&r.name)) {
        (None, Some(schema)) => RelName::new(Some(schema), &r.name),
        _ => r.clone(),
    };
    Operation {
        table: op.table.as_ref().map(q),
        index: op.index.as_ref().map(q),
        referenced: op.referenced.as_ref().map(q),
        partition: op.partition.as_ref().map(q),
        also_referenced: op.also_referenced.iter().map(q).collect(),
        referencing: op.referencing.iter().map(q).collect(),
        ..op.clone()
    }
}

/// The table the statement is about (its index's table for one on an index), qualified.
fn main_table(s: &mut Session, effects: &[Effect]) -> Option<String> {
    let name = effects
        .iter()
        .find_map(|e| e.op.table.as_ref().or(e.op.index.as_ref()))?;
    let text = match &name.schema {
        Some(schema) => format!("{}.{}", quote_ident(schema), quote_ident(&name.name)),
        None => quote_ident(&name.name),
    };
    s.client
        .query_one(
            "SELECT quote_ident(n.nspname) || '.' || quote_ident(t.relname)
               FROM pg_class c
               JOIN pg_class t ON t.oid = coalesce((SELECT indrelid FROM pg_index WHERE indexrelid = c.oid), c.oid)
               JOIN pg_namespace n ON n.oid = t.relnamespace
              WHERE c.oid = to_regclass($1)",
            &[&text],
        )
        .ok()
        .map(|r| r.get(0))
}

/// Why a statement is not traced although it changes schema: it is about a relation only its
/// session sees, or a catalog's.
const PRIVATE: &str = "on a temporary or system-catalog relation (not observable; run untraced)";

/// Traces one schema-changing statement.
fn trace_statement(
    s: &mut Session,
    file: &str,
    p: &Piece,
    kind: String,
    major: u32,
    node: &NodeEnum,
) -> Result<Option<Traced>, CatalogueError> {
    let t = Traced {
        file: file.to_string(),
        line: p.line,
        sql: p.text.clone(),
        kind,
        outcome: "harness error",
        model: Vec::new(),
        predicted: Vec::new(),
        observed: Vec::new(),
        details: Vec::new(),
        sampled: false,
        ms: [0.0; 3],
        search_path_only: false,
        relation_kinds: BTreeMap::new(),
    };
    if creates_private_relation(node) {
        return Ok(None);
    }
    let started = Instant::now();
    let Some(t) = trace_inner(s, p, major, t)? else {
        return Ok(None);
    };
    Ok(Some(Traced {
        ms: [t.ms[0], t.ms[1], started.elapsed().as_secs_f64() * 1000.0],
        ..t
    }))
}

fn trace_inner(
    s: &mut Session,
    p: &Piece,
    major: u32,
    mut t: Traced,
) -> Result<Option<Traced>, CatalogueError> {
    let started = Instant::now();
    let mut schema = SchemaState::default();
    if let Err(e) = pgdiplomat_catalog::load_schema(&mut s.client, &mut schema) {
        t.details
            .push(format!("reading the schema failed: {}", error_text(&e)));
        if s.client.is_closed() || e.as_db_error().is_none() {
            s.reopen()?;
        }
        return Ok(Some(t));
    }
    t.ms[0] = started.elapsed().as_secs_f64() * 1000.0;
    // The model resolves unqualified names on the session's search_path the way it does for a
    // file that sets it: tell it the session's.
    let search_path: Option<String> = s
        .client
        .query_one("SELECT current_setting('search_path')", &[])
        .ok()
        .map(|r| r.get(0));
    let text = match search_path.filter(|sp| sp != "\"$user\", public") {
        Some(sp) => format!(
            "SET search_path = '{}';\n{}",
            sp.replace('\'', "''"),
            p.text
        ),
        None => p.text.clone(),
    };
    let mut effects = match analyse(&text, major, true, schema.clone()) {
        Ok(e) => e,
        Err(e) => {
            // The model could not say anything: that is a disagreement if the server runs it.
            t.details.push(e);
            Vec::new()
        }
    };
    let analyser_failed = !t.details.is_empty();
    if names_private_relation(s, &effects) {
        return Ok(None);
    }
    let resolved = resolve_names(s, &effects);
    let mut run = match s.client.batch_execute("BEGIN") {
        Ok(()) => run_in_transaction(&mut s.client, s.pid, &p.text),
        Err(e) => Err(e),
    };
    let mut commit_error = None;
    match &run {
        Ok(r) if r.error.is_none() => {
            if let Err(e) = s.client.batch_execute("COMMIT") {
                commit_error = Some(error_text(&e));
            }
        }
        _ => {
            let _ = s.client.batch_execute("ROLLBACK");
        }
    }
    if s.client.is_closed() {
        s.reopen()?;
    }
    // Statements that cannot run inside a transaction block run as psql runs them.
    if matches!(&run, Ok(r) if r.sqlstate.as_deref() == Some("25001")) {
        t.sampled = true;
        if !analyser_failed {
            effects = analyse(&text, major, false, schema.clone()).unwrap_or_default();
        }
        // Another transaction with an open snapshot that has read the statement's table holds
        // it in place (a concurrent build waits for the snapshot, DROP INDEX CONCURRENTLY and
        // VACUUM FULL for the lock) while its locks are sampled.
        // (Not the table under SKIP_LOCKED: the statement would skip it.)
        let skips_locked = p.text.to_ascii_uppercase().contains("SKIP_LOCKED");
        let read = main_table(s, &effects)
            .filter(|_| !skips_locked)
            .map(|t| format!("SELECT 1 FROM {t} LIMIT 0"))
            .unwrap_or_else(|| "SELECT 1".into());
        let mut holder = s.cluster.connect_db(&s.db)?;
        if holder
            .batch_execute(&format!("BEGIN ISOLATION LEVEL REPEATABLE READ; {read};"))
            .is_err()
        {
            holder.batch_execute("ROLLBACK; BEGIN ISOLATION LEVEL REPEATABLE READ; SELECT 1;")?;
        }
        let blockers = vec![Blocker {
            client: holder,
            hold: Duration::from_millis(300),
        }];
        s.monitor()?;
        let monitor = s.monitor.as_mut().expect("monitor");
        run = run_concurrently(&mut s.client, monitor, &p.text, major, blockers);
        // A statement the holder did not make wait may have finished between two samples: a
        // lock not seen is then no evidence.
        // Nor is a scan that was not seen: a wait event is no progress phase (VACUUM of a small
        // table scans it between two samples).
        if let Ok(r) = &mut run {
            r.observation.held_in_place = r.phases.iter().any(|p| p.starts_with("waiting on Lock"));
            r.observation
                .phases
                .retain(|p| !p.starts_with("waiting on "));
        }
        if s.client.is_closed() {
            s.reopen()?;
        }
    }
    let run = match run {
        Ok(r) => r,
        Err(e) => {
            t.details
                .push(format!("observing it failed: {}", error_text(&e)));
            if e.as_db_error().is_none() {
                s.reopen()?;
            }
            return Ok(Some(t));
        }
    };
    t.model = model_lines(&effects);
    t.ms[1] = run.duration.as_secs_f64() * 1000.0;
    if let Some(e) = run
        .error
        .clone()
        .or(commit_error.map(|e| format!("at COMMIT: {e}")))
    {
        t.outcome = "server error";
        t.details = vec![e];
        return Ok(Some(t));
    }
    t.observed = observed_lines(&run);
    if analyser_failed {
        t.outcome = "disagree";
        return Ok(Some(t));
    }
    let obs = &run.observation;
    let unsupported: Vec<&str> = effects
        .iter()
        .filter_map(|e| e.fact.and_then(|f| f.unsupported))
        .collect();
    let not_modelled: Vec<&String> = effects
        .iter()
        .filter_map(|e| e.op.not_modelled.as_ref())
        .collect();
    let mut p = Prediction::default();
    for e in &effects {
        if let Some(fact) = e.fact {
            p.add(fact, &e.op, obs);
        }
    }
    t.predicted = prediction_lines(&p);
    let (outcome, details) = if let Some(why) = unsupported.first() {
        (
            "disagree",
            vec![format!("model says unsupported ({why}), the server ran it")],
        )
    } else if !not_modelled.is_empty() {
        (
            "not modelled",
            not_modelled
                .iter()
                .map(|s| format!("not modelled: {s}"))
                .collect(),
        )
    } else {
        let details = check(&p, obs);
        if !details.is_empty() && !resolved.is_empty() {
            let mut p = Prediction::default();
            for e in &effects {
                if let Some(fact) = e.fact {
                    p.add(fact, &qualified(&e.op, &resolved), obs);
                }
            }
            t.search_path_only = check(&p, obs).is_empty();
        }
        (
            if details.is_empty() {
                "agree"
            } else {
                "disagree"
            },
            details,
        )
    };
    // What the relations of the differences are.
    let mut family: BTreeMap<String, &str> = BTreeMap::new();
    for e in &effects {
        if let Some(table) = &e.op.table {
            for (r, is_partition) in schema.descendants(table).unwrap_or_default() {
                family.insert(
                    r.key(),
                    if is_partition {
                        "partition"
                    } else {
                        "inheritance child"
                    },
                );
            }
        }
    }
    for d in &details {
        let rel = d.split([' ', ':']).next().unwrap_or("").to_string();
        let info = obs
            .before
            .by_name
            .get(&rel)
            .or_else(|| obs.after.by_name.get(&rel));
        let kind = match (family.get(&rel), info.map(|i| i.kind)) {
            (Some(f), _) => f,
            (None, Some('S')) => "sequence",
            (None, Some('v')) => "view",
            (None, Some('m')) => "materialized view",
            (None, Some('i' | 'I')) => "index",
            (None, Some('f')) => "foreign table",
            (None, Some('r' | 'p')) => "table",
            _ => continue,
        };
        t.relation_kinds.insert(rel, kind.to_string());
    }
    t.outcome = outcome;
    t.details = details;
    Ok(Some(t))
}

/// Runs one script in database `db` (which must exist), tracing its schema changes.
pub fn run_file(
    cluster: &Cluster,
    db: &str,
    file: &str,
    text: &str,
    opts: &RegressOptions,
) -> Result<FileRun, CatalogueError> {
    let started = Instant::now();
    let mut fr = FileRun {
        file: file.to_string(),
        ..FileRun::default()
    };
    let mut s = Session::open(cluster, db)?;
    let mut script = Script::new(text);
    let mut in_block = false;
    let skip = |fr: &mut FileRun, why: &str| *fr.skipped.entry(why.to_string()).or_default() += 1;
    let untraced = |fr: &mut FileRun, r: Untraced, line: usize, in_block: &mut bool| match r {
        Untraced::Ran => {}
        Untraced::Refused => fr.failed_untraced += 1,
        Untraced::Reopened => {
            fr.failed_untraced += 1;
            fr.reconnects.push(line);
            *in_block = false;
        }
    };
    while let Some(item) = script.next() {
        let p = match item {
            Item::Reconnect { .. } => {
                s.reopen()?;
                in_block = false;
                continue;
            }
            Item::Sql(p) => p,
        };
        fr.statements += 1;
        if Instant::now() > opts.deadline {
            fr.stopped = Some(format!("time budget used up at line {}", p.line));
            skip(&mut fr, "time budget used up (not run)");
            break;
        }
        if p.psql_variable.is_some() {
            skip(&mut fr, "refers to a psql variable (not run)");
            continue;
        }
        let parsed = parse_sql(&p.text).ok();
        let node = parsed
            .as_ref()
            .and_then(|f| f.statements.iter().find_map(|st| st.node.as_ref()));
        let disp = match node {
            Some(n) => disposition(n),
            None => {
                fr.unparsed
                    .push((p.line, p.text.chars().take(100).collect()));
                Disposition::Untraced("does not parse with pg_query (run untraced)")
            }
        };
        match disp {
            Disposition::NotRun(why) => skip(&mut fr, why),
            Disposition::Control(block) => {
                fr.run += 1;
                untraced(
                    &mut fr,
                    run_untraced(&mut s, &mut script, &p, node)?,
                    p.line,
                    &mut in_block,
                );
                if let Some(b) = block {
                    in_block = b;
                }
            }
            Disposition::Other => {
                fr.run += 1;
                untraced(
                    &mut fr,
                    run_untraced(&mut s, &mut script, &p, node)?,
                    p.line,
                    &mut in_block,
                );
            }
            Disposition::Untraced(why) => {
                fr.run += 1;
                skip(&mut fr, why);
                untraced(
                    &mut fr,
                    run_untraced(&mut s, &mut script, &p, node)?,
                    p.line,
                    &mut in_block,
                );
            }
            Disposition::Ddl if in_block => {
                fr.run += 1;
                skip(&mut fr, "inside the file's BEGIN ... COMMIT (run untraced)");
                untraced(
                    &mut fr,
                    run_untraced(&mut s, &mut script, &p, node)?,
                    p.line,
                    &mut in_block,
                );
            }
            Disposition::Ddl => {
                fr.run += 1;
                let node = node.expect("a parsed statement");
                let kind = kind_label(node);
                match trace_statement(&mut s, file, &p, kind, opts.server_major, node)? {
                    Some(t) => fr.traced.push(t),
                    None => {
                        skip(&mut fr, PRIVATE);
                        untraced(
                            &mut fr,
                            run_untraced(&mut s, &mut script, &p, Some(node))?,
                            p.line,
                            &mut in_block,
                        );
                    }
                }
            }
        }
    }
    fr.seconds = started.elapsed().as_secs_f64();
    Ok(fr)
}

/// Drops the file's database, after the subscriptions a file left in it (their slots on the
/// nonexistent publisher are forgotten, not dropped).
fn drop_file_database(cluster: &Cluster, admin: &mut Client) -> Result<(), CatalogueError> {
    if let Ok(mut c) = cluster.connect_db(FILE_DB) {
        let subs = names(
            &mut c,
            "SELECT subname::text FROM pg_subscription WHERE subdbid = (SELECT oid FROM pg_database WHERE datname = current_database())",
        )
        .unwrap_or_default();
        for sub in subs {
            let q = quote_ident(&sub);
            let _ = c.batch_execute(&format!(
                "ALTER SUBSCRIPTION {q} DISABLE; ALTER SUBSCRIPTION {q} SET (slot_name = NONE); DROP SUBSCRIPTION {q}"
            ));
        }
    }
    admin
        .batch_execute(&format!(
            "DROP DATABASE IF EXISTS {} WITH (FORCE)",
            quote_ident(FILE_DB)
        ))
        .map_err(|e| {
            CatalogueError::Postgres(format!("dropping the file's database: {}", error_text(&e)))
        })
}

fn names(client: &mut Client, sql: &str) -> Result<Vec<String>, CatalogueError> {
    Ok(client
        .query(sql, &[])?
        .into_iter()
        .map(|r| r.get(0))
        .collect())
}

const ROLES: &str = "SELECT rolname::text FROM pg_roles ORDER BY 1";
const TABLESPACES: &str = "SELECT spcname::text FROM pg_tablespace ORDER BY 1";

/// Runs the files (name, text) in order: `test_setup.sql` first (always, as the base of the
/// others; reported only when `selected` says so), then each other selected file in a fresh
/// copy of its database. Roles and tablespaces a file creates are dropped after it.
pub fn run_suite(
    cluster: &Cluster,
    files: &[(String, String)],
    selected: impl Fn(&str) -> bool,
    opts: &RegressOptions,
    mut progress: impl FnMut(&FileRun),
) -> Result<SuiteRun, CatalogueError> {
    let started = Instant::now();
    let mut suite = SuiteRun {
        server_version: cluster.version().to_string(),
        ..SuiteRun::default()
    };
    let mut admin = cluster.connect()?;
    admin.batch_execute(&format!("CREATE DATABASE {}", quote_ident(BASE_DB)))?;
    if let Some((name, text)) = files.iter().find(|(n, _)| n == SETUP_FILE) {
        let fr = run_file(cluster, BASE_DB, name, text, opts)?;
        if selected(name) {
            progress(&fr);
            suite.files.push(fr);
        }
    }
    let roles = names(&mut admin, ROLES)?;
    let tablespaces = names(&mut admin, TABLESPACES)?;
    for (name, text) in files.iter().filter(|(n, _)| n != SETUP_FILE && selected(n)) {
        if Instant::now() > opts.deadline {
            suite.left_out.push(name.clone());
            continue;
        }
        admin.batch_execute(&format!(
            "CREATE DATABASE {} TEMPLATE {}",
            quote_ident(FILE_DB),
            quote_ident(BASE_DB)
        ))?;
        let fr = run_file(cluster, FILE_DB, name, text, opts);
        drop_file_database(cluster, &mut admin)?;
        for role in names(&mut admin, ROLES)?
            .into_iter()
            .filter(|r| !roles.contains(r))
        {
            let _ = admin.batch_execute(&format!("DROP ROLE {}", quote_ident(&role)));
        }
        for ts in names(&mut admin, TABLESPACES)?
            .into_iter()
            .filter(|t| !tablespaces.contains(t))
        {
            let _ = admin.batch_execute(&format!("DROP TABLESPACE {}", quote_ident(&ts)));
        }
        let fr = fr?;
        progress(&fr);
        suite.files.push(fr);
    }
    suite.seconds = started.elapsed().as_secs_f64();
    Ok(suite)
}

/// The kinds of difference in a disagreement's details, for grouping.
fn difference_kinds(t: &Traced) -> Vec<String> {
    let mut kinds: Vec<String> = t
        .details
        .iter()
        .map(|d| {
            let kind = difference_kind(d);
            let rel = d.split([' ', ':']).next().unwrap_or("");
            match t.relation_kinds.get(rel) {
                Some(k) if kind.starts_with("unpredicted lock") => format!("{kind} on {k}"),
                _ => kind.to_string(),
            }
        })
        .collect();
    kinds.sort();
    kinds.dedup();
    kinds
}

fn difference_kind(d: &str) -> &'static str {
    if d.starts_with("the analyser panicked") {
        "analyser panic"
    } else if d.starts_with("model says unsupported") {
        "model says unsupported"
    } else if d.contains("which the model does not predict") && d.contains(": observed") {
        "unpredicted lock"
    } else if d.contains("observed no new lock") || d.contains("observed none") {
        "predicted lock not taken"
    } else if d.contains("): model says") {
        let (said, seen) = d
            .split_once("model says ")
            .and_then(|(_, r)| r.split_once(", observed "))
            .unwrap_or(("", ""));
        match (
            pgdiplomat_locks::LockMode::parse(said),
            pgdiplomat_locks::LockMode::parse(seen),
        ) {
            (Some(a), Some(b)) if b > a => "stronger lock than predicted",
            (Some(_), Some(_)) => "weaker lock than predicted",
            _ => "other lock mode",
        }
    } else if d.starts_with("new index") {
        "predicted index not created"
    } else if d.contains("rewritten, which the model does not predict")
        || d.contains("rebuilt, which the model does not predict")
        || d.contains("model says no rewrite")
        || d.contains("model says only indexes are rebuilt")
    {
        "unpredicted rewrite"
    } else if d.contains("model says the table is rewritten") || d.contains("none changed file") {
        "predicted rewrite not done"
    } else if d.contains("scanned (") || d.contains("model says no scan") {
        "unpredicted scan"
    } else if d.contains("model says the table is scanned") {
        "predicted scan not done"
    } else {
        "other"
    }
}

/// A short class for a disagreement: the statement kind and the kinds of difference.
pub fn disagreement_class(t: &Traced) -> String {
    let kind = t.kind.split('+').next().unwrap_or(&t.kind).to_string();
    if t.search_path_only {
        return format!("{kind}{SEARCH_PATH}");
    }
    format!("{kind}: {}", difference_kinds(t).join(" + "))
}

/// The class suffix of disagreements on relations the session reached through its search_path.
pub const SEARCH_PATH: &str = ": only the search_path (unqualified names taken as public)";

fn cell(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace('|', "\\|")
        .replace('\n', " ")
}

fn truncate(s: &str, n: usize) -> String {
    let flat: String = s.split_whitespace().collect::<Vec<_>>().join(" ");
    if flat.chars().count() <= n {
        flat
    } else {
        format!("{}…", flat.chars().take(n).collect::<String>())
    }
}

/// Totals over files.
#[derive(Debug, Default, Clone, Copy)]
pub struct Totals {
    pub files: usize,
    pub statements: usize,
    pub run: usize,
    pub traced: usize,
    pub agree: usize,
    pub disagree: usize,
    pub not_modelled: usize,
    pub server_errors: usize,
    pub harness_errors: usize,
    pub failed_untraced: usize,
    pub skipped: usize,
}

impl Totals {
    pub fn of(files: &[FileRun]) -> Totals {
        let mut t = Totals {
            files: files.len(),
            ..Totals::default()
        };
        for f in files {
            t.statements += f.statements;
            t.run += f.run;
            t.traced += f.traced.len();
            t.agree += f.count("agree");
            t.disagree += f.count("disagree");
            t.not_modelled += f.count("not modelled");
            t.server_errors += f.count("server error");
            t.harness_errors += f.count("harness error");
            t.failed_untraced += f.failed_untraced;
            t.skipped += f.skipped.values().sum::<usize>();
        }
        t
    }

    /// agree / (agree + disagree + not modelled), in percent.
    pub fn agreement(&self) -> f64 {
        let d = self.agree + self.disagree + self.not_modelled;
        if d == 0 {
            100.0
        } else {
            100.0 * self.agree as f64 / d as f64
        }
    }

    pub fn summary(&self) -> String {
        format!(
            "{} files, {} statements ({} run), {} DDL traced: {} agree, {} disagree, {} not modelled, {} server errors, {} harness errors; {} statements not traced for a reason (below); agreement {:.1}% = agree / (agree + disagree + not modelled)",
            self.files,
            self.statements,
            self.run,
            self.traced,
            self.agree,
            self.disagree,
            self.not_modelled,
            self.server_errors,
            self.harness_errors,
            self.skipped,
            self.agreement()
        )
    }
}

/// The markdown report.
pub fn markdown(suite: &SuiteRun) -> String {
    let totals = Totals::of(&suite.files);
    let mut s = String::new();
    s.push_str(&format!("## PostgreSQL {}\n\n", suite.server_version));
    s.push_str(&format!("**{}**.\n\n", totals.summary()));
    s.push_str(&format!(
        "Run time {:.0} s. Untraced statements the server refused (intentional errors, or objects another file of the suite would have made): {}.\n\n",
        suite.seconds, totals.failed_untraced
    ));
    let off_path = suite
        .files
        .iter()
        .flat_map(|f| &f.traced)
        .filter(|t| t.outcome == "disagree" && t.search_path_only)
        .count();
    if off_path > 0 {
        s.push_str(&format!(
            "{off_path} disagreements vanish once the statement's unqualified names are resolved on the session's search_path (the file ran `SET search_path`; the model resolves such names in `public`): counted as agreeing, the agreement would be {:.1}%.\n\n",
            100.0 * (totals.agree + off_path) as f64 / (totals.agree + totals.disagree + totals.not_modelled).max(1) as f64
        ));
    }
    if !suite.left_out.is_empty() {
        s.push_str(&format!(
            "Left out (time budget): {}.\n\n",
            suite.left_out.join(", ")
        ));
    }
    let mut reasons: BTreeMap<&str, usize> = BTreeMap::new();
    for f in &suite.files {
        for (r, n) in &f.skipped {
            *reasons.entry(r.as_str()).or_default() += n;
        }
    }
    s.push_str("### Not traced\n\n| reason | statements |\n|---|---:|\n");
    for (r, n) in &reasons {
        s.push_str(&format!("| {} | {n} |\n", cell(r)));
    }
    let all: Vec<&Traced> = suite.files.iter().flat_map(|f| &f.traced).collect();
    // Per statement kind.
    let mut kinds: BTreeMap<String, [usize; 4]> = BTreeMap::new();
    for t in &all {
        let k = t.kind.split(' ').take(2).collect::<Vec<_>>().join(" ");
        let e = kinds.entry(k).or_default();
        match t.outcome {
            "agree" => e[0] += 1,
            "disagree" => e[1] += 1,
            "not modelled" => e[2] += 1,
            _ => e[3] += 1,
        }
    }
    s.push_str("\n### By statement kind\n\n| kind | agree | disagree | not modelled | server / harness errors |\n|---|---:|---:|---:|---:|\n");
    let mut kinds: Vec<_> = kinds.into_iter().collect();
    kinds.sort_by_key(|(k, c)| (std::cmp::Reverse(c[0] + c[1] + c[2]), k.clone()));
    for (k, c) in kinds {
        s.push_str(&format!(
            "| {} | {} | {} | {} | {} |\n",
            cell(&k),
            c[0],
            c[1],
            c[2],
            c[3]
        ));
    }
    // Disagreement classes.
    let disagreements: Vec<&&Traced> = all.iter().filter(|t| t.outcome == "disagree").collect();
    let mut classes: BTreeMap<String, Vec<&Traced>> = BTreeMap::new();
    for t in &disagreements {
        classes.entry(disagreement_class(t)).or_default().push(t);
    }
    let mut classes: Vec<_> = classes.into_iter().collect();
    classes.sort_by_key(|(c, v)| (std::cmp::Reverse(v.len()), c.clone()));
    s.push_str(concat!(
        "\n### Disagreement classes\n\n",
        "A class is the statement kind and the kinds of difference (`compare::check`): *unpredicted lock on X*: ",
        "PostgreSQL took a lock stronger than ACCESS SHARE (ROW EXCLUSIVE on a sequence) on an existing relation ",
        "the model does not mention, X being a partition or inheritance child of the statement's table (as the ",
        "schema the model was given knows it), a sequence, a view, another table; *predicted lock not taken*; ",
        "*stronger / weaker lock than predicted*; *predicted scan / rewrite not done*; *unpredicted scan / rewrite*; ",
        "*only the search_path*: the difference vanishes once the statement's unqualified names are resolved on ",
        "the session's search_path.\n\n",
        "| class | count | examples |\n|---|---:|---|\n"
    ));
    for (c, v) in &classes {
        let ex: Vec<String> = v
            .iter()
            .take(2)
            .map(|t| {
                format!(
                    "{}:{} `{}`",
                    t.file,
                    t.line,
                    cell(&truncate(&t.sql, 80)).replace('`', "'")
                )
            })
            .collect();
        s.push_str(&format!(
            "| {} | {} | {} |\n",
            cell(c),
            v.len(),
            ex.join("<br>")
        ));
    }
    // Not modelled, by reason.
    let mut nm: BTreeMap<String, usize> = BTreeMap::new();
    for t in all.iter().filter(|t| t.outcome == "not modelled") {
        for d in &t.details {
            *nm.entry(d.trim_start_matches("not modelled: ").to_string())
                .or_default() += 1;
        }
    }
    let mut nm: Vec<_> = nm.into_iter().collect();
    nm.sort_by_key(|(r, n)| (std::cmp::Reverse(*n), r.clone()));
    s.push_str("\n### Not modelled, by what the model says\n\n| the model says | statements |\n|---|---:|\n");
    for (r, n) in nm {
        s.push_str(&format!("| {} | {n} |\n", cell(&truncate(&r, 120))));
    }
    // Files.
    s.push_str("\n### Files\n\n| file | statements | traced | agree | disagree | not modelled | server errors | seconds | note |\n|---|---:|---:|---:|---:|---:|---:|---:|---|\n");
    for f in &suite.files {
        s.push_str(&format!(
            "| {} | {} | {} | {} | {} | {} | {} | {:.1} | {} |\n",
            f.file,
            f.statements,
            f.traced.len(),
            f.count("agree"),
            f.count("disagree"),
            f.count("not modelled"),
            f.count("server error"),
            f.seconds,
            cell(f.stopped.as_deref().unwrap_or(""))
        ));
    }
    // Every disagreement (and harness error).
    s.push_str("\n### Every disagreement\n\n| where | statement | model | PostgreSQL did | differences | class |\n|---|---|---|---|---|---|\n");
    for t in all
        .iter()
        .filter(|t| matches!(t.outcome, "disagree" | "harness error"))
    {
        let class = if t.outcome == "disagree" {
            disagreement_class(t)
        } else {
            "harness error".into()
        };
        s.push_str(&format!(
            "| {}:{} | `{}` | {} | {} | {} | {} |\n",
            t.file,
            t.line,
            cell(&truncate(&t.sql, 100)).replace('`', "'"),
            cell(
                &[t.model.join("; "), t.predicted.join(", ")]
                    .iter()
                    .filter(|x| !x.is_empty())
                    .cloned()
                    .collect::<Vec<_>>()
                    .join(" → ")
            ),
            cell(&t.observed.join(", ")),
            cell(&t.details.join("; ")),
            cell(&class)
        ));
    }
    s
}
