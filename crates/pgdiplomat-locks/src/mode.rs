//! The eight table-level lock modes of PostgreSQL, their conflict matrix, and what
//! each held mode means for the application running next to a migration.

use std::fmt;

/// A table-level lock mode, weakest first (the order PostgreSQL documents them in).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum LockMode {
    AccessShare,
    RowShare,
    RowExclusive,
    ShareUpdateExclusive,
    Share,
    ShareRowExclusive,
    Exclusive,
    AccessExclusive,
}

/// The 8×8 conflict matrix from the PostgreSQL manual ("Conflicting Lock Modes"),
/// indexed by `LockMode as usize`. Row = requested, column = held. It is symmetric.
const CONFLICTS: [[bool; 8]; 8] = {
    const F: bool = false;
    const T: bool = true;
    [
        //  AS RS RE SUE S SRE E AE
        [F, F, F, F, F, F, F, T], // ACCESS SHARE
        [F, F, F, F, F, F, T, T], // ROW SHARE
        [F, F, F, F, T, T, T, T], // ROW EXCLUSIVE
        [F, F, F, T, T, T, T, T], // SHARE UPDATE EXCLUSIVE
        [F, F, T, T, F, T, T, T], // SHARE
        [F, F, T, T, T, T, T, T], // SHARE ROW EXCLUSIVE
        [F, T, T, T, T, T, T, T], // EXCLUSIVE
        [T, T, T, T, T, T, T, T], // ACCESS EXCLUSIVE
    ]
};

impl LockMode {
    /// All modes, weakest first.
    pub const ALL: [LockMode; 8] = [
        LockMode::AccessShare,
        LockMode::RowShare,
        LockMode::RowExclusive,
        LockMode::ShareUpdateExclusive,
        LockMode::Share,
        LockMode::ShareRowExclusive,
        LockMode::Exclusive,
        LockMode::AccessExclusive,
    ];

    /// Whether a lock of mode `self` can not be granted while another transaction holds `held`.
    pub fn conflicts_with(self, held: LockMode) -> bool {
        CONFLICTS[self as usize][held as usize]
    }

    /// Whether a transaction that already holds `held` on a relation can take `self` on it
    /// without waiting: every mode another transaction could hold that conflicts with `self`
    /// already conflicts with `held` (so no other transaction holds it).
    pub fn covered_by(self, held: LockMode) -> bool {
        LockMode::ALL
            .iter()
            .all(|&other| !self.conflicts_with(other) || held.conflicts_with(other))
    }

    /// The SQL spelling, e.g. `ACCESS EXCLUSIVE`.
    pub fn sql_name(self) -> &'static str {
        match self {
            LockMode::AccessShare => "ACCESS SHARE",
            LockMode::RowShare => "ROW SHARE",
            LockMode::RowExclusive => "ROW EXCLUSIVE",
            LockMode::ShareUpdateExclusive => "SHARE UPDATE EXCLUSIVE",
            LockMode::Share => "SHARE",
            LockMode::ShareRowExclusive => "SHARE ROW EXCLUSIVE",
            LockMode::Exclusive => "EXCLUSIVE",
            LockMode::AccessExclusive => "ACCESS EXCLUSIVE",
        }
    }

    /// The name `pg_locks.mode` shows, e.g. `AccessExclusiveLock`.
    pub fn pg_locks_name(self) -> &'static str {
        match self {
            LockMode::AccessShare => "AccessShareLock",
            LockMode::RowShare => "RowShareLock",
            LockMode::RowExclusive => "RowExclusiveLock",
            LockMode::ShareUpdateExclusive => "ShareUpdateExclusiveLock",
            LockMode::Share => "ShareLock",
            LockMode::ShareRowExclusive => "ShareRowExclusiveLock",
            LockMode::Exclusive => "ExclusiveLock",
            LockMode::AccessExclusive => "AccessExclusiveLock",
        }
    }

    /// Parses either spelling (`ACCESS EXCLUSIVE`, `AccessExclusiveLock`), case-insensitively.
    pub fn parse(s: &str) -> Option<LockMode> {
        let norm: String = s
            .chars()
            .filter(|c| !c.is_whitespace() && *c != '_')
            .collect::<String>()
            .to_ascii_lowercase();
        let norm = norm.strip_suffix("lock").unwrap_or(&norm);
        LockMode::ALL
            .into_iter()
            .find(|m| m.sql_name().replace(' ', "").eq_ignore_ascii_case(norm))
    }

    /// The application operations a transaction holding this mode makes wait.
    pub fn blocks(self) -> Vec<AppOperation> {
        AppOperation::ALL
            .into_iter()
            .filter(|op| op.lock_mode().conflicts_with(self))
            .collect()
    }

    /// Whether holding this mode makes plain `SELECT`s wait.
    pub fn blocks_reads(self) -> bool {
        AppOperation::Select.lock_mode().conflicts_with(self)
    }

    /// Whether holding this mode makes `INSERT`/`UPDATE`/`DELETE` wait.
    pub fn blocks_writes(self) -> bool {
        AppOperation::Write.lock_mode().conflicts_with(self)
    }

    /// A short phrase for messages: "blocks reads and writes", "blocks writes", ...
    pub fn impact(self) -> &'static str {
        match self {
            _ if self.blocks_reads() => "blocks reads and writes",
            _ if self.blocks_writes() => "blocks writes",
            LockMode::ShareUpdateExclusive => {
                "blocks other schema changes and VACUUM, not reads or writes"
            }
            LockMode::RowExclusive => {
                "blocks CREATE INDEX and stronger schema changes, not reads or writes"
            }
            LockMode::RowShare => {
                "blocks only EXCLUSIVE and ACCESS EXCLUSIVE locks, not reads or writes"
            }
            _ => "blocks only ACCESS EXCLUSIVE locks",
        }
    }
}

impl fmt::Display for LockMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.sql_name())
    }
}

/// What an application (or PostgreSQL's own background work) does to a table, and so which
/// lock it asks for. These are the operations a migration's lock can make wait.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AppOperation {
    /// `SELECT` (and `COPY TO`): ACCESS SHARE.
    Select,
    /// `SELECT ... FOR UPDATE/SHARE`: ROW SHARE.
    SelectForUpdate,
    /// `INSERT`, `UPDATE`, `DELETE`, `MERGE`, `COPY FROM`: ROW EXCLUSIVE.
    Write,
    /// autovacuum, `VACUUM`, `ANALYZE`: SHARE UPDATE EXCLUSIVE.
    Autovacuum,
}

impl AppOperation {
    pub const ALL: [AppOperation; 4] = [
        AppOperation::Select,
        AppOperation::SelectForUpdate,
        AppOperation::Write,
        AppOperation::Autovacuum,
    ];

    pub fn lock_mode(self) -> LockMode {
        match self {
            AppOperation::Select => LockMode::AccessShare,
            AppOperation::SelectForUpdate => LockMode::RowShare,
            AppOperation::Write => LockMode::RowExclusive,
            AppOperation::Autovacuum => LockMode::ShareUpdateExclusive,
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            AppOperation::Select => "SELECT",
            AppOperation::SelectForUpdate => "SELECT FOR UPDATE",
            AppOperation::Write => "INSERT/UPDATE/DELETE",
            AppOperation::Autovacuum => "autovacuum",
        }
    }
}

impl fmt::Display for AppOperation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.label())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_held_lock_covers_a_request_only_when_it_excludes_every_conflicting_holder() {
        use LockMode::*;
        assert!(RowExclusive.covered_by(AccessExclusive));
        assert!(Share.covered_by(Share));
        assert!(ShareUpdateExclusive.covered_by(ShareRowExclusive));
        // Another transaction may hold SHARE beside our SHARE, and SHARE blocks ROW EXCLUSIVE.
        assert!(!RowExclusive.covered_by(Share));
        assert!(!AccessExclusive.covered_by(Exclusive));
        for m in LockMode::ALL {
            assert!(m.covered_by(m), "{m:?}");
            assert!(m.covered_by(AccessExclusive), "{m:?}");
        }
    }

    #[test]
    fn conflict_matrix_is_symmetric() {
        for a in LockMode::ALL {
            for b in LockMode::ALL {
                assert_eq!(a.conflicts_with(b), b.conflicts_with(a), "{a} vs {b}");
            }
        }
    }

    #[test]
    fn self_conflicting_modes_match_the_manual() {
        // The manual: SHARE UPDATE EXCLUSIVE, SHARE ROW EXCLUSIVE, EXCLUSIVE and
        // ACCESS EXCLUSIVE are self-conflicting; the others are not.
        let self_conflicting: Vec<_> = LockMode::ALL
            .into_iter()
            .filter(|m| m.conflicts_with(*m))
            .collect();
        assert_eq!(
            self_conflicting,
            vec![
                LockMode::ShareUpdateExclusive,
                LockMode::ShareRowExclusive,
                LockMode::Exclusive,
                LockMode::AccessExclusive
            ]
        );
    }

    #[test]
    fn what_each_mode_blocks() {
        use AppOperation::*;
        assert_eq!(LockMode::AccessShare.blocks(), vec![]);
        assert_eq!(LockMode::RowExclusive.blocks(), vec![]);
        assert_eq!(LockMode::ShareUpdateExclusive.blocks(), vec![Autovacuum]);
        assert_eq!(LockMode::Share.blocks(), vec![Write, Autovacuum]);
        assert_eq!(
            LockMode::ShareRowExclusive.blocks(),
            vec![Write, Autovacuum]
        );
        assert_eq!(
            LockMode::Exclusive.blocks(),
            vec![SelectForUpdate, Write, Autovacuum]
        );
        assert_eq!(
            LockMode::AccessExclusive.blocks(),
            vec![Select, SelectForUpdate, Write, Autovacuum]
        );
    }

    #[test]
    fn parses_both_spellings() {
        for m in LockMode::ALL {
            assert_eq!(LockMode::parse(m.sql_name()), Some(m));
            assert_eq!(LockMode::parse(m.pg_locks_name()), Some(m));
        }
        assert_eq!(
            LockMode::parse("share_update_exclusive"),
            Some(LockMode::ShareUpdateExclusive)
        );
        assert_eq!(LockMode::parse("nonsense"), None);
    }
}
