//! Sqitch projects: `sqitch.plan` lists the changes in deploy order; `sqitch deploy` runs
//! `deploy/<change>.sql` of each with psql (App::Sqitch::Engine::pg `run_file`: `psql --file`,
//! with `ON_ERROR_STOP=1`, no `--single-transaction`), so a script's own `BEGIN;`/`COMMIT;`
//! (which `sqitch add` puts in every new script) are its only transaction. A change reworked
//! later in the plan keeps its earlier script as `deploy/<change>@<tag>.sql`, `<tag>` being the
//! first tag between the two whose file exists (App::Sqitch::Plan::Change `path_segments`).
//! `revert/` and `verify/` scripts are not run by `deploy`.

use std::fs;
use std::path::{Path, PathBuf};

pub(crate) const PLAN_FILE: &str = "sqitch.plan";

/// The deploy scripts `plan` names, in deploy order, relative to the project directory
/// (`deploy/<change>.sql` or `deploy/<change>@<tag>.sql`). `exists` says whether a relative
/// path is a file of the project (to pick a reworked change's tag).
pub(crate) fn deploy_scripts(plan: &str, exists: &dyn Fn(&str) -> bool) -> Vec<String> {
    // (change name, tags seen after it) per change line; tags seen so far.
    let mut changes: Vec<(String, Vec<String>)> = Vec::new();
    for raw in plan.lines() {
        let line = raw.trim();
        if line.is_empty() || line.starts_with('%') || line.starts_with('#') {
            continue;
        }
        if let Some(tag) = line.strip_prefix('@') {
            let tag = tag.split_whitespace().next().unwrap_or("");
            for (_, tags) in &mut changes {
                tags.push(tag.to_owned());
            }
            continue;
        }
        let Some(name) = line.split_whitespace().next() else {
            continue;
        };
        // `-name` reverts a change in the plan (rare); `+name` deploys it.
        if name.starts_with('-') {
            continue;
        }
        let name = name.trim_start_matches('+');
        changes.push((name.to_owned(), Vec::new()));
    }
    let mut out = Vec::new();
    for (i, (name, tags)) in changes.iter().enumerate() {
        let reworked_later = changes[i + 1..].iter().any(|(n, _)| n == name);
        if !reworked_later {
            out.push(format!("deploy/{name}.sql"));
            continue;
        }
        // The tags between this change and its rework: those it saw minus those the rework saw.
        let next = changes[i + 1..]
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, t)| t.len())
            .unwrap_or(0);
        let between = &tags[..tags.len().saturating_sub(next)];
        let candidates: Vec<String> = between
            .iter()
            .map(|t| format!("deploy/{name}@{t}.sql"))
            .collect();
        let pick = candidates
            .iter()
            .find(|c| exists(c))
            .or(candidates.first())
            .cloned()
            .unwrap_or_else(|| format!("deploy/{name}.sql"));
        out.push(pick);
    }
    out
}

/// The Sqitch project directory of `path`: the nearest ancestor holding `sqitch.plan` of which
/// `path` lies under `deploy/`.
pub(crate) fn project_of(path: &Path) -> Option<PathBuf> {
    let mut dir = path.parent();
    while let Some(d) = dir {
        if d.file_name().is_some_and(|n| n == "deploy") {
            if let Some(project) = d.parent() {
                if project.join(PLAN_FILE).is_file() {
                    return Some(project.to_path_buf());
                }
            }
        }
        dir = d.parent();
    }
    None
}

/// Reads the plan of `project`.
pub(crate) fn read_plan(project: &Path) -> Option<String> {
    fs::read_to_string(project.join(PLAN_FILE)).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reworked_changes_use_the_tagged_script() {
        let plan = "%syntax-version=1.0.0\n%project=flipr\n\nappschema 2013-12-30T23:19:45Z M <m@x> # a\nusers [appschema] 2013-12-30T23:49:00Z M <m@x> # b\n@v1 2013-12-31T00:01:22Z M <m@x> # t\n\nlists 2013-12-31T00:39:40Z M <m@x>\n@v2 2013-12-31T00:55:06Z M <m@x>\nusers [users@v2] 2013-12-31T01:00:10Z M <m@x># rework\n";
        let exists = |p: &str| p == "deploy/users@v2.sql";
        assert_eq!(
            deploy_scripts(plan, &exists),
            [
                "deploy/appschema.sql",
                "deploy/users@v2.sql",
                "deploy/lists.sql",
                "deploy/users.sql"
            ]
        );
        // Without the file, the first tag after the change.
        assert_eq!(deploy_scripts(plan, &|_| false)[1], "deploy/users@v1.sql");
    }
}
