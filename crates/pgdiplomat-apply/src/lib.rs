//! # pgdiplomat-apply
//!
//! Executes migrations the careful way: every statement whose lock blocks reads or writes runs
//! under a short `lock_timeout` and is retried with jittered exponential backoff (logging who
//! blocked it); CONCURRENTLY statements run outside transactions with `statement_timeout = 0`,
//! with INVALID indexes cleaned up before and after; a history table records each migration's
//! checksum, timings and progress so that a killed run resumes; a session advisory lock keeps two
//! runners apart. `inspect` reads the "unseen ledger": sizes, dead tuples, long transactions,
//! blockers, invalid indexes.

pub mod connect;
pub mod execute;
pub mod history;
pub mod inspect;
pub mod plan;
pub mod retry;
