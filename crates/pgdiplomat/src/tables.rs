//! `pgdiplomat rules` and `pgdiplomat locks`: the knowledge the tool runs on, printed.

use pgdiplomat_analysis::rules::{all_rules, rule_by_id};
use pgdiplomat_locks::{LockMode, Rewrite, Scan, TransactionUse, LOCK_TABLE};

use crate::cli::{LocksArgs, LocksFormat, RulesArgs};
use crate::input::error;
use crate::input::print_stdout;
use crate::{EXIT_CLEAN, EXIT_USAGE};

/// `println!` into a buffer that is printed at the end (a closed pipe is not an error).
macro_rules! out {
    ($buf:expr, $($arg:tt)*) => {{
        use std::fmt::Write as _;
        let _ = writeln!($buf, $($arg)*);
    }};
}

pub fn rules(args: RulesArgs) -> u8 {
    let mut buf = String::new();
    let code = match args.id {
        None => {
            let width = all_rules().iter().map(|r| r.id().len()).max().unwrap_or(0);
            for r in all_rules() {
                out!(
                    buf,
                    "{:<width$}  {:<7}  {}",
                    r.id(),
                    r.severity().as_str(),
                    r.summary()
                );
            }
            EXIT_CLEAN
        }
        Some(id) => match rule_by_id(&id) {
            Some(r) => {
                out!(
                    buf,
                    "{} ({})\n\n{}\n\n{}\n",
                    r.id(),
                    r.severity().as_str(),
                    r.summary(),
                    r.explanation()
                );
                out!(buf, "Flagged:\n\n{}\n", indent(r.bad_example()));
                out!(buf, "Safe:\n\n{}", indent(r.good_example()));
                EXIT_CLEAN
            }
            None => {
                error(format!("no rule `{id}`; `pgdiplomat rules` lists them"));
                EXIT_USAGE
            }
        },
    };
    match print_stdout(&buf) {
        Ok(()) => code,
        Err(()) => EXIT_USAGE,
    }
}

fn indent(s: &str) -> String {
    s.lines()
        .map(|l| format!("    {l}"))
        .collect::<Vec<_>>()
        .join("\n")
}

pub fn locks(args: LocksArgs) -> u8 {
    let mut buf = String::new();
    let rows: Vec<_> = LOCK_TABLE
        .iter()
        .filter(|f| args.pg_version.is_none_or(|v| f.since <= v && v <= f.until))
        .collect();
    match args.format {
        LocksFormat::Json => {
            let json: Vec<_> = rows
                .iter()
                .map(|f| {
                    serde_json::json!({
                        "form": format!("{:?}", f.form),
                        "title": f.title,
                        "versions": [f.since, f.until],
                        "unsupported": f.unsupported,
                        "locks": f.locks.iter().map(|(role, mode)| serde_json::json!({
                            "relation": role.label(), "mode": mode.sql_name(),
                            "blocks": mode.blocks().iter().map(|o| o.label()).collect::<Vec<_>>(),
                        })).collect::<Vec<_>>(),
                        "rewrite": match f.rewrite { Rewrite::No => "no", Rewrite::Table => "table", Rewrite::Indexes => "indexes" },
                        "scan": match f.scan { Scan::No => "no", Scan::Table => "table", Scan::Query => "query" },
                        "in_transaction": f.transaction == TransactionUse::Allowed,
                        "waits_for_transactions": f.waits_for_transactions,
                        "example": f.example,
                        "note": f.note,
                    })
                })
                .collect();
            out!(
                buf,
                "{}",
                serde_json::to_string_pretty(&json).unwrap_or_default()
            );
        }
        LocksFormat::Markdown => {
            out!(
                buf,
                "| statement | versions | locks | rewrite | scan | in txn | note |"
            );
            out!(buf, "|---|---|---|---|---|---|---|");
            for f in rows {
                let versions = if f.since == f.until {
                    f.since.to_string()
                } else {
                    format!("{}–{}", f.since, f.until)
                };
                if let Some(why) = f.unsupported {
                    out!(
                        buf,
                        "| {} | {versions} | — | | | | not available: {why} |",
                        f.title
                    );
                    continue;
                }
                let locks: Vec<String> = f
                    .locks
                    .iter()
                    .map(|(r, m)| format!("{}: {}", r.label(), m))
                    .collect();
                let locks = if locks.is_empty() {
                    "none on tables".to_string()
                } else {
                    locks.join("; ")
                };
                let rewrite = match f.rewrite {
                    Rewrite::No => "",
                    Rewrite::Table => "table",
                    Rewrite::Indexes => "indexes",
                };
                let scan = match f.scan {
                    Scan::No => "",
                    Scan::Table => "yes",
                    Scan::Query => "its query",
                };
                let txn = if f.transaction == TransactionUse::Allowed {
                    "yes"
                } else {
                    "**no**"
                };
                out!(
                    buf,
                    "| {} | {versions} | {locks} | {rewrite} | {scan} | {txn} | {} |",
                    f.title,
                    f.note.replace('|', "\\|")
                );
            }
            out!(
                buf,
                "\n## Conflict matrix (row: requested, column: held; X = waits)\n"
            );
            let short = |m: LockMode| m.sql_name().split(' ').map(|w| &w[..1]).collect::<String>();
            let header: Vec<String> = LockMode::ALL.iter().map(|m| short(*m)).collect();
            out!(buf, "| | {} |", header.join(" | "));
            out!(buf, "|---|{}", "---|".repeat(8));
            for a in LockMode::ALL {
                let cells: Vec<&str> = LockMode::ALL
                    .iter()
                    .map(|b| if a.conflicts_with(*b) { "X" } else { "" })
                    .collect();
                out!(buf, "| {} | {} |", a, cells.join(" | "));
            }
            out!(buf, "\n## What each held mode blocks\n");
            for m in LockMode::ALL {
                let b: Vec<&str> = m.blocks().iter().map(|o| o.label()).collect();
                out!(
                    buf,
                    "- **{m}**: {}",
                    if b.is_empty() {
                        "no application statement".to_string()
                    } else {
                        b.join(", ")
                    }
                );
            }
        }
    }
    match print_stdout(&buf) {
        Ok(()) => EXIT_CLEAN,
        Err(()) => EXIT_USAGE,
    }
}
