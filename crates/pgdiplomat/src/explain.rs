//! `pgdiplomat explain`.

use pgdiplomat_analysis::explain::{explain_source, render_text};
use pgdiplomat_analysis::lint::LintOptions;

use crate::cli::{ExplainArgs, ExplainFormat};
use crate::input::{analysis_options, error, load_settings, print_stdout, read_sources};
use crate::{EXIT_CLEAN, EXIT_FINDINGS, EXIT_USAGE};

pub fn run(args: ExplainArgs) -> u8 {
    let Ok((config, _)) = load_settings(&args.common) else {
        return EXIT_USAGE;
    };
    let analysis = analysis_options(&args.common, &config);
    if args.file.is_dir() {
        error(format!(
            "{}: explain takes one file; use `pgdiplomat lint` for a directory",
            args.file.display()
        ));
        return EXIT_USAGE;
    }
    let (sources, failed) = read_sources(std::slice::from_ref(&args.file));
    if failed || sources.is_empty() {
        return EXIT_USAGE;
    }
    let source = &sources[0];
    let opts = LintOptions {
        analysis,
        include: config.include.clone(),
        exclude: config.exclude.clone(),
    };
    let explained = match explain_source(source, &opts) {
        Ok(e) => e,
        Err(e) => {
            let lc = source.line_col(e.offset);
            eprintln!(
                "{}:{}:{}: error: {}",
                source.name, lc.line, lc.column, e.message
            );
            return EXIT_FINDINGS;
        }
    };
    let text = match args.format {
        ExplainFormat::Text => render_text(&source.name, &explained),
        ExplainFormat::Json => {
            let doc = serde_json::json!({
                "version": 1,
                "file": source.name,
                "pg_version": analysis.pg_version,
                "statements": explained,
            });
            serde_json::to_string_pretty(&doc).unwrap_or_default() + "\n"
        }
    };
    match print_stdout(&text) {
        Ok(()) => EXIT_CLEAN,
        Err(()) => EXIT_USAGE,
    }
}
