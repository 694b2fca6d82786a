//! `pgdiplomat fix`.

use std::path::{Path, PathBuf};

use pgdiplomat_analysis::analyze::AnalysisOptions;
use pgdiplomat_analysis::fix::{fix_source, Fixed};
use pgdiplomat_locks::DEFAULT_VERSION;

use crate::cli::{FixArgs, FixFormat};
use crate::input::{error, print_stdout, read_sources};
use crate::{EXIT_CLEAN, EXIT_FINDINGS, EXIT_USAGE};

/// `dir/0002_x.sql` → `dir/0002_x_{n}.sql`.
fn part_path(file: &Path, n: usize) -> PathBuf {
    let stem = file
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    let ext = file
        .extension()
        .map(|e| format!(".{}", e.to_string_lossy()))
        .unwrap_or_default();
    file.with_file_name(format!("{stem}_{n}{ext}"))
}

fn part_text(fixed: &Fixed, i: usize) -> String {
    let p = &fixed.parts[i];
    let how = if p.in_transaction {
        "may run in one transaction"
    } else {
        "must run outside any transaction block"
    };
    let mut text = format!(
        "-- pgdiplomat fix: part {} of {}: {how}\n",
        i + 1,
        fixed.parts.len()
    );
    if i == 0 {
        for n in &fixed.notes {
            for (j, line) in n.lines().enumerate() {
                text.push_str(if j == 0 { "-- " } else { "--   " });
                text.push_str(line);
                text.push('\n');
            }
        }
    }
    text.push_str(&p.sql());
    text.push('\n');
    text
}

/// Writes `text` to `path` through a temporary file and a rename: never half a file.
fn write_atomically(path: &Path, text: &str) -> std::io::Result<()> {
    let tmp = path.with_extension("pgdiplomat-tmp");
    std::fs::write(&tmp, text)?;
    std::fs::rename(&tmp, path)
}

pub fn run(args: FixArgs) -> u8 {
    let (sources, failed) = read_sources(std::slice::from_ref(&args.file));
    if failed || sources.is_empty() {
        return EXIT_USAGE;
    }
    let source = &sources[0];
    let options = AnalysisOptions {
        pg_version: args.pg_version.unwrap_or(DEFAULT_VERSION),
        assume_in_transaction: false,
    };
    let fixed = match fix_source(source, options) {
        Ok(f) => f,
        Err(e) => {
            let lc = source.line_col(e.offset);
            eprintln!(
                "{}:{}:{}: error: {}",
                source.name, lc.line, lc.column, e.message
            );
            return EXIT_FINDINGS;
        }
    };
    if args.write {
        if args.file.as_os_str() == "-" {
            error("--write needs a file, not standard input");
            return EXIT_USAGE;
        }
        if !fixed.changed() {
            eprintln!("pgdiplomat: {}: nothing to fix", source.name);
            return EXIT_CLEAN;
        }
        let backup = args.file.with_extension("sql.orig");
        let result = std::fs::copy(&args.file, &backup).and_then(|_| {
            for i in 1..fixed.parts.len() {
                write_atomically(&part_path(&args.file, i + 1), &part_text(&fixed, i))?;
            }
            write_atomically(&args.file, &part_text(&fixed, 0))
        });
        return match result {
            Ok(()) => {
                eprintln!(
                    "pgdiplomat: {}: wrote {} part(s); the original is {}",
                    source.name,
                    fixed.parts.len(),
                    backup.display()
                );
                EXIT_CLEAN
            }
            Err(e) => {
                error(format!("{}: cannot write the fixed migration: {e} (the original is unchanged or in {})", source.name, backup.display()));
                EXIT_USAGE
            }
        };
    }
    let text = match args.format {
        FixFormat::Sql => fixed.render(),
        FixFormat::Json => {
            serde_json::to_string_pretty(
                &serde_json::json!({ "version": 1, "file": source.name, "fixed": fixed }),
            )
            .unwrap_or_default()
                + "\n"
        }
    };
    match print_stdout(&text) {
        Ok(()) => EXIT_CLEAN,
        Err(()) => EXIT_USAGE,
    }
}
