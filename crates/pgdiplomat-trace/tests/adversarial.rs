//! The adversarial differential test: statement forms the lock table's own examples do not
//! cover (`tests/adversarial/*.sql`), traced on a real server against `tests/adversarial/fixture.sql`
//! (partitions with and without a default partition, inheritance, foreign keys both ways,
//! domains, views, sequences, a second schema) and compared with the model's prediction:
//! every relation locked (and its mode), tables rewritten, tables scanned.
//!
//! A form the model gets wrong fails the test unless it carries `-- known-disagreement: why`
//! (then it must still disagree: a known disagreement that agrees now fails as stale).
//! `PGDIPLOMAT_ADV_REPORT=FILE` writes the result table; `PGDIPLOMAT_ADV_FORM=name` runs one
//! form. `scripts/verify-lock-model` runs it on PostgreSQL 13–18.

use std::path::Path;

use pgdiplomat_pg::{Cluster, ClusterOptions};
use pgdiplomat_trace::forms::{create_form_fixture, markdown, parse_forms, run_forms, Form};

fn forms() -> Vec<Form> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/adversarial");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .expect("tests/adversarial")
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "sql") && !p.ends_with("fixture.sql"))
        .collect();
    files.sort();
    let mut all = Vec::new();
    for f in files {
        let name = f.file_name().unwrap().to_string_lossy().to_string();
        let text = std::fs::read_to_string(&f).unwrap();
        all.extend(parse_forms(&name, &text).unwrap_or_else(|e| panic!("{e}")));
    }
    all
}

#[test]
fn form_names_are_unique_and_there_are_enough_of_them() {
    let forms = forms();
    let mut names: Vec<&str> = forms.iter().map(|f| f.name.as_str()).collect();
    names.sort();
    let before = names.len();
    names.dedup();
    assert_eq!(before, names.len(), "form names must be unique");
    assert!(
        forms.len() >= 250,
        "{} forms; the issue asks for at least 250",
        forms.len()
    );
}

#[test]
fn adversarial_forms_match_what_postgres_does() {
    let mut forms = forms();
    if let Ok(only) = std::env::var("PGDIPLOMAT_ADV_FORM") {
        forms.retain(|f| f.name == only);
    }
    let cluster = Cluster::start(ClusterOptions::default()).expect("start an embedded PostgreSQL");
    let version = cluster.version();
    let fixture = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/adversarial/fixture.sql"),
    )
    .unwrap();
    create_form_fixture(&cluster, "adversarial", &fixture).expect("load the fixture");
    let results = run_forms(&cluster, version.major, "adversarial", &forms).expect("run the forms");
    let count = |o: &str| results.iter().filter(|r| r.outcome == o).count();
    let summary = format!(
        "PostgreSQL {version}: {} forms, {} agree, {} known disagreements, {} disagree, {} not modelled, {} errors, {} stale",
        results.len(),
        count("agree"),
        count("known"),
        count("disagree"),
        count("not modelled"),
        count("error"),
        count("stale"),
    );
    eprintln!("{summary}");
    if let Ok(path) = std::env::var("PGDIPLOMAT_ADV_REPORT") {
        std::fs::write(
            &path,
            format!(
                "## PostgreSQL {version}\n\n{summary}\n\n{}",
                markdown(&results)
            ),
        )
        .expect("write the report");
    }
    let bad: Vec<String> = results
        .iter()
        .filter(|r| !matches!(r.outcome, "agree" | "known"))
        .map(|r| {
            let why = if r.outcome == "stale" {
                "agrees now: remove its known-disagreement line".to_string()
            } else {
                r.details.join("\n    ")
            };
            format!(
                "{} `{}` [{}] ({}):\n    {why}",
                r.origin,
                r.name,
                r.outcome,
                r.model.join(", ")
            )
        })
        .collect();
    assert!(bad.is_empty(), "{summary}\n{}", bad.join("\n"));
}
