//! # pgdiplomat-analysis
//!
//! Static analysis of PostgreSQL migrations, with no database: the data flows
//! `source` → `parse` → `model` (statement forms, schema state, transactions) → `rules` →
//! `report`. `explain` renders the model itself. Lock facts come from `pgdiplomat-locks`.

pub mod model;
pub mod parse;
pub mod source;
