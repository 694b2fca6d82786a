//! Documentation generated from code must match the code: `scripts/gen-docs` regenerates it.

use assert_cmd::Command;

#[test]
fn docs_lock_table_md_matches_the_lock_table() {
    let committed = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../docs/lock-table.md"
    ))
    .expect("docs/lock-table.md exists");
    let out = Command::cargo_bin("pgdiplomat")
        .unwrap()
        .args(["locks"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let generated = String::from_utf8(out.stdout).unwrap();
    let body = committed.splitn(5, '\n').nth(4).unwrap_or("");
    assert!(
        body == generated,
        "docs/lock-table.md is stale: run scripts/gen-docs"
    );
}
