//! Statement forms beyond the lock table's own examples, traced on a real server against an
//! adversarial fixture (partitions, inheritance, foreign keys both ways, domains, views,
//! sequences, a second schema) and compared with what the model predicts for them.
//!
//! PostgreSQL is the oracle: a form file holds statements, never expected results. A form may
//! carry a `-- known-disagreement: why` line; it is then reported as known (and must still
//! disagree, so the list stays true). See `crates/pgdiplomat-trace/tests/adversarial/README.md`.

use std::time::Duration;

use pgdiplomat_analysis::analyze::{AnalysisOptions, Analyzer};
use pgdiplomat_analysis::model::SchemaState;
use pgdiplomat_analysis::parse::parse_sql;
use pgdiplomat_pg::{quote_ident, Cluster};

use crate::catalogue::CatalogueError;
use crate::compare::{check, Prediction};
use crate::run::{backend_pid, run_concurrently, run_in_transaction, Blocker};

/// One statement form.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Form {
    pub name: String,
    /// `file:line` of its `-- form:` line.
    pub origin: String,
    /// Statements committed before the traced one (their locks are not the form's).
    pub setup: Vec<String>,
    /// Runs outside a transaction (CONCURRENTLY, VACUUM), sampled from a second connection.
    pub autocommit: bool,
    /// For autocommit forms: what other transactions hold while the statement starts, so its
    /// locks are seen (`-- hold: SQL`, one transaction each; default: an open snapshot).
    pub hold: Vec<String>,
    /// Versions the form exists on (`-- since: 15`, `-- until: 16`).
    pub since: u32,
    pub until: u32,
    /// Why the model is known to disagree, until it is fixed.
    pub known_disagreement: Option<String>,
    pub sql: String,
}

/// Reads the forms of one file (format: the README next to the fixture).
pub fn parse_forms(file: &str, text: &str) -> Result<Vec<Form>, String> {
    let mut forms: Vec<Form> = Vec::new();
    let mut current: Option<Form> = None;
    let finish = |f: Option<Form>, forms: &mut Vec<Form>| -> Result<(), String> {
        if let Some(mut f) = f {
            f.sql = f.sql.trim().to_string();
            if f.sql.is_empty() {
                return Err(format!("{}: form {} has no statement", f.origin, f.name));
            }
            forms.push(f);
        }
        Ok(())
    };
    for (n, line) in text.lines().enumerate() {
        let at = format!("{file}:{}", n + 1);
        let directive = line.trim_start().strip_prefix("-- ");
        if let Some(name) = directive.and_then(|d| d.strip_prefix("form:")) {
            finish(current.take(), &mut forms)?;
            let name = name.trim();
            if name.is_empty() || name.contains(char::is_whitespace) {
                return Err(format!("{at}: a form needs a one-word name"));
            }
            current = Some(Form {
                name: name.to_string(),
                origin: at,
                setup: Vec::new(),
                autocommit: false,
                hold: Vec::new(),
                since: 13,
                until: 18,
                known_disagreement: None,
                sql: String::new(),
            });
            continue;
        }
        let Some(form) = current.as_mut() else {
            if line.trim().is_empty() || line.trim_start().starts_with("--") {
                continue;
            }
            return Err(format!(
                "{at}: a statement before the first `-- form:` line"
            ));
        };
        let version = |v: &str| {
            v.trim()
                .parse::<u32>()
                .map_err(|_| format!("{at}: not a major version: {v:?}"))
        };
        match directive.and_then(|d| d.split_once(':')) {
            Some(("setup", s)) => form.setup.push(s.trim().to_string()),
            Some(("hold", s)) => form.hold.push(s.trim().to_string()),
            Some(("since", v)) => form.since = version(v)?,
            Some(("until", v)) => form.until = version(v)?,
            Some(("known-disagreement", why)) => {
                form.known_disagreement = Some(why.trim().to_string())
            }
            _ if directive.map(str::trim) == Some("autocommit") => form.autocommit = true,
            _ => {
                form.sql.push_str(line);
                form.sql.push('\n');
            }
        }
    }
    finish(current, &mut forms)?;
    Ok(forms)
}

/// What one form did against what the model says.
#[derive(Debug, Clone, serde::Serialize)]
pub struct FormResult {
    pub name: String,
    pub origin: String,
    pub sql: String,
    /// `agree`, `disagree`, `known` (disagrees as its `known-disagreement` says), `stale`
    /// (marked known but agrees now), `not modelled` or `error` (the server refused it while
    /// the model predicted success, or the form itself is broken).
    pub outcome: &'static str,
    pub details: Vec<String>,
    /// The model's view: the lock-table rows it applied.
    pub model: Vec<String>,
    pub observed_locks: Vec<String>,
    pub rewritten: Vec<String>,
    pub scanned: Vec<String>,
}

/// The fixture's schema, read from the live fixture database the way trace and lint read a
/// user's database: predictions know its partitions, keys, indexes and column types.
pub fn fixture_schema(cluster: &Cluster, db: &str) -> Result<SchemaState, CatalogueError> {
    let mut client = cluster.connect_db(db)?;
    let mut schema = SchemaState::default();
    pgdiplomat_catalog::load_schema(&mut client, &mut schema)?;
    Ok(schema)
}

/// The model's analysis of `form` (its setup first, on `schema`), as trace makes it.
fn analyse(
    form: &Form,
    version: u32,
    schema: &SchemaState,
) -> Result<Vec<pgdiplomat_analysis::analyze::Effect>, String> {
    let mut sql = String::new();
    for s in &form.setup {
        sql.push_str(s);
        sql.push('\n');
    }
    let setup_statements = parse_sql(&sql)
        .map_err(|e| format!("setup: {}", e.message))?
        .statements
        .len();
    sql.push_str(&form.sql);
    let parsed = parse_sql(&sql).map_err(|e| e.message)?;
    if parsed.statements.len() != setup_statements + 1 {
        return Err(format!(
            "a form is one statement; this one has {}",
            parsed.statements.len() - setup_statements
        ));
    }
    let mut analyzer = Analyzer::new(AnalysisOptions {
        pg_version: version,
        assume_in_transaction: !form.autocommit,
    });
    analyzer.schema = schema.clone();
    let analysis = analyzer.analyze_file(&parsed);
    Ok(analysis
        .statements
        .last()
        .map(|s| s.effects.clone())
        .unwrap_or_default())
}

/// Creates database `db` holding `fixture`, and `<db>_work`, a copy for in-transaction forms.
pub fn create_form_fixture(
    cluster: &Cluster,
    db: &str,
    fixture: &str,
) -> Result<(), CatalogueError> {
    let mut admin = cluster.connect()?;
    admin.batch_execute(&format!("CREATE DATABASE {}", quote_ident(db)))?;
    cluster.connect_db(db)?.batch_execute(fixture)?;
    admin.batch_execute(&format!(
        "CREATE DATABASE {} TEMPLATE {}",
        quote_ident(&format!("{db}_work")),
        quote_ident(db)
    ))?;
    Ok(())
}

/// Runs every form that exists on `version` against the fixture database `db` (made by
/// [`create_form_fixture`]) and compares each with the model.
pub fn run_forms(
    cluster: &Cluster,
    version: u32,
    db: &str,
    forms: &[Form],
) -> Result<Vec<FormResult>, CatalogueError> {
    let schema = fixture_schema(cluster, db)?;
    let work_db = format!("{db}_work");
    let mut work = cluster.connect_db(&work_db)?;
    let pid = backend_pid(&mut work)?;
    let mut out = Vec::new();
    for (n, form) in forms.iter().enumerate() {
        if version < form.since || version > form.until {
            continue;
        }
        let mut r = FormResult {
            name: form.name.clone(),
            origin: form.origin.clone(),
            sql: form.sql.clone(),
            outcome: "error",
            details: Vec::new(),
            model: Vec::new(),
            observed_locks: Vec::new(),
            rewritten: Vec::new(),
            scanned: Vec::new(),
        };
        let mut effects = match analyse(form, version, &schema) {
            Ok(e) => e,
            Err(e) => {
                r.details.push(format!("the form does not parse: {e}"));
                out.push(r);
                continue;
            }
        };
        r.model = effects
            .iter()
            .map(|e| match (e.fact, &e.op.not_modelled) {
                (Some(f), _) => f.title.to_string(),
                (None, Some(why)) => format!("not modelled: {why}"),
                (None, None) => "no lock that matters".to_string(),
            })
            .collect();
        // With a committed setup, the model reads the database as it is then (what lint
        // --database-url sees once the setup is deployed).
        let mut after_setup: Option<Vec<pgdiplomat_analysis::analyze::Effect>> = None;
        let run = if form.autocommit {
            in_fresh_database(cluster, db, n, |c, case_db| {
                let mut client = c.connect_db(case_db)?;
                for s in &form.setup {
                    client.batch_execute(s)?;
                }
                after_setup = committed_setup_effects(&mut client, form, version)?;
                let mut monitor = c.connect_db(case_db)?;
                // An open snapshot holds CONCURRENTLY forms in place until they are sampled;
                // other forms name what holds them (a conflicting lock).
                let default_hold = ["SELECT 1".to_string()];
                let holds = if form.hold.is_empty() {
                    &default_hold[..]
                } else {
                    &form.hold[..]
                };
                let mut blockers = Vec::new();
                for (i, sql) in holds.iter().enumerate() {
                    let mut holder = c.connect_db(case_db)?;
                    holder
                        .batch_execute(&format!("BEGIN ISOLATION LEVEL REPEATABLE READ; {sql};"))?;
                    blockers.push(Blocker {
                        client: holder,
                        hold: Duration::from_millis(300 * (i as u64 + 1)),
                    });
                }
                Ok(run_concurrently(
                    &mut client,
                    &mut monitor,
                    &form.sql,
                    version,
                    blockers,
                )?)
            })?
        } else if !form.setup.is_empty() {
            in_fresh_database(cluster, db, n, |c, case_db| {
                let mut client = c.connect_db(case_db)?;
                for s in &form.setup {
                    client.batch_execute(s)?;
                }
                after_setup = committed_setup_effects(&mut client, form, version)?;
                let pid = backend_pid(&mut client)?;
                client.batch_execute("BEGIN")?;
                let run = run_in_transaction(&mut client, pid, &form.sql)?;
                client.batch_execute("ROLLBACK")?;
                Ok(run)
            })?
        } else {
            work.batch_execute("BEGIN")?;
            let run = run_in_transaction(&mut work, pid, &form.sql)?;
            work.batch_execute("ROLLBACK")?;
            run
        };
        if let Some(e) = after_setup {
            effects = e;
        }
        let unsupported: Vec<&str> = effects
            .iter()
            .filter_map(|e| e.fact.and_then(|f| f.unsupported))
            .collect();
        let not_modelled: Vec<&String> = effects
            .iter()
            .filter_map(|e| e.op.not_modelled.as_ref())
            .collect();
        let obs = &run.observation;
        r.observed_locks = crate::observe::strongest(&obs.locks)
            .into_iter()
            .map(|(n, m)| format!("{n}: {m}"))
            .collect();
        r.rewritten = obs.rewritten.clone();
        r.scanned = obs
            .scanned
            .iter()
            .map(|(n, rows)| format!("{n} ({rows} rows)"))
            .collect();
        let refused: Vec<&String> = effects
            .iter()
            .filter_map(|e| e.op.refused.as_ref())
            .collect();
        let (outcome, details) = match (&run.error, unsupported.first()) {
            (Some(_), Some(_)) => ("agree", Vec::new()),
            // The model said PostgreSQL refuses it, and it did.
            (Some(_), None) if !refused.is_empty() => ("agree", Vec::new()),
            (None, None) if !refused.is_empty() => (
                "disagree",
                refused
                    .iter()
                    .map(|r| format!("model says PostgreSQL refuses it ({r}), the server ran it"))
                    .collect(),
            ),
            (Some(e), None) => ("error", vec![format!("the server refused it: {e}")]),
            (None, Some(why)) => (
                "disagree",
                vec![format!("model says unsupported ({why}), the server ran it")],
            ),
            (None, None) if !not_modelled.is_empty() => (
                "not modelled",
                not_modelled
                    .iter()
                    .map(|s| format!("not modelled: {s}"))
                    .collect(),
            ),
            (None, None) => {
                let mut p = Prediction::default();
                for e in &effects {
                    if let Some(fact) = e.fact {
                        p.add(fact, &e.op, obs);
                    }
                }
                let details = check(&p, obs);
                (
                    if details.is_empty() {
                        "agree"
                    } else {
                        "disagree"
                    },
                    details,
                )
            }
        };
        r.details = details;
        r.outcome = match (outcome, &form.known_disagreement) {
            ("agree", Some(_)) => "stale",
            ("agree", None) => "agree",
            (_, Some(_)) => "known",
            (o, None) => o,
        };
        out.push(r);
    }
    Ok(out)
}

/// Runs `case` in `<db>_case_<n>`, a fresh copy of the fixture, dropped afterwards.
/// The model's analysis of a form whose setup is committed: the schema read from the
/// database then, the form alone (`None` for a form without setup).
fn committed_setup_effects(
    client: &mut pgdiplomat_pg::postgres::Client,
    form: &Form,
    version: u32,
) -> Result<Option<Vec<pgdiplomat_analysis::analyze::Effect>>, CatalogueError> {
    if form.setup.is_empty() {
        return Ok(None);
    }
    let mut schema = SchemaState::default();
    pgdiplomat_catalog::load_schema(client, &mut schema)?;
    let alone = Form {
        setup: Vec::new(),
        ..form.clone()
    };
    Ok(analyse(&alone, version, &schema).ok())
}

fn in_fresh_database<T>(
    cluster: &Cluster,
    db: &str,
    n: usize,
    case: impl FnOnce(&Cluster, &str) -> Result<T, CatalogueError>,
) -> Result<T, CatalogueError> {
    let case_db = format!("{db}_case_{n}");
    let mut admin = cluster.connect()?;
    admin.batch_execute(&format!(
        "CREATE DATABASE {} TEMPLATE {}",
        quote_ident(&case_db),
        quote_ident(db)
    ))?;
    let outcome = case(cluster, &case_db);
    admin.batch_execute(&format!(
        "DROP DATABASE IF EXISTS {} WITH (FORCE)",
        quote_ident(&case_db)
    ))?;
    outcome
}

/// A markdown table of results, disagreements first.
pub fn markdown(results: &[FormResult]) -> String {
    let mut rows: Vec<&FormResult> = results.iter().collect();
    rows.sort_by_key(|r| (r.outcome == "agree", r.name.clone()));
    let mut s = String::from(
        "| form | outcome | model | observed locks | rewritten | scanned | details |\n|---|---|---|---|---|---|---|\n",
    );
    let cell = |v: &[String]| v.join("; ").replace('|', "\\|");
    for r in rows {
        s.push_str(&format!(
            "| `{}` | {} | {} | {} | {} | {} | {} |\n",
            r.name,
            r.outcome,
            cell(&r.model),
            cell(&r.observed_locks),
            cell(&r.rewritten),
            cell(&r.scanned),
            cell(&r.details)
        ));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forms_are_read_with_their_directives() {
        let text = "-- header comment\n\n-- form: a\n-- setup: CREATE INDEX i ON t (a);\n-- setup: SELECT 1;\nALTER TABLE t\n  ADD COLUMN x int;\n-- form: b\n-- autocommit\n-- hold: LOCK t IN SHARE MODE\n-- since: 15\n-- known-disagreement: misses the partitions\nREINDEX TABLE CONCURRENTLY t;\n";
        let forms = parse_forms("f.sql", text).unwrap();
        assert_eq!(forms.len(), 2);
        assert_eq!(forms[0].name, "a");
        assert_eq!(forms[0].origin, "f.sql:3");
        assert_eq!(
            forms[0].setup,
            vec!["CREATE INDEX i ON t (a);", "SELECT 1;"]
        );
        assert_eq!(forms[0].sql, "ALTER TABLE t\n  ADD COLUMN x int;");
        assert!(!forms[0].autocommit);
        assert!(forms[1].autocommit);
        assert_eq!(forms[1].hold, vec!["LOCK t IN SHARE MODE"]);
        assert!(forms[0].hold.is_empty());
        assert_eq!((forms[1].since, forms[1].until), (15, 18));
        assert_eq!(
            forms[1].known_disagreement.as_deref(),
            Some("misses the partitions")
        );
    }

    #[test]
    fn broken_form_files_are_refused_with_file_and_line() {
        assert_eq!(
            parse_forms("f.sql", "SELECT 1;\n").unwrap_err(),
            "f.sql:1: a statement before the first `-- form:` line"
        );
        assert_eq!(
            parse_forms("f.sql", "-- form: a\n-- form: b\nSELECT 1;").unwrap_err(),
            "f.sql:1: form a has no statement"
        );
        assert_eq!(
            parse_forms("f.sql", "-- form: a b\nSELECT 1;").unwrap_err(),
            "f.sql:1: a form needs a one-word name"
        );
        assert!(parse_forms("f.sql", "-- form: a\n-- since: x\nSELECT 1;")
            .unwrap_err()
            .starts_with("f.sql:2: not a major version"));
    }
}
