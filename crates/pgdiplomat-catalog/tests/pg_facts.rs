//! The data files of facts PostgreSQL can tell (`crates/pgdiplomat-analysis/data/`) agree with
//! the installed server: each is regenerated per version by `scripts/gen-pg-facts`
//! (`PGDIPLOMAT_WRITE_FACTS=1` makes this test write the running version's column instead of
//! checking it).

use std::collections::BTreeMap;
use std::path::PathBuf;

use pgdiplomat_catalog::facts::{
    binary_coercible_casts, function_volatility, reloption_lock_levels,
};
use pgdiplomat_pg::{Cluster, ClusterOptions};

fn data_file(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../pgdiplomat-analysis/data")
        .join(name)
}

/// A table file: comment lines, a header (`key<TAB>13<TAB>14 ...`), then one row per key.
struct Table {
    comments: Vec<String>,
    header: Vec<String>,
    rows: BTreeMap<String, Vec<String>>,
}

impl Table {
    fn read(text: &str) -> Table {
        let mut comments = Vec::new();
        let mut header = Vec::new();
        let mut rows = BTreeMap::new();
        for line in text.lines() {
            if line.starts_with('#') {
                comments.push(line.to_string());
            } else if header.is_empty() {
                header = line.split('\t').map(String::from).collect();
            } else if !line.is_empty() {
                let mut cells = line.split('\t').map(String::from);
                let key = cells.next().unwrap();
                rows.insert(key, cells.collect());
            }
        }
        Table {
            comments,
            header,
            rows,
        }
    }

    fn column(&self, major: u32) -> usize {
        self.header
            .iter()
            .skip(1)
            .position(|h| h == &major.to_string())
            .unwrap_or_else(|| panic!("no column for PostgreSQL {major} in {:?}", self.header))
    }

    fn render(&self) -> String {
        let mut out = String::new();
        for c in &self.comments {
            out.push_str(c);
            out.push('\n');
        }
        out.push_str(&self.header.join("\t"));
        out.push('\n');
        for (k, cells) in &self.rows {
            out.push_str(k);
            for c in cells {
                out.push('\t');
                out.push_str(c);
            }
            out.push('\n');
        }
        out
    }
}

/// Checks one version's column of a data file against what the server says, or (with
/// `PGDIPLOMAT_WRITE_FACTS`) writes that column.
fn check_or_write(file: &str, major: u32, version: &str, facts: &BTreeMap<String, String>) {
    let path = data_file(file);
    let mut table = Table::read(&std::fs::read_to_string(&path).expect("data file"));
    let col = table.column(major);
    let width = table.header.len() - 1;

    if std::env::var_os("PGDIPLOMAT_WRITE_FACTS").is_some() {
        for cells in table.rows.values_mut() {
            cells[col] = "-".into();
        }
        for (name, v) in facts {
            let cells = table
                .rows
                .entry(name.clone())
                .or_insert_with(|| vec!["-".to_string(); width]);
            cells[col] = v.clone();
        }
        table.rows.retain(|_, cells| cells.iter().any(|c| c != "-"));
        std::fs::write(&path, table.render()).unwrap();
        eprintln!("wrote PostgreSQL {major}'s column of {}", path.display());
        return;
    }

    let mut diffs = Vec::new();
    for (name, v) in facts {
        let recorded = table.rows.get(name).map(|c| c[col].as_str()).unwrap_or("-");
        if recorded != v {
            diffs.push(format!("{name}: server {v}, data file {recorded}"));
        }
    }
    for (name, cells) in &table.rows {
        if cells[col] != "-" && !facts.contains_key(name) {
            diffs.push(format!(
                "{name}: data file {}, absent on the server",
                cells[col]
            ));
        }
    }
    assert!(
        diffs.is_empty(),
        "{} differences between {} and PostgreSQL {version} (regenerate with scripts/gen-pg-facts):\n{}",
        diffs.len(),
        path.display(),
        diffs.join("\n")
    );
}

#[test]
fn function_volatility_matches_the_server() {
    let cluster = Cluster::start(ClusterOptions::default()).expect("start PostgreSQL");
    let major = cluster.version().major;
    let mut client = cluster.connect().unwrap();
    let facts = function_volatility(&mut client).expect("read pg_proc");
    assert!(facts.len() > 1000, "only {} functions read", facts.len());
    let facts: BTreeMap<String, String> =
        facts.into_iter().map(|(k, v)| (k, v.to_string())).collect();
    check_or_write(
        "function-volatility.tsv",
        major,
        &cluster.version().to_string(),
        &facts,
    );
}

/// The lock level of every storage parameter, measured on the server (`ALTER ... SET` in a
/// rolled-back transaction, strongest lock on the relation from `pg_locks`).
#[test]
fn reloption_lock_levels_match_the_server() {
    let cluster = Cluster::start(ClusterOptions::default()).expect("start PostgreSQL");
    let major = cluster.version().major;
    let mut client = cluster.connect().unwrap();
    let facts = reloption_lock_levels(&mut client).expect("measure reloptions");
    assert!(facts.len() > 30, "only {} options measured", facts.len());
    check_or_write(
        "reloption-locks.tsv",
        major,
        &cluster.version().to_string(),
        &facts,
    );
}

/// The binary-coercible casts of `pg_cast` (castmethod 'b'): type changes along them keep
/// every stored value.
#[test]
fn binary_coercible_casts_match_the_server() {
    let cluster = Cluster::start(ClusterOptions::default()).expect("start PostgreSQL");
    let major = cluster.version().major;
    let mut client = cluster.connect().unwrap();
    let facts = binary_coercible_casts(&mut client).expect("read pg_cast");
    assert!(
        facts.contains_key("varchar>text") && facts.contains_key("cidr>inet"),
        "{facts:?}"
    );
    check_or_write(
        "binary-coercible-casts.tsv",
        major,
        &cluster.version().to_string(),
        &facts,
    );
}
