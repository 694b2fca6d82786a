//! Integration tests for the embedded cluster manager. Every test runs a
//! real PostgreSQL server; nothing is mocked.

use std::io::{BufRead, BufReader};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use pgdiplomat_pg::postgres::{Client, NoTls};
use pgdiplomat_pg::{
    cluster_base_dir, pid_alive, quote_ident, Cluster, ClusterError, ClusterOptions, PgBinaries,
    OWNER_PID_FILE,
};

fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() == 0 }
}

fn socket_file(cluster: &Cluster) -> PathBuf {
    cluster
        .socket_dir()
        .join(format!(".s.PGSQL.{}", cluster.port()))
}

/// Waits (briefly) for `pid` to disappear; the postmaster may still be
/// finishing its exit when `pg_ctl stop` returns.
fn gone_soon(pid: i32) -> bool {
    let deadline = Instant::now() + Duration::from_secs(5);
    while pid_alive(pid) {
        if Instant::now() > deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    true
}

/// The pid of a process that has certainly exited.
fn dead_pid() -> i32 {
    let mut child = Command::new("true").spawn().expect("spawn true");
    let pid = child.id() as i32;
    child.wait().expect("wait for true");
    pid
}

#[test]
fn started_cluster_reports_the_binaries_major_version_and_its_port() {
    let cluster = Cluster::start_default().expect("start cluster");

    // Ask the binaries directly, independent of the crate's parsing.
    let out = Command::new(cluster.binaries().bin_dir.join("postgres"))
        .arg("--version")
        .output()
        .expect("postgres --version");
    let text = String::from_utf8_lossy(&out.stdout);
    let major = text
        .split_whitespace()
        .nth(2)
        .and_then(|v| v.split('.').next())
        .expect("version in postgres --version output")
        .to_string();
    assert_eq!(cluster.version().major.to_string(), major);

    let mut client = cluster.connect().expect("connect");
    let version: String = client.query_one("SELECT version()", &[]).unwrap().get(0);
    assert!(
        version.contains(&format!("PostgreSQL {major}")),
        "{version:?} should mention PostgreSQL {major}"
    );
    let port: String = client.query_one("SHOW port", &[]).unwrap().get(0);
    assert_eq!(port, cluster.port().to_string());

    // The key=value string and the socket URL both work for other clients.
    let mut via_conninfo =
        Client::connect(&cluster.connection_string("postgres"), NoTls).expect("conninfo");
    via_conninfo
        .simple_query("SELECT 1")
        .expect("query via conninfo");
    let mut via_url = Client::connect(&cluster.url("postgres"), NoTls).expect("socket url");
    via_url.simple_query("SELECT 1").expect("query via url");
}

#[test]
fn data_dir_is_owned_by_an_unprivileged_user_when_running_as_root() {
    let cluster = Cluster::start_default().expect("start cluster");
    let owner = std::fs::metadata(cluster.data_dir())
        .expect("stat data dir")
        .uid();
    let pid = cluster.postmaster_pid().expect("postmaster.pid");
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("proc status");
    let server_uid: u32 = status
        .lines()
        .find_map(|l| l.strip_prefix("Uid:"))
        .and_then(|l| l.split_whitespace().next())
        .and_then(|u| u.parse().ok())
        .expect("Uid line");
    if is_root() {
        assert_ne!(owner, 0, "data dir must not be owned by root");
        assert_ne!(server_uid, 0, "postmaster must not run as root");
        let groups = status
            .lines()
            .find_map(|l| l.strip_prefix("Groups:"))
            .unwrap_or("");
        assert!(
            !groups.split_whitespace().any(|g| g == "0"),
            "postmaster kept root's supplementary group: {groups:?}"
        );
    } else {
        // SAFETY: geteuid has no preconditions.
        let me = unsafe { libc::geteuid() };
        assert_eq!(owner, me);
        assert_eq!(server_uid, me);
    }
}

#[test]
fn dropping_the_cluster_stops_the_server_and_removes_its_directory() {
    let cluster = Cluster::start_default().expect("start cluster");
    let dir = cluster.dir().to_path_buf();
    let socket = socket_file(&cluster);
    let pid = cluster.postmaster_pid().expect("postmaster.pid");
    assert!(socket.exists(), "socket {} should exist", socket.display());
    assert!(pid_alive(pid));

    drop(cluster);

    assert!(!socket.exists(), "socket file still there");
    assert!(gone_soon(pid), "postmaster {pid} still alive");
    assert!(!dir.exists(), "{} not removed", dir.display());
}

#[test]
fn panic_while_holding_a_cluster_still_stops_the_server_and_removes_its_directory() {
    let (tx, rx) = std::sync::mpsc::channel();
    let result = std::panic::catch_unwind(move || {
        let cluster = Cluster::start_default().expect("start cluster");
        let pid = cluster.postmaster_pid().expect("postmaster.pid");
        tx.send((cluster.dir().to_path_buf(), socket_file(&cluster), pid))
            .unwrap();
        panic!("deliberate panic with a running cluster");
    });
    assert!(result.is_err());
    let (dir, socket, pid) = rx.recv().expect("cluster info");
    assert!(!socket.exists(), "socket file still there");
    assert!(gone_soon(pid), "postmaster {pid} still alive");
    assert!(!dir.exists(), "{} not removed", dir.display());
}

#[test]
fn two_clusters_at_once_get_different_ports_and_both_work() {
    let a = Cluster::start_default().expect("start cluster a");
    let b = Cluster::start(ClusterOptions::default().tcp(true)).expect("start cluster b");
    assert_ne!(a.port(), b.port());
    assert_ne!(a.dir(), b.dir());

    let mut ca = a.connect().expect("connect a");
    ca.batch_execute("CREATE TABLE only_in_a (id int)").unwrap();
    // b listens on TCP too: connect through its host/port URL.
    assert!(b
        .url("postgres")
        .starts_with("postgres://postgres@127.0.0.1:"));
    let mut cb = Client::connect(&b.url("postgres"), NoTls).expect("connect b over tcp");
    let n: i64 = cb
        .query_one(
            "SELECT count(*) FROM pg_class WHERE relname = 'only_in_a'",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(n, 0, "clusters must be independent");
    let port: String = cb.query_one("SHOW port", &[]).unwrap().get(0);
    assert_eq!(port, b.port().to_string());
}

#[test]
fn nonexistent_bin_dir_gives_a_helpful_error() {
    let err = PgBinaries::at("/nonexistent").expect_err("must fail");
    assert!(matches!(err, ClusterError::InvalidBinDir { .. }), "{err:?}");
    let msg = err.to_string();
    eprintln!("{msg}");
    assert!(msg.contains("/nonexistent"), "{msg}");
    assert!(msg.contains("PGDIPLOMAT_PG_BIN"), "{msg}");
    assert!(msg.contains("apt-get install postgresql"), "{msg}");
}

#[test]
fn quote_ident_doubles_quotes_and_keeps_reserved_words_and_case() {
    assert_eq!(quote_ident(r#"a"b"#), r#""a""b""#);
    assert_eq!(quote_ident("select"), r#""select""#);
    assert_eq!(quote_ident("MixedCase"), r#""MixedCase""#);
    assert_eq!(quote_ident("plain"), r#""plain""#);
}

#[test]
fn create_database_with_names_that_need_quoting_works() {
    let cluster = Cluster::start_default().expect("start cluster");
    for name in [r#"My "odd" DB"#, "select", "UPPER"] {
        cluster
            .create_database(name)
            .unwrap_or_else(|e| panic!("create {name:?}: {e}"));
        let mut client = cluster.connect_db(name).expect("connect to new db");
        let current: String = client
            .query_one("SELECT current_database()", &[])
            .unwrap()
            .get(0);
        assert_eq!(current, name);
    }
}

#[test]
fn invalid_setting_fails_start_with_the_server_log_and_cleans_up() {
    let err = Cluster::start(ClusterOptions::default().setting("shared_buffers", "lots"))
        .expect_err("bad shared_buffers must fail");
    let ClusterError::Start { ref log_path, .. } = err else {
        panic!("expected a Start error, got {err:?}");
    };
    let msg = err.to_string();
    eprintln!("{msg}");
    assert!(msg.contains("shared_buffers"), "log tail missing: {msg}");
    let cluster_dir = log_path.parent().and_then(Path::parent).expect("dir");
    assert!(
        !cluster_dir.exists(),
        "{} left behind",
        cluster_dir.display()
    );

    let err = Cluster::start(ClusterOptions::default().setting("bad name", "1"))
        .expect_err("bad parameter name must fail");
    assert!(
        matches!(err, ClusterError::InvalidSetting { .. }),
        "{err:?}"
    );
}

#[test]
fn stale_cluster_dir_with_dead_owner_is_removed_by_next_start() {
    let base = cluster_base_dir();
    let me = std::process::id();
    let stale = base.join(format!("pgdiplomat-cluster-test-stale-{me}"));
    let live = base.join(format!("pgdiplomat-cluster-test-live-{me}"));
    for (dir, pid) in [(&stale, dead_pid()), (&live, me as i32)] {
        std::fs::create_dir_all(dir.join("data")).unwrap();
        std::fs::write(dir.join(OWNER_PID_FILE), format!("{pid}\n")).unwrap();
        // A postmaster.pid naming a dead process must not confuse the reaper.
        std::fs::write(dir.join("data/postmaster.pid"), format!("{}\n", dead_pid())).unwrap();
    }

    let _cluster = Cluster::start_default().expect("start cluster");

    assert!(!stale.exists(), "stale dir {} not reaped", stale.display());
    assert!(live.exists(), "dir of a live owner was removed");
    std::fs::remove_dir_all(&live).unwrap();
}

/// Not a test on its own: run by
/// `cluster_of_a_sigkilled_process_is_stopped_and_removed_by_next_start` in a
/// child process, which it then kills with SIGKILL.
#[test]
#[ignore = "helper process for the SIGKILL test"]
fn helper_hold_cluster_until_killed() {
    if std::env::var_os("PGDIPLOMAT_TEST_HOLD_CLUSTER").is_none() {
        return;
    }
    let cluster = Cluster::start_default().expect("start cluster");
    // libtest has already printed "test <name> ... " without a newline.
    println!(
        "\nCLUSTER {} {}",
        cluster.postmaster_pid().expect("postmaster.pid"),
        cluster.dir().display()
    );
    std::thread::sleep(Duration::from_secs(120));
}

#[test]
fn cluster_of_a_sigkilled_process_is_stopped_and_removed_by_next_start() {
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args([
            "--ignored",
            "--exact",
            "helper_hold_cluster_until_killed",
            "--nocapture",
            "--test-threads=1",
        ])
        .env("PGDIPLOMAT_TEST_HOLD_CLUSTER", "1")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn helper");
    let stdout = child.stdout.take().unwrap();
    let line = BufReader::new(stdout)
        .lines()
        .map_while(Result::ok)
        .find(|l| l.starts_with("CLUSTER "));
    child.kill().expect("SIGKILL helper");
    child.wait().expect("reap helper");
    let line = line.expect("helper printed its cluster");
    let mut parts = line.splitn(3, ' ').skip(1);
    let pid: i32 = parts.next().unwrap().parse().unwrap();
    let dir = PathBuf::from(parts.next().unwrap());
    assert!(
        dir.exists() && pid_alive(pid),
        "leaked cluster should be running"
    );

    let _cluster = Cluster::start_default().expect("start cluster");

    assert!(gone_soon(pid), "leaked postmaster {pid} still alive");
    assert!(!dir.exists(), "leaked dir {} not removed", dir.display());
}

#[test]
fn start_and_stop_are_fast() {
    let t0 = Instant::now();
    let cluster = Cluster::start_default().expect("start cluster");
    let started = t0.elapsed();
    let t1 = Instant::now();
    cluster.stop().expect("stop cluster");
    let stopped = t1.elapsed();
    eprintln!("cluster start {started:?}, stop {stopped:?} (other tests run in parallel)");
    // Generous: tests run in parallel on small machines.
    assert!(started + stopped < Duration::from_secs(20));
}
