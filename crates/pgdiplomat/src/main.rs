//! `pgdiplomat`: the command line. A thin layer over `pgdiplomat-analysis` (lint, explain)
//! and `pgdiplomat-locks` (the lock table): argument parsing, reading input, exit codes.

mod apply;
mod cli;
mod completions;
mod django;
mod explain;
mod fix;
mod input;
mod inspect;
mod lint;
mod tables;
mod trace;

use std::process::ExitCode;

// Parse trees are many small allocations; mimalloc makes them markedly cheaper than glibc's
// malloc (see docs/benchmarks.md).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use clap::Parser;

/// Exit codes, documented in `--help`.
pub const EXIT_CLEAN: u8 = 0;
pub const EXIT_FINDINGS: u8 = 1;
pub const EXIT_USAGE: u8 = 2;

fn main() -> ExitCode {
    let args = cli::Cli::parse();
    // One thread with a deep stack for the whole run: parse trees of any depth decode in it.
    let code = pgdiplomat_analysis::parse::with_parse_stack(|| match args.command {
        cli::Command::Lint(a) => lint::run(a),
        cli::Command::Explain(a) => explain::run(a),
        cli::Command::Trace(a) => trace::run(a),
        cli::Command::Apply(a) => apply::run(a),
        cli::Command::Fix(a) => fix::run(a),
        cli::Command::Inspect(a) => inspect::run(a),
        cli::Command::Rules(a) => tables::rules(a),
        cli::Command::Locks(a) => tables::locks(a),
        cli::Command::Django(a) => django::run(a),
        cli::Command::Completions(a) => completions::run(a),
        cli::Command::Man(a) => completions::run_man(a),
    });
    ExitCode::from(code)
}
