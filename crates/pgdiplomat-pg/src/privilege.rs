//! Dropping root privileges for the PostgreSQL programs.
//!
//! `initdb`, `pg_ctl` and `postgres` refuse to run as root. When this process
//! is root (typical in containers and CI), they are run as the `nobody` user
//! instead, and the cluster directory is handed over to that user.

use std::ffi::CString;
use std::io;
use std::os::unix::fs::MetadataExt;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::Command;

/// The user to run PostgreSQL programs as, if not the current one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct RunAs {
    pub(crate) uid: u32,
    pub(crate) gid: u32,
}

/// Fallback uid/gid of `nobody`/`nogroup` when the user database lacks it.
const NOBODY_FALLBACK: u32 = 65534;

impl RunAs {
    /// `Some(nobody)` when the effective user is root, `None` otherwise.
    pub(crate) fn detect() -> Option<RunAs> {
        if is_root() {
            Some(RunAs::nobody())
        } else {
            None
        }
    }

    /// The `nobody` user from the user database, or 65534/65534.
    fn nobody() -> RunAs {
        lookup_user("nobody").unwrap_or(RunAs {
            uid: NOBODY_FALLBACK,
            gid: NOBODY_FALLBACK,
        })
    }

    /// Makes `cmd` run as this user. Supplementary groups are dropped as
    /// well: the standard library calls `setgroups(0, NULL)` before `setuid`
    /// when the parent is root and no explicit groups were requested, so the
    /// child does not keep root's groups.
    pub(crate) fn apply(&self, cmd: &mut Command) {
        cmd.uid(self.uid).gid(self.gid);
    }

    /// Changes the owner of `root` and everything below it (without following
    /// symlinks) to this user.
    pub(crate) fn chown_tree(&self, root: &Path) -> io::Result<()> {
        std::os::unix::fs::lchown(root, Some(self.uid), Some(self.gid))?;
        let meta = std::fs::symlink_metadata(root)?;
        if meta.is_dir() {
            for entry in std::fs::read_dir(root)? {
                self.chown_tree(&entry?.path())?;
            }
        }
        Ok(())
    }
}

/// Whether the effective user id is 0.
pub(crate) fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() == 0 }
}

/// Looks up `name` with the reentrant `getpwnam_r`.
fn lookup_user(name: &str) -> Option<RunAs> {
    let cname = CString::new(name).ok()?;
    let mut buf = vec![0 as libc::c_char; 4096];
    loop {
        // SAFETY: an all-zero passwd is a valid value (null pointers, zero ids);
        // getpwnam_r overwrites it on success.
        let mut pwd: libc::passwd = unsafe { std::mem::zeroed() };
        let mut result: *mut libc::passwd = std::ptr::null_mut();
        // SAFETY: all pointers are valid for the duration of the call and
        // `buf.len()` is the real size of `buf`.
        let rc = unsafe {
            libc::getpwnam_r(
                cname.as_ptr(),
                &mut pwd,
                buf.as_mut_ptr(),
                buf.len(),
                &mut result,
            )
        };
        if rc == libc::ERANGE && buf.len() < 1 << 20 {
            buf.resize(buf.len() * 4, 0);
            continue;
        }
        if rc != 0 || result.is_null() {
            return None;
        }
        return Some(RunAs {
            uid: pwd.pw_uid,
            gid: pwd.pw_gid,
        });
    }
}

/// Whether a user other than the owner (and not in the group) can traverse
/// every directory from `/` down to `dir`.
pub(crate) fn traversable_by_others(dir: &Path) -> bool {
    dir.ancestors().all(|d| {
        std::fs::metadata(d)
            .map(|m| m.is_dir() && m.mode() & 0o001 != 0)
            .unwrap_or(false)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn root_user_is_found() {
        assert_eq!(lookup_user("root").map(|u| u.uid), Some(0));
        assert_eq!(lookup_user("no-such-user-pgdiplomat"), None);
    }
}
