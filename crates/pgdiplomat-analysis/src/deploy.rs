//! Deploys: which migration files run together onto the production database, and which of
//! them are reported.
//!
//! A migration directory is a history. When file 42 runs in production, the tables files 1–41
//! created have existed for a long time and hold data: a `CREATE INDEX` on one of them blocks
//! writes, whatever file created it. So by default every file is its own deploy: before each
//! file the analyser settles what earlier files created ([`Analyzer::end_deploy`]), keeping
//! what it learnt of their columns, types, constraints and indexes. Only a table created
//! earlier in the same deploy is new and empty.
//!
//! * `--changed-since REF`: the changed files are reported and form one deploy (a table one
//!   of them creates is new for the others); the unchanged files are read, not reported.
//! * `start-after` (baseline): the file it names and every file before it are read, not
//!   reported.
//! * `--assume-fresh-database`: the whole input is one deploy onto an empty database.
//!
//! [`Analyzer::end_deploy`]: crate::analyze::Analyzer::end_deploy

use std::collections::HashSet;
use std::fs;
use std::path::{Path, PathBuf};

use crate::discover::MigrationFile;

/// How the files of a run are grouped into deploys and which are reported.
#[derive(Debug, Clone, Default)]
pub struct DeployOptions {
    /// Files changed since a git ref (`--changed-since`): only these are reported.
    pub changed: Option<Vec<PathBuf>>,
    /// The baseline version or file name (`start-after`).
    pub start_after: Option<String>,
    /// One deploy onto an empty database.
    pub fresh_database: bool,
}

/// What to do with one file of the run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PlannedFile {
    /// Its findings are reported (false: read for schema knowledge only).
    pub report: bool,
    /// A new deploy starts with this file: what earlier files created exists with data.
    pub starts_deploy: bool,
}

/// Plans the run's files in order (`None`: standard input). Errors when `start_after` matches
/// no file.
pub fn plan(
    files: &[Option<&MigrationFile>],
    options: &DeployOptions,
) -> Result<Vec<PlannedFile>, String> {
    let baseline = match &options.start_after {
        Some(v) => Some(
            files
                .iter()
                .position(|f| f.is_some_and(|f| names_version(f, v)))
                .ok_or_else(|| {
                    format!(
                        "start-after `{v}` names no migration file of the input; give the \
                         version or file name of the last migration already deployed"
                    )
                })?,
        ),
        None => None,
    };
    let changed: Option<HashSet<PathBuf>> = options
        .changed
        .as_ref()
        .map(|c| c.iter().map(|p| canonical(p)).collect());
    let is_changed = |f: Option<&MigrationFile>| match (&changed, f) {
        (None, _) => true,
        (Some(set), Some(f)) => set.contains(&canonical(&f.path)),
        // Standard input is what the user asked to lint.
        (Some(_), None) => true,
    };
    let mut out = Vec::with_capacity(files.len());
    let mut previous_changed = false;
    for (i, f) in files.iter().enumerate() {
        let changed_file = changed.is_some() && is_changed(*f);
        let report = baseline.is_none_or(|b| i > b) && is_changed(*f);
        let starts_deploy = i > 0 && !options.fresh_database && !(changed_file && previous_changed);
        out.push(PlannedFile {
            report,
            starts_deploy,
        });
        previous_changed = changed_file;
    }
    Ok(out)
}

fn canonical(p: &Path) -> PathBuf {
    fs::canonicalize(p).unwrap_or_else(|_| p.to_path_buf())
}

/// Whether `v` names `file`: its path as shown, its file name, or the directory a
/// `<version>_<name>/up.sql`-style migration lives in, exactly or as the version prefix
/// (`0042` names `0042_add_users.sql`, `20240101120000` names
/// `20240101120000_init/migration.sql`, `3` and `V3` name Flyway's `V3__init.sql`).
pub fn names_version(file: &MigrationFile, v: &str) -> bool {
    let v = v.trim();
    if v.is_empty() {
        return false;
    }
    if file.display == v || file.display.ends_with(&format!("/{v}")) {
        return true;
    }
    let path = Path::new(&file.display);
    let name = path.file_name().and_then(|n| n.to_str());
    let dir = path
        .parent()
        .and_then(|p| p.file_name())
        .and_then(|n| n.to_str());
    [name, dir].into_iter().flatten().any(|candidate| {
        let flyway = candidate
            .strip_prefix(['V', 'v'])
            .filter(|rest| rest.starts_with(|c: char| c.is_ascii_digit()));
        [Some(candidate), flyway]
            .into_iter()
            .flatten()
            .any(|c| prefix_names(c, v))
    })
}

/// `c` is `v`, or starts with `v` followed by a separator (not a letter or digit).
fn prefix_names(c: &str, v: &str) -> bool {
    match c.strip_prefix(v) {
        Some("") => true,
        Some(rest) => !rest.starts_with(|ch: char| ch.is_ascii_alphanumeric()),
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(display: &str) -> MigrationFile {
        MigrationFile {
            path: PathBuf::from(display),
            display: display.to_string(),
        }
    }

    #[test]
    fn a_version_names_its_file_not_a_longer_one() {
        assert!(names_version(&file("m/0042_add_users.sql"), "0042"));
        assert!(names_version(
            &file("m/0042_add_users.sql"),
            "0042_add_users.sql"
        ));
        assert!(names_version(
            &file("m/0042_add_users.sql"),
            "m/0042_add_users.sql"
        ));
        assert!(!names_version(&file("m/00421_other.sql"), "0042"));
        assert!(!names_version(&file("m/1_a.sql"), "10"));
        assert!(names_version(&file("db/V3__init.sql"), "3"));
        assert!(names_version(&file("db/V3__init.sql"), "V3"));
        assert!(names_version(
            &file("prisma/migrations/20240101120000_init/migration.sql"),
            "20240101120000"
        ));
        assert!(names_version(
            &file("migrations/2024-01-01-000000_create_posts/up.sql"),
            "2024-01-01-000000"
        ));
        assert!(!names_version(&file("m/0042_add_users.sql"), "  "));
    }

    fn planned(n: usize, options: &DeployOptions, names: &[&str]) -> Vec<(bool, bool)> {
        let files: Vec<MigrationFile> = names.iter().map(|n| file(n)).collect();
        let refs: Vec<Option<&MigrationFile>> = files.iter().map(Some).collect();
        let out = plan(&refs, options).expect("plans");
        assert_eq!(out.len(), n);
        out.into_iter()
            .map(|p| (p.report, p.starts_deploy))
            .collect()
    }

    #[test]
    fn by_default_every_file_is_a_deploy_and_is_reported() {
        let got = planned(
            3,
            &DeployOptions::default(),
            &["1_a.sql", "2_b.sql", "3_c.sql"],
        );
        assert_eq!(got, [(true, false), (true, true), (true, true)]);
    }

    #[test]
    fn a_fresh_database_is_one_deploy() {
        let options = DeployOptions {
            fresh_database: true,
            ..Default::default()
        };
        let got = planned(3, &options, &["1_a.sql", "2_b.sql", "3_c.sql"]);
        assert_eq!(got, [(true, false), (true, false), (true, false)]);
    }

    #[test]
    fn the_baseline_and_what_precedes_it_are_read_not_reported() {
        let options = DeployOptions {
            start_after: Some("2".into()),
            ..Default::default()
        };
        let got = planned(3, &options, &["1_a.sql", "2_b.sql", "3_c.sql"]);
        assert_eq!(got, [(false, false), (false, true), (true, true)]);
        let missing = DeployOptions {
            start_after: Some("9".into()),
            ..Default::default()
        };
        let files = [file("1_a.sql")];
        let err = plan(&[Some(&files[0])], &missing).unwrap_err();
        assert!(
            err.contains("start-after `9` names no migration file"),
            "{err}"
        );
    }

    #[test]
    fn changed_files_are_one_deploy_and_the_only_ones_reported() {
        let dir = std::env::temp_dir().join(format!("pgd-deploy-{}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        let names: Vec<String> = ["1_a.sql", "2_b.sql", "3_c.sql"]
            .iter()
            .map(|n| {
                let p = dir.join(n);
                fs::write(&p, "SELECT 1;").unwrap();
                p.display().to_string()
            })
            .collect();
        let options = DeployOptions {
            changed: Some(vec![PathBuf::from(&names[1]), PathBuf::from(&names[2])]),
            ..Default::default()
        };
        let names: Vec<&str> = names.iter().map(String::as_str).collect();
        let got = planned(3, &options, &names);
        fs::remove_dir_all(&dir).unwrap();
        assert_eq!(got, [(false, false), (true, true), (true, false)]);
    }
}
