//! # pgdiplomat-analysis
//!
//! Static analysis of PostgreSQL migrations, with no database: the data flows
//! [`source`] → [`preprocess`] (psql meta-commands, placeholders, templates) → [`parse`] →
//! [`model`] (statement forms, schema state) → [`analyze`] (session, transactions, resolved
//! locks) → [`rules`] → [`report`]. [`explain`] renders the analysis itself. Lock facts come
//! from `pgdiplomat-locks`; nothing here restates them.

pub mod analyze;
pub mod config;
pub mod deploy;
pub mod directives;
pub mod discover;
pub mod explain;
pub mod fix;
pub mod fix_files;
pub mod layout;
pub mod lint;
pub mod model;
pub mod parse;
pub mod plpgsql;
pub mod preprocess;
pub mod report;
pub mod rules;
pub mod source;
