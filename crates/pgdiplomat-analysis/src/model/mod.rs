//! The model of a migration: what each statement does (its [`StatementForm`]s applied to
//! relations) and what the run knows about the schema so far.
//!
//! [`StatementForm`]: pgdiplomat_locks::StatementForm

pub mod classify;
pub mod coverage;
pub mod depend;
pub mod expr;
pub mod implication;
pub mod names;
pub mod reloptions;
pub mod schema;
pub mod types;

pub use classify::{
    classify, parse_duration, relation_for_role, Operation, StatementKind, Timeout,
};
pub use names::{quote_ident, RelName};
pub use schema::SchemaState;
pub use types::ColumnType;
