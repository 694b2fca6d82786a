//! `pgdiplomat explain`.

use std::io::Write;

use pgdiplomat_analysis::explain::{explain_preprocessed, render_statement_text, JsonStream};
use pgdiplomat_analysis::layout::Layout;
use pgdiplomat_analysis::lint::LintOptions;
use pgdiplomat_analysis::model::SchemaState;
use pgdiplomat_analysis::preprocess::preprocess;
use pgdiplomat_analysis::report::compact;

use crate::cli::{ExplainArgs, ExplainFormat};
use crate::input::{
    analysis_options, defines, dir_of, error, file_layout, load_database_schema, load_settings,
    preprocess_settings, read_sources,
};
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
    let layout = if args.file.as_os_str() == "-" {
        Layout::Plain
    } else {
        file_layout(&args.file, &source.text)
    };
    let settings = preprocess_settings(
        layout,
        &dir_of(&args.file),
        &defines(&args.common.define, &config),
    );
    let pre = preprocess(&source.text, &settings);
    // What is not explained as written (meta-commands, placeholders) is said first.
    for note in &pre.notes {
        eprintln!("{}", compact::line(source, note));
    }
    let mut schema = SchemaState::default();
    if let Some(url) = &args.database_url {
        if let Err(e) = load_database_schema(url, &mut schema) {
            error(format!("cannot read the schema: {e}"));
            return EXIT_USAGE;
        }
    }
    let opts = LintOptions {
        analysis,
        include: config.include.clone(),
        exclude: config.exclude.clone(),
    };
    // Each statement is printed as soon as it is explained, so memory stays bounded by the
    // parser's chunk size. A syntax error is found before the first statement is handed over.
    let out = std::io::BufWriter::new(std::io::stdout().lock());
    let json = matches!(args.format, ExplainFormat::Json);
    let mut writer = Output::Text(out);
    let mut failed: Option<std::io::Error> = None;
    let mut text = String::new();
    let explained = explain_preprocessed(source, &pre, &opts, schema, |s| {
        if failed.is_some() {
            return;
        }
        let written = match &mut writer {
            Output::Text(out) if json => {
                // The document starts with the first statement (nothing on a syntax error).
                let Output::Text(out) = std::mem::replace(&mut writer, Output::Done) else {
                    unreachable!()
                };
                JsonStream::start(out, &source.name, analysis.pg_version).and_then(|mut j| {
                    let r = j.statement(&s);
                    writer = Output::Json(j);
                    r
                })
            }
            Output::Text(out) => {
                text.clear();
                render_statement_text(&mut text, &source.name, &s);
                out.write_all(text.as_bytes())
            }
            Output::Json(j) => j.statement(&s),
            Output::Done => Ok(()),
        };
        if let Err(e) = written {
            failed = Some(e);
        }
    });
    if let Err(e) = explained {
        let lc = source.line_col(e.offset);
        eprintln!(
            "{}:{}:{}: error: {}",
            source.name, lc.line, lc.column, e.message
        );
        return EXIT_FINDINGS;
    }
    let finished = match failed {
        Some(e) => Err(e),
        None => match writer {
            Output::Text(out) if json => JsonStream::start(out, &source.name, analysis.pg_version)
                .and_then(JsonStream::finish)
                .and_then(|mut out| out.flush()),
            Output::Text(mut out) => out.flush(),
            Output::Json(j) => j.finish().and_then(|mut out| out.flush()),
            Output::Done => Ok(()),
        },
    };
    match finished {
        Ok(()) => EXIT_CLEAN,
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => EXIT_CLEAN,
        Err(e) => {
            error(format!("cannot write output: {e}"));
            EXIT_USAGE
        }
    }
}

enum Output<W: Write> {
    Text(W),
    Json(JsonStream<W>),
    Done,
}
