//! Cleaning up clusters leaked by processes that died without running
//! [`Drop`] (SIGKILL, `abort`, power loss of a CI job, ...).
//!
//! Every cluster directory is named `pgdiplomat-cluster-*` and contains an
//! `owner.pid` file with the id of the process that created it. A directory
//! whose owner no longer exists is *stale*: its postmaster (if still running)
//! is stopped and the directory removed. Directories whose owner is alive are
//! never touched.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime};

/// Name prefix of every cluster directory.
pub const CLUSTER_DIR_PREFIX: &str = "pgdiplomat-cluster-";

/// File in the cluster directory holding the owning process id.
pub const OWNER_PID_FILE: &str = "owner.pid";

/// A cluster directory without a readable `owner.pid` is only considered
/// stale after this long, so a directory that is being set up right now (the
/// pid file is written right after creation) is left alone.
const NO_OWNER_GRACE: Duration = Duration::from_secs(60);

/// Stops and removes stale clusters in the directory where [`crate::Cluster`]
/// creates them. Returns the directories that were removed.
///
/// [`crate::Cluster::start`] calls this itself; it is public for tools that
/// want to clean up explicitly.
pub fn reap_stale_clusters() -> Vec<PathBuf> {
    reap_stale_clusters_in(&crate::cluster::cluster_base_dir())
}

/// Like [`reap_stale_clusters`], but scans `base` instead of the default
/// temporary directory.
pub fn reap_stale_clusters_in(base: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(base) else {
        return Vec::new();
    };
    let mut removed = Vec::new();
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(name) = name.to_str() else { continue };
        if !name.starts_with(CLUSTER_DIR_PREFIX) {
            continue;
        }
        // Never follow a symlink someone planted in a shared /tmp.
        match entry.file_type() {
            Ok(t) if t.is_dir() => {}
            _ => continue,
        }
        let dir = entry.path();
        if is_stale(&dir) {
            stop_postmaster(&dir.join("data"));
            if std::fs::remove_dir_all(&dir).is_ok() {
                removed.push(dir);
            }
        }
    }
    removed
}

fn is_stale(dir: &Path) -> bool {
    match read_pid(&dir.join(OWNER_PID_FILE)) {
        Some(pid) => !pid_alive(pid),
        None => {
            let age = std::fs::metadata(dir)
                .and_then(|m| m.modified())
                .ok()
                .and_then(|t| SystemTime::now().duration_since(t).ok());
            matches!(age, Some(age) if age > NO_OWNER_GRACE)
        }
    }
}

/// Reads the first line of a pid file (`owner.pid`, `postmaster.pid`).
pub(crate) fn read_pid(path: &Path) -> Option<i32> {
    let text = std::fs::read_to_string(path).ok()?;
    let pid: i32 = text.lines().next()?.trim().parse().ok()?;
    (pid > 0).then_some(pid)
}

/// Whether process `pid` exists and is not a zombie.
///
/// A process that exited but was not yet reaped (a zombie) counts as dead:
/// a daemonized postmaster is re-parented to PID 1, which in containers does
/// not always reap its children.
pub fn pid_alive(pid: i32) -> bool {
    if pid <= 0 {
        return false;
    }
    // SAFETY: kill with signal 0 only checks for existence and permission.
    let rc = unsafe { libc::kill(pid, 0) };
    if rc != 0 && std::io::Error::last_os_error().raw_os_error() == Some(libc::ESRCH) {
        return false;
    }
    // rc == 0, or EPERM (exists, owned by someone else).
    !is_zombie(pid)
}

fn is_zombie(pid: i32) -> bool {
    // /proc/<pid>/stat is "pid (comm) S ..."; comm may contain spaces and
    // parentheses, so look after the last ')'.
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return false;
    };
    stat.rfind(')')
        .and_then(|i| stat[i + 1..].split_whitespace().next())
        .is_some_and(|state| state == "Z" || state == "X")
}

/// Stops the postmaster of `data_dir` if its `postmaster.pid` names a live
/// process that really is that postmaster: SIGQUIT (immediate shutdown)
/// first, SIGKILL if it does not exit within a few seconds.
pub(crate) fn stop_postmaster(data_dir: &Path) {
    let Some(pid) = read_pid(&data_dir.join("postmaster.pid")) else {
        return;
    };
    if !pid_alive(pid) || !is_postmaster_of(pid, data_dir) {
        return;
    }
    for (signal, wait) in [
        (libc::SIGQUIT, Duration::from_secs(5)),
        (libc::SIGKILL, Duration::from_secs(5)),
    ] {
        // SAFETY: sending a signal has no memory-safety preconditions.
        unsafe { libc::kill(pid, signal) };
        if wait_for_exit(pid, wait) {
            return;
        }
    }
}

/// Polls until `pid` is gone, at most `timeout`. Returns whether it is gone.
pub(crate) fn wait_for_exit(pid: i32, timeout: Duration) -> bool {
    let deadline = Instant::now() + timeout;
    loop {
        if !pid_alive(pid) {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Guards against pid reuse: checks that `pid` runs with `data_dir` as its
/// working directory (the postmaster `chdir`s into its data directory).
/// Where `/proc` is not available, trusts the data directory recorded in
/// the second line of `postmaster.pid`.
fn is_postmaster_of(pid: i32, data_dir: &Path) -> bool {
    let Ok(want) = std::fs::canonicalize(data_dir) else {
        return false;
    };
    if Path::new("/proc/self/cwd").exists() {
        return std::fs::read_link(format!("/proc/{pid}/cwd")).is_ok_and(|cwd| cwd == want);
    }
    std::fs::read_to_string(data_dir.join("postmaster.pid"))
        .ok()
        .and_then(|t| t.lines().nth(1).map(|l| Path::new(l.trim()).to_path_buf()))
        .and_then(|p| std::fs::canonicalize(p).ok())
        .is_some_and(|p| p == want)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn own_process_is_alive_and_bogus_pids_are_not() {
        assert!(pid_alive(std::process::id() as i32));
        assert!(!pid_alive(0));
        assert!(!pid_alive(-1));
    }

    #[test]
    fn young_dir_without_owner_file_is_not_stale() {
        let base = tempfile::tempdir().expect("tempdir");
        let dir = base.path().join(format!("{CLUSTER_DIR_PREFIX}young"));
        std::fs::create_dir(&dir).expect("mkdir");
        assert!(reap_stale_clusters_in(base.path()).is_empty());
        assert!(dir.exists());
    }
}
