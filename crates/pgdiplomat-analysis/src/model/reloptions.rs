//! The lock each storage parameter (reloption) takes, per PostgreSQL version, from
//! `data/reloption-locks.tsv` — measured on real servers by `scripts/gen-pg-facts`, not a hand
//! list. `ALTER TABLE/INDEX/VIEW ... SET (...)` takes the strongest lock of its options.

use std::collections::HashMap;
use std::sync::OnceLock;

use pgdiplomat_locks::LockMode;

const RELOPTION_LOCKS: &str = include_str!("../../data/reloption-locks.tsv");

/// The index access methods the data file measures.
pub const INDEX_METHODS: &[&str] = &["btree", "hash", "gist", "gin", "spgist", "brin"];

/// `kind.option` → lock mode per major version (13..=18; `None`: the option does not exist).
fn table() -> &'static HashMap<String, Vec<Option<LockMode>>> {
    static TABLE: OnceLock<HashMap<String, Vec<Option<LockMode>>>> = OnceLock::new();
    TABLE.get_or_init(|| {
        let mut out = HashMap::new();
        let mut versions: Vec<u32> = Vec::new();
        for line in RELOPTION_LOCKS
            .lines()
            .filter(|l| !l.starts_with('#') && !l.is_empty())
        {
            let mut cells = line.split('\t');
            let key = cells.next().unwrap_or_default();
            if versions.is_empty() {
                versions = cells.filter_map(|c| c.parse().ok()).collect();
                continue;
            }
            let mut modes = vec![None; 6];
            for (v, c) in versions.iter().zip(cells) {
                if let Some(slot) = v.checked_sub(13).and_then(|i| modes.get_mut(i as usize)) {
                    *slot = LockMode::parse(c);
                }
            }
            out.insert(key.to_string(), modes);
        }
        out
    })
}

/// The lock setting or resetting `option` (`toast.x` for a TOAST option) takes on a relation
/// of one of `kinds` (`table`, `view`, an index method) on `major`: the strongest among the
/// kinds that have it; `None` when none of them has it on that version.
pub fn lock_for(kinds: &[&str], option: &str, major: u32) -> Option<LockMode> {
    let (kinds, option): (Vec<&str>, &str) = match option.strip_prefix("toast.") {
        Some(o) => (vec!["toast"], o),
        None => (kinds.to_vec(), option),
    };
    let i = major.clamp(13, 18) as usize - 13;
    kinds
        .iter()
        .filter_map(|k| {
            table()
                .get(&format!("{k}.{option}"))?
                .get(i)
                .copied()
                .flatten()
        })
        .max()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The data file has every version's column filled (regenerated from real servers).
    #[test]
    fn measured_levels_are_read_for_every_version() {
        for major in 13..=18 {
            assert_eq!(
                lock_for(&["table"], "fillfactor", major),
                Some(LockMode::ShareUpdateExclusive),
                "{major}"
            );
            assert_eq!(
                lock_for(&["view"], "security_barrier", major),
                Some(LockMode::AccessExclusive),
                "{major}"
            );
            assert_eq!(lock_for(&["table"], "no_such_option", major), None);
        }
        assert_eq!(
            lock_for(&["view"], "security_invoker", 14),
            None,
            "arrived in 15"
        );
        assert!(lock_for(&["table"], "toast.autovacuum_enabled", 15).is_some());
    }
}
