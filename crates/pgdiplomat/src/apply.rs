//! `pgdiplomat apply`.

use std::io::IsTerminal;

use indicatif::{ProgressBar, ProgressStyle};
use pgdiplomat_apply::connect::target;
use pgdiplomat_apply::execute::{ApplyError, ApplyOptions, Event, Runner};
use pgdiplomat_apply::history::History;
use pgdiplomat_apply::plan::{plan, Migration, StepKind};
use pgdiplomat_apply::retry::RetryPolicy;

use crate::cli::ApplyArgs;
use crate::input::{error, read_sources};
use crate::{EXIT_CLEAN, EXIT_FINDINGS, EXIT_USAGE};

fn print_plan(migrations: &[Migration], policy: &RetryPolicy, statuses: &[Option<String>]) {
    for (m, status) in migrations.iter().zip(statuses) {
        println!(
            "{} ({}){}",
            m.name,
            &m.checksum[..12],
            status
                .as_deref()
                .map(|s| format!(": {s}"))
                .unwrap_or_default()
        );
        for note in &m.notes {
            println!("    note: {note}");
        }
        for (i, step) in m.steps.iter().enumerate() {
            let how = match step.kind {
                StepKind::Concurrent => {
                    "outside a transaction, statement_timeout 0, INVALID index cleanup".to_string()
                }
                StepKind::Transaction if step.negotiate => format!(
                    "transaction, lock_timeout {} ms, up to {} attempts within {}s — needs {}",
                    policy.lock_timeout.as_millis(),
                    policy.max_attempts,
                    policy.max_total.as_secs(),
                    step.blocking_locks.join(", ")
                ),
                StepKind::Transaction => {
                    "transaction, no lock that blocks the application".to_string()
                }
                StepKind::Backfill => match &step.statements[0].backfill {
                    Some((spec, table)) => format!(
                        "batched backfill of {table}: {} rows per transaction by primary key, {} ms pause, resumable",
                        spec.batch, spec.pause_ms
                    ),
                    None => "batched backfill".to_string(),
                },
            };
            println!("  step {}: {how}", i + 1);
            for s in &step.statements {
                println!(
                    "      {}:{}  {}",
                    m.path,
                    s.line,
                    s.sql.lines().next().unwrap_or("")
                );
            }
        }
    }
}

pub fn run(args: ApplyArgs) -> u8 {
    let (sources, failed) = read_sources(&args.paths);
    if failed {
        return EXIT_USAGE;
    }
    let policy = RetryPolicy {
        lock_timeout: args.lock_timeout,
        max_attempts: args.max_attempts.max(1),
        max_total: args.max_retry_time,
        initial_backoff: args.backoff,
        ..RetryPolicy::default()
    };
    let target = match target(args.database_url.as_deref()) {
        Ok(t) => Some(t),
        Err(_) if args.dry_run && args.database_url.is_none() => None,
        Err(e) => {
            error(e);
            return EXIT_USAGE;
        }
    };
    // Plan for the server's version when we can reach it.
    let mut server_major = pgdiplomat_locks::DEFAULT_VERSION;
    let mut probe = None;
    if let Some(t) = &target {
        match t.connect() {
            Ok(mut c) => {
                if let Ok(r) = c.query_one(
                    "SELECT current_setting('server_version_num')::int / 10000",
                    &[],
                ) {
                    server_major = (r.get::<_, i32>(0) as u32).clamp(13, 18);
                }
                probe = Some(c);
            }
            Err(e) => {
                error(e);
                return EXIT_USAGE;
            }
        }
    }
    let migrations = match plan(&sources, server_major) {
        Ok(m) => m,
        Err(e) => {
            eprintln!("{e}");
            return EXIT_USAGE;
        }
    };
    if args.dry_run {
        let history = History::new(&args.history_schema);
        let statuses: Vec<Option<String>> = migrations
            .iter()
            .map(|m| {
                let c = probe.as_mut()?;
                let r = history.get(c, &m.name).ok().flatten();
                Some(match r {
                    None => "pending".to_string(),
                    Some(r) if r.checksum != m.checksum => {
                        "CHANGED since it was recorded".to_string()
                    }
                    Some(r) if r.state == "applied" => "already applied".to_string(),
                    Some(r) => format!("{} — will resume at step {}", r.state, r.steps_done + 1),
                })
            })
            .collect();
        print_plan(&migrations, &policy, &statuses);
        return EXIT_CLEAN;
    }
    drop(probe);
    let Some(target) = target else {
        return EXIT_USAGE;
    };
    eprintln!(
        "pgdiplomat: applying {} migration(s) to {}",
        migrations.len(),
        target.description
    );

    let tty = std::io::stderr().is_terminal();
    let mut bar: Option<ProgressBar> = None;
    let mut last_logged: (String, i64) = (String::new(), -1);
    let mut events = |e: Event| match e {
        Event::Info(s) => match &bar {
            Some(b) => b.println(format!("pgdiplomat: {s}")),
            None => eprintln!("pgdiplomat: {s}"),
        },
        Event::Warn(s) => match &bar {
            Some(b) => b.println(format!("pgdiplomat: warning: {s}")),
            None => eprintln!("pgdiplomat: warning: {s}"),
        },
        Event::Progress {
            label,
            phase,
            done,
            total,
        } => {
            if tty {
                let b = bar.get_or_insert_with(|| {
                    let b = ProgressBar::new(total.max(1) as u64);
                    b.set_style(
                        ProgressStyle::with_template(
                            "{prefix} {wide_msg} [{bar:30}] {percent:>3}%",
                        )
                        .unwrap_or_else(|_| ProgressStyle::default_bar())
                        .progress_chars("=> "),
                    );
                    b
                });
                b.set_prefix(label);
                b.set_length(total.max(1) as u64);
                b.set_position(done.max(0) as u64);
                b.set_message(phase);
            } else {
                // Log lines: on a new phase and every 25%.
                let pct = if total > 0 { done * 100 / total } else { 0 };
                let bucket = pct / 25;
                if last_logged.0 != phase || last_logged.1 != bucket {
                    eprintln!("pgdiplomat: {label}: {phase} {pct}%");
                    last_logged = (phase, bucket);
                }
            }
        }
        Event::ProgressDone => {
            if let Some(b) = bar.take() {
                b.finish_and_clear();
            }
        }
    };
    let opts = ApplyOptions {
        retry: policy,
        history_schema: args.history_schema.clone(),
        precheck: args.precheck,
        cancel_blockers_after: args.cancel_blockers_after,
        wait_for_runner: args.wait,
        preflight: !args.no_preflight,
    };
    let result = Runner::connect(&target, opts, &mut events).and_then(|mut r| r.apply(&migrations));
    match result {
        Ok(s) => {
            eprintln!(
                "pgdiplomat: done: {} applied ({} resumed), {} already applied, {} lock retries",
                s.applied.len(),
                s.resumed.len(),
                s.skipped.len(),
                s.retries
            );
            EXIT_CLEAN
        }
        Err(e @ (ApplyError::Failed { .. } | ApplyError::Postgres(_))) => {
            error(e);
            EXIT_FINDINGS
        }
        Err(e) => {
            error(e);
            EXIT_USAGE
        }
    }
}
