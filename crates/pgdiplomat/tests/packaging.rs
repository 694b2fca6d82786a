//! Packaging: the Python wheel (pyproject.toml, maturin `bin` bindings) is built and installed
//! into a virtualenv whose `pgdiplomat` runs; the pre-commit hooks and the GitHub Action are
//! valid; shell completions and manual pages come out of the clap definition.
//!
//! The wheel tests install maturin from PyPI once into `target/packaging/maturin-venv` (later
//! runs reuse it) and build the wheel with the profile this test was built with. Cargo's
//! intermediate artifacts are shared with the workspace (`CARGO_BUILD_BUILD_DIR` = the
//! workspace's target directory, cargo 1.91+), so the binary `cargo test` just compiled is
//! reused rather than rebuilt, while the final artifacts go to a target directory of their own
//! under `target/packaging/`: maturin moves the binary it packs out of the target directory,
//! and must not take `target/debug/pgdiplomat` away from the other tests. (An older cargo
//! ignores the build directory setting and builds the binary once in that directory.)

use std::path::{Path, PathBuf};
use std::process::{Command as Process, Output};

use assert_cmd::Command;

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .expect("the repository root")
}

fn read(rel: &str) -> String {
    std::fs::read_to_string(repo_root().join(rel)).unwrap_or_else(|e| panic!("read {rel}: {e}"))
}

fn pgdiplomat(args: &[&str]) -> Output {
    Command::cargo_bin("pgdiplomat")
        .unwrap()
        .args(args)
        .output()
        .unwrap()
}

fn show(out: &Output) -> String {
    format!(
        "status {:?}\n--- stdout\n{}\n--- stderr\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

// ---------------------------------------------------------------------------------------------
// pyproject.toml

#[test]
fn pyproject_builds_the_binary_with_maturin() {
    let doc: toml::Value = read("pyproject.toml")
        .parse()
        .expect("pyproject.toml is TOML");
    let build = &doc["build-system"];
    assert_eq!(build["build-backend"].as_str(), Some("maturin"));
    let requires: Vec<&str> = build["requires"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|v| v.as_str())
        .collect();
    assert_eq!(requires, ["maturin>=1.5,<2"]);

    let maturin = &doc["tool"]["maturin"];
    assert_eq!(maturin["bindings"].as_str(), Some("bin"));
    let manifest = maturin["manifest-path"].as_str().unwrap();
    let manifest_text = read(manifest);
    assert!(
        manifest_text.contains("name = \"pgdiplomat\""),
        "{manifest} is the binary crate"
    );

    let project = &doc["project"];
    assert_eq!(project["name"].as_str(), Some("pgdiplomat"));
    assert_eq!(project["requires-python"].as_str(), Some(">=3.8"));
    // The version is the crate's (maturin reads it from Cargo.toml).
    assert!(project.get("version").is_none());
    assert!(project["dynamic"]
        .as_array()
        .unwrap()
        .iter()
        .any(|v| v.as_str() == Some("version")));
    let readme = project["readme"].as_str().unwrap();
    assert!(repo_root().join(readme).is_file(), "{readme} exists");
    assert!(project["description"]
        .as_str()
        .is_some_and(|d| !d.is_empty()));
    assert!(project["license"].get("text").is_some());
    assert!(!project["classifiers"].as_array().unwrap().is_empty());
}

// ---------------------------------------------------------------------------------------------
// The wheel, built and installed

/// The target directory and the cargo profile this test binary was built with
/// (`<target>/<profile dir>/deps/packaging-<hash>`).
fn target_dir_and_profile() -> (PathBuf, String) {
    let exe = std::env::current_exe().unwrap();
    let profile_dir = exe.parent().and_then(Path::parent).unwrap();
    let target = profile_dir.parent().unwrap().to_path_buf();
    let profile = match profile_dir.file_name().unwrap().to_str().unwrap() {
        "debug" => "dev".to_string(),
        other => other.to_string(),
    };
    (target, profile)
}

/// Cargo's environment for a build of the wheel: the workspace's build directory (so the
/// compiled dependencies and the binary are reused) and a target directory of its own, `name`
/// under `target/packaging/`, for the final artifacts that maturin moves away.
fn cargo_env(cmd: &mut Process, target: &Path, name: &str) -> PathBuf {
    let own = target.join("packaging").join(name);
    cmd.env("CARGO_BUILD_BUILD_DIR", target)
        .env("CARGO_TARGET_DIR", &own);
    own
}

fn python() -> String {
    std::env::var("PYTHON").unwrap_or_else(|_| "python3".to_string())
}

fn run(cmd: &mut Process, what: &str) -> Output {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("{what}: cannot start {:?}: {e}", cmd.get_program()));
    assert!(out.status.success(), "{what} failed:\n{}", show(&out));
    out
}

/// Holds an exclusive lock on `path` while alive (so that two test runs do not build the same
/// virtualenv at once).
#[cfg(unix)]
struct FileLock {
    _file: std::fs::File,
}

#[cfg(unix)]
impl FileLock {
    fn acquire(path: &Path) -> FileLock {
        use std::os::unix::io::AsRawFd;
        let file = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(path)
            .unwrap();
        // SAFETY: flock on a file descriptor we own.
        let rc = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX) };
        assert_eq!(rc, 0, "flock {}", path.display());
        FileLock { _file: file }
    }
}

/// `target/packaging/maturin-venv/bin/maturin`, installed from PyPI on first use.
#[cfg(unix)]
fn maturin(target: &Path) -> PathBuf {
    let dir = target.join("packaging");
    std::fs::create_dir_all(&dir).unwrap();
    let venv = dir.join("maturin-venv");
    let maturin = venv.join("bin/maturin");
    let ready = || {
        Process::new(&maturin)
            .arg("--version")
            .output()
            .is_ok_and(|o| o.status.success() && o.stdout.starts_with(b"maturin 1."))
    };
    if ready() {
        return maturin;
    }
    let _lock = FileLock::acquire(&dir.join("maturin-venv.lock"));
    if ready() {
        return maturin;
    }
    if !venv.join("bin/python").exists() {
        run(
            Process::new(python()).args(["-m", "venv"]).arg(&venv),
            "python3 -m venv (on Debian/Ubuntu: apt-get install python3-venv; or set PYTHON)",
        );
    }
    run(
        Process::new(venv.join("bin/python")).args([
            "-m",
            "pip",
            "install",
            "--disable-pip-version-check",
            "--quiet",
            "maturin>=1.5,<2",
        ]),
        "pip install maturin from PyPI (set PIP_INDEX_URL for a mirror)",
    );
    assert!(ready(), "{} does not run", maturin.display());
    maturin
}

#[cfg(unix)]
#[test]
fn wheel_builds_and_its_pgdiplomat_runs_from_a_virtualenv() {
    let root = repo_root();
    let (target, profile) = target_dir_and_profile();
    let maturin = maturin(&target);
    let tmp = tempfile::tempdir().unwrap();
    let wheels = tmp.path().join("wheels");

    // Same profile, same build directory and no stripping (stripping changes the rustc flags):
    // cargo finds the binary this test run already built up to date and maturin only packs it.
    let mut build = Process::new(&maturin);
    build
        .current_dir(&root)
        .args(["build", "--profile", &profile, "--strip", "false", "--out"])
        .arg(&wheels);
    let own_target = cargo_env(&mut build, &target, "cargo-maturin");
    build.arg("--target-dir").arg(&own_target);
    run(&mut build, "maturin build");
    assert!(
        Path::new(env!("CARGO_BIN_EXE_pgdiplomat")).is_file(),
        "the build of the wheel took the binary the other tests run"
    );

    let version = env!("CARGO_PKG_VERSION");
    let built: Vec<PathBuf> = std::fs::read_dir(&wheels)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(built.len(), 1, "one wheel: {built:?}");
    let wheel = &built[0];
    let name = wheel.file_name().unwrap().to_str().unwrap();
    assert!(
        name.starts_with(&format!("pgdiplomat-{version}-py3-none-")) && name.ends_with(".whl"),
        "{name}"
    );

    let venv = tmp.path().join("venv");
    run(
        Process::new(python()).args(["-m", "venv"]).arg(&venv),
        "python3 -m venv",
    );
    run(
        Process::new(venv.join("bin/python"))
            .args([
                "-m",
                "pip",
                "install",
                "--disable-pip-version-check",
                "--quiet",
                "--no-index",
                "--no-deps",
            ])
            .arg(wheel),
        "pip install the wheel",
    );

    let installed = venv.join("bin/pgdiplomat");
    let out = run(
        Process::new(&installed).arg("--version"),
        "pgdiplomat --version",
    );
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert_eq!(
        stdout.split_whitespace().collect::<Vec<_>>(),
        ["pgdiplomat", version],
        "{stdout}"
    );

    // The installed binary is the real linter: the seed incident is flagged, its fix is not.
    let lint = |file: &str| {
        Process::new(&installed)
            .current_dir(tmp.path())
            .args(["lint", "--no-config", "--color", "never"])
            .arg(root.join(file))
            .output()
            .unwrap()
    };
    let naive = lint("examples/seed/naive.sql");
    assert_eq!(naive.status.code(), Some(1), "{}", show(&naive));
    assert!(
        String::from_utf8_lossy(&naive.stdout).contains("unique-constraint-builds-index"),
        "{}",
        show(&naive)
    );
    let safe = lint("examples/seed/safe.sql");
    assert_eq!(safe.status.code(), Some(0), "{}", show(&safe));

    // `pip show` sees the distribution under the crate's version.
    let out = run(
        Process::new(venv.join("bin/python")).args([
            "-m",
            "pip",
            "show",
            "--disable-pip-version-check",
            "pgdiplomat",
        ]),
        "pip show pgdiplomat",
    );
    assert!(
        String::from_utf8_lossy(&out.stdout).contains(&format!("Version: {version}")),
        "{}",
        show(&out)
    );
}

/// What pre-commit (`language: python`) and `pip install .` do: pip builds the wheel from the
/// source tree through the PEP 517 backend in pyproject.toml. Also the source distribution that
/// PyPI serves to platforms without a wheel.
#[cfg(unix)]
#[test]
fn pip_builds_the_wheel_from_the_source_tree_and_maturin_the_sdist() {
    let root = repo_root();
    let (target, profile) = target_dir_and_profile();
    let maturin = maturin(&target);
    let venv_bin = maturin.parent().unwrap();
    let tmp = tempfile::tempdir().unwrap();

    // The backend calls `maturin` from the PATH; MATURIN_PEP517_ARGS keeps the build on the
    // test's profile (a user's `pip install .` builds in release mode).
    let path = std::env::join_paths(std::iter::once(venv_bin.to_path_buf()).chain(
        std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default()),
    ))
    .unwrap();
    let mut pip = Process::new(venv_bin.join("python"));
    pip.current_dir(&root)
        .args([
            "-m",
            "pip",
            "wheel",
            "--disable-pip-version-check",
            "--quiet",
            "--no-deps",
            "--no-build-isolation",
            "--wheel-dir",
        ])
        .arg(tmp.path().join("pip"))
        .arg(".")
        .env("PATH", path)
        .env(
            "MATURIN_PEP517_ARGS",
            format!("--profile {profile} --strip false"),
        );
    cargo_env(&mut pip, &target, "cargo-pip");
    run(&mut pip, "pip wheel . (the PEP 517 build pre-commit does)");
    let version = env!("CARGO_PKG_VERSION");
    let names: Vec<String> = std::fs::read_dir(tmp.path().join("pip"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(
        names.len() == 1 && names[0].starts_with(&format!("pgdiplomat-{version}-py3-none-")),
        "{names:?}"
    );

    let mut sdist = Process::new(&maturin);
    sdist
        .current_dir(&root)
        .args(["sdist", "--out"])
        .arg(tmp.path().join("sdist"));
    run(&mut sdist, "maturin sdist");
    let sdist = tmp
        .path()
        .join(format!("sdist/pgdiplomat-{version}.tar.gz"));
    assert!(sdist.is_file(), "{}", sdist.display());
}

// ---------------------------------------------------------------------------------------------
// .pre-commit-hooks.yaml

#[test]
fn pre_commit_hooks_are_valid() {
    let hooks: serde_yaml::Value =
        serde_yaml::from_str(&read(".pre-commit-hooks.yaml")).expect("valid YAML");
    let hooks = hooks.as_sequence().expect("a list of hooks");
    let by_id = |id: &str| {
        hooks
            .iter()
            .find(|h| h["id"].as_str() == Some(id))
            .unwrap_or_else(|| panic!("hook {id}"))
    };
    for hook in hooks {
        for key in ["id", "name", "entry", "language"] {
            assert!(hook[key].as_str().is_some(), "{key} in {hook:?}");
        }
        let files = hook["files"].as_str().unwrap();
        assert_eq!(files, r"\.sql$");
        assert_eq!(hook["pass_filenames"].as_bool(), Some(true));
        assert_eq!(hook["entry"].as_str(), Some("pgdiplomat lint"));
    }
    assert_eq!(
        by_id("pgdiplomat-lint")["language"].as_str(),
        Some("python")
    );
    assert_eq!(
        by_id("pgdiplomat-lint-system")["language"].as_str(),
        Some("system")
    );
}

// ---------------------------------------------------------------------------------------------
// action.yml

#[test]
fn github_action_is_a_valid_composite_action() {
    let action: serde_yaml::Value = serde_yaml::from_str(&read("action.yml")).expect("valid YAML");
    for key in ["name", "description"] {
        assert!(action[key].as_str().is_some_and(|s| !s.is_empty()), "{key}");
    }
    let inputs = action["inputs"].as_mapping().expect("inputs");
    for (name, default) in [
        ("paths", Some("migrations")),
        ("pg-version", None),
        ("fail-on", None),
        (
            "base-ref",
            Some("${{ github.event.pull_request.base.sha }}"),
        ),
        ("sarif", Some("true")),
        ("version", None),
    ] {
        let input = &inputs.get(name).unwrap_or_else(|| panic!("input {name}"));
        assert!(input["description"].as_str().is_some(), "{name}");
        if let Some(default) = default {
            assert_eq!(input["default"].as_str(), Some(default), "{name}");
        }
    }

    let runs = &action["runs"];
    assert_eq!(runs["using"].as_str(), Some("composite"));
    let steps = runs["steps"].as_sequence().expect("steps");
    let runs_text: Vec<&str> = steps.iter().filter_map(|s| s["run"].as_str()).collect();
    // Every shell step names its shell (composite actions require it).
    for step in steps {
        if step.get("run").is_some() {
            assert_eq!(step["shell"].as_str(), Some("bash"), "{step:?}");
        } else {
            assert!(step["uses"].as_str().is_some(), "{step:?}");
        }
    }
    assert!(runs_text.iter().any(|r| r.contains("pip install")));
    assert!(runs_text
        .iter()
        .any(|r| r.contains("pgdiplomat lint") && r.contains("--format sarif")));
    assert!(runs_text
        .iter()
        .any(|r| r.contains("pgdiplomat lint") && r.contains("--format github")));
    assert!(runs_text.iter().any(|r| r.contains("--changed-since")));
    let upload = steps
        .iter()
        .find(|s| {
            s["uses"]
                .as_str()
                .is_some_and(|u| u.starts_with("github/codeql-action/upload-sarif@"))
        })
        .expect("an upload-sarif step");
    assert_eq!(upload["if"].as_str(), Some("${{ inputs.sarif == 'true' }}"));

    // Every output refers to a step that exists.
    let ids: Vec<&str> = steps.iter().filter_map(|s| s["id"].as_str()).collect();
    for (name, output) in action["outputs"].as_mapping().expect("outputs") {
        let value = output["value"].as_str().unwrap();
        let step = value
            .trim_start_matches("${{ steps.")
            .split('.')
            .next()
            .unwrap();
        assert!(ids.contains(&step), "output {name:?} uses step {step}");
    }

    // The scripts are valid bash.
    for script in runs_text {
        let out = Process::new("bash")
            .args(["-n", "-c", script])
            .output()
            .expect("bash");
        assert!(out.status.success(), "{script}\n{}", show(&out));
    }
}

fn action_steps() -> Vec<serde_yaml::Value> {
    let action: serde_yaml::Value = serde_yaml::from_str(&read("action.yml")).unwrap();
    action["runs"]["steps"].as_sequence().unwrap().clone()
}

#[test]
fn github_action_uses_only_flags_pgdiplomat_lint_has() {
    let help = pgdiplomat(&["lint", "--help"]);
    assert!(help.status.success(), "{}", show(&help));
    let help = String::from_utf8(help.stdout).unwrap();
    let mut checked = 0;
    for step in action_steps() {
        let Some(script) = step["run"].as_str() else {
            continue;
        };
        for line in script.lines().filter(|l| {
            l.contains("pgdiplomat lint") || l.contains("args+=(") || l.contains("fail_on=(")
        }) {
            let words: Vec<&str> = line
                .split(|c: char| c.is_whitespace() || c == '(' || c == ')' || c == '"')
                .collect();
            for (i, word) in words.iter().enumerate() {
                if word.starts_with("--") {
                    assert!(help.contains(word), "lint has no {word}: {line}");
                    checked += 1;
                    let value = words.get(i + 1).copied().unwrap_or("");
                    if (*word == "--format" || *word == "--fail-on")
                        && !value.is_empty()
                        && !value.starts_with('$')
                    {
                        assert!(help.contains(&format!("- {value}:")), "{word} {value}");
                    }
                }
            }
        }
    }
    assert!(checked >= 6, "{checked}");
}

/// The action's shell steps, run as GitHub would (GITHUB_OUTPUT, inputs as environment) with
/// the pgdiplomat this test run built, on a repository where a branch adds an unsafe migration.
#[cfg(unix)]
#[test]
fn github_action_lints_the_changed_migrations_into_sarif_and_annotations() {
    let tmp = tempfile::tempdir().unwrap();
    let repo = tmp.path().join("repo");
    std::fs::create_dir_all(repo.join("migrations")).unwrap();
    let git = |args: &[&str]| {
        run(
            Process::new("git")
                .current_dir(&repo)
                .args(["-c", "user.name=t", "-c", "user.email=t@example.com"])
                .args(args),
            "git",
        )
    };
    git(&["init", "-q"]);
    std::fs::write(
        repo.join("migrations/0001_users.sql"),
        "CREATE TABLE users_user (id bigint PRIMARY KEY, email text);\n",
    )
    .unwrap();
    git(&["add", "."]);
    git(&["commit", "-q", "-m", "base"]);
    let base = String::from_utf8(git(&["rev-parse", "HEAD"]).stdout).unwrap();
    std::fs::copy(
        repo_root().join("examples/seed/naive.sql"),
        repo.join("migrations/0002_email_unique.sql"),
    )
    .unwrap();
    git(&["add", "."]);
    git(&["commit", "-q", "-m", "change"]);

    let bin_dir = Path::new(env!("CARGO_BIN_EXE_pgdiplomat"))
        .parent()
        .unwrap();
    let path = std::env::join_paths(std::iter::once(bin_dir.to_path_buf()).chain(
        std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default()),
    ))
    .unwrap();
    let output_file = tmp.path().join("github_output");
    std::fs::write(&output_file, "").unwrap();
    let outputs = || -> std::collections::HashMap<String, String> {
        std::fs::read_to_string(&output_file)
            .unwrap()
            .lines()
            .filter_map(|l| l.split_once('='))
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    };
    let steps = action_steps();
    let step = |name: &str| {
        let step = steps
            .iter()
            .find(|s| s["name"].as_str() == Some(name))
            .unwrap_or_else(|| panic!("step {name}"));
        let mut cmd = Process::new("bash");
        cmd.current_dir(&repo)
            .args(["-c", step["run"].as_str().unwrap()])
            .env("PATH", &path)
            .env("GITHUB_OUTPUT", &output_file)
            .env("BASE_REF", base.trim())
            .env("PG_VERSION", "16")
            .env("LINT_PATHS", "migrations")
            .env("FAIL_ON", "")
            .env(
                "COMMON_ARGS",
                outputs().get("common").cloned().unwrap_or_default(),
            );
        cmd.output().unwrap()
    };

    let prepared = step("Prepare the arguments");
    assert!(prepared.status.success(), "{}", show(&prepared));
    let sarif_run = step("Lint (SARIF)");
    assert_eq!(sarif_run.status.code(), Some(0), "{}", show(&sarif_run));
    let sarif_file = repo.join(&outputs()["file"]);
    let sarif: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&sarif_file).unwrap()).expect("SARIF");
    assert_eq!(sarif["version"], "2.1.0");
    let text = sarif.to_string();
    assert!(text.contains("unique-constraint-builds-index"), "{text}");
    assert!(text.contains("0002_email_unique.sql"), "{text}");
    assert!(
        !text.contains("0001_users.sql"),
        "only changed files: {text}"
    );

    let annotated = step("Lint (annotations)");
    assert_eq!(annotated.status.code(), Some(1), "{}", show(&annotated));
    assert!(
        String::from_utf8_lossy(&annotated.stdout).contains("::error"),
        "{}",
        show(&annotated)
    );
    assert_eq!(outputs()["exit-code"], "1");
}

// ---------------------------------------------------------------------------------------------
// Completions and manual pages

#[test]
fn bash_completion_knows_the_commands_and_flags() {
    let out = pgdiplomat(&["completions", "bash"]);
    assert!(out.status.success(), "{}", show(&out));
    let script = String::from_utf8(out.stdout).unwrap();
    assert!(script.contains("lint"), "{script}");
    assert!(script.contains("--pg-version"), "{script}");
    assert!(script.contains("complete -F"), "{script}");
}

#[test]
fn every_shell_gets_a_completion_script() {
    for shell in ["bash", "zsh", "fish", "powershell", "elvish"] {
        let out = pgdiplomat(&["completions", shell]);
        assert!(out.status.success(), "{shell}: {}", show(&out));
        let script = String::from_utf8(out.stdout).unwrap();
        assert!(script.contains("pgdiplomat"), "{shell}");
        assert!(script.contains("explain"), "{shell}");
    }
    let out = pgdiplomat(&["completions", "tcsh"]);
    assert_eq!(out.status.code(), Some(2), "{}", show(&out));
}

#[test]
fn man_prints_the_main_page() {
    let out = pgdiplomat(&["man"]);
    assert!(out.status.success(), "{}", show(&out));
    let page = String::from_utf8(out.stdout).unwrap();
    assert!(page.contains(".TH pgdiplomat 1"), "{page}");
    assert!(
        page.contains("Change the schema of a live PostgreSQL database"),
        "{page}"
    );
    assert!(page.contains(env!("CARGO_PKG_VERSION")), "{page}");
    assert!(page.contains("lint"), "{page}");
}

#[test]
fn man_out_dir_writes_a_page_per_command() {
    let dir = tempfile::tempdir().unwrap();
    let out_dir = dir.path().join("man1");
    let out = pgdiplomat(&["man", "--out-dir", out_dir.to_str().unwrap()]);
    assert!(out.status.success(), "{}", show(&out));
    assert!(out.stdout.is_empty());
    for page in [
        "pgdiplomat.1",
        "pgdiplomat-lint.1",
        "pgdiplomat-explain.1",
        "pgdiplomat-rules.1",
    ] {
        let text =
            std::fs::read_to_string(out_dir.join(page)).unwrap_or_else(|e| panic!("{page}: {e}"));
        assert!(text.contains(".TH"), "{page}");
    }
    let lint = std::fs::read_to_string(out_dir.join("pgdiplomat-lint.1")).unwrap();
    assert!(lint.contains("pg\\-version"), "{lint}");
}
