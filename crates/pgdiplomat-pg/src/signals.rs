//! Stopping throwaway clusters when the process is interrupted (SIGINT, SIGTERM).
//!
//! `Drop` does not run when a signal ends the process, so without this a Ctrl-C during
//! `pgdiplomat trace` would leave its PostgreSQL running (until the next start reaps it).
//! [`stop_clusters_on_signals`] installs handlers that only write the signal number to a pipe
//! (async-signal-safe); a dedicated thread reads it, stops the postmaster of every live
//! [`crate::Cluster`] of this process, removes their directories and exits with 128 + signal
//! (130 for SIGINT, 143 for SIGTERM). SIGKILL cannot be caught: the reaper handles that.

use std::path::PathBuf;
use std::sync::atomic::{AtomicI32, Ordering};
use std::sync::{Mutex, Once};

use crate::reaper;

/// Roots of the clusters of this process that are alive (registered by `Cluster::start`).
static LIVE: Mutex<Vec<PathBuf>> = Mutex::new(Vec::new());
/// Write end of the self-pipe, -1 before the handlers are installed.
static PIPE_WRITE: AtomicI32 = AtomicI32::new(-1);
/// The signal being handled, 0 if none.
static RECEIVED: AtomicI32 = AtomicI32::new(0);
static INSTALL: Once = Once::new();

pub(crate) fn register(root: PathBuf) {
    if let Ok(mut live) = LIVE.lock() {
        live.push(root);
    }
}

pub(crate) fn unregister(root: &std::path::Path) {
    if let Ok(mut live) = LIVE.lock() {
        live.retain(|r| r != root);
    }
}

extern "C" fn on_signal(signal: libc::c_int) {
    RECEIVED.store(signal, Ordering::SeqCst);
    let byte = signal as u8;
    let fd = PIPE_WRITE.load(Ordering::SeqCst);
    // SAFETY: write(2) is async-signal-safe; the buffer is a live local byte.
    unsafe { libc::write(fd, (&byte as *const u8).cast(), 1) };
}

/// Installs the SIGINT/SIGTERM handlers (once per process; later calls do nothing).
pub fn stop_clusters_on_signals() -> std::io::Result<()> {
    let mut result = Ok(());
    INSTALL.call_once(|| result = install());
    result
}

fn install() -> std::io::Result<()> {
    let mut fds = [0 as libc::c_int; 2];
    // SAFETY: `fds` has room for the two descriptors pipe2 writes.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    let [read_fd, write_fd] = fds;
    PIPE_WRITE.store(write_fd, Ordering::SeqCst);
    std::thread::Builder::new()
        .name("pgdiplomat-signals".into())
        .spawn(move || {
            let mut byte = 0u8;
            loop {
                // SAFETY: reads one byte into a live local.
                let n = unsafe { libc::read(read_fd, (&mut byte as *mut u8).cast(), 1) };
                if n == 1 {
                    break;
                }
                if n < 0
                    && std::io::Error::last_os_error().kind() == std::io::ErrorKind::Interrupted
                {
                    continue;
                }
                return; // the pipe is gone: nothing more to wait for
            }
            let signal = i32::from(byte);
            stop_live_clusters();
            std::process::exit(128 + signal);
        })?;
    for signal in [libc::SIGINT, libc::SIGTERM] {
        // SAFETY: a zeroed sigaction is a valid starting point; the handler only touches
        // atomics and write(2).
        unsafe {
            let mut action: libc::sigaction = std::mem::zeroed();
            action.sa_sigaction = on_signal as extern "C" fn(libc::c_int) as *const () as usize;
            action.sa_flags = libc::SA_RESTART;
            libc::sigemptyset(&mut action.sa_mask);
            if libc::sigaction(signal, &action, std::ptr::null_mut()) != 0 {
                return Err(std::io::Error::last_os_error());
            }
        }
    }
    Ok(())
}

/// Stops the postmaster of every live cluster and removes its directory.
fn stop_live_clusters() {
    let roots = match LIVE.lock() {
        Ok(mut live) => std::mem::take(&mut *live),
        Err(_) => return,
    };
    for root in roots {
        reaper::stop_postmaster(&root.join("data"));
        let _ = std::fs::remove_dir_all(&root);
    }
}

/// The signal that is ending the process, if one arrived: the caller should then leave the
/// exit to the handler (see [`wait_for_signal_exit`]) instead of reporting the failures the
/// stopped server causes.
pub fn received_signal() -> Option<i32> {
    match RECEIVED.load(Ordering::SeqCst) {
        0 => None,
        s => Some(s),
    }
}

/// If a handled signal is ending the process, blocks until the handler has cleaned up and
/// exited; otherwise returns at once.
pub fn wait_for_signal_exit() {
    if received_signal().is_some() {
        loop {
            std::thread::park();
        }
    }
}
