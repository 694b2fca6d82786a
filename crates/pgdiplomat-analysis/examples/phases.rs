//! Times the phases of linting one file: `cargo run --release --example phases FILE`.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;
use std::time::Instant;

use pgdiplomat_analysis::analyze::Analyzer;
use pgdiplomat_analysis::lint::{lint_source, LintOptions};
use pgdiplomat_analysis::parse::parse_sql;
use pgdiplomat_analysis::report::json::to_json;
use pgdiplomat_analysis::source::SourceFile;

fn main() {
    let path = std::env::args().nth(1).expect("usage: phases FILE");
    let text = std::fs::read_to_string(&path).expect("read");
    let t = Instant::now();
    let parsed = parse_sql(&text).expect("parse");
    eprintln!(
        "parse:   {:?} ({} statements)",
        t.elapsed(),
        parsed.statements.len()
    );
    let t = Instant::now();
    let mut a = Analyzer::default();
    let analysis = a.analyze_file(&parsed);
    eprintln!(
        "analyze: {:?} ({} analysed)",
        t.elapsed(),
        analysis.statements.len()
    );
    let t = Instant::now();
    let report = lint_source(
        &SourceFile::new(&path, text.clone()),
        &LintOptions::default(),
    );
    eprintln!(
        "lint (parse+analyze+rules): {:?} ({} findings)",
        t.elapsed(),
        report.findings.len()
    );
    let t = Instant::now();
    let v = to_json(std::slice::from_ref(&report), 17);
    let s = serde_json::to_string_pretty(&v).unwrap();
    eprintln!("json:    {:?} ({} bytes)", t.elapsed(), s.len());
    let t = Instant::now();
    drop(report);
    drop(parsed);
    drop(analysis);
    eprintln!("drop:    {:?}", t.elapsed());
}
