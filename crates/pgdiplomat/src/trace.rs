//! `pgdiplomat trace`.

use std::fmt::Write as _;
use std::str::FromStr;

use pgdiplomat_apply::retry::RetryPolicy;
use pgdiplomat_pg::postgres::{self, Client, NoTls};
use pgdiplomat_pg::{Cluster, ClusterOptions, PgBinaries};
use pgdiplomat_trace::session::{trace_files, FileTrace, TraceOptions};

use crate::cli::{TraceArgs, TraceFormat};
use crate::input::{error, print_stdout, read_sources};
use crate::{EXIT_CLEAN, EXIT_FINDINGS, EXIT_USAGE};

/// Where the trace runs. The cluster (if any) lives as long as this value.
struct Target {
    _cluster: Option<Cluster>,
    client: Client,
    monitor: Client,
    major: u32,
    rollback: bool,
    description: String,
}

/// `host:port/db` for messages: never the password.
fn describe(config: &postgres::Config) -> String {
    let host = config
        .get_hosts()
        .first()
        .map(|h| match h {
            postgres::config::Host::Tcp(s) => s.clone(),
            postgres::config::Host::Unix(p) => p.display().to_string(),
        })
        .unwrap_or_else(|| "localhost".into());
    let port = config.get_ports().first().copied().unwrap_or(5432);
    let db = config
        .get_dbname()
        .or(config.get_user())
        .unwrap_or("postgres");
    format!("{host}:{port}/{db}")
}

fn connect_target(args: &TraceArgs) -> Result<Target, String> {
    if let Some(url) = &args.database_url {
        let config =
            postgres::Config::from_str(url).map_err(|e| format!("invalid --database-url: {e}"))?;
        let description = describe(&config);
        let connect = || {
            config.connect(NoTls).map_err(|e| {
                format!(
                    "cannot connect to {description}: {}",
                    pgdiplomat_apply::connect::connect_error_text(&e, &config)
                )
            })
        };
        let mut client = connect()?;
        let monitor = connect()?;
        let major: i32 = client
            .query_one(
                "SELECT current_setting('server_version_num')::int / 10000",
                &[],
            )
            .map_err(|e| e.to_string())?
            .get(0);
        return Ok(Target {
            _cluster: None,
            client,
            monitor,
            major: major as u32,
            rollback: !args.commit,
            description,
        });
    }
    let mut options = ClusterOptions::default();
    if let Some(dir) = &args.pg_bin {
        options = options.binaries(PgBinaries::at(dir).map_err(|e| e.to_string())?);
    }
    let cluster = Cluster::start(options).map_err(|e| e.to_string())?;
    let major = cluster.version().major;
    let description = format!("a throwaway PostgreSQL {}", cluster.version());
    let client = cluster.connect().map_err(|e| e.to_string())?;
    let monitor = cluster.connect().map_err(|e| e.to_string())?;
    Ok(Target {
        _cluster: Some(cluster),
        client,
        monitor,
        major,
        rollback: false,
        description,
    })
}

pub fn run(args: TraceArgs) -> u8 {
    let (sources, failed) = read_sources(&args.paths);
    if failed {
        return EXIT_USAGE;
    }
    let (setup, failed) = read_sources(&args.setup);
    if failed {
        return EXIT_USAGE;
    }
    if args.database_url.is_some() && !args.commit && args.seed_rows.is_some() {
        // Seeded rows (and the sequences they move) would stay in the user's database.
        error("--seed-rows with --database-url needs --commit: the generated rows would not be rolled back");
        return EXIT_USAGE;
    }
    // A Ctrl-C or a SIGTERM must not leave the throwaway server running.
    if let Err(e) = pgdiplomat_pg::stop_clusters_on_signals() {
        error(format!("cannot install the signal handlers: {e}"));
        return EXIT_USAGE;
    }
    let connected = connect_target(&args);
    pgdiplomat_pg::wait_for_signal_exit();
    let mut target = match connected {
        Ok(t) => t,
        Err(e) => {
            error(e);
            return EXIT_USAGE;
        }
    };
    eprintln!("pgdiplomat: tracing on {}", target.description);
    for s in &setup {
        let done = target.client.batch_execute(&s.text);
        pgdiplomat_pg::wait_for_signal_exit();
        if let Err(e) = done {
            error(format!(
                "{}: setup failed: {}",
                s.name,
                pgdiplomat_trace::run::error_text(&e)
            ));
            return EXIT_USAGE;
        }
    }
    let opts = TraceOptions {
        rollback: target.rollback,
        seed_rows: args.seed_rows,
        server_major: target.major,
        // A user's database: never wait unbounded for a lock (the throwaway server has no
        // application to block).
        negotiate: args.database_url.is_some().then(|| RetryPolicy {
            lock_timeout: args.lock_timeout,
            max_attempts: args.max_attempts,
            max_total: args.max_retry_time,
            ..RetryPolicy::default()
        }),
    };
    let traced = trace_files(&mut target.client, &mut target.monitor, &sources, opts);
    // Interrupted: the handler stops the server and exits; its failures are not the answer.
    pgdiplomat_pg::wait_for_signal_exit();
    let traces = match traced {
        Ok(t) => t,
        Err(e) => {
            error(format!(
                "lost the connection while tracing: {}",
                pgdiplomat_trace::run::error_text(&e)
            ));
            return EXIT_USAGE;
        }
    };
    let text = match args.format {
        TraceFormat::Human => human(&traces, target.major),
        TraceFormat::Markdown => markdown(&traces, &target.description),
        TraceFormat::Github | TraceFormat::Compact => {
            problems(&traces, args.format == TraceFormat::Github)
        }
        TraceFormat::Json => {
            let doc =
                serde_json::json!({ "version": 1, "server": target.description, "files": traces });
            serde_json::to_string_pretty(&doc).unwrap_or_default() + "\n"
        }
    };
    if print_stdout(&text).is_err() {
        return EXIT_USAGE;
    }
    let bad = traces
        .iter()
        .map(|f| f.disagreements() + f.errors() + f.lock_not_free())
        .sum::<usize>();
    if bad > 0 {
        EXIT_FINDINGS
    } else {
        EXIT_CLEAN
    }
}

fn locks_text(s: &pgdiplomat_trace::session::StatementTrace) -> String {
    if s.locks.is_empty() && s.sampled {
        return "none seen (it finished between two samples)".into();
    }
    if s.locks.is_empty() {
        return "none".into();
    }
    s.locks
        .iter()
        .map(|l| {
            format!(
                "{} on {}{}",
                l.mode,
                l.relation,
                if l.granted { "" } else { " (waited)" }
            )
        })
        .collect::<Vec<_>>()
        .join(", ")
}

fn human(traces: &[FileTrace], major: u32) -> String {
    let mut out = String::new();
    let (mut ran, mut disagree, mut errors, mut blocked) = (0, 0, 0, 0);
    for f in traces {
        let _ = writeln!(out, "== {}", f.file);
        if let Some(e) = &f.error {
            let _ = writeln!(out, "   error: {e}\n");
            errors += 1;
            continue;
        }
        for t in &f.seeded {
            match &t.note {
                None => {
                    let _ = writeln!(out, "   seeded {} with {} rows", t.table, t.rows);
                }
                Some(n) => {
                    let _ = writeln!(out, "   could not seed {}: {n}", t.table);
                }
            }
        }
        for s in &f.statements {
            let first = s.sql.lines().next().unwrap_or("");
            let more = if s.sql.lines().nth(1).is_some() {
                " ..."
            } else {
                ""
            };
            let _ = writeln!(out, "{}:{}:{}: {first}{more}", f.file, s.line, s.column);
            match s.status {
                "control" => {
                    let _ = writeln!(out, "    transaction control");
                }
                "skipped" => {
                    blocked += usize::from(s.lock_not_free);
                    let _ = writeln!(out, "    skipped: {}", s.message.as_deref().unwrap_or(""));
                }
                "error" => {
                    errors += 1;
                    let _ = writeln!(out, "    ERROR: {}", s.message.as_deref().unwrap_or(""));
                }
                _ => {
                    ran += 1;
                    let how = if s.sampled {
                        " (outside a transaction, sampled)"
                    } else {
                        ""
                    };
                    let _ = writeln!(out, "    time:      {:.1} ms{how}", s.duration_ms);
                    let _ = writeln!(out, "    locks:     {}", locks_text(s));
                    if !s.rewritten.is_empty() {
                        let _ = writeln!(out, "    rewrote:   {}", s.rewritten.join(", "));
                    }
                    if !s.scanned.is_empty() {
                        let sc: Vec<String> = s
                            .scanned
                            .iter()
                            .map(|(t, n)| format!("{t} ({n} rows)"))
                            .collect();
                        let _ = writeln!(out, "    scanned:   {}", sc.join(", "));
                    }
                    if !s.created.is_empty() {
                        let _ = writeln!(out, "    created:   {}", s.created.join(", "));
                    }
                    if !s.dropped.is_empty() {
                        let _ = writeln!(out, "    dropped:   {}", s.dropped.join(", "));
                    }
                    if !s.phases.is_empty() {
                        let _ = writeln!(out, "    phases:    {}", s.phases.join(" → "));
                    }
                    if !s.model.is_empty() {
                        if s.disagreements.is_empty() {
                            let _ = writeln!(out, "    model:     agrees ({})", s.model.join(", "));
                        } else {
                            disagree += 1;
                            let _ = writeln!(out, "    MODEL DISAGREES ({}) — a bug in pgdiplomat's lock table, please report it:", s.model.join(", "));
                            for d in &s.disagreements {
                                let _ = writeln!(out, "      - {d}");
                            }
                        }
                    }
                }
            }
        }
        out.push('\n');
    }
    let _ = writeln!(
        out,
        "{} statements ran on PostgreSQL {major}: {disagree} disagree with the model, {errors} failed{}",
        ran,
        if blocked > 0 {
            format!(", {blocked} not traced (lock not free in time)")
        } else {
            String::new()
        }
    );
    out
}

fn markdown(traces: &[FileTrace], server: &str) -> String {
    let mut out = format!("# pgdiplomat trace\n\nServer: {server}\n");
    for f in traces {
        let _ = writeln!(out, "\n## {}\n", f.file);
        if let Some(e) = &f.error {
            let _ = writeln!(out, "Syntax error: {e}");
            continue;
        }
        let _ = writeln!(out, "| line | statement | locks | rewrote | scanned | time | model |\n|---:|---|---|---|---|---:|---|");
        for s in &f.statements {
            let first = s.sql.lines().next().unwrap_or("").replace('|', "\\|");
            let model = match s.status {
                "control" => "transaction control".into(),
                "skipped" => format!("skipped: {}", s.message.as_deref().unwrap_or("")),
                "error" => format!("**error**: {}", s.message.as_deref().unwrap_or("")),
                _ if s.disagreements.is_empty() => "agrees".into(),
                _ => format!("**disagrees**: {}", s.disagreements.join("; ")),
            };
            let scanned: Vec<String> = s
                .scanned
                .iter()
                .map(|(t, n)| format!("{t} ({n})"))
                .collect();
            let _ = writeln!(
                out,
                "| {} | `{first}` | {} | {} | {} | {:.1} ms | {} |",
                s.line,
                locks_text(s),
                s.rewritten.join(", "),
                scanned.join(", "),
                s.duration_ms,
                model.replace('|', "\\|")
            );
        }
    }
    out
}

/// Escapes a GitHub workflow-command value (`%`, CR, LF; in properties also `:` and `,`).
fn gh_escape(s: &str, property: bool) -> String {
    let mut out = s
        .replace('%', "%25")
        .replace('\r', "%0D")
        .replace('\n', "%0A");
    if property {
        out = out.replace(':', "%3A").replace(',', "%2C");
    }
    out
}

/// One line per failed statement or model disagreement (nothing when all is well).
fn problems(traces: &[FileTrace], github: bool) -> String {
    let mut out = String::new();
    let mut line = |file: &str, l: usize, c: usize, title: &str, message: &str| {
        if github {
            let _ = writeln!(
                out,
                "::error file={},line={l},col={c},title={}::{}",
                gh_escape(file, true),
                gh_escape(title, true),
                gh_escape(message, false)
            );
        } else {
            let _ = writeln!(
                out,
                "{file}:{l}:{c}: error: {title}: {}",
                message.replace('\n', " ")
            );
        }
    };
    for f in traces {
        if let Some(e) = &f.error {
            line(&f.file, 1, 1, "syntax-error", e);
        }
        for s in &f.statements {
            if s.status == "error" {
                line(
                    &f.file,
                    s.line,
                    s.column,
                    "statement-failed",
                    s.message.as_deref().unwrap_or(""),
                );
            }
            if s.lock_not_free {
                line(
                    &f.file,
                    s.line,
                    s.column,
                    "lock-not-free",
                    s.message.as_deref().unwrap_or(""),
                );
            }
            for d in &s.disagreements {
                line(&f.file, s.line, s.column, "model-disagrees", d);
            }
        }
    }
    out
}
