//! # pgdiplomat-catalog
//!
//! Everything pgdiplomat reads from a live PostgreSQL catalog, kept out of the analysis crate
//! (which has no database code):
//!
//! - [`schema`]: the schema graph of a database (tables, columns and types, constraints,
//!   indexes and the columns they use, partitions and the DEFAULT partition, inheritance,
//!   owned sequences, views and what they depend on, domains and the columns using them) into
//!   the analyser's `SchemaState`. Used by `lint --database-url`, `explain --database-url`,
//!   `trace` and `apply`.
//! - [`depend`]: the dependency graph (`pg_depend`) and the names DROP statements use: what
//!   a DROP, with or without CASCADE, takes with it and locks.
//! - [`facts`]: facts PostgreSQL can tell about itself (function volatility, binary-coercible
//!   casts, the lock level of each reloption) for the data files in
//!   `crates/pgdiplomat-analysis/data/`, which `scripts/gen-pg-facts` writes per version.

pub mod depend;
pub mod facts;
pub mod schema;

pub use pgdiplomat_pg::postgres::Error as PgError;
pub use schema::load_schema;
