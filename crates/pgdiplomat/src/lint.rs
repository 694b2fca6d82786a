//! `pgdiplomat lint`.

use std::io::{IsTerminal, Write};

use pgdiplomat_analysis::analyze::Analyzer;
use pgdiplomat_analysis::deploy::DeployOptions;
use pgdiplomat_analysis::layout::changed_since;
use pgdiplomat_analysis::lint::{lint_preprocessed, LintOptions};
use pgdiplomat_analysis::report::{compact, github, human, json, markdown, sarif};
use pgdiplomat_analysis::rules::{
    all_rules, rule_by_id, Severity, INVALID_DIRECTIVE, PREPROCESSOR_IDS,
};
use termcolor::{BufferedStandardStream, ColorChoice};

use crate::cli::{self, FailOn, LintArgs, LintFormat};
use crate::input::{
    analysis_options, defines, error, load_settings, print_stdout, read_migrations, relative_to_cwd,
};
use crate::{EXIT_CLEAN, EXIT_FINDINGS, EXIT_USAGE};

pub fn run(args: LintArgs) -> u8 {
    let Ok((config, _)) = load_settings(&args.common) else {
        return EXIT_USAGE;
    };
    let analysis = analysis_options(&args.common, &config);

    let include = if args.include.is_empty() {
        config.include.clone()
    } else {
        args.include.clone()
    };
    let mut exclude = config.exclude.clone();
    exclude.extend(args.exclude.iter().cloned());
    for id in include.iter().chain(&exclude) {
        if rule_by_id(id).is_none()
            && id != INVALID_DIRECTIVE
            && !PREPROCESSOR_IDS.contains(&id.as_str())
        {
            let ids: Vec<&str> = all_rules().iter().map(|r| r.id()).collect();
            error(format!(
                "unknown rule `{id}`; the rules are: {}",
                ids.join(", ")
            ));
            return EXIT_USAGE;
        }
    }
    let fail_on = match args.fail_on {
        Some(f) => f,
        None => match config.fail_on.as_deref() {
            Some("warning") => FailOn::Warning,
            Some("info") => FailOn::Info,
            Some("never") => FailOn::Never,
            _ => FailOn::Error,
        },
    };

    let paths = if args.paths.is_empty() {
        config.paths.iter().map(|p| relative_to_cwd(p)).collect()
    } else {
        args.paths.clone()
    };
    if paths.is_empty() {
        error("no migrations given: pass files or directories (or `-` for standard input), or set `paths` in pgdiplomat.toml");
        return EXIT_USAGE;
    }
    let changed = match &args.changed_since {
        Some(git_ref) => {
            let cwd = std::env::current_dir().unwrap_or_else(|_| std::path::PathBuf::from("."));
            match changed_since(&cwd, git_ref) {
                Ok(changed) => Some(changed),
                Err(e) => {
                    error(e);
                    return EXIT_USAGE;
                }
            }
        }
        None => None,
    };
    let defines = defines(&args.common.define, &config);
    let deploy = DeployOptions {
        changed,
        start_after: args.start_after.clone().or(config.start_after.clone()),
        fresh_database: args.assume_fresh_database || config.assume_fresh_database.unwrap_or(false),
    };
    let (inputs, read_failed) =
        read_migrations(&paths, args.layout.or(config.layout()), &deploy, &defines);
    if inputs.is_empty() && read_failed {
        return EXIT_USAGE;
    }
    let opts = LintOptions {
        analysis,
        include,
        exclude,
    };
    // One analyzer for the run: what earlier files created is known to later ones, as tables
    // that exist with data once their deploy is over. The transaction the tool wraps each file
    // in is set per file.
    let mut analyzer = Analyzer::new(analysis);
    if let Some(url) = &args.database_url {
        if let Err(e) = crate::input::load_database_schema(url, &mut analyzer.schema) {
            error(format!("cannot read the schema: {e}"));
            return EXIT_USAGE;
        }
    }
    let mut reports = Vec::new();
    let mut read_only = 0usize;
    for input in &inputs {
        if input.starts_deploy {
            analyzer.end_deploy();
        }
        analyzer.options.assume_in_transaction = input
            .in_transaction
            .unwrap_or(analysis.assume_in_transaction);
        let report = lint_preprocessed(&mut analyzer, &input.source, &input.pre, &opts);
        if input.report {
            reports.push(report);
        } else {
            read_only += 1;
        }
    }
    if read_only > 0 && args.format == LintFormat::Human {
        eprintln!(
            "pgdiplomat: {read_only} earlier migration file{} read for the schema, not reported ({})",
            if read_only == 1 { "" } else { "s" },
            if deploy.changed.is_some() {
                "unchanged since the --changed-since ref"
            } else {
                "up to start-after"
            }
        );
    }
    if opts.exclude.iter().any(|e| e == INVALID_DIRECTIVE) {
        for r in &mut reports {
            r.findings.retain(|f| f.rule != INVALID_DIRECTIVE);
        }
    }

    let written = match args.format {
        LintFormat::Json => {
            let doc = json::to_json(&reports, analysis.pg_version);
            let text = serde_json::to_string_pretty(&doc).unwrap_or_default() + "\n";
            if print_stdout(&text).is_err() {
                return EXIT_USAGE;
            }
            Ok(())
        }
        LintFormat::Sarif => {
            let doc = sarif::to_sarif(&reports, analysis.pg_version);
            let text = serde_json::to_string_pretty(&doc).unwrap_or_default() + "\n";
            if print_stdout(&text).is_err() {
                return EXIT_USAGE;
            }
            Ok(())
        }
        LintFormat::Github | LintFormat::Compact | LintFormat::Markdown => {
            let mut out = std::io::BufWriter::new(std::io::stdout().lock());
            match args.format {
                LintFormat::Github => github::write(&mut out, &reports),
                LintFormat::Compact => compact::write(&mut out, &reports),
                _ => markdown::write(&mut out, &reports, analysis.pg_version),
            }
            .and_then(|_| out.flush())
        }
        LintFormat::Human => {
            let color = match args.color {
                cli::ColorChoice::Always => ColorChoice::Always,
                cli::ColorChoice::Never => ColorChoice::Never,
                cli::ColorChoice::Auto => {
                    if std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none() {
                        ColorChoice::Auto
                    } else {
                        ColorChoice::Never
                    }
                }
            };
            let mut out = BufferedStandardStream::stdout(color);
            human::write_reports(&mut out, &reports).and_then(|_| out.flush())
        }
    };
    if let Err(e) = written {
        if e.kind() != std::io::ErrorKind::BrokenPipe {
            error(format!("cannot write output: {e}"));
            return EXIT_USAGE;
        }
    }

    if read_failed {
        return EXIT_USAGE;
    }
    exit_status(fail_on, &reports)
}

/// 1 when a finding is at or above `fail_on`, else 0.
pub fn exit_status(fail_on: FailOn, reports: &[pgdiplomat_analysis::lint::FileReport]) -> u8 {
    let threshold = match fail_on {
        FailOn::Error => Some(Severity::Error),
        FailOn::Warning => Some(Severity::Warning),
        FailOn::Info => Some(Severity::Info),
        FailOn::Never => None,
    };
    let worst = reports.iter().filter_map(|r| r.max_severity()).max();
    match (threshold, worst) {
        (Some(t), Some(w)) if w >= t => EXIT_FINDINGS,
        _ => EXIT_CLEAN,
    }
}
