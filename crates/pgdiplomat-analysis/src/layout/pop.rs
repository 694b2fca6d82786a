//! pop (gobuffalo/pop, "soda") and Ory's popx SQL migrations. File names match popx's
//! `MigrationFileRegexp` `^(\d+)_([^.]+)(\.[a-z0-9]+)?(\.autocommit)?\.(up|down)\.(sql)$`
//! (pop's own lacks `.autocommit`); the optional part is the dialect, canonicalised like
//! `pop.CanonicalDialect` (`postgresql`, `pg`, `pgx` → `postgres`; `cockroachdb`, `crdb` →
//! `cockroach`; `sqlite` → `sqlite3`). On PostgreSQL a migration runs when its dialect is
//! `postgres` or absent ("all"); of the files sharing a version the dialect-specific one wins
//! (popx `sortAndFilter`; pop skips the second because the version is then applied). Versions
//! are ordered as strings. Each migration is one `Exec` inside a transaction, except popx's
//! `.autocommit` migrations, which run without one.

/// A pop/popx migration file name, parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct PopName {
    pub version: String,
    /// Canonical dialect, `None` for "all".
    pub dialect: Option<String>,
    pub autocommit: bool,
    pub up: bool,
}

/// Dialects pop knows, canonical.
const DIALECTS: &[&str] = &["postgres", "cockroach", "mysql", "mariadb", "sqlite3"];

fn canonical(d: &str) -> String {
    let d = d.to_ascii_lowercase();
    match d.as_str() {
        "postgresql" | "pg" | "pgx" => "postgres".into(),
        "cockroachdb" | "crdb" => "cockroach".into(),
        "sqlite" => "sqlite3".into(),
        _ => d,
    }
}

/// Parses a file name like popx's regular expression. `None` when it does not match.
pub(crate) fn parse_name(name: &str) -> Option<PopName> {
    let stem = name.strip_suffix(".sql")?;
    let (stem, up) = if let Some(s) = stem.strip_suffix(".up") {
        (s, true)
    } else {
        (stem.strip_suffix(".down")?, false)
    };
    let digits = stem.bytes().take_while(u8::is_ascii_digit).count();
    if digits == 0 || !stem[digits..].starts_with('_') {
        return None;
    }
    let version = stem[..digits].to_owned();
    let rest = &stem[digits + 1..];
    // `name(.dialect)?(.autocommit)?`, the name without dots and not empty.
    let mut parts = rest.split('.');
    let title = parts.next()?;
    if title.is_empty() {
        return None;
    }
    let extra: Vec<&str> = parts.collect();
    let is_tag = |s: &str| {
        !s.is_empty()
            && s.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
    };
    let (dialect, autocommit) = match extra.as_slice() {
        [] => (None, false),
        ["autocommit"] => (None, true),
        [d] if is_tag(d) => (Some(canonical(d)), false),
        [d, "autocommit"] if is_tag(d) => (Some(canonical(d)), true),
        _ => return None,
    };
    Some(PopName {
        version,
        dialect,
        autocommit,
        up,
    })
}

/// The name is a pop migration that only pop would name so: a known dialect or `.autocommit`.
pub(crate) fn is_distinctive(name: &str) -> bool {
    parse_name(name).is_some_and(|n| {
        n.autocommit || n.dialect.as_deref().is_some_and(|d| DIALECTS.contains(&d))
    })
}

/// An up migration that runs on PostgreSQL (dialect `postgres` or none).
pub(crate) fn runs_on_postgres(n: &PopName) -> bool {
    n.up && n.dialect.as_deref().is_none_or(|d| d == "postgres")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_popx() {
        let n = parse_name("20210410175418000000_network.postgres.up.sql").expect("parses");
        assert_eq!(n.version, "20210410175418000000");
        assert_eq!(n.dialect.as_deref(), Some("postgres"));
        assert!(n.up && !n.autocommit && runs_on_postgres(&n));
        let n = parse_name("1_x.autocommit.up.sql").expect("parses");
        assert!(n.autocommit && n.dialect.is_none() && runs_on_postgres(&n));
        let n = parse_name("1_x.pg.autocommit.up.sql").expect("parses");
        assert!(n.autocommit && n.dialect.as_deref() == Some("postgres"));
        let n = parse_name("1_x.sqlite.up.sql").expect("parses");
        assert_eq!(n.dialect.as_deref(), Some("sqlite3"));
        assert!(!runs_on_postgres(&n));
        assert!(!runs_on_postgres(
            &parse_name("1_x.down.sql").expect("parses")
        ));
        assert_eq!(parse_name("1_x.Postgres.up.sql"), None);
        assert_eq!(parse_name("x_1.up.sql"), None);
        assert_eq!(parse_name("1_x.sql"), None);
        assert!(is_distinctive("1_x.cockroach.up.sql"));
        assert!(!is_distinctive("1_x.up.sql"));
    }
}
