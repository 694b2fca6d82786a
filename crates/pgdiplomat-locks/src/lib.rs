//! # pgdiplomat-locks
//!
//! Facts about PostgreSQL table locks, as data: the eight [`LockMode`]s and their conflict
//! matrix, the application operations each mode blocks, and the [`LOCK_TABLE`] mapping each
//! [`StatementForm`] and PostgreSQL major version to the locks it takes per relation, whether
//! it rewrites or scans the table and whether it may run inside a transaction.
//!
//! This crate has no dependencies and no behaviour beyond lookups: rules, `explain`, `fix` and
//! `trace` all read the same table.

mod mode;
mod table;

pub use mode::{AppOperation, LockMode};
pub use table::{
    all_forms, lookup, Duration, LockFact, RelationRole, Rewrite, Scan, StatementForm,
    TransactionUse, DEFAULT_VERSION, LOCK_TABLE, SUPPORTED_VERSIONS,
};
