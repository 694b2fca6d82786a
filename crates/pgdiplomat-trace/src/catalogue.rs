//! The differential catalogue: every row of the lock table, run on a real server against a
//! fixture schema, and compared with the model for that server's version.
//!
//! Each row's `example` (in `pgdiplomat-locks`) is the traced statement; [`setup_for`] gives the
//! extra state some examples need (a NOT VALID constraint to validate, ...). Statements that may
//! run in a transaction run as `BEGIN; setup; <traced>; ROLLBACK` on one database; the others
//! (CONCURRENTLY, VACUUM) run in autocommit on a fresh copy of the fixture while a second
//! connection samples them, held in place by a third connection's open transaction.

use std::time::Duration;

use pgdiplomat_analysis::analyze::{AnalysisOptions, Analyzer};
use pgdiplomat_analysis::parse::parse_sql;
use pgdiplomat_locks::{LockFact, StatementForm as F, TransactionUse, LOCK_TABLE};
use pgdiplomat_pg::postgres::Client;
use pgdiplomat_pg::{quote_ident, Cluster};

use crate::compare::compare;
use crate::run::{backend_pid, run_concurrently, run_in_transaction, Blocker};

/// Rows in each fixture table: enough that scans are visible and index builds take real work.
pub const FIXTURE_ROWS: i32 = 2000;

/// The schema every example runs against. `ts1` (a second tablespace) is created separately.
pub const FIXTURE: &str = "
CREATE TABLE pk (id int PRIMARY KEY);
INSERT INTO pk SELECT g FROM generate_series(1, 2000) g;
CREATE TABLE t (
    id int PRIMARY KEY, a int, b varchar(10), c numeric(10,2), d text, e int, ts timestamp,
    ref_id int, g int GENERATED ALWAYS AS (a * 2) STORED
);
CREATE INDEX t_a_idx ON t (a);
CREATE INDEX t_b_idx ON t (b);
INSERT INTO t (id, a, b, c, d, e, ts, ref_id)
  SELECT g, g, 'v' || g, g, 'text ' || g, g, now(), g FROM generate_series(1, 2000) g;
CREATE TABLE t2 (id int, v int);
INSERT INTO t2 SELECT g, g FROM generate_series(1, 2000) g;
CREATE TABLE parted (id int, v int) PARTITION BY RANGE (id);
CREATE TABLE parted_1 PARTITION OF parted FOR VALUES FROM (0) TO (100);
INSERT INTO parted SELECT g, g FROM generate_series(0, 99) g;
CREATE TABLE parted_2 (id int, v int);
INSERT INTO parted_2 SELECT g, g FROM generate_series(100, 199) g;
CREATE TABLE inh_parent (id int);
CREATE TABLE inh_child (id int, v int);
CREATE MATERIALIZED VIEW mv AS SELECT id, a FROM t;
CREATE UNIQUE INDEX mv_id ON mv (id);
CREATE TYPE mood AS ENUM ('sad', 'happy');
CREATE FUNCTION trg_fn() RETURNS trigger LANGUAGE plpgsql AS $$BEGIN RETURN NEW; END$$;
CREATE TRIGGER t_trg BEFORE UPDATE ON t FOR EACH ROW EXECUTE FUNCTION trg_fn();
CREATE SCHEMA other;
CREATE TABLE empty_t (id int);
CREATE ACCESS METHOD heap2 TYPE TABLE HANDLER heap_tableam_handler;
ANALYZE;
";

/// Extra state an example needs, run in the same transaction before the traced statement.
pub fn setup_for(form: F) -> &'static str {
    match form {
        F::SetNotNullProvenByCheck => "ALTER TABLE t ADD CONSTRAINT t_a_nn CHECK (a IS NOT NULL);",
        F::DropNotNull | F::AddIdentity => "ALTER TABLE t ALTER COLUMN a SET NOT NULL;",
        F::AddUniqueUsingIndex => "CREATE UNIQUE INDEX t_d_uidx ON t (d);",
        F::AddPrimaryKeyUsingIndex => "ALTER TABLE t2 ALTER COLUMN id SET NOT NULL; CREATE UNIQUE INDEX t2_id_uidx ON t2 (id);",
        F::ValidateCheck | F::DropConstraint | F::RenameConstraint => {
            "ALTER TABLE t ADD CONSTRAINT t_a_pos CHECK (a > 0) NOT VALID;"
        }
        F::ValidateForeignKey | F::DropForeignKey => {
            "ALTER TABLE t ADD CONSTRAINT t_ref_fk FOREIGN KEY (ref_id) REFERENCES pk (id) NOT VALID;"
        }
        F::SetLogged => "ALTER TABLE t SET UNLOGGED;",
        F::AttachIndexPartition => {
            "CREATE INDEX parted_v_idx ON ONLY parted (v); CREATE INDEX parted_1_v_idx ON parted_1 (v);"
        }
        F::ReindexPartitioned => {
            "CREATE TABLE t_rp (id int, v int) PARTITION BY RANGE (id); \
             CREATE TABLE t_rp_1 PARTITION OF t_rp FOR VALUES FROM (0) TO (100); \
             INSERT INTO t_rp SELECT g, g FROM generate_series(0, 99) g; \
             CREATE INDEX t_rp_v_idx ON t_rp (v);"
        }
        F::Vacuum => "SET vacuum_cost_delay = 20; SET vacuum_cost_limit = 1;",
        F::CreateOrReplaceView | F::DropView => "CREATE VIEW v AS SELECT id, a FROM t;",
        F::DropRule | F::RenameRule => {
            "CREATE RULE t2_no_delete AS ON DELETE TO t2 DO INSTEAD NOTHING;"
        }
        F::AlterSequence | F::RenameSequence | F::DropSequence => "CREATE SEQUENCE t_seq;",
        F::AlterColumnTypeRecheck => {
            "ALTER TABLE t ADD COLUMN chk varchar(30) DEFAULT 'x' CHECK (length(chk) < 30);"
        }
        F::AlterColumnTypeRebuildIndex => {
            "ALTER TABLE t ADD COLUMN lbl varchar(30) DEFAULT 'x'; CREATE INDEX t_lower_lbl_idx ON t (lower(lbl));"
        }
        F::AlterIndexSetStorageExclusive => "CREATE INDEX t_d_gin ON t USING gin (to_tsvector('simple', d));",
        F::AlterDomainCheck => "CREATE DOMAIN t_dom AS int; ALTER TABLE t2 ADD COLUMN dv t_dom DEFAULT 1;",
        F::AlterDomainCatalogOnly => "CREATE DOMAIN t_dom AS int NOT NULL; ALTER TABLE t2 ADD COLUMN dv t_dom DEFAULT 1;",
        F::DropInherit => "ALTER TABLE inh_child INHERIT inh_parent;",
        F::AlterIndexSetStatistics => "CREATE INDEX t_expr_idx ON t ((a + 1));",
        F::AlterSequenceSetLogged => "CREATE SEQUENCE t_seq;",
        F::CreateIndexSkipped => "CREATE INDEX t_e_idx ON t (e);",
        F::AddPrimaryKeyUsingIndexSetsNotNull => "CREATE UNIQUE INDEX t2_v_uidx ON t2 (v);",
        F::AlterPublicationTables | F::PublicationCatalogOnly => "CREATE PUBLICATION t_pub FOR TABLE t;",
        F::DropType => "CREATE TYPE t_mood AS ENUM ('a');",
        F::DropOwned => "CREATE ROLE t_owner;",
        F::ReassignOwned => "CREATE ROLE t_owner2;",
        F::DropObject => "CREATE FUNCTION t_noop() RETURNS int LANGUAGE sql AS 'SELECT 1';",
        F::DropStatistics => "CREATE STATISTICS t_st (dependencies) ON a, e FROM t;",
        F::AlterTableNoMove => "CREATE TABLE t_nm (id int) USING heap TABLESPACE pg_default;",
        F::AlterIndexNoMove => "CREATE INDEX t_nm_idx ON t (a) TABLESPACE pg_default;",
        F::AttachPartitionUnchecked => {
            "CREATE TABLE t_lp (id int) PARTITION BY LIST (id); CREATE TABLE t_lp_d (id int); INSERT INTO t_lp_d VALUES (1);"
        }
        F::DropForeignTable | F::AlterForeignTableRows => {
            "CREATE FOREIGN DATA WRAPPER t_fdw; CREATE SERVER t_srv FOREIGN DATA WRAPPER t_fdw; CREATE FOREIGN TABLE t_ft (id int) SERVER t_srv;"
        }
        F::SetIdentity => "ALTER TABLE t ADD COLUMN idn int GENERATED BY DEFAULT AS IDENTITY;",
        F::AlterConstraint => {
            "ALTER TABLE t ADD CONSTRAINT t_ref_fk FOREIGN KEY (ref_id) REFERENCES pk (id) NOT VALID;"
        }
        _ => "",
    }
}

/// Reads that blocking connections keep open (each in its own REPEATABLE READ transaction,
/// released one after another) while a concurrent statement runs, so that each of its lock
/// phases waits long enough to be sampled. Index lookups, so they add no table scan.
fn blockers_for(form: F) -> &'static [&'static str] {
    match form {
        // Phase 1 waits for users of the parent; phase 2 needs ACCESS EXCLUSIVE on the partition.
        F::DetachPartitionConcurrently => &[
            "SELECT 1 FROM parted WHERE id = 1",
            "SELECT 1 FROM parted_1 WHERE id = 1",
        ],
        F::Vacuum => &[],
        _ => &["SELECT 1 FROM t WHERE id = 1"],
    }
}

/// The result of one catalogue row on one server.
#[derive(Debug, Clone, serde::Serialize)]
pub struct CaseResult {
    pub form: String,
    pub title: &'static str,
    pub sql: &'static str,
    /// `agree`, `disagree`, `error`, or `unsupported` (the model says the version lacks it and
    /// the server refused it).
    pub outcome: &'static str,
    pub details: Vec<String>,
    pub observed_locks: Vec<String>,
    pub rewritten: Vec<String>,
    pub scanned: Vec<String>,
}

/// Errors setting up the catalogue (not disagreements).
#[derive(Debug, thiserror::Error)]
pub enum CatalogueError {
    #[error(transparent)]
    Cluster(#[from] pgdiplomat_pg::ClusterError),
    #[error("{0}")]
    Postgres(String),
    #[error("cannot create the tablespace directory: {0}")]
    Io(#[from] std::io::Error),
}

impl From<pgdiplomat_pg::postgres::Error> for CatalogueError {
    fn from(e: pgdiplomat_pg::postgres::Error) -> Self {
        CatalogueError::Postgres(crate::run::error_text(&e))
    }
}

/// Creates the fixture database (and the `ts1` tablespace) in `cluster`.
pub fn create_fixture(cluster: &Cluster) -> Result<(), CatalogueError> {
    use std::os::unix::fs::MetadataExt;
    let ts_dir = cluster.dir().join("ts1");
    std::fs::create_dir_all(&ts_dir)?;
    let meta = std::fs::metadata(cluster.data_dir())?;
    std::os::unix::fs::chown(&ts_dir, Some(meta.uid()), Some(meta.gid()))?;
    let mut admin = cluster.connect()?;
    admin.batch_execute(&format!(
        "CREATE TABLESPACE ts1 LOCATION '{}'",
        ts_dir.display()
    ))?;
    admin.batch_execute("CREATE DATABASE fixture")?;
    let mut fx = cluster.connect_db("fixture")?;
    fx.batch_execute(FIXTURE)?;
    drop(fx);
    admin.batch_execute("CREATE DATABASE work TEMPLATE fixture")?;
    Ok(())
}

fn operation_for(fact: &LockFact, version: u32) -> Option<pgdiplomat_analysis::model::Operation> {
    let sql = format!("{}\n{};", setup_for(fact.form), fact.example);
    let parsed = parse_sql(&sql).ok()?;
    let mut analyzer = Analyzer::new(AnalysisOptions {
        pg_version: version,
        assume_in_transaction: false,
    });
    let analysis = analyzer.analyze_file(&parsed);
    let last = analysis.statements.last()?;
    // The effect of the row's form; else the first one (its names are what matter).
    last.effects
        .iter()
        .find(|e| e.op.form == Some(fact.form))
        .or(last.effects.first())
        .map(|e| e.op.clone())
}

/// Runs every lock-table row supported or not on `version`, one by one.
pub fn run_catalogue(cluster: &Cluster, version: u32) -> Result<Vec<CaseResult>, CatalogueError> {
    create_fixture(cluster)?;
    let mut work = cluster.connect_db("work")?;
    // Scan counters of this transaction only; a fresh transaction per case.
    let pid = backend_pid(&mut work)?;
    let rows: Vec<&LockFact> = LOCK_TABLE
        .iter()
        .filter(|f| f.since <= version && version <= f.until)
        .collect();
    let mut results = Vec::new();
    for (n, fact) in rows.into_iter().enumerate() {
        let result = if fact.transaction == TransactionUse::Forbidden && fact.unsupported.is_none()
        {
            run_concurrent_case(cluster, fact, version, n)?
        } else if !setup_for(fact.form).is_empty() {
            run_committed_setup_case(cluster, fact, version, n)?
        } else {
            run_transaction_case(&mut work, pid, fact, version)?
        };
        results.push(result);
    }
    Ok(results)
}

fn result(fact: &LockFact, outcome: &'static str, details: Vec<String>) -> CaseResult {
    CaseResult {
        form: format!("{:?}", fact.form),
        title: fact.title,
        sql: fact.example,
        outcome,
        details,
        observed_locks: Vec::new(),
        rewritten: Vec::new(),
        scanned: Vec::new(),
    }
}

fn finish(fact: &LockFact, version: u32, run: crate::run::Run) -> CaseResult {
    if let Some(why) = fact.unsupported {
        return match run.error {
            Some(e) => result(
                fact,
                "unsupported",
                vec![format!("server refused it as the model says ({why}): {e}")],
            ),
            None => result(
                fact,
                "disagree",
                vec![format!("model says unsupported ({why}), the server ran it")],
            ),
        };
    }
    if let Some(e) = run.error {
        return result(fact, "error", vec![e]);
    }
    let Some(op) = operation_for(fact, version) else {
        return result(
            fact,
            "error",
            vec!["the example does not classify to an operation".into()],
        );
    };
    let details = compare(fact, &op, &run.observation);
    let obs = &run.observation;
    let mut r = result(
        fact,
        if details.is_empty() {
            "agree"
        } else {
            "disagree"
        },
        details,
    );
    r.observed_locks = crate::observe::strongest(&obs.locks)
        .into_iter()
        .map(|(n, m)| format!("{n}: {m}"))
        .collect();
    r.rewritten = obs.rewritten.clone();
    r.scanned = obs
        .scanned
        .iter()
        .map(|(n, rows)| format!("{n} ({rows} rows)"))
        .collect();
    r
}

fn run_transaction_case(
    work: &mut Client,
    pid: i32,
    fact: &LockFact,
    version: u32,
) -> Result<CaseResult, CatalogueError> {
    work.batch_execute("BEGIN")?;
    let setup = setup_for(fact.form);
    if !setup.is_empty() {
        if let Err(e) = work.batch_execute(setup) {
            let _ = work.batch_execute("ROLLBACK");
            return Ok(result(
                fact,
                "error",
                vec![format!("setup failed: {}", crate::run::error_text(&e))],
            ));
        }
    }
    let run = run_in_transaction(work, pid, fact.example)?;
    work.batch_execute("ROLLBACK")?;
    Ok(finish(fact, version, run))
}

/// Runs `case` in a fresh copy of the fixture database `case_<n>`, dropped afterwards.
fn in_fresh_database(
    cluster: &Cluster,
    n: usize,
    case: impl FnOnce(&str) -> Result<CaseResult, CatalogueError>,
) -> Result<CaseResult, CatalogueError> {
    let db = format!("case_{n}");
    let mut admin = cluster.connect()?;
    admin.batch_execute(&format!(
        "CREATE DATABASE {} TEMPLATE fixture",
        quote_ident(&db)
    ))?;
    let outcome = case(&db);
    admin.batch_execute(&format!(
        "DROP DATABASE IF EXISTS {} WITH (FORCE)",
        quote_ident(&db)
    ))?;
    outcome
}

/// A case whose setup must be committed first, so the traced statement's locks are its own.
fn run_committed_setup_case(
    cluster: &Cluster,
    fact: &LockFact,
    version: u32,
    n: usize,
) -> Result<CaseResult, CatalogueError> {
    in_fresh_database(cluster, n, |db| {
        let mut client = cluster.connect_db(db)?;
        client.batch_execute(setup_for(fact.form))?;
        let pid = backend_pid(&mut client)?;
        client.batch_execute("BEGIN")?;
        let run = run_in_transaction(&mut client, pid, fact.example)?;
        client.batch_execute("ROLLBACK")?;
        Ok(finish(fact, version, run))
    })
}

fn run_concurrent_case(
    cluster: &Cluster,
    fact: &LockFact,
    version: u32,
    n: usize,
) -> Result<CaseResult, CatalogueError> {
    in_fresh_database(cluster, n, |db| {
        let mut client = cluster.connect_db(db)?;
        let mut monitor = cluster.connect_db(db)?;
        let setup = setup_for(fact.form);
        if !setup.is_empty() {
            client.batch_execute(setup)?;
        }
        let mut blockers = Vec::new();
        for (i, sql) in blockers_for(fact.form).iter().enumerate() {
            let mut b = cluster.connect_db(db)?;
            b.batch_execute(&format!("BEGIN ISOLATION LEVEL REPEATABLE READ; {sql};"))?;
            blockers.push(Blocker {
                client: b,
                hold: Duration::from_millis(300 * (i as u64 + 1)),
            });
        }
        let run = run_concurrently(&mut client, &mut monitor, fact.example, version, blockers)?;
        Ok(finish(fact, version, run))
    })
}

/// A markdown table of results.
pub fn markdown(results: &[CaseResult]) -> String {
    let mut s = String::from("| statement | outcome | observed locks | rewritten | scanned | notes |\n|---|---|---|---|---|---|\n");
    for r in results {
        let cell = |v: &[String]| {
            if v.is_empty() {
                String::new()
            } else {
                v.join("; ")
            }
        };
        s.push_str(&format!(
            "| {} | {} | {} | {} | {} | {} |\n",
            r.title,
            r.outcome,
            cell(&r.observed_locks),
            cell(&r.rewritten),
            cell(&r.scanned),
            cell(&r.details).replace('|', "\\|")
        ));
    }
    s
}
