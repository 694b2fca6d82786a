//! Sourcegraph's migrator (`internal/database/migration/definition`): a schema directory
//! (`migrations/frontend`, `codeintel`, `codeinsights`) holds one folder per migration, named
//! by its integer version, with `up.sql`, `down.sql` and `metadata.yaml` (`name`, `parents`
//! — or the older single `parent` —, `createIndexConcurrently`, `privileged`,
//! `nonIdempotent`). Migrations are ordered topologically from the single root, parents first,
//! unrelated ones by version (`findDefinitionOrder`: depth-first from the root over children
//! sorted in reverse, reversed). The up query is canonicalised (`CanonicalizeQuery`: embedded
//! `-- +++` front matter and the outermost `BEGIN;`/`COMMIT;` stripped) and runs in the
//! migrator's transaction, except a `createIndexConcurrently: true` migration, whose single
//! `CREATE INDEX CONCURRENTLY` runs without one.

use std::collections::{HashMap, HashSet};
use std::fs;
use std::ops::Range;
use std::path::Path;

pub(crate) const METADATA: &str = "metadata.yaml";

/// What the migrator reads from `metadata.yaml`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Metadata {
    pub parents: Vec<u64>,
    pub create_index_concurrently: bool,
    pub privileged: bool,
}

/// Reads the keys the migrator uses from a `metadata.yaml` (flow `[1, 2]` or block `- 1`
/// lists, `parent: 1`, booleans). Other YAML is ignored.
pub(crate) fn parse_metadata(text: &str) -> Metadata {
    let mut m = Metadata::default();
    let mut in_parents = false;
    let num = |s: &str| s.trim().trim_matches(['"', '\'']).parse::<u64>().ok();
    for raw in text.lines() {
        let line = raw.split(" #").next().unwrap_or("");
        let trimmed = line.trim();
        if trimmed.is_empty() || trimmed.starts_with('#') {
            continue;
        }
        if in_parents {
            if let Some(item) = trimmed.strip_prefix("- ").or(trimmed.strip_prefix('-')) {
                m.parents.extend(num(item));
                continue;
            }
            in_parents = false;
        }
        let Some((key, value)) = trimmed.split_once(':') else {
            continue;
        };
        let value = value.trim();
        let truthy = value.eq_ignore_ascii_case("true");
        match key.trim() {
            "parents" => {
                if let Some(list) = value.strip_prefix('[') {
                    let list = list.trim_end_matches(']');
                    m.parents.extend(list.split(',').filter_map(num));
                } else if value.is_empty() {
                    in_parents = true;
                }
            }
            "parent" => m.parents.extend(num(value).filter(|&p| p != 0)),
            "createIndexConcurrently" => m.create_index_concurrently = truthy,
            "privileged" => m.privileged = truthy,
            _ => {}
        }
    }
    m.parents.sort_unstable();
    m.parents.dedup();
    m
}

/// The metadata next to `up_sql`, if the folder has one.
pub(crate) fn metadata_of(up_sql: &Path) -> Option<Metadata> {
    let text = fs::read_to_string(up_sql.parent()?.join(METADATA)).ok()?;
    Some(parse_metadata(&text))
}

/// The version of a migration folder name (`1648051770`, or digits then `_`).
pub(crate) fn version_of(folder: &str) -> Option<u64> {
    let digits = folder.bytes().take_while(u8::is_ascii_digit).count();
    if digits == 0 || !(folder.len() == digits || folder[digits..].starts_with('_')) {
        return None;
    }
    folder[..digits].parse().ok()
}

/// The migrator's order of `versions` (each with its parents): topological from the single
/// root, parents first, unrelated migrations by version. `None` when the graph is not a
/// single-root DAG over known versions (the migrator refuses it); callers then use version
/// order.
pub(crate) fn order(defs: &[(u64, Vec<u64>)]) -> Option<Vec<u64>> {
    let known: HashSet<u64> = defs.iter().map(|(v, _)| *v).collect();
    if defs
        .iter()
        .any(|(_, ps)| ps.iter().any(|p| !known.contains(p)))
    {
        return None;
    }
    let roots: Vec<u64> = defs
        .iter()
        .filter(|(_, ps)| ps.is_empty())
        .map(|(v, _)| *v)
        .collect();
    let [root] = roots[..] else {
        return None;
    };
    let mut children: HashMap<u64, Vec<u64>> = HashMap::new();
    for (v, ps) in defs {
        for p in ps {
            children.entry(*p).or_default().push(*v);
        }
    }
    for c in children.values_mut() {
        c.sort_unstable_by(|a, b| b.cmp(a));
        c.dedup();
    }
    // Iterative depth-first search, post-order; 0 unvisited, 1 visiting, 2 done.
    let mut marks: HashMap<u64, u8> = HashMap::new();
    let mut post = Vec::with_capacity(defs.len());
    let mut stack: Vec<(u64, usize)> = vec![(root, 0)];
    marks.insert(root, 1);
    while let Some(top) = stack.last_mut() {
        let (id, next) = *top;
        top.1 += 1;
        let kids = children.get(&id).map(Vec::as_slice).unwrap_or(&[]);
        if let Some(&child) = kids.get(next) {
            match marks.get(&child).copied().unwrap_or(0) {
                0 => {
                    marks.insert(child, 1);
                    stack.push((child, 0));
                }
                1 => return None, // a cycle
                _ => {}
            }
        } else {
            marks.insert(id, 2);
            post.push(id);
            stack.pop();
        }
    }
    if post.len() != defs.len() {
        return None;
    }
    post.reverse();
    Some(post)
}

/// The part of `up.sql` the migrator runs: `CanonicalizeQuery` drops `-- +++` front matter
/// and one outermost `BEGIN;` and `COMMIT;`.
pub(crate) fn canonical_range(text: &str) -> Range<usize> {
    let mut start = 0;
    let mut end = text.len();
    // Front matter: the text after the second `-- +++\n`.
    if let Some(a) = text.find("-- +++\n") {
        if let Some(b) = text[a + 7..].find("-- +++\n") {
            start = a + 7 + b + 7;
        }
    }
    let body = &text[start..end];
    let lead = body.len() - body.trim_start().len();
    if body[lead..].starts_with("BEGIN;") {
        start += lead + "BEGIN;".len();
    }
    let body = &text[start..end];
    let trimmed = body.trim_end();
    if trimmed.ends_with("COMMIT;") {
        end = start + trimmed.len() - "COMMIT;".len();
    }
    start..end.max(start)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metadata_keys() {
        let m = parse_metadata(
            "name: add index\nparents: [1000000002, 1000000001]\ncreateIndexConcurrently: true\n",
        );
        assert_eq!(m.parents, [1000000001, 1000000002]);
        assert!(m.create_index_concurrently && !m.privileged);
        let m = parse_metadata("name: x\nparents:\n  - 5\n  - 3\nprivileged: true\n");
        assert_eq!(m.parents, [3, 5]);
        assert!(m.privileged);
        assert_eq!(parse_metadata("parent: 7\n").parents, [7]);
    }

    #[test]
    fn order_is_topological_then_by_version() {
        // 1 → {3, 2}; 4 has parents 2 and 3.
        let defs = vec![(1, vec![]), (3, vec![1]), (2, vec![1]), (4, vec![2, 3])];
        assert_eq!(order(&defs), Some(vec![1, 2, 3, 4]));
        // A child with a lower version still runs after its parent.
        let defs = vec![(10, vec![]), (5, vec![10])];
        assert_eq!(order(&defs), Some(vec![10, 5]));
        assert_eq!(order(&[(1, vec![]), (2, vec![])]), None);
        assert_eq!(order(&[(1, vec![]), (2, vec![3]), (3, vec![2])]), None);
    }

    #[test]
    fn the_outermost_transaction_is_stripped() {
        let text = "BEGIN;\nCREATE TABLE t (a int);\nCOMMIT;\n";
        assert_eq!(&text[canonical_range(text)], "\nCREATE TABLE t (a int);\n");
        let text = "-- c\nCREATE TABLE t (a int);\n";
        assert_eq!(&text[canonical_range(text)], text);
    }
}
