//! The classifier and the lock table must agree: every row of `LOCK_TABLE` carries an
//! `example` statement, and analysing that example (after a preamble that gives the analyzer
//! the schema knowledge the form depends on) must yield an effect of exactly that row's form,
//! resolved to exactly that row on every version the row covers.
//!
//! The tests are table-driven and collect every mismatch before failing, so one run shows the
//! whole picture.

use pgdiplomat_analysis::analyze::{AnalysisOptions, Analyzer};
use pgdiplomat_analysis::parse::parse_sql;
use pgdiplomat_locks::{LockFact, StatementForm, LOCK_TABLE, SUPPORTED_VERSIONS};

/// Statements run before a row's example so that the analyzer knows what PostgreSQL would
/// know about the fixture schema when the form depends on it. Each entry is one scenario; a
/// form with several entries is checked under each of them.
fn preambles(form: StatementForm) -> Vec<&'static str> {
    use StatementForm as F;
    match form {
        // varchar(10) → varchar(20) is binary coercible only if the old type is known.
        F::AlterColumnTypeNoRewrite => vec!["ALTER TABLE t ADD COLUMN b varchar(10);"],
        // Binary coercible, but a validated CHECK uses the column / an expression index does.
        F::AlterColumnTypeRecheck => {
            vec!["ALTER TABLE t ADD COLUMN chk varchar(30) DEFAULT 'x' CHECK (length(chk) < 30);"]
        }
        F::AlterColumnTypeRebuildIndex => vec![
            "ALTER TABLE t ADD COLUMN lbl varchar(30) DEFAULT 'x'; CREATE INDEX t_lower_lbl_idx ON t (lower(lbl));",
        ],
        F::CreateIndexSkipped => vec!["CREATE INDEX t_e_idx ON t (e);"],
        // Only a table the schema knows is partitioned reaches every partition.
        F::ReindexPartitioned => vec![
            "CREATE TABLE t_rp (v int) PARTITION BY RANGE (v);\n\
             CREATE TABLE t_rp_1 PARTITION OF t_rp FOR VALUES FROM (0) TO (100);\n\
             CREATE INDEX t_rp_v_idx ON t_rp (v);",
        ],
        F::AddPrimaryKeyUsingIndexSetsNotNull => vec!["CREATE UNIQUE INDEX t2_v_uidx ON t2 (v);"],
        F::AlterIndexSetStorageExclusive => vec![
            "",
            "CREATE INDEX t_d_gin ON t USING gin (to_tsvector('simple', d));",
        ],
        // Old type unknown → assumed rewrite; known int → bigint rewrites too.
        F::AlterColumnTypeRewrite => vec!["", "ALTER TABLE t ADD COLUMN a int;"],
        // Only a validated CHECK (a IS NOT NULL) lets PostgreSQL skip the scan.
        F::SetNotNullProvenByCheck => vec![
            "ALTER TABLE t ADD CONSTRAINT t_a_not_null CHECK (a IS NOT NULL) NOT VALID;\n\
             ALTER TABLE t VALIDATE CONSTRAINT t_a_not_null;",
            "ALTER TABLE t ADD CONSTRAINT t_a_not_null CHECK (a IS NOT NULL);",
        ],
        // Without a preamble (nothing known) and with a NOT VALID check that does not prove it.
        F::SetNotNull => vec![
            "",
            "ALTER TABLE t ADD CONSTRAINT t_a_not_null CHECK (a IS NOT NULL) NOT VALID;",
        ],
        F::ValidateForeignKey | F::DropForeignKey => vec![
            "ALTER TABLE t ADD CONSTRAINT t_ref_fk FOREIGN KEY (ref_id) REFERENCES pk (id) NOT VALID;",
        ],
        // Unknown constraint → assumed CHECK; known NOT VALID check → CHECK.
        F::ValidateCheck => vec![
            "",
            "ALTER TABLE t ADD CONSTRAINT t_a_pos CHECK (a > 0) NOT VALID;",
        ],
        F::DropConstraint => vec!["", "ALTER TABLE t ADD CONSTRAINT t_a_pos CHECK (a > 0);"],
        // A parent the run knows has no partition; a foreign table; statistics on a known table.
        F::AttachPartitionUnchecked => vec!["CREATE TABLE t_lp (id int) PARTITION BY LIST (id);"],
        F::AlterForeignTableRows => vec!["CREATE FOREIGN TABLE t_ft (id int) SERVER t_srv;"],
        F::DropStatistics => vec!["CREATE STATISTICS t_st (dependencies) ON a, e FROM t;"],
        F::AlterTableNoMove => vec!["CREATE TABLE t_nm (id int) USING heap TABLESPACE pg_default;"],
        F::AlterIndexNoMove => vec!["CREATE INDEX t_nm_idx ON t (a) TABLESPACE pg_default;"],
        _ => vec![""],
    }
}

/// What one row's example analysed to, for the failure message.
struct Mismatch {
    row: usize,
    form: StatementForm,
    versions: Vec<u32>,
    preamble: &'static str,
    example: &'static str,
    problem: String,
}

fn describe(all: &[Mismatch]) -> String {
    let mut out = format!(
        "{} mismatch(es) between LOCK_TABLE and the classifier:\n",
        all.len()
    );
    for m in all {
        out.push_str(&format!(
            "\n  row {} {:?} on PostgreSQL {:?}\n    preamble: {}\n    example:  {}\n    problem:  {}\n",
            m.row,
            m.form,
            m.versions,
            if m.preamble.is_empty() { "(none)" } else { m.preamble },
            m.example,
            m.problem
        ));
    }
    out
}

/// Versions a row covers (clipped to the supported range).
fn versions(row: &LockFact) -> impl Iterator<Item = u32> {
    let lo = row.since.max(*SUPPORTED_VERSIONS.start());
    let hi = row.until.min(*SUPPORTED_VERSIONS.end());
    lo..=hi
}

/// Analyses `preamble` + `example` and returns the problem with the example's last statement,
/// if any.
fn check_row(
    row: &'static LockFact,
    version: u32,
    preamble: &str,
    assume_txn: bool,
) -> Option<String> {
    let sql = format!("{preamble}\n{};\n", row.example);
    let parsed = match parse_sql(&sql) {
        Ok(p) => p,
        Err(e) => return Some(format!("preamble + example does not parse: {e}")),
    };
    let mut analyzer = Analyzer::new(AnalysisOptions {
        pg_version: version,
        assume_in_transaction: assume_txn,
    });
    let analysis = analyzer.analyze_file(&parsed);
    let Some(last) = analysis.statements.last() else {
        return Some("no statement".into());
    };
    let forms: Vec<Option<StatementForm>> = last.effects.iter().map(|e| e.form()).collect();
    let Some(effect) = last.effects.iter().find(|e| e.form() == Some(row.form)) else {
        return Some(format!(
            "expected an effect of form {:?}; got kind {:?} with forms {:?}",
            row.form,
            kind_name(&last.kind),
            forms
        ));
    };
    // The effect must resolve to this very row (same version range, same facts).
    match effect.fact {
        Some(fact) if fact == row => {}
        Some(fact) => {
            return Some(format!(
                "form {:?} resolved to the row for {}..={} (unsupported: {:?}), not this row",
                row.form, fact.since, fact.until, fact.unsupported
            ))
        }
        None => return Some(format!("form {:?} has no lock fact on {version}", row.form)),
    }
    // Every effect of an example should have a form: an example is written for one form.
    if forms.iter().any(|f| f.is_none()) {
        return Some(format!("some effects have no form: {forms:?}"));
    }
    None
}

fn kind_name(kind: &pgdiplomat_analysis::model::StatementKind) -> String {
    use pgdiplomat_analysis::model::StatementKind as K;
    match kind {
        K::Operations(ops) => format!("Operations({} op(s))", ops.len()),
        other => format!("{other:?}"),
    }
}

#[test]
fn every_example_parses_on_the_postgresql_18_grammar() {
    let mut bad = Vec::new();
    for (i, row) in LOCK_TABLE.iter().enumerate() {
        match parse_sql(row.example) {
            Ok(p) if p.statements.len() == 1 && p.statements[0].node.is_some() => {}
            Ok(p) => bad.push(format!(
                "row {i} {:?}: `{}` parses to {} statement(s), expected exactly one",
                row.form,
                row.example,
                p.statements.len()
            )),
            Err(e) => bad.push(format!(
                "row {i} {:?}: `{}` does not parse: {} (at byte {})",
                row.form, row.example, e.message, e.offset
            )),
        }
    }
    assert!(bad.is_empty(), "{}", bad.join("\n"));
}

#[test]
fn every_example_classifies_to_its_rows_form_on_every_version_of_the_row() {
    let mut mismatches = Vec::new();
    for (i, row) in LOCK_TABLE.iter().enumerate() {
        for version in versions(row) {
            for preamble in preambles(row.form) {
                for assume_txn in [false, true] {
                    if let Some(problem) = check_row(row, version, preamble, assume_txn) {
                        let problem = if assume_txn {
                            format!("{problem} (assume_in_transaction)")
                        } else {
                            problem
                        };
                        // One entry per (row, preamble, problem), listing the versions.
                        match mismatches.iter_mut().find(|m: &&mut Mismatch| {
                            m.row == i && m.preamble == preamble && m.problem == problem
                        }) {
                            Some(m) => {
                                if !m.versions.contains(&version) {
                                    m.versions.push(version)
                                }
                            }
                            None => mismatches.push(Mismatch {
                                row: i,
                                form: row.form,
                                versions: vec![version],
                                preamble,
                                example: row.example,
                                problem,
                            }),
                        }
                    }
                }
            }
        }
    }
    assert!(mismatches.is_empty(), "{}", describe(&mismatches));
}

#[test]
fn every_form_of_the_lock_table_is_reachable_by_the_classifier() {
    // A coarser view of the same check: the set of forms reached by some example.
    let mut unreachable = Vec::new();
    for form in pgdiplomat_locks::all_forms() {
        let reached = LOCK_TABLE.iter().filter(|r| r.form == form).any(|row| {
            versions(row).any(|v| {
                preambles(form)
                    .iter()
                    .any(|p| check_row(row, v, p, false).is_none())
            })
        });
        if !reached {
            unreachable.push(format!("{form:?}"));
        }
    }
    assert!(
        unreachable.is_empty(),
        "forms no example reaches: {}",
        unreachable.join(", ")
    );
}

#[test]
fn every_row_covers_only_supported_versions_and_the_table_has_no_gaps() {
    // The analyzer looks facts up per version; a hole would leave an effect without a fact.
    let mut problems = Vec::new();
    for form in pgdiplomat_locks::all_forms() {
        for v in SUPPORTED_VERSIONS {
            let n = LOCK_TABLE
                .iter()
                .filter(|r| r.form == form && r.since <= v && v <= r.until)
                .count();
            if n != 1 {
                problems.push(format!("{form:?} on {v}: {n} rows"));
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

// ------------------------------------------------------------------------------------------
// Schema-dependent forms beyond the examples. Each expectation was checked on a real server
// (PostgreSQL 15.18): a rewrite is a new `pg_relation_filenode`, a skipped NOT NULL scan is the
// DEBUG1 message "existing constraints on column ... are sufficient to prove that it does not
// contain nulls".
// ------------------------------------------------------------------------------------------

/// The forms of the last statement of `sql`, analysed on PostgreSQL 17.
fn last_forms(sql: &str) -> Vec<Option<StatementForm>> {
    let parsed = parse_sql(sql).expect("parses");
    let analysis = Analyzer::new(AnalysisOptions::default()).analyze_file(&parsed);
    analysis
        .statements
        .last()
        .map(|s| s.effects.iter().map(|e| e.form()).collect())
        .unwrap_or_default()
}

#[test]
fn column_type_changes_are_classified_as_postgresql_executes_them() {
    use StatementForm as F;
    let cases: &[(&str, StatementForm)] = &[
        // Verified: same filenode.
        ("ALTER TABLE c ADD COLUMN x varchar(10);\nALTER TABLE c ALTER COLUMN x TYPE varchar(20);", F::AlterColumnTypeNoRewrite),
        ("ALTER TABLE c ADD COLUMN x text;\nALTER TABLE c ALTER COLUMN x TYPE varchar;", F::AlterColumnTypeNoRewrite),
        ("ALTER TABLE c ADD COLUMN x cidr;\nALTER TABLE c ALTER COLUMN x TYPE inet;", F::AlterColumnTypeNoRewrite),
        ("ALTER TABLE c ADD COLUMN x timestamp(3);\nALTER TABLE c ALTER COLUMN x TYPE timestamp(6);", F::AlterColumnTypeNoRewrite),
        // Verified: new filenode. char(n) → text goes through rtrim (pg_cast: castmethod 'f'),
        // it is not binary coercible.
        ("ALTER TABLE c ADD COLUMN x char(10);\nALTER TABLE c ALTER COLUMN x TYPE text;", F::AlterColumnTypeRewrite),
        ("ALTER TABLE c ADD COLUMN x char(10);\nALTER TABLE c ALTER COLUMN x TYPE varchar(20);", F::AlterColumnTypeRewrite),
        ("ALTER TABLE c ADD COLUMN x int;\nALTER TABLE c ALTER COLUMN x TYPE bigint;", F::AlterColumnTypeRewrite),
    ];
    let wrong: Vec<String> = cases
        .iter()
        .filter(|(sql, want)| !last_forms(sql).contains(&Some(*want)))
        .map(|(sql, want)| format!("{sql}\n  expected {want:?}, got {:?}", last_forms(sql)))
        .collect();
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

#[test]
fn set_not_null_is_proven_by_any_validated_check_that_implies_it() {
    // Verified: PostgreSQL skips the scan when a validated CHECK implies the column is not
    // null, also when the CHECK covers several columns with AND.
    let cases = [
        "ALTER TABLE n ADD CONSTRAINT n_a CHECK (a IS NOT NULL) NOT VALID;\n\
         ALTER TABLE n VALIDATE CONSTRAINT n_a;\n\
         ALTER TABLE n ALTER COLUMN a SET NOT NULL;",
        "ALTER TABLE n ADD CONSTRAINT n_ab CHECK (a IS NOT NULL AND b IS NOT NULL) NOT VALID;\n\
         ALTER TABLE n VALIDATE CONSTRAINT n_ab;\n\
         ALTER TABLE n ALTER COLUMN a SET NOT NULL;",
        "ALTER TABLE n ADD CONSTRAINT n_ab CHECK (a IS NOT NULL AND b IS NOT NULL) NOT VALID;\n\
         ALTER TABLE n VALIDATE CONSTRAINT n_ab;\n\
         ALTER TABLE n ALTER COLUMN b SET NOT NULL;",
    ];
    let wrong: Vec<String> = cases
        .iter()
        .filter(|sql| !last_forms(sql).contains(&Some(StatementForm::SetNotNullProvenByCheck)))
        .map(|sql| {
            format!(
                "{sql}\n  expected SetNotNullProvenByCheck, got {:?}",
                last_forms(sql)
            )
        })
        .collect();
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

#[test]
fn drop_table_locks_every_referenced_table_and_the_same_on_every_run() {
    // The DropTable row: "Also ACCESS EXCLUSIVE on every table its foreign keys reference".
    let sql = "ALTER TABLE m ADD CONSTRAINT m_a_fk FOREIGN KEY (a) REFERENCES p1 (id) NOT VALID;\n\
               ALTER TABLE m ADD CONSTRAINT m_b_fk FOREIGN KEY (b) REFERENCES p2 (id) NOT VALID;\n\
               DROP TABLE m;";
    let parsed = parse_sql(sql).expect("parses");
    let mut seen = std::collections::BTreeSet::new();
    // A fresh analyzer per run, as `lint` and `explain` each create one.
    for _ in 0..32 {
        let analysis = Analyzer::new(AnalysisOptions::default()).analyze_file(&parsed);
        let last = analysis.statements.last().expect("statements");
        let mut relations: Vec<String> = last
            .effects
            .iter()
            .flat_map(|e| e.locks.iter().map(|l| l.relation.clone()))
            .collect();
        relations.sort();
        seen.insert(relations);
    }
    let want: Vec<String> = ["m", "p1", "p2"].iter().map(|s| s.to_string()).collect();
    assert!(
        seen.len() == 1 && seen.contains(&want),
        "DROP TABLE m locks, over 32 runs: {seen:?}; expected always {want:?}"
    );
}
