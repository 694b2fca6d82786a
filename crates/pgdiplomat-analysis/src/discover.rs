//! Turning the paths a user passed on the command line into an ordered list
//! of migration files.
//!
//! * A file argument is taken as is, whatever its extension.
//! * A directory argument is walked recursively (hidden directories, `target`
//!   and `node_modules` are skipped) and every `*.sql` file is collected,
//!   except "down"/"undo" migrations (`*.down.sql`, `*.undo.sql`, `down.sql`,
//!   Flyway `U<version>__*.sql`). The files are then ordered the way migration
//!   tools apply them, see [`sort_migration_names`].
//!
//! `-` (stdin) is not handled here; the CLI deals with it before calling
//! [`discover`].

use std::collections::HashSet;
use std::fmt;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};

/// One migration file to lint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MigrationFile {
    /// Path usable to open the file (the argument the user typed, joined with
    /// the file's path relative to it when the argument was a directory).
    pub path: PathBuf,
    /// The path as the user should see it in diagnostics: relative like they
    /// typed it.
    pub display: String,
}

/// Why a path argument did not yield migration files.
#[derive(Debug)]
pub enum DiscoverError {
    /// The path does not exist.
    NotFound(PathBuf),
    /// The path (or something below it) could not be read.
    Io { path: PathBuf, source: io::Error },
    /// An explicitly named directory contains no `.sql` migration files.
    Empty(PathBuf),
}

impl DiscoverError {
    /// The path the error is about.
    pub fn path(&self) -> &Path {
        match self {
            DiscoverError::NotFound(path) | DiscoverError::Empty(path) => path,
            DiscoverError::Io { path, .. } => path,
        }
    }
}

impl fmt::Display for DiscoverError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DiscoverError::NotFound(path) => write!(
                f,
                "{}: no such file or directory; check the spelling, or pass a path relative to the current directory",
                path.display()
            ),
            DiscoverError::Io { path, source } => {
                write!(f, "{}: cannot read: {source}", path.display())
            }
            DiscoverError::Empty(path) => write!(
                f,
                "{}: directory contains no .sql migration files (down/undo migrations, hidden directories, \
                 `target` and `node_modules` are skipped); pass the directory that holds your migrations, \
                 or name the files directly",
                path.display()
            ),
        }
    }
}

impl std::error::Error for DiscoverError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            DiscoverError::Io { source, .. } => Some(source),
            _ => None,
        }
    }
}

/// Expands `paths` into migration files.
///
/// The result keeps the order of the arguments; each directory argument is
/// expanded in migration order ([`sort_migration_names`]). Errors are reported
/// in place and discovery keeps going with the remaining paths.
pub fn discover(paths: &[PathBuf]) -> Vec<Result<MigrationFile, DiscoverError>> {
    let mut out = Vec::new();
    for arg in paths {
        let meta = match fs::metadata(arg) {
            Ok(meta) => meta,
            Err(err) if err.kind() == io::ErrorKind::NotFound => {
                out.push(Err(DiscoverError::NotFound(arg.clone())));
                continue;
            }
            Err(source) => {
                out.push(Err(DiscoverError::Io {
                    path: arg.clone(),
                    source,
                }));
                continue;
            }
        };
        if meta.is_dir() {
            expand_dir(arg, &mut out);
        } else {
            out.push(Ok(migration_file(arg.clone())));
        }
    }
    out
}

fn migration_file(path: PathBuf) -> MigrationFile {
    let display = path.display().to_string();
    MigrationFile { path, display }
}

fn expand_dir(root: &Path, out: &mut Vec<Result<MigrationFile, DiscoverError>>) {
    let mut files = Vec::new();
    let mut errors = Vec::new();
    let mut visited = HashSet::new();
    walk(root, Path::new(""), &mut files, &mut errors, &mut visited);

    let had_errors = !errors.is_empty();
    out.extend(errors.into_iter().map(Err));
    if files.is_empty() {
        // A read error already explains why nothing was found.
        if !had_errors {
            out.push(Err(DiscoverError::Empty(root.to_path_buf())));
        }
        return;
    }
    sort_migration_names(&mut files);
    out.extend(
        files
            .into_iter()
            .map(|rel| Ok(migration_file(root.join(rel)))),
    );
}

/// Recursively collects migration files below `root.join(rel)`, as paths
/// relative to `root`.
fn walk(
    root: &Path,
    rel: &Path,
    files: &mut Vec<PathBuf>,
    errors: &mut Vec<DiscoverError>,
    visited: &mut HashSet<PathBuf>,
) {
    let dir = root.join(rel);
    // Guard against symlink loops: never enter the same directory twice.
    if let Ok(canonical) = fs::canonicalize(&dir) {
        if !visited.insert(canonical) {
            return;
        }
    }
    let entries = match fs::read_dir(&dir) {
        Ok(entries) => entries,
        Err(source) => {
            errors.push(DiscoverError::Io { path: dir, source });
            return;
        }
    };
    for entry in entries {
        let entry = match entry {
            Ok(entry) => entry,
            Err(source) => {
                errors.push(DiscoverError::Io {
                    path: dir.clone(),
                    source,
                });
                continue;
            }
        };
        let name = entry.file_name();
        let name_str = name.to_string_lossy();
        if name_str.starts_with('.') {
            continue;
        }
        let child_rel = rel.join(&name);
        let mut file_type = match entry.file_type() {
            Ok(file_type) => FileKind::from(file_type),
            Err(source) => {
                errors.push(DiscoverError::Io {
                    path: entry.path(),
                    source,
                });
                continue;
            }
        };
        if file_type == FileKind::Symlink {
            // Follow the link to find out what it points at.
            file_type = match fs::metadata(entry.path()) {
                Ok(meta) if meta.is_dir() => FileKind::Dir,
                Ok(_) => FileKind::File,
                Err(source) => {
                    // A dangling link only matters if it looks like a migration.
                    if is_migration_name(&name_str) {
                        errors.push(DiscoverError::Io {
                            path: entry.path(),
                            source,
                        });
                    }
                    continue;
                }
            };
        }
        match file_type {
            FileKind::Dir => {
                if name_str == "target" || name_str == "node_modules" {
                    continue;
                }
                walk(root, &child_rel, files, errors, visited);
            }
            FileKind::File => {
                if is_migration_name(&name_str) {
                    files.push(child_rel);
                }
            }
            FileKind::Symlink => {}
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum FileKind {
    Dir,
    File,
    Symlink,
}

impl From<fs::FileType> for FileKind {
    fn from(file_type: fs::FileType) -> Self {
        if file_type.is_symlink() {
            FileKind::Symlink
        } else if file_type.is_dir() {
            FileKind::Dir
        } else {
            FileKind::File
        }
    }
}

/// Whether a file name found while walking a directory is a migration to
/// lint: a `.sql` file that is not a down/undo migration.
fn is_migration_name(name: &str) -> bool {
    let lower = name.to_ascii_lowercase();
    if !lower.ends_with(".sql") {
        return false;
    }
    if lower == "down.sql"
        || lower.ends_with(".down.sql")
        || lower == "undo.sql"
        || lower.ends_with(".undo.sql")
    {
        return false;
    }
    if parse_flyway_prefixed(name, 'U').is_some() {
        return false;
    }
    true
}

/// Sorts migration file paths (normally relative to the walked directory)
/// into the order migration tools apply them.
///
/// * If every file is a Flyway migration (`V<version>__<desc>.sql` or
///   `R__<desc>.sql`), the folder a file sits in does not matter (like
///   Flyway): versioned migrations come first, ordered by version compared
///   part by part numerically (`V1` < `V1_1` = `V1.1` < `V1_2` < `V1_10` <
///   `V2`), then repeatable ones ordered by description.
/// * Otherwise paths are compared component by component with a natural
///   (numeric-aware) comparison, so `2_x.sql` < `10_x.sql` and dated folders
///   (`2024-01-01-120000_name/up.sql`) sort chronologically; Flyway versioned
///   names compare by version, and repeatable `R__*.sql` files come after all
///   other files.
///
/// Ties are broken by the raw path, so the order is total and deterministic.
pub fn sort_migration_names(names: &mut [PathBuf]) {
    let flyway_layout = !names.is_empty()
        && names
            .iter()
            .all(|path| flyway_name(&file_name_lossy(path)).is_some());
    names.sort_by_cached_key(|path| SortKey::new(path, flyway_layout));
}

/// The sort key of one path. Every part is compared lexicographically over a
/// totally ordered alphabet, so the resulting order is a genuine total order
/// (a requirement of `sort`; mixing ad-hoc comparisons could create cycles).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct SortKey {
    /// 0 = versioned/plain migrations, 1 = Flyway repeatable migrations.
    group: u8,
    /// Flyway layout: version + description; repeatable: description.
    lead: Vec<Tok>,
    /// One token string per path component.
    components: Vec<Vec<Tok>>,
    /// Tie-breaker.
    raw: std::ffi::OsString,
}

impl SortKey {
    fn new(path: &Path, flyway_layout: bool) -> SortKey {
        let name = file_name_lossy(path);
        let (group, lead) = match flyway_name(&name) {
            Some(FlywayName::Repeatable { description }) => (1, natural_tokens(description)),
            Some(versioned @ FlywayName::Versioned { .. }) if flyway_layout => {
                (0, flyway_tokens(&versioned))
            }
            _ => (0, Vec::new()),
        };
        let components = path
            .components()
            .map(|c| component_tokens(&c.as_os_str().to_string_lossy()))
            .collect();
        SortKey {
            group,
            lead,
            components,
            raw: path.as_os_str().to_os_string(),
        }
    }
}

/// One unit of a natural-order comparison. The derived order is:
/// structural markers of Flyway versions first, then characters below `'0'`,
/// then digit runs (by numeric value), then characters above `'9'`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum Tok {
    /// End of a Flyway version: `V1__` < `V1_1__`.
    VersionEnd,
    /// Separator between Flyway version parts.
    VersionSep,
    /// A character that sorts before the digits (`-`, `.`, space, ...).
    Low(char),
    /// A run of ASCII digits: (number of significant digits, significant digits).
    Num(usize, String),
    /// A character that sorts after the digits (letters, `_`, ...).
    High(char),
}

fn num_tok(digits: &str) -> Tok {
    let significant = digits.trim_start_matches('0');
    Tok::Num(significant.len(), significant.to_owned())
}

/// Natural tokens: runs of ASCII digits become numbers, every other
/// character stands for itself (ordered by code point).
fn natural_tokens(s: &str) -> Vec<Tok> {
    let mut toks = Vec::new();
    let mut rest = s;
    while let Some(c) = rest.chars().next() {
        if c.is_ascii_digit() {
            let end = rest
                .find(|ch: char| !ch.is_ascii_digit())
                .unwrap_or(rest.len());
            toks.push(num_tok(&rest[..end]));
            rest = &rest[end..];
        } else {
            toks.push(if c < '0' { Tok::Low(c) } else { Tok::High(c) });
            rest = &rest[c.len_utf8()..];
        }
    }
    toks
}

/// Tokens for a path component: Flyway versioned names by version, then
/// description; anything else naturally.
fn component_tokens(name: &str) -> Vec<Tok> {
    match flyway_name(name) {
        Some(versioned @ FlywayName::Versioned { .. }) => {
            let mut toks = vec![Tok::High('V')];
            toks.extend(flyway_tokens(&versioned));
            toks
        }
        _ => natural_tokens(name),
    }
}

/// Version parts (numerically, trailing zero parts dropped so `1` = `1.0`),
/// an end marker, then the description.
fn flyway_tokens(name: &FlywayName<'_>) -> Vec<Tok> {
    match name {
        FlywayName::Versioned {
            version,
            description,
        } => {
            let significant = version
                .iter()
                .rposition(|part| part.bytes().any(|b| b != b'0'))
                .map_or(0, |last| last + 1);
            let mut toks = Vec::new();
            for (i, part) in version[..significant].iter().enumerate() {
                if i > 0 {
                    toks.push(Tok::VersionSep);
                }
                toks.push(num_tok(part));
            }
            toks.push(Tok::VersionEnd);
            toks.extend(natural_tokens(description));
            toks
        }
        FlywayName::Repeatable { description } => natural_tokens(description),
    }
}

/// Whether `name` is a Flyway versioned (`V1_2__x.sql`) or repeatable
/// (`R__x.sql`) migration file name.
pub(crate) fn is_flyway_migration_name(name: &str) -> bool {
    flyway_name(name).is_some()
}

/// A Flyway file name, parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
enum FlywayName<'a> {
    /// `V<version>__<description>.sql`; the version split into its numeric parts.
    Versioned {
        version: Vec<&'a str>,
        description: &'a str,
    },
    /// `R__<description>.sql`
    Repeatable { description: &'a str },
}

fn flyway_name(name: &str) -> Option<FlywayName<'_>> {
    if let Some((version, description)) = parse_flyway_prefixed(name, 'V') {
        return Some(FlywayName::Versioned {
            version,
            description,
        });
    }
    let rest = name.strip_prefix("R__")?;
    let description = strip_sql_extension(rest)?;
    Some(FlywayName::Repeatable { description })
}

/// Parses `<prefix><version>__<description>.sql` where version is digit runs
/// separated by `.` or `_`.
fn parse_flyway_prefixed(name: &str, prefix: char) -> Option<(Vec<&str>, &str)> {
    let rest = name.strip_prefix(prefix)?;
    let stem = strip_sql_extension(rest)?;
    let sep = stem.find("__")?;
    let (version, description) = (&stem[..sep], &stem[sep + 2..]);
    let parts: Vec<&str> = version.split(['.', '_']).collect();
    if parts
        .iter()
        .all(|part| !part.is_empty() && part.bytes().all(|b| b.is_ascii_digit()))
    {
        Some((parts, description))
    } else {
        None
    }
}

fn strip_sql_extension(name: &str) -> Option<&str> {
    let split = name.len().checked_sub(4)?;
    if !name.is_char_boundary(split) {
        return None;
    }
    let (stem, ext) = name.split_at(split);
    ext.eq_ignore_ascii_case(".sql").then_some(stem)
}

fn file_name_lossy(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cmp::Ordering;

    fn sorted(names: &[&str]) -> Vec<String> {
        let mut paths: Vec<PathBuf> = names.iter().map(PathBuf::from).collect();
        sort_migration_names(&mut paths);
        paths
            .iter()
            .map(|p| p.to_string_lossy().replace('\\', "/"))
            .collect()
    }

    fn natural_cmp(a: &str, b: &str) -> Ordering {
        natural_tokens(a).cmp(&natural_tokens(b))
    }

    #[test]
    fn natural_order_compares_digit_runs_numerically() {
        assert_eq!(natural_cmp("2_x.sql", "10_x.sql"), Ordering::Less);
        assert_eq!(natural_cmp("0001_a.sql", "0002_b.sql"), Ordering::Less);
        assert_eq!(natural_cmp("a9", "a10"), Ordering::Less);
        assert_eq!(natural_cmp("01", "1"), Ordering::Equal);
        assert_eq!(natural_cmp("", "a"), Ordering::Less);
        // Characters keep their code point order relative to digits.
        assert_eq!(natural_cmp("1-a", "1a"), Ordering::Less);
        assert_eq!(natural_cmp("1_a", "1.a"), Ordering::Greater);
    }

    #[test]
    fn natural_order_handles_numbers_longer_than_u128() {
        let big = "9".repeat(60);
        let bigger = format!("1{}", "0".repeat(60));
        assert_eq!(natural_cmp(&big, &bigger), Ordering::Less);
    }

    #[test]
    fn mixing_flyway_and_lookalike_names_still_gives_a_total_order() {
        // Pairwise ad-hoc comparisons of these three used to form a cycle.
        let names = [
            "V1_1a.sql",
            "V1__b.sql",
            "V1_1__a.sql",
            "V1_10__c.sql",
            "V1_2__b.sql",
            "V1_5x.sql",
        ];
        let expected = sorted(&names);
        // Every permutation-ish rotation sorts to the same order.
        for shift in 0..names.len() {
            let mut rotated = names.to_vec();
            rotated.rotate_left(shift);
            assert_eq!(sorted(&rotated), expected);
        }
        let pos = |n: &str| expected.iter().position(|e| e == n).expect("present");
        assert!(pos("V1__b.sql") < pos("V1_1__a.sql"));
        assert!(pos("V1_2__b.sql") < pos("V1_10__c.sql"));
    }

    #[test]
    fn numeric_prefixes_sort_numerically_not_lexically() {
        assert_eq!(
            sorted(&["10_x.sql", "2_x.sql", "1_x.sql"]),
            ["1_x.sql", "2_x.sql", "10_x.sql"]
        );
    }

    #[test]
    fn flyway_versions_compare_part_by_part() {
        assert_eq!(
            sorted(&[
                "V2__y.sql",
                "V1_10__c.sql",
                "V1_2__b.sql",
                "V1__init.sql",
                "V1_1__a.sql",
                "R__views.sql",
            ]),
            [
                "V1__init.sql",
                "V1_1__a.sql",
                "V1_2__b.sql",
                "V1_10__c.sql",
                "V2__y.sql",
                "R__views.sql"
            ]
        );
    }

    #[test]
    fn flyway_dotted_and_underscored_versions_are_equivalent() {
        assert_eq!(
            sorted(&["V1_3__c.sql", "V1.2__b.sql", "V1_1__a.sql"]),
            ["V1_1__a.sql", "V1.2__b.sql", "V1_3__c.sql"]
        );
    }

    #[test]
    fn flyway_layout_ignores_subfolders_like_flyway_does() {
        assert_eq!(
            sorted(&["sub/V2__b.sql", "V3__c.sql", "V1__a.sql", "a/R__r.sql"]),
            ["V1__a.sql", "sub/V2__b.sql", "V3__c.sql", "a/R__r.sql"]
        );
    }

    #[test]
    fn repeatable_flyway_files_sort_by_description_after_everything_else() {
        assert_eq!(
            sorted(&["R__b.sql", "R__a.sql", "V1__x.sql", "notes.sql"]),
            ["V1__x.sql", "notes.sql", "R__a.sql", "R__b.sql"]
        );
    }

    #[test]
    fn nested_dated_folders_sort_component_by_component() {
        assert_eq!(
            sorted(&[
                "2024-01-10-000000_b/up.sql",
                "2024-01-02-000000_a/up.sql",
                "2023-12-31-235959_z/up.sql",
            ]),
            [
                "2023-12-31-235959_z/up.sql",
                "2024-01-02-000000_a/up.sql",
                "2024-01-10-000000_b/up.sql"
            ]
        );
    }

    #[test]
    fn shorter_path_sorts_before_longer_path_with_same_prefix() {
        assert_eq!(sorted(&["a/b.sql", "a"]), ["a", "a/b.sql"]);
    }

    #[test]
    fn ties_are_broken_by_raw_name_so_order_is_deterministic() {
        let one = sorted(&["1_a.sql", "01_a.sql", "001_a.sql"]);
        let two = sorted(&["001_a.sql", "1_a.sql", "01_a.sql"]);
        assert_eq!(one, two);
        assert_eq!(one, ["001_a.sql", "01_a.sql", "1_a.sql"]);
    }

    #[test]
    fn sorting_empty_list_is_a_no_op() {
        let mut v: Vec<PathBuf> = Vec::new();
        sort_migration_names(&mut v);
        assert!(v.is_empty());
    }

    #[test]
    fn down_and_undo_files_are_not_migrations() {
        assert!(is_migration_name("1_init.up.sql"));
        assert!(is_migration_name("up.sql"));
        assert!(is_migration_name("migration.sql"));
        assert!(is_migration_name("V1__x.SQL"));
        assert!(!is_migration_name("1_init.down.sql"));
        assert!(!is_migration_name("1_init.undo.sql"));
        assert!(!is_migration_name("down.sql"));
        assert!(!is_migration_name("U1__x.sql"));
        assert!(!is_migration_name("U1_2__x.sql"));
        assert!(!is_migration_name("README.md"));
        assert!(!is_migration_name("sql"));
        assert!(!is_migration_name("é.sq"));
    }

    #[test]
    fn file_starting_with_u_is_kept_unless_it_is_a_flyway_undo() {
        assert!(is_migration_name("Users.sql"));
        assert!(is_migration_name("U__x.sql"));
        assert!(is_migration_name("Ux1__x.sql"));
    }

    #[test]
    fn flyway_name_parsing() {
        assert_eq!(
            flyway_name("V1_1__add_users.sql"),
            Some(FlywayName::Versioned {
                version: vec!["1", "1"],
                description: "add_users"
            })
        );
        assert_eq!(
            flyway_name("R__views.sql"),
            Some(FlywayName::Repeatable {
                description: "views"
            })
        );
        assert_eq!(flyway_name("V__x.sql"), None);
        assert_eq!(flyway_name("V1.__x.sql"), None);
        assert_eq!(flyway_name("Version.sql"), None);
        assert_eq!(flyway_name("V1__x.txt"), None);
    }

    #[test]
    fn missing_path_is_not_found_and_discovery_continues() {
        let dir = tempfile::tempdir().expect("tempdir");
        let file = dir.path().join("x.txt");
        fs::write(&file, "select 1;").expect("write");
        let missing = dir.path().join("nope");
        let results = discover(&[missing.clone(), file.clone()]);
        assert_eq!(results.len(), 2);
        assert!(matches!(&results[0], Err(DiscoverError::NotFound(p)) if *p == missing));
        assert!(matches!(&results[1], Ok(f) if f.path == file));
    }

    #[test]
    fn error_messages_tell_the_user_what_to_do() {
        let nf = DiscoverError::NotFound(PathBuf::from("migratons")).to_string();
        assert!(
            nf.starts_with("migratons: no such file or directory"),
            "{nf}"
        );
        let empty = DiscoverError::Empty(PathBuf::from("src")).to_string();
        assert!(empty.contains("no .sql migration files"), "{empty}");
        assert!(empty.contains("pass the directory"), "{empty}");
    }
}
