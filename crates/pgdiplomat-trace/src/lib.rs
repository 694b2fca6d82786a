//! # pgdiplomat-trace
//!
//! Runs migrations on a real PostgreSQL server and records what actually happened to each
//! statement — locks taken (from `pg_locks`), relations rewritten (storage file changed),
//! tables scanned (scan counters), phases of concurrent builds — and compares it with the
//! prediction of the lock table. Used by `pgdiplomat trace` and by the differential test that
//! proves the lock table on every PostgreSQL version.

pub mod catalogue;
pub mod compare;
pub mod escape;
pub mod forms;
pub mod observe;
pub mod regress;
pub mod run;
pub mod seed;
pub mod session;
