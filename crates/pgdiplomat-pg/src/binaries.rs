//! Locating the PostgreSQL server binaries (`initdb`, `pg_ctl`, `postgres`)
//! and finding out which version they are.

use std::ffi::OsString;
use std::fmt;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::error::ClusterError;

/// Environment variable that names the directory holding `initdb` & co.
pub const PG_BIN_ENV: &str = "PGDIPLOMAT_PG_BIN";

/// The programs a bin directory must contain.
const REQUIRED: [&str; 3] = ["initdb", "pg_ctl", "postgres"];

/// A PostgreSQL server version, e.g. `15.18`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PgVersion {
    /// Major version (`15` for 15.18; `9` for 9.6.x is not supported here).
    pub major: u32,
    /// Minor version (`18` for 15.18; `0` for pre-releases such as `18beta1`).
    pub minor: u32,
}

impl fmt::Display for PgVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.major, self.minor)
    }
}

impl PgVersion {
    /// Parses the output of `postgres --version`, e.g.
    /// `postgres (PostgreSQL) 15.18 (Debian 15.18-0+deb12u1)` or
    /// `postgres (PostgreSQL) 18beta1`.
    pub fn parse_version_output(output: &str) -> Option<PgVersion> {
        let rest = match output.find("(PostgreSQL)") {
            Some(i) => &output[i + "(PostgreSQL)".len()..],
            None => output,
        };
        let word = rest.split_whitespace().next()?;
        let major_end = word
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(word.len());
        let major: u32 = word[..major_end].parse().ok()?;
        let after = &word[major_end..];
        let minor = match after.strip_prefix('.') {
            Some(m) => {
                let end = m.find(|c: char| !c.is_ascii_digit()).unwrap_or(m.len());
                m[..end].parse().unwrap_or(0)
            }
            None => 0,
        };
        Some(PgVersion { major, minor })
    }
}

/// A directory with usable PostgreSQL server binaries, plus their version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PgBinaries {
    /// Directory containing `initdb`, `pg_ctl` and `postgres`.
    pub bin_dir: PathBuf,
    /// Version reported by `postgres --version`.
    pub version: PgVersion,
    /// `<bin_dir>/../lib` if it exists; added to `LD_LIBRARY_PATH` of every
    /// program run from `bin_dir` (relocatable builds, e.g. npm packages,
    /// ship their shared libraries there).
    pub lib_dir: Option<PathBuf>,
}

impl PgBinaries {
    /// Uses the binaries in `dir`, which must contain `initdb`, `pg_ctl` and
    /// `postgres`. Runs `postgres --version` to learn the version.
    pub fn at(dir: impl AsRef<Path>) -> Result<PgBinaries, ClusterError> {
        let dir = dir.as_ref();
        check_bin_dir(dir).map_err(|problem| ClusterError::InvalidBinDir {
            dir: dir.to_path_buf(),
            problem,
        })?;
        let lib_dir = dir
            .parent()
            .map(|p| p.join("lib"))
            .filter(|lib| lib.is_dir());
        let mut bins = PgBinaries {
            bin_dir: dir.to_path_buf(),
            version: PgVersion { major: 0, minor: 0 },
            lib_dir,
        };
        bins.version = bins.probe_version()?;
        Ok(bins)
    }

    /// Full path of one of the programs in [`PgBinaries::bin_dir`].
    pub fn program(&self, name: &str) -> PathBuf {
        self.bin_dir.join(name)
    }

    /// A [`Command`] for program `name` of this installation, with
    /// `LD_LIBRARY_PATH` extended by [`PgBinaries::lib_dir`] if there is one.
    pub fn command(&self, name: &str) -> Command {
        let mut cmd = Command::new(self.program(name));
        if let Some(lib) = &self.lib_dir {
            let mut value = OsString::from(lib.as_os_str());
            if let Some(old) = std::env::var_os("LD_LIBRARY_PATH").filter(|v| !v.is_empty()) {
                value.push(":");
                value.push(old);
            }
            cmd.env("LD_LIBRARY_PATH", value);
        }
        cmd
    }

    fn probe_version(&self) -> Result<PgVersion, ClusterError> {
        let postgres = self.program("postgres");
        let out = self
            .command("postgres")
            .arg("--version")
            .stdin(Stdio::null())
            .output()
            .map_err(|e| ClusterError::Version {
                postgres: postgres.clone(),
                detail: format!("could not run it: {e}"),
            })?;
        let stdout = String::from_utf8_lossy(&out.stdout);
        if !out.status.success() {
            return Err(ClusterError::Version {
                postgres,
                detail: format!(
                    "it exited with {}: {}{}",
                    out.status,
                    stdout.trim(),
                    String::from_utf8_lossy(&out.stderr).trim()
                ),
            });
        }
        PgVersion::parse_version_output(&stdout).ok_or_else(|| ClusterError::Version {
            postgres,
            detail: format!("unrecognized output {:?}", stdout.trim()),
        })
    }
}

/// Checks that `dir` is a directory containing all required programs as
/// executable files. Returns a description of the problem otherwise.
fn check_bin_dir(dir: &Path) -> Result<(), String> {
    match std::fs::metadata(dir) {
        Err(e) => return Err(format!("cannot access it ({e})")),
        Ok(m) if !m.is_dir() => return Err("it is not a directory".to_string()),
        Ok(_) => {}
    }
    let missing: Vec<&str> = REQUIRED
        .iter()
        .copied()
        .filter(|name| !is_executable(&dir.join(name)))
        .collect();
    if missing.is_empty() {
        Ok(())
    } else {
        Err(format!("missing executable(s): {}", missing.join(", ")))
    }
}

fn is_executable(path: &Path) -> bool {
    std::fs::metadata(path)
        .map(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        .unwrap_or(false)
}

/// Finds PostgreSQL server binaries, looking in this order:
///
/// 1. the directory named by `PGDIPLOMAT_PG_BIN` (if set, it must be valid);
/// 2. each directory on `PATH`;
/// 3. `pg_config --bindir`, if `pg_config` is on `PATH`;
/// 4. `/usr/lib/postgresql/<major>/bin`, highest major version first;
/// 5. `/usr/local/pgsql/bin`.
pub fn find_pg_bin() -> Result<PgBinaries, ClusterError> {
    if let Some(dir) = std::env::var_os(PG_BIN_ENV).filter(|v| !v.is_empty()) {
        // An explicit choice must not be silently replaced by another install.
        return PgBinaries::at(PathBuf::from(dir));
    }
    let mut searched = vec![format!("${PG_BIN_ENV} (not set)")];

    let path_dirs: Vec<PathBuf> = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).collect())
        .unwrap_or_default();
    searched.push(format!(
        "each directory on $PATH ({})",
        std::env::var("PATH").unwrap_or_default()
    ));
    for dir in &path_dirs {
        if let Some(bins) = try_dir(dir)? {
            return Ok(bins);
        }
    }

    match pg_config_bindir(&path_dirs) {
        Some(dir) => {
            searched.push(format!("pg_config --bindir ({})", dir.display()));
            if let Some(bins) = try_dir(&dir)? {
                return Ok(bins);
            }
        }
        None => searched.push("pg_config --bindir (no pg_config on $PATH)".to_string()),
    }

    searched.push("/usr/lib/postgresql/*/bin".to_string());
    for dir in debian_bin_dirs(Path::new("/usr/lib/postgresql")) {
        if let Some(bins) = try_dir(&dir)? {
            return Ok(bins);
        }
    }

    let local = Path::new("/usr/local/pgsql/bin");
    searched.push(local.display().to_string());
    if let Some(bins) = try_dir(local)? {
        return Ok(bins);
    }

    Err(ClusterError::BinariesNotFound { searched })
}

/// `Ok(Some)` if `dir` holds working binaries, `Ok(None)` if it does not
/// hold them at all; an error if they are there but do not work (so a
/// broken install is reported instead of silently skipped).
fn try_dir(dir: &Path) -> Result<Option<PgBinaries>, ClusterError> {
    if check_bin_dir(dir).is_err() {
        return Ok(None);
    }
    PgBinaries::at(dir).map(Some)
}

fn pg_config_bindir(path_dirs: &[PathBuf]) -> Option<PathBuf> {
    let pg_config = path_dirs
        .iter()
        .map(|d| d.join("pg_config"))
        .find(|p| is_executable(p))?;
    let out = Command::new(pg_config)
        .arg("--bindir")
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output()
        .ok()?;
    if !out.status.success() {
        return None;
    }
    let dir = String::from_utf8_lossy(&out.stdout).trim().to_string();
    (!dir.is_empty()).then(|| PathBuf::from(dir))
}

/// `<root>/<major>/bin` for every numeric `<major>`, highest first.
fn debian_bin_dirs(root: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(root) else {
        return Vec::new();
    };
    let mut versions: Vec<(u32, PathBuf)> = entries
        .filter_map(|e| e.ok())
        .filter_map(|e| {
            let major: u32 = e.file_name().to_str()?.parse().ok()?;
            Some((major, e.path().join("bin")))
        })
        .collect();
    versions.sort_by_key(|v| std::cmp::Reverse(v.0));
    versions.into_iter().map(|(_, p)| p).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_debian_version_output() {
        let v = PgVersion::parse_version_output(
            "postgres (PostgreSQL) 15.18 (Debian 15.18-0+deb12u1)\n",
        );
        assert_eq!(
            v,
            Some(PgVersion {
                major: 15,
                minor: 18
            })
        );
    }

    #[test]
    fn parses_prerelease_and_plain_versions() {
        assert_eq!(
            PgVersion::parse_version_output("postgres (PostgreSQL) 18beta1"),
            Some(PgVersion {
                major: 18,
                minor: 0
            })
        );
        assert_eq!(
            PgVersion::parse_version_output("postgres (PostgreSQL) 13.4"),
            Some(PgVersion {
                major: 13,
                minor: 4
            })
        );
        assert_eq!(PgVersion::parse_version_output("garbage"), None);
    }

    #[test]
    fn debian_dirs_sort_highest_major_first() {
        let tmp = tempfile::tempdir().expect("tempdir");
        for v in ["13", "9", "16", "notaversion"] {
            std::fs::create_dir_all(tmp.path().join(v).join("bin")).expect("mkdir");
        }
        let dirs = debian_bin_dirs(tmp.path());
        let names: Vec<String> = dirs
            .iter()
            .map(|p| {
                p.parent()
                    .unwrap()
                    .file_name()
                    .unwrap()
                    .to_string_lossy()
                    .into_owned()
            })
            .collect();
        assert_eq!(names, ["16", "13", "9"]);
    }
}
