//! `slow-work-while-holding-lock`: a scan, rewrite or wait inside a transaction that already
//! holds a lock blocking reads or writes (taken by an earlier statement) keeps that lock for
//! the whole slow step.

use pgdiplomat_locks::{Duration, RelationRole, StatementForm, TransactionUse};

use super::{Finding, Rule, RuleContext, Severity};

pub struct SlowWorkWhileHoldingLock;

impl Rule for SlowWorkWhileHoldingLock {
    fn id(&self) -> &'static str {
        "slow-work-while-holding-lock"
    }
    fn severity(&self) -> Severity {
        Severity::Error
    }
    fn summary(&self) -> &'static str {
        "a scan or rewrite runs while the transaction holds a blocking lock taken earlier"
    }
    fn explanation(&self) -> &'static str {
        "Locks are held until the transaction ends. After an instant statement has taken ACCESS \
EXCLUSIVE (say ADD COLUMN), any slow statement later in the same transaction — a validation scan, \
an index build, a table rewrite, a backfill — runs while the first lock is still held, so the \
application stays blocked for the whole slow step even though each statement looks harmless on \
its own. Commit between them: put the quick, strongly locking change in its own short transaction \
and the slow work in another."
    }
    fn bad_example(&self) -> &'static str {
        "SET lock_timeout = '2s';\nBEGIN;\nALTER TABLE orders ADD COLUMN note text;\nALTER TABLE accounts VALIDATE CONSTRAINT accounts_owner_fk;\nCOMMIT;"
    }
    fn good_example(&self) -> &'static str {
        "SET lock_timeout = '2s';\nBEGIN;\nALTER TABLE orders ADD COLUMN note text;\nCOMMIT;\nBEGIN;\nALTER TABLE accounts VALIDATE CONSTRAINT accounts_owner_fk;\nCOMMIT;"
    }
    fn check(&self, ctx: &RuleContext<'_>, out: &mut Vec<Finding>) {
        if !ctx.stmt.session.in_transaction || ctx.stmt.held_before.is_empty() {
            return;
        }
        // Work on a table created with rows in this run (CREATE TABLE AS) is as slow as on any.
        for e in ctx
            .stmt
            .effects
            .iter()
            .filter(|e| !e.new_table || e.new_populated)
        {
            let Some(fact) = e.fact else { continue };
            // Instant work holds nothing long; CONCURRENTLY forms cannot run in a transaction at
            // all (concurrently-in-transaction says so).
            // CREATE TABLE AS / CREATE MATERIALIZED VIEW run their query (reading every table
            // it names) before the catalog change: as slow as a scan.
            let runs_query = fact.form == StatementForm::CreateTableAs;
            if (fact.duration() == Duration::Instant && !runs_query)
                || fact.transaction == TransactionUse::Forbidden
            {
                continue;
            }
            // VALIDATE right after its own NOT VALID add has a rule of its own.
            if matches!(
                fact.form,
                StatementForm::ValidateCheck | StatementForm::ValidateForeignKey
            ) {
                if let (Some(t), Some(c)) = (&e.op.table, &e.op.constraint) {
                    if ctx
                        .stmt
                        .not_valid_in_transaction
                        .contains(&(t.key(), c.clone()))
                    {
                        continue;
                    }
                }
            }
            // A blocking lock held from before that is stronger than what this statement takes
            // on the same relation (otherwise the statement's own rule already says it all).
            let held = ctx
                .stmt
                .held_before
                .iter()
                .filter(|h| h.mode.blocks_writes())
                .filter(|h| {
                    let own = e
                        .locks
                        .iter()
                        .filter(|l| l.relation == h.relation)
                        .map(|l| l.mode)
                        .max();
                    own.is_none_or(|own| own < h.mode)
                })
                // The strongest, on a table rather than an index, the earliest of those.
                .rev()
                .max_by_key(|h| (h.mode, h.role == RelationRole::Table));
            let Some(h) = held else { continue };
            let what = match fact.duration() {
                _ if runs_query => "runs its query",
                Duration::WaitsForTransactions => "waits for other transactions",
                _ if fact.rewrite == pgdiplomat_locks::Rewrite::Table => "rewrites the table",
                _ => "scans the table",
            };
            let line = ctx.line_of(h.span.start);
            let mut f = ctx.finding(
                self,
                format!(
                    "{} {what} while this transaction still holds {} on {} ({}) from line {line}",
                    fact.title,
                    h.mode,
                    h.relation,
                    h.mode.impact()
                ),
            );
            f.help =
                Some("commit before this statement so the earlier lock is released first".into());
            f.fix_sql = Some(format!("COMMIT;\nBEGIN;\n{};", ctx.sql));
            out.push(f);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::test_support::*;

    #[test]
    fn create_table_as_runs_its_query_while_the_earlier_lock_is_held() {
        let f = findings(
            "slow-work-while-holding-lock",
            "BEGIN; SET LOCAL lock_timeout = '2s'; ALTER TABLE t ADD COLUMN c int; \
             CREATE TABLE n AS SELECT * FROM t; COMMIT;",
        );
        assert_eq!(f.len(), 1, "{f:?}");
        assert!(f[0].message.contains("runs its query"), "{}", f[0].message);
    }

    #[test]
    fn the_earliest_strongest_lock_on_a_table_is_named() {
        let f = findings(
            "slow-work-while-holding-lock",
            "BEGIN; SET LOCAL lock_timeout = '2s'; DROP INDEX i1; DROP INDEX i2; \
             CREATE INDEX i3 ON t (a); COMMIT;",
        );
        assert_eq!(f.len(), 1, "{f:?}");
        assert!(
            f[0].message.contains("on the table of index i1"),
            "{}",
            f[0].message
        );
    }

    #[test]
    fn indexing_a_table_created_with_rows_is_slow_work_while_other_locks_are_held() {
        let f = findings(
            "slow-work-while-holding-lock",
            "BEGIN; ALTER TABLE users ADD COLUMN note text; CREATE TABLE users_copy AS SELECT * FROM users; \
             CREATE INDEX users_copy_note ON users_copy (note); COMMIT;",
        );
        // The CREATE TABLE AS runs its query, and the index build scans what it copied.
        assert_eq!(f.len(), 2, "{f:?}");
        assert!(
            f[1].message.starts_with("CREATE INDEX scans the table")
                && f[1].message.contains("ACCESS EXCLUSIVE on users"),
            "{}",
            f[1].message
        );
        // An empty new table's index is instant.
        let f = findings(
            "slow-work-while-holding-lock",
            "BEGIN; ALTER TABLE users ADD COLUMN note text; CREATE TABLE n (note text); \
             CREATE INDEX n_note ON n (note); COMMIT;",
        );
        assert!(f.is_empty(), "{f:?}");
    }

    const ID: &str = "slow-work-while-holding-lock";

    #[test]
    fn validation_scan_after_an_access_exclusive_change_is_flagged() {
        let f = assert_fires(
            ID,
            "BEGIN;\nALTER TABLE orders ADD COLUMN note text;\nALTER TABLE accounts VALIDATE CONSTRAINT fk;\nCOMMIT;",
            1,
        );
        assert!(
            f[0].message
                .contains("ACCESS EXCLUSIVE on orders (blocks reads and writes) from line 2"),
            "{}",
            f[0].message
        );
    }

    #[test]
    fn scan_on_the_same_table_under_an_earlier_access_exclusive_is_flagged() {
        assert_fires(ID, "BEGIN;\nALTER TABLE t ADD COLUMN c int;\nALTER TABLE t VALIDATE CONSTRAINT other_c;\nCOMMIT;", 1);
    }

    #[test]
    fn separate_transactions_are_clean() {
        assert_clean(ID, "BEGIN; ALTER TABLE orders ADD COLUMN note text; COMMIT; BEGIN; ALTER TABLE accounts VALIDATE CONSTRAINT fk; COMMIT;");
    }

    #[test]
    fn without_a_transaction_each_statement_releases_its_locks() {
        assert_clean(
            ID,
            "ALTER TABLE orders ADD COLUMN note text; ALTER TABLE accounts VALIDATE CONSTRAINT fk;",
        );
    }

    #[test]
    fn concurrent_build_in_a_transaction_is_left_to_its_own_rule() {
        assert_clean(ID, "BEGIN;\nALTER TABLE t ADD COLUMN c int;\nCREATE INDEX CONCURRENTLY i ON t (c);\nCOMMIT;");
    }

    #[test]
    fn examples() {
        assert_examples(&SlowWorkWhileHoldingLock);
    }
}
