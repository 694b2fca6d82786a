//! Impact benchmark: what a migration does to a running application.
//!
//! An embedded PostgreSQL cluster gets a `users_user` table of `--rows` rows (unique emails) and
//! a steady, rate-limited application load: `--clients` connections, each running
//! `BEGIN; SELECT one user by id; UPDATE another user's updated_at; COMMIT` on a fixed schedule
//! (`--rate` transactions per second in total). Latency is measured from each transaction's
//! *scheduled* start, so time spent queued behind a lock counts (as with `pgbench -R`).
//!
//! Each scenario runs on a fresh copy of the table (`CREATE DATABASE ... TEMPLATE`):
//!
//! 1. `--baseline-secs` of load alone (the first second is warm-up and not counted);
//! 2. at t0 another session opens a transaction that holds ACCESS SHARE on the table for
//!    `--long-txn-secs` (`BEGIN; SELECT count(*) ... WHERE id = 1; SELECT pg_sleep(S); COMMIT`);
//! 3. at t0 + 1 s the migration starts:
//!    * `naive`: `psql -f examples/seed/naive.sql` (`ALTER TABLE ... ADD CONSTRAINT unq_email
//!      UNIQUE (email)` inside BEGIN/COMMIT);
//!    * `apply`: `pgdiplomat apply examples/seed/safe.sql` (`CREATE UNIQUE INDEX CONCURRENTLY`,
//!      then `ADD CONSTRAINT ... UNIQUE USING INDEX` under lock_timeout with retries);
//! 4. the load continues until the migration has finished plus `--tail-secs`.
//!
//! For every scenario it reports the application's p50/p99/max latency and failed transactions
//! in the baseline and from the migration's start to the end of the load, the migration's wall
//! time and whether the constraint exists afterwards, then checks the target: with `apply`, max
//! latency <= baseline max + lock_timeout + 50 ms and no failed application transactions.
//!
//! ```text
//! cargo build --release -p pgdiplomat
//! cargo run --release -p pgdiplomat-apply --example bench_impact -- \
//!     [--rows N] [--long-txn-secs S] [--clients C] [--rate TPS] [--runs N] \
//!     [--baseline-secs S] [--tail-secs S] [--lock-timeout-ms MS] [--out docs/impact-benchmark.md]
//! ```
//!
//! `scripts/bench-impact` does both with the defaults (1,000,000 rows, 10 s long transaction).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use pgdiplomat_pg::postgres::{self, Client, NoTls};
use pgdiplomat_pg::{Cluster, ClusterOptions};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

type Res<T> = Result<T, Box<dyn std::error::Error + Send + Sync>>;

const APP_NAME: &str = "bench-app";
const WARMUP: Duration = Duration::from_secs(1);
const MIGRATION_DELAY: Duration = Duration::from_secs(1);

#[derive(Debug, Clone)]
struct Config {
    rows: i64,
    long_txn_secs: f64,
    clients: usize,
    rate: f64,
    runs: usize,
    baseline_secs: f64,
    tail_secs: f64,
    lock_timeout_ms: u64,
    out: Option<PathBuf>,
    pgdiplomat: PathBuf,
}

const USAGE: &str = "usage: bench_impact [--rows N] [--long-txn-secs S] [--clients C] [--rate TPS] \
[--runs N] [--baseline-secs S] [--tail-secs S] [--lock-timeout-ms MS] [--out FILE] [--pgdiplomat BIN]";

fn parse_args() -> Res<Config> {
    let default_bin = std::env::var_os("PGDIPLOMAT_BIN")
        .map(PathBuf::from)
        .or_else(|| {
            // target/release/examples/bench_impact -> target/release/pgdiplomat
            let exe = std::env::current_exe().ok()?;
            Some(exe.parent()?.parent()?.join("pgdiplomat"))
        })
        .unwrap_or_else(|| PathBuf::from("pgdiplomat"));
    let mut c = Config {
        rows: 1_000_000,
        long_txn_secs: 10.0,
        clients: 8,
        rate: 300.0,
        runs: 3,
        baseline_secs: 5.0,
        tail_secs: 2.0,
        lock_timeout_ms: 100,
        out: None,
        pgdiplomat: default_bin,
    };
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        if flag == "-h" || flag == "--help" {
            println!("{USAGE}");
            std::process::exit(0);
        }
        let value = args
            .next()
            .ok_or_else(|| format!("{flag} needs a value\n{USAGE}"))?;
        let bad = |e: &dyn std::fmt::Display| format!("{flag} {value}: {e}");
        match flag.as_str() {
            "--rows" => c.rows = value.parse().map_err(|e| bad(&e))?,
            "--long-txn-secs" => c.long_txn_secs = value.parse().map_err(|e| bad(&e))?,
            "--clients" => c.clients = value.parse().map_err(|e| bad(&e))?,
            "--rate" => c.rate = value.parse().map_err(|e| bad(&e))?,
            "--runs" => c.runs = value.parse().map_err(|e| bad(&e))?,
            "--baseline-secs" => c.baseline_secs = value.parse().map_err(|e| bad(&e))?,
            "--tail-secs" => c.tail_secs = value.parse().map_err(|e| bad(&e))?,
            "--lock-timeout-ms" => c.lock_timeout_ms = value.parse().map_err(|e| bad(&e))?,
            "--out" => c.out = Some(PathBuf::from(value)),
            "--pgdiplomat" => c.pgdiplomat = PathBuf::from(value),
            _ => return Err(format!("unknown option {flag}\n{USAGE}").into()),
        }
    }
    if c.rows < 1 || c.clients < 1 || c.rate <= 0.0 || c.runs < 1 {
        return Err(
            format!("--rows, --clients, --rate and --runs must be positive\n{USAGE}").into(),
        );
    }
    if c.baseline_secs <= WARMUP.as_secs_f64() {
        return Err("--baseline-secs must be more than the 1 s warm-up".into());
    }
    if !c.pgdiplomat.is_file() {
        return Err(format!(
            "{} not found: build it first (cargo build --release -p pgdiplomat) or pass --pgdiplomat",
            c.pgdiplomat.display()
        )
        .into());
    }
    Ok(c)
}

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

// ---------------------------------------------------------------------------------------------
// Application load
// ---------------------------------------------------------------------------------------------

/// One application transaction: when it was scheduled (since the scenario's origin), how long it
/// took from then until its COMMIT returned, and whether it failed.
#[derive(Debug, Clone, Copy)]
struct Sample {
    sched: Duration,
    latency: Duration,
    ok: bool,
}

#[derive(Default)]
struct LoadResult {
    samples: Vec<Sample>,
    errors: BTreeMap<String, u64>,
}

fn app_client(port: u16, db: &str) -> Result<Client, postgres::Error> {
    postgres::Config::new()
        .host("127.0.0.1")
        .port(port)
        .user(pgdiplomat_pg::SUPERUSER)
        .dbname(db)
        .application_name(APP_NAME)
        .connect_timeout(Duration::from_secs(10))
        .connect(NoTls)
}

/// What one load client connects to and when it runs.
struct ClientSpec {
    port: u16,
    db: String,
    rows: i64,
    seed: u64,
    /// Time zero of the scenario; [`Sample::sched`] is measured from it.
    origin: Instant,
    /// The first scheduled transaction.
    first: Instant,
    interval: Duration,
}

/// Runs one load client until `stop`: open-loop, one transaction every `interval`, starting at
/// `first`; a client that falls behind (blocked by a lock) runs its backlog as fast as it can,
/// and those transactions' latencies include the time they waited to start.
fn load_client(spec: ClientSpec, stop: Arc<AtomicBool>) -> LoadResult {
    let ClientSpec {
        port,
        db,
        rows,
        seed,
        origin,
        first,
        interval,
    } = spec;
    let mut out = LoadResult::default();
    let mut rng = StdRng::seed_from_u64(seed);
    // Connect before the schedule starts; a lost connection is re-established lazily below.
    let mut client: Option<Client> = app_client(port, &db).ok();
    let mut next = first;
    while !stop.load(Ordering::Relaxed) {
        let now = Instant::now();
        if next > now {
            thread::sleep(next - now);
        }
        if stop.load(Ordering::Relaxed) {
            break;
        }
        let (id, id2) = (rng.gen_range(1..=rows), rng.gen_range(1..=rows));
        let result = (|| -> Result<(), postgres::Error> {
            if client.as_ref().is_none_or(|c| c.is_closed()) {
                client = Some(app_client(port, &db)?);
            }
            let c = client.as_mut().expect("connected above");
            let mut tx = c.transaction()?;
            tx.query_opt(
                "SELECT id, email, username, updated_at FROM users_user WHERE id = $1",
                &[&id],
            )?;
            tx.execute(
                "UPDATE users_user SET updated_at = now() WHERE id = $1",
                &[&id2],
            )?;
            tx.commit()
        })();
        let done = Instant::now();
        if let Err(e) = &result {
            let msg = pgdiplomat_apply::execute::error_text(e);
            *out.errors.entry(msg).or_default() += 1;
        }
        out.samples.push(Sample {
            sched: next - origin,
            latency: done - next,
            ok: result.is_ok(),
        });
        next += interval;
    }
    out
}

/// Samples, every 20 ms, how many application sessions wait for a heavyweight lock.
fn lock_sampler(cluster_port: u16, db: String, stop: Arc<AtomicBool>, max: Arc<AtomicI64>) {
    let Ok(mut c) = app_client(cluster_port, &db) else {
        return;
    };
    let _ = c.batch_execute("SET application_name = 'bench-monitor'");
    while !stop.load(Ordering::Relaxed) {
        if let Ok(row) = c.query_one(
            "SELECT count(*) FROM pg_stat_activity WHERE application_name = $1 AND wait_event_type = 'Lock'",
            &[&APP_NAME],
        ) {
            max.fetch_max(row.get::<_, i64>(0), Ordering::Relaxed);
        }
        thread::sleep(Duration::from_millis(20));
    }
}

// ---------------------------------------------------------------------------------------------
// Scenarios
// ---------------------------------------------------------------------------------------------

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Scenario {
    /// `psql -f examples/seed/naive.sql`.
    Naive,
    /// `pgdiplomat apply examples/seed/safe.sql`.
    Apply,
    /// Supplementary: the unique index is built (CONCURRENTLY) before the load starts and apply
    /// runs only safe.sql's second statement, so the ACCESS EXCLUSIVE step meets the long
    /// transaction and has to negotiate (lock_timeout, rollback, backoff, retry).
    ApplyAttach,
}

impl Scenario {
    fn name(self) -> &'static str {
        match self {
            Scenario::Naive => "naive (psql)",
            Scenario::Apply => "pgdiplomat apply",
            Scenario::ApplyAttach => "apply, attach step only",
        }
    }

    fn slug(self) -> &'static str {
        match self {
            Scenario::Naive => "naive",
            Scenario::Apply => "apply",
            Scenario::ApplyAttach => "attach",
        }
    }
}

#[derive(Debug, Clone, Copy, Default)]
struct Stats {
    count: usize,
    failed: usize,
    p50: Duration,
    p99: Duration,
    max: Duration,
}

fn stats<'a>(samples: impl Iterator<Item = &'a Sample>) -> Stats {
    let mut lat: Vec<Duration> = Vec::new();
    let mut failed = 0;
    for s in samples {
        lat.push(s.latency);
        if !s.ok {
            failed += 1;
        }
    }
    lat.sort_unstable();
    // Nearest-rank percentiles.
    let pct = |p: f64| -> Duration {
        if lat.is_empty() {
            return Duration::ZERO;
        }
        let rank = ((p / 100.0) * lat.len() as f64).ceil() as usize;
        lat[rank.clamp(1, lat.len()) - 1]
    };
    Stats {
        count: lat.len(),
        failed,
        p50: pct(50.0),
        p99: pct(99.0),
        max: lat.last().copied().unwrap_or_default(),
    }
}

struct Outcome {
    scenario: Scenario,
    run: usize,
    baseline: Stats,
    during: Stats,
    all_failed: usize,
    errors: BTreeMap<String, u64>,
    migration_time: Duration,
    migration_ok: bool,
    constraint: bool,
    max_waiting: i64,
    /// How long the long transaction still had to run when the migration started.
    long_txn_remaining: Duration,
    /// The migration's output, each line stamped with seconds since the migration started.
    log: Vec<(f64, String)>,
    retries: usize,
    /// Latencies over baseline max + lock_timeout + 50 ms, during the migration.
    over_budget: usize,
}

/// A client program of the server's installation: next to `postgres`, or next to what `postgres`
/// links to (`/usr/local/bin/postgres -> /usr/lib/postgresql/15/bin/postgres`), else from `PATH`.
fn client_program(cluster: &Cluster, name: &str) -> PathBuf {
    let postgres = cluster.binaries().program("postgres");
    let dirs = [
        Some(cluster.binaries().bin_dir.clone()),
        std::fs::canonicalize(&postgres)
            .ok()
            .and_then(|p| p.parent().map(Path::to_path_buf)),
    ];
    dirs.into_iter()
        .flatten()
        .map(|d| d.join(name))
        .find(|p| p.is_file())
        .unwrap_or_else(|| PathBuf::from(name))
}

/// Runs `cmd`, collecting stdout and stderr lines stamped with the time since `t0`.
fn run_logged(mut cmd: Command, t0: Instant) -> Res<(bool, Vec<(f64, String)>)> {
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()?;
    let lines = Arc::new(Mutex::new(Vec::new()));
    let readers: Vec<_> = [
        Box::new(child.stdout.take().expect("piped")) as Box<dyn Read + Send>,
        Box::new(child.stderr.take().expect("piped")),
    ]
    .into_iter()
    .map(|pipe| {
        let lines = Arc::clone(&lines);
        thread::spawn(move || {
            for line in BufReader::new(pipe).lines().map_while(Result::ok) {
                // Progress bars redraw with \r; keep the last state.
                let line = line.rsplit('\r').next().unwrap_or("").to_string();
                lines
                    .lock()
                    .expect("lines")
                    .push((t0.elapsed().as_secs_f64(), line));
            }
        })
    })
    .collect();
    let status = child.wait()?;
    for r in readers {
        let _ = r.join();
    }
    let mut lines = std::mem::take(&mut *lines.lock().expect("lines"));
    lines.sort_by(|a, b| a.0.total_cmp(&b.0));
    Ok((status.success(), lines))
}

fn run_scenario(
    cluster: &Cluster,
    cfg: &Config,
    scenario: Scenario,
    run: usize,
    template: &str,
) -> Res<Outcome> {
    let root = workspace_root();
    let db = format!("run{run}_{}", scenario.slug());
    let mut admin = cluster.connect()?;
    admin.batch_execute(&format!("DROP DATABASE IF EXISTS {db}"))?;
    admin.batch_execute(&format!("CREATE DATABASE {db} TEMPLATE {template}"))?;
    let tmp = tempfile::tempdir()?;
    let attach_sql = tmp.path().join("safe_attach.sql");
    if scenario == Scenario::ApplyAttach {
        // Step 1 of safe.sql, done beforehand and not measured; step 2 goes through apply.
        let safe = std::fs::read_to_string(root.join("examples/seed/safe.sql"))?;
        let attach = safe
            .lines()
            .find(|l| l.contains("USING INDEX"))
            .ok_or("examples/seed/safe.sql has no ... USING INDEX statement")?;
        std::fs::write(&attach_sql, format!("{attach}\n"))?;
        let mut c = cluster.connect_db(&db)?;
        c.batch_execute("CREATE UNIQUE INDEX CONCURRENTLY users_email_uniq ON users_user (email)")?;
        c.batch_execute("VACUUM ANALYZE users_user")?;
    }

    let origin = Instant::now();
    let stop = Arc::new(AtomicBool::new(false));
    let max_waiting = Arc::new(AtomicI64::new(0));
    let sampler = {
        let (db, stop, max) = (db.clone(), Arc::clone(&stop), Arc::clone(&max_waiting));
        let port = cluster.port();
        thread::spawn(move || lock_sampler(port, db, stop, max))
    };
    // The load clients connect during the first 300 ms, then follow their schedules.
    let interval = Duration::from_secs_f64(cfg.clients as f64 / cfg.rate);
    let start = origin + Duration::from_millis(300);
    let clients: Vec<_> = (0..cfg.clients)
        .map(|k| {
            let (db, stop) = (db.clone(), Arc::clone(&stop));
            let port = cluster.port();
            let rows = cfg.rows;
            let first = start + interval.mul_f64(k as f64 / cfg.clients as f64);
            let seed = (run as u64) << 32 | k as u64;
            let spec = ClientSpec {
                port,
                db,
                rows,
                seed,
                origin,
                first,
                interval,
            };
            thread::spawn(move || load_client(spec, stop))
        })
        .collect();

    // Baseline.
    thread::sleep(
        (start + Duration::from_secs_f64(cfg.baseline_secs))
            .saturating_duration_since(Instant::now()),
    );

    // The long transaction holding ACCESS SHARE.
    let t_long = Instant::now();
    let long = {
        let mut c = cluster.connect_db(&db)?;
        let secs = cfg.long_txn_secs;
        thread::spawn(move || -> Result<Instant, postgres::Error> {
            c.batch_execute(&format!(
                "SET application_name = 'bench-long-txn'; BEGIN; SELECT count(*) FROM users_user WHERE id = 1; \
                 SELECT pg_sleep({secs}); COMMIT"
            ))?;
            Ok(Instant::now())
        })
    };

    // The migration, one second later.
    thread::sleep((t_long + MIGRATION_DELAY).saturating_duration_since(Instant::now()));
    let url = cluster.url(&db);
    let cmd = match scenario {
        Scenario::Naive => {
            let mut cmd = Command::new(client_program(cluster, "psql"));
            cmd.args(["-X", "-v", "ON_ERROR_STOP=1", "-d", &url, "-f"])
                .arg(root.join("examples/seed/naive.sql"));
            cmd
        }
        Scenario::Apply | Scenario::ApplyAttach => {
            let mut cmd = Command::new(&cfg.pgdiplomat);
            cmd.args([
                "apply",
                "--database-url",
                &url,
                "--lock-timeout",
                &format!("{}ms", cfg.lock_timeout_ms),
            ])
            .arg(if scenario == Scenario::Apply {
                root.join("examples/seed/safe.sql")
            } else {
                attach_sql.clone()
            })
            .env("NO_COLOR", "1");
            cmd
        }
    };
    let t_mig = Instant::now();
    let (migration_ok, log) = run_logged(cmd, t_mig)?;
    let t_mig_end = Instant::now();

    thread::sleep(Duration::from_secs_f64(cfg.tail_secs));
    stop.store(true, Ordering::Relaxed);
    let mut load = LoadResult::default();
    for c in clients {
        let r = c.join().map_err(|_| "a load client panicked")?;
        load.samples.extend(r.samples);
        for (k, v) in r.errors {
            *load.errors.entry(k).or_default() += v;
        }
    }
    let load_end = Instant::now();
    let _ = sampler.join();
    let t_long_end = long.join().map_err(|_| "the long transaction panicked")??;

    let constraint: bool = cluster
        .connect_db(&db)?
        .query_one(
            "SELECT EXISTS (SELECT 1 FROM pg_constraint c JOIN pg_index i ON i.indexrelid = c.conindid
                             WHERE c.conname = 'unq_email' AND c.contype = 'u'
                               AND c.conrelid = 'users_user'::regclass AND i.indisvalid)",
            &[],
        )?
        .get(0);

    let base_from = start - origin + WARMUP;
    let base_to = t_long - origin;
    let mig_from = t_mig - origin;
    let mig_to = load_end - origin;
    let baseline = stats(
        load.samples
            .iter()
            .filter(|s| s.sched >= base_from && s.sched < base_to),
    );
    let in_window = |s: &&Sample| s.sched >= mig_from && s.sched <= mig_to;
    let during = stats(load.samples.iter().filter(in_window));
    let budget = baseline.max + Duration::from_millis(cfg.lock_timeout_ms + 50);
    let over_budget = load
        .samples
        .iter()
        .filter(in_window)
        .filter(|s| s.latency > budget)
        .count();
    let retries = log
        .iter()
        .filter(|(_, l)| l.contains("could not get") && l.contains("attempt"))
        .count();

    drop(admin);
    let mut admin = cluster.connect()?;
    admin.batch_execute(&format!("DROP DATABASE IF EXISTS {db}"))?;

    Ok(Outcome {
        scenario,
        run,
        baseline,
        during,
        all_failed: load.samples.iter().filter(|s| !s.ok).count(),
        errors: load.errors,
        migration_time: t_mig_end - t_mig,
        migration_ok,
        constraint,
        max_waiting: max_waiting.load(Ordering::Relaxed),
        long_txn_remaining: t_long_end.saturating_duration_since(t_mig),
        log,
        retries,
        over_budget,
    })
}

// ---------------------------------------------------------------------------------------------
// Setup and report
// ---------------------------------------------------------------------------------------------

fn setup_template(cluster: &Cluster, rows: i64, template: &str) -> Res<Duration> {
    let t = Instant::now();
    cluster.create_database(template)?;
    let mut c = cluster.connect_db(template)?;
    c.batch_execute(&format!(
        "CREATE TABLE users_user (
             id bigint PRIMARY KEY,
             email varchar(255),
             username text,
             updated_at timestamptz
         );
         INSERT INTO users_user
         SELECT g,
                'user' || g || '.' || substr(md5(g::text), 1, 8) || '@example.com',
                'user' || g,
                now() - g * interval '1 minute'
           FROM generate_series(1, {rows}) g;"
    ))?;
    c.batch_execute("VACUUM ANALYZE users_user")?;
    let n: i64 = c
        .query_one("SELECT count(DISTINCT email) FROM users_user", &[])?
        .get(0);
    if n != rows {
        return Err(format!("expected {rows} unique emails, found {n}").into());
    }
    Ok(t.elapsed())
}

fn ms(d: Duration) -> String {
    let ms = d.as_secs_f64() * 1000.0;
    if ms >= 100.0 {
        format!("{ms:.0}")
    } else {
        format!("{ms:.1}")
    }
}

fn command_output(program: &str, args: &[&str]) -> String {
    Command::new(program)
        .args(args)
        .output()
        .ok()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_default()
}

struct Environment {
    date: String,
    machine: String,
    pg_version: String,
    setup_time: Duration,
    settings: Vec<(String, String)>,
}

fn results_table(outcomes: &[Outcome]) -> String {
    let mut t = String::new();
    let _ = writeln!(
        t,
        "| scenario | run | migration time | constraint added | app txns during migration | failed (during / whole run) | p50 ms | p99 ms | max ms | baseline p50 / p99 / max ms | app sessions waiting on a lock (max) | lock retries |"
    );
    let _ = writeln!(
        t,
        "|---|---:|---:|:---:|---:|---:|---:|---:|---:|---:|---:|---:|"
    );
    for o in outcomes {
        let _ = writeln!(
            t,
            "| {} | {} | {:.2} s{} | {} | {} | {} / {} | {} | {} | **{}** | {} / {} / {} | {} | {} |",
            o.scenario.name(),
            o.run,
            o.migration_time.as_secs_f64(),
            if o.migration_ok { "" } else { " (failed)" },
            if o.constraint { "yes" } else { "**no**" },
            o.during.count,
            o.during.failed,
            o.all_failed,
            ms(o.during.p50),
            ms(o.during.p99),
            ms(o.during.max),
            ms(o.baseline.p50),
            ms(o.baseline.p99),
            ms(o.baseline.max),
            o.max_waiting,
            match o.scenario {
                Scenario::Naive => "–".to_string(),
                Scenario::Apply | Scenario::ApplyAttach => o.retries.to_string(),
            },
        );
    }
    t
}

struct Verdict {
    apply_pass: bool,
    /// The supplementary attach-only runs, `None` if there were none.
    attach_pass: Option<bool>,
    naive_stalls: bool,
    lines: Vec<String>,
}

impl Verdict {
    fn summary(&self, markdown: bool) -> String {
        let b = if markdown { "**" } else { "" };
        let pf = |p: bool| if p { "PASS" } else { "FAIL" };
        let mut parts = vec![format!("{b}apply (safe.sql): {}{b}", pf(self.apply_pass))];
        if let Some(p) = self.attach_pass {
            parts.push(format!(
                "{b}apply, attach step under lock contention: {}{b}",
                pf(p)
            ));
        }
        parts.push(format!(
            "{b}naive stalls the application for the whole long transaction: {}{b}",
            if self.naive_stalls { "yes" } else { "NO" }
        ));
        parts.join(" · ")
    }
}

fn verdict(cfg: &Config, outcomes: &[Outcome]) -> Verdict {
    let mut lines = Vec::new();
    let mut apply_pass = true;
    let mut attach_pass = None;
    let mut naive_stalls = true;
    for o in outcomes {
        let budget = o.baseline.max + Duration::from_millis(cfg.lock_timeout_ms + 50);
        match o.scenario {
            Scenario::Apply | Scenario::ApplyAttach => {
                let lat_ok = o.during.max <= budget;
                let err_ok = o.all_failed == 0;
                let done_ok = o.migration_ok && o.constraint;
                let pass = lat_ok && err_ok && done_ok;
                if o.scenario == Scenario::Apply {
                    apply_pass &= pass;
                } else {
                    attach_pass = Some(attach_pass.unwrap_or(true) && pass);
                }
                lines.push(format!(
                    "- {}, run {}: max {} ms {} budget {} ms (baseline max {} + lock_timeout {} + 50){}; {} failed app transactions; constraint {} → **{}**",
                    o.scenario.name(),
                    o.run,
                    ms(o.during.max),
                    if lat_ok { "≤" } else { ">" },
                    ms(budget),
                    ms(o.baseline.max),
                    cfg.lock_timeout_ms,
                    if o.over_budget > 0 {
                        format!(", {} transaction(s) over budget", o.over_budget)
                    } else {
                        String::new()
                    },
                    o.all_failed,
                    if done_ok { "added" } else { "NOT added" },
                    if pass { "PASS" } else { "FAIL" }
                ));
            }
            Scenario::Naive => {
                // "Stalls the application for the whole long transaction": the worst latency
                // covers at least the time the long transaction still had to run, minus 100 ms of
                // slack for clock and scheduling.
                let stalls = o.during.max + Duration::from_millis(100) >= o.long_txn_remaining;
                naive_stalls &= stalls;
                lines.push(format!(
                    "- naive, run {}: max {} ms vs. {} ms the long transaction still had to run when the ALTER started; {} app sessions waited on a lock at once → {}",
                    o.run,
                    ms(o.during.max),
                    ms(o.long_txn_remaining),
                    o.max_waiting,
                    if stalls { "stalled for the whole long transaction" } else { "did NOT stall for the whole long transaction" }
                ));
            }
        }
    }
    Verdict {
        apply_pass,
        attach_pass,
        naive_stalls,
        lines,
    }
}

fn report(
    cfg: &Config,
    env: &Environment,
    outcomes: &[Outcome],
    total: Duration,
    command: &str,
) -> String {
    let v = verdict(cfg, outcomes);
    let mut r = String::new();
    let w = &mut r;
    let _ = writeln!(
        w,
        "# Impact benchmark: adding a UNIQUE constraint under load\n"
    );
    let _ = writeln!(
        w,
        "What the seed story's migration (`users_user.email` becomes unique) does to a running \
         application, done naively with `psql` and done with `pgdiplomat apply`, while a long \
         transaction holds ACCESS SHARE on the table. Generated by `scripts/bench-impact` \
         (`crates/pgdiplomat-apply/examples/bench_impact.rs`); do not edit by hand.\n"
    );
    let _ = writeln!(w, "## Setup\n");
    let _ = writeln!(w, "- Date: {} (UTC)", env.date);
    let _ = writeln!(w, "- Machine: {}", env.machine);
    let _ = writeln!(w, "- PostgreSQL: {}, embedded cluster (`pgdiplomat-pg`), client and server on the same machine over TCP 127.0.0.1", env.pg_version);
    let _ = writeln!(
        w,
        "- Server settings: {} — **fsync, synchronous_commit and full_page_writes are off** (the embedded cluster's defaults), so commits cost no disk flush; locking, the subject here, is unaffected",
        env.settings
            .iter()
            .map(|(k, v)| format!("`{k}={v}`"))
            .collect::<Vec<_>>()
            .join(", ")
    );
    let _ = writeln!(
        w,
        "- Table: `users_user(id bigint PRIMARY KEY, email varchar(255), username text, updated_at timestamptz)`, {} rows with unique emails, `VACUUM ANALYZE`d (built in {:.1} s); every scenario runs on a fresh copy (`CREATE DATABASE ... TEMPLATE`)",
        group(cfg.rows),
        env.setup_time.as_secs_f64()
    );
    let _ = writeln!(
        w,
        "- Application load: {} connections, {} transactions/s in total on a fixed schedule (open loop); each transaction is `BEGIN; SELECT ... FROM users_user WHERE id = <random>; UPDATE users_user SET updated_at = now() WHERE id = <random>; COMMIT`. Latency is measured from the transaction's scheduled start to its COMMIT, so time spent queued (behind a lock, or behind the same connection's backlog) counts, as with `pgbench -R`. A failed transaction is counted and the client carries on (a load generator in Rust rather than pgbench: pgbench 15 aborts a client at its first error other than a serialization failure or deadlock, which would hide failed transactions, and its `-T` must be fixed before the migration's length is known)",
        cfg.clients, cfg.rate
    );
    let _ = writeln!(
        w,
        "- Timeline of each scenario: {:.0} s of load alone (baseline; the first second is warm-up and not counted) → t0: another session runs `BEGIN; SELECT count(*) FROM users_user WHERE id = 1; SELECT pg_sleep({}); COMMIT` (ACCESS SHARE for {} s) → t0 + 1 s: the migration starts → load continues until the migration has finished + {:.0} s",
        cfg.baseline_secs, cfg.long_txn_secs, cfg.long_txn_secs, cfg.tail_secs
    );
    let _ = writeln!(
        w,
        "- Migrations: **naive** = `psql -f examples/seed/naive.sql` (`BEGIN; ALTER TABLE users_user ADD CONSTRAINT unq_email UNIQUE (email); COMMIT`); **apply** = `pgdiplomat apply --lock-timeout {}ms examples/seed/safe.sql` (`CREATE UNIQUE INDEX CONCURRENTLY users_email_uniq ...`, then `ALTER TABLE ... ADD CONSTRAINT unq_email UNIQUE USING INDEX users_email_uniq` under lock_timeout {} ms with retries; the file's own `SET lock_timeout = '2s'` is left out by apply, which manages timeouts itself); supplementary **apply, attach step only** = the unique index is built with `CREATE UNIQUE INDEX CONCURRENTLY` before the load starts (not measured) and `pgdiplomat apply --lock-timeout {}ms` runs only safe.sql's `ALTER TABLE ... UNIQUE USING INDEX`, so that the ACCESS EXCLUSIVE step meets the long transaction and has to negotiate — in the main apply scenario it never does (see below)",
        cfg.lock_timeout_ms, cfg.lock_timeout_ms, cfg.lock_timeout_ms
    );
    let _ = writeln!(
        w,
        "- {} run(s) of each scenario, in the order naive, apply, attach step only; whole benchmark (cluster, table, all runs) took {:.0} s\n",
        cfg.runs,
        total.as_secs_f64()
    );
    let _ = writeln!(w, "## Results\n");
    let _ = writeln!(
        w,
        "\"During migration\" covers the transactions scheduled from the migration's start until the load stopped ({:.0} s after the migration finished); \"failed\" counts failed application transactions over the whole run. Latencies in milliseconds.\n",
        cfg.tail_secs
    );
    r.push_str(&results_table(outcomes));
    let w = &mut r;
    let _ = writeln!(w, "\n## Target check\n");
    let _ = writeln!(
        w,
        "Target: with `apply`, the application's max latency stays within lock_timeout + 50 ms of the baseline max (≤ baseline max + {} ms) with zero failed application transactions, while the naive run stalls the application for the whole long transaction.\n",
        cfg.lock_timeout_ms + 50
    );
    for l in &v.lines {
        let _ = writeln!(w, "{l}");
    }
    let _ = writeln!(w, "\n{}\n", v.summary(true));
    let _ = writeln!(w, "## What happened\n");
    for p in interpretation(cfg, outcomes) {
        let _ = writeln!(w, "{p}\n");
    }
    let errors: BTreeMap<String, u64> =
        outcomes
            .iter()
            .flat_map(|o| o.errors.iter())
            .fold(BTreeMap::new(), |mut m, (k, v)| {
                *m.entry(k.clone()).or_default() += v;
                m
            });
    if !errors.is_empty() {
        let _ = writeln!(w, "Application errors seen:\n");
        for (e, n) in &errors {
            let _ = writeln!(w, "- {n}× `{}`", e.replace('`', "'"));
        }
        let _ = writeln!(w);
    }
    let _ = writeln!(
        w,
        "## Migration output (run 1, seconds since the migration started)\n"
    );
    for o in outcomes.iter().filter(|o| o.run == 1) {
        let _ = writeln!(w, "{}:\n\n```text", o.scenario.name());
        for (t, l) in &o.log {
            let _ = writeln!(w, "{t:7.3}  {l}");
        }
        let _ = writeln!(w, "```\n");
    }
    let _ = writeln!(w, "## Reproduce\n");
    let _ = writeln!(
        w,
        "```sh\nscripts/bench-impact\n# which amounts to:\ncargo build --release --locked -p pgdiplomat\n{command}\n```"
    );
    r
}

/// "a" or "a–b" over the runs of one scenario.
fn range(values: impl Iterator<Item = f64>, fmt: impl Fn(f64) -> String) -> String {
    let v: Vec<f64> = values.collect();
    let (lo, hi) = v
        .iter()
        .fold((f64::MAX, f64::MIN), |(lo, hi), &x| (lo.min(x), hi.max(x)));
    if v.is_empty() {
        return "n/a".into();
    }
    let (a, b) = (fmt(lo), fmt(hi));
    if a == b {
        a
    } else {
        format!("{a}–{b}")
    }
}

/// Plain-words reading of the numbers, one paragraph per scenario.
fn interpretation(cfg: &Config, outcomes: &[Outcome]) -> Vec<String> {
    let of = |s: Scenario| outcomes.iter().filter(move |o| o.scenario == s);
    let secs = |x: f64| format!("{x:.1} s");
    let msf = |x: f64| ms(Duration::from_secs_f64(x));
    let mut out = Vec::new();
    if of(Scenario::Naive).next().is_some() {
        let n = || of(Scenario::Naive);
        out.push(format!(
            "**Naive.** The `ALTER TABLE ... ADD CONSTRAINT ... UNIQUE (email)` asked for ACCESS EXCLUSIVE while the long transaction held ACCESS SHARE, so it queued for the {} the long transaction still had to run — and every application query queued behind it (up to {} of {} connections waiting on a lock at once). Once it had the lock it built the unique index on {} rows while still holding it. The application's worst transaction took {} ms (p50 over the migration window {} ms, p99 {} ms) against a baseline max of {} ms: the application stood still for the whole long transaction plus the index build. {}",
            range(n().map(|o| o.long_txn_remaining.as_secs_f64()), secs),
            range(n().map(|o| o.max_waiting as f64), |x| format!("{x:.0}")),
            cfg.clients,
            group(cfg.rows),
            range(n().map(|o| o.during.max.as_secs_f64()), msf),
            range(n().map(|o| o.during.p50.as_secs_f64()), msf),
            range(n().map(|o| o.during.p99.as_secs_f64()), msf),
            range(n().map(|o| o.baseline.max.as_secs_f64()), msf),
            if n().all(|o| o.all_failed == 0) {
                "Nothing failed — the queries just waited; an application with a statement or request timeout would have turned that wait into errors.".to_string()
            } else {
                format!("{} application transactions failed.", range(n().map(|o| o.all_failed as f64), |x| format!("{x:.0}")))
            }
        ));
    }
    if of(Scenario::Apply).next().is_some() {
        let a = || of(Scenario::Apply);
        out.push(format!(
            "**apply.** `CREATE UNIQUE INDEX CONCURRENTLY` takes SHARE UPDATE EXCLUSIVE, which does not conflict with the application's reads and writes. It built the index and then, in its \"waiting for old snapshots\" phase, waited for the long transaction to end — without blocking anyone. {} The application's max latency was {} ms against a baseline max of {} ms, with {} failed transactions; the migration took {} (the remaining long transaction plus the build), about as long as the naive one, but nobody waited for it.",
            if a().all(|o| o.retries == 0) {
                "When it finished, the long transaction was gone, so the `ADD CONSTRAINT ... USING INDEX` step got ACCESS EXCLUSIVE at the first attempt (0 lock retries) and held it for milliseconds.".to_string()
            } else {
                format!("The `ADD CONSTRAINT ... USING INDEX` step then needed {} lock retries.", range(a().map(|o| o.retries as f64), |x| format!("{x:.0}")))
            },
            range(a().map(|o| o.during.max.as_secs_f64()), msf),
            range(a().map(|o| o.baseline.max.as_secs_f64()), msf),
            range(a().map(|o| o.all_failed as f64), |x| format!("{x:.0}")),
            range(a().map(|o| o.migration_time.as_secs_f64()), secs),
        ));
    }
    if of(Scenario::ApplyAttach).next().is_some() {
        let a = || of(Scenario::ApplyAttach);
        out.push(format!(
            "**apply, attach step only.** Here the index already existed, so the ACCESS EXCLUSIVE step ran into the long transaction. Each attempt waited at most lock_timeout ({} ms) in the lock queue — application queries arriving meanwhile queued behind it (up to {} connections at once) — then rolled back, releasing them, and retried after a growing, jittered pause ({} retries per run). The application's max latency was {} ms (baseline max {} ms): the lock_timeout plus the baseline, as designed, with {} failed transactions. The price is paid by the migration, not the application: it finished {} after the long transaction ended, because the exponential backoff (200 ms doubling, up to 10 s, with jitter) was sleeping when the lock became free — apply retries on a timer and does not notice the blocker leaving, so with the default policy the step can land up to 10 s after the lock is free.",
            cfg.lock_timeout_ms,
            range(a().map(|o| o.max_waiting as f64), |x| format!("{x:.0}")),
            range(a().map(|o| o.retries as f64), |x| format!("{x:.0}")),
            range(a().map(|o| o.during.max.as_secs_f64()), msf),
            range(a().map(|o| o.baseline.max.as_secs_f64()), msf),
            range(a().map(|o| o.all_failed as f64), |x| format!("{x:.0}")),
            range(
                a().map(|o| (o.migration_time.as_secs_f64() - o.long_txn_remaining.as_secs_f64()).max(0.0)),
                secs
            ),
        ));
    }
    out
}

fn group(n: i64) -> String {
    let digits: Vec<char> = n.to_string().chars().rev().collect();
    let groups: Vec<String> = digits
        .chunks(3)
        .map(|c| c.iter().rev().collect())
        .rev()
        .collect();
    groups.join(",")
}

fn main() -> Res<()> {
    let cfg = parse_args()?;
    let total = Instant::now();
    let settings: Vec<(String, String)> = vec![
        ("max_connections".into(), "100".into()),
        ("shared_buffers".into(), "256MB".into()),
    ];
    let mut opts = ClusterOptions::default().tcp(true);
    for (k, v) in &settings {
        opts = opts.setting(k.clone(), v.clone());
    }
    eprintln!("starting an embedded cluster ...");
    let cluster = Cluster::start(opts)?;
    let pg_version: String = cluster
        .connect()?
        .query_one("SELECT version()", &[])?
        .get(0);
    let pg_version = pg_version
        .split(" on ")
        .next()
        .unwrap_or(&pg_version)
        .to_string();
    let template = "bench_template";
    eprintln!("creating users_user with {} rows ...", group(cfg.rows));
    let setup_time = setup_template(&cluster, cfg.rows, template)?;
    eprintln!("  done in {:.1} s", setup_time.as_secs_f64());

    let mut outcomes = Vec::new();
    for run in 1..=cfg.runs {
        for scenario in [Scenario::Naive, Scenario::Apply, Scenario::ApplyAttach] {
            eprintln!("run {run}: {} ...", scenario.name());
            let o = run_scenario(&cluster, &cfg, scenario, run, template)?;
            eprintln!(
                "  migration {:.2} s ({}), app max {} ms (baseline max {} ms), {} failed",
                o.migration_time.as_secs_f64(),
                if o.migration_ok { "ok" } else { "FAILED" },
                ms(o.during.max),
                ms(o.baseline.max),
                o.all_failed
            );
            outcomes.push(o);
        }
    }
    let total = total.elapsed();

    let env = Environment {
        date: command_output("date", &["-u", "+%Y-%m-%d %H:%M"]),
        machine: format!(
            "{}, {} cores (nproc), {} memory, {}",
            command_output("uname", &["-m"]),
            command_output("nproc", &[]),
            command_output("sh", &["-c", "free -g | awk '/^Mem:/ {print $2 \" GiB\"}'"]),
            command_output("uname", &["-sr"]),
        ),
        pg_version,
        setup_time,
        settings,
    };
    let command = format!(
        "cargo run --release --locked -p pgdiplomat-apply --example bench_impact -- --rows {} --long-txn-secs {} --clients {} --rate {} --runs {} --baseline-secs {} --tail-secs {} --lock-timeout-ms {}{}",
        cfg.rows,
        cfg.long_txn_secs,
        cfg.clients,
        cfg.rate,
        cfg.runs,
        cfg.baseline_secs,
        cfg.tail_secs,
        cfg.lock_timeout_ms,
        cfg.out
            .as_ref()
            .map(|p| format!(" --out {}", p.display()))
            .unwrap_or_default()
    );
    let doc = report(&cfg, &env, &outcomes, total, &command);
    println!("{}", results_table(&outcomes));
    let v = verdict(&cfg, &outcomes);
    for l in &v.lines {
        println!("{l}");
    }
    println!(
        "\n{} · total {:.0} s",
        v.summary(false),
        total.as_secs_f64()
    );
    if let Some(out) = &cfg.out {
        std::fs::write(out, doc)?;
        eprintln!("wrote {}", out.display());
    }
    cluster.stop()?;
    Ok(())
}
