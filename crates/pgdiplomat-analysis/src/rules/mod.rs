//! The rules. One file per rule, each with its documentation and its tests; this module holds
//! what they share: [`Rule`], [`Finding`], [`Severity`] and the registry [`all_rules`].
//!
//! A rule reads the analysis of one statement ([`RuleContext`]) — forms, resolved locks,
//! session state — and never re-derives lock facts: those come from the lock table.

use std::ops::Range;

use pg_query::NodeEnum;

use crate::analyze::{AnalysisOptions, AnalyzedStatement, Effect};

mod add_column_not_null_without_default;
mod add_column_rewrites_table;
mod add_column_volatile_default;
mod alter_column_type_rewrites_table;
mod breaking_drop;
mod breaking_rename;
mod cascade_reach_unknown;
mod check_without_not_valid;
mod concurrent_index_if_not_exists;
mod concurrently_in_transaction;
mod create_table_if_not_exists;
mod foreign_key_without_not_valid;
mod missing_lock_timeout;
mod require_concurrent_index_creation;
mod require_concurrent_index_deletion;
mod require_concurrent_reindex;
mod rewrites_table;
mod set_not_null_scans_table;
mod slow_work_while_holding_lock;
mod statement_timeout_before_concurrently;
mod statement_will_fail;
mod unique_constraint_builds_index;
mod unmodelled_statement;
mod unsupported_on_version;
mod validate_in_same_transaction;
mod whole_table_update;

#[cfg(test)]
pub(crate) mod test_support;

/// How bad a finding is. Ordered: `Info < Warning < Error`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Info,
    Warning,
    Error,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Warning => "warning",
            Severity::Error => "error",
        }
    }

    pub fn parse(s: &str) -> Option<Severity> {
        match s.to_ascii_lowercase().as_str() {
            "info" | "hint" => Some(Severity::Info),
            "warning" | "warn" => Some(Severity::Warning),
            "error" => Some(Severity::Error),
            _ => None,
        }
    }
}

/// One problem found in one statement.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Finding {
    pub rule: &'static str,
    pub severity: Severity,
    /// Byte span in the file (the statement, or the part of it at fault).
    #[serde(skip)]
    pub span: Range<usize>,
    /// One line: what happens, naming the lock and what it blocks.
    pub message: String,
    /// What to do instead, in words.
    pub help: Option<String>,
    /// The safe alternative as SQL, when it can be written down.
    pub fix_sql: Option<String>,
}

/// What a rule sees of one statement.
pub struct RuleContext<'a> {
    pub options: &'a AnalysisOptions,
    pub stmt: &'a AnalyzedStatement,
    pub node: Option<&'a NodeEnum>,
    /// The statement's own text.
    pub sql: &'a str,
    pub source: &'a crate::source::SourceFile,
}

impl RuleContext<'_> {
    /// Effects on relations that existed before this run (operations on tables created in
    /// the run harm nobody).
    pub fn effects_on_existing(&self) -> impl Iterator<Item = &Effect> {
        self.stmt.effects.iter().filter(|e| !e.new_table)
    }

    /// The 1-based line of a byte offset in the file.
    pub fn line_of(&self, offset: usize) -> usize {
        self.source.line_col(offset).line
    }

    pub fn finding(&self, rule: &dyn Rule, message: String) -> Finding {
        Finding {
            rule: rule.id(),
            severity: rule.severity(),
            span: self.stmt.span.clone(),
            message,
            help: None,
            fix_sql: None,
        }
    }
}

/// A lint rule. Implementations are unit structs registered in [`all_rules`].
pub trait Rule: Sync {
    /// Stable id, kebab-case; used in config files, ignores and output.
    fn id(&self) -> &'static str;
    fn severity(&self) -> Severity;
    /// One line for `pgdiplomat rules`.
    fn summary(&self) -> &'static str;
    /// Why it matters and what to do, in a paragraph or two.
    fn explanation(&self) -> &'static str;
    /// A migration the rule flags.
    fn bad_example(&self) -> &'static str;
    /// The safe way to write it (lints clean).
    fn good_example(&self) -> &'static str;
    fn check(&self, ctx: &RuleContext<'_>, out: &mut Vec<Finding>);
}

/// Every rule, in the order they are documented.
pub fn all_rules() -> &'static [&'static dyn Rule] {
    &[
        &require_concurrent_index_creation::RequireConcurrentIndexCreation,
        &require_concurrent_index_deletion::RequireConcurrentIndexDeletion,
        &require_concurrent_reindex::RequireConcurrentReindex,
        &unique_constraint_builds_index::UniqueConstraintBuildsIndex,
        &check_without_not_valid::CheckWithoutNotValid,
        &foreign_key_without_not_valid::ForeignKeyWithoutNotValid,
        &validate_in_same_transaction::ValidateInSameTransaction,
        &set_not_null_scans_table::SetNotNullScansTable,
        &add_column_volatile_default::AddColumnVolatileDefault,
        &add_column_rewrites_table::AddColumnRewritesTable,
        &add_column_not_null_without_default::AddColumnNotNullWithoutDefault,
        &alter_column_type_rewrites_table::AlterColumnTypeRewritesTable,
        &rewrites_table::RewritesTable,
        &concurrently_in_transaction::ConcurrentlyInTransaction,
        &concurrent_index_if_not_exists::ConcurrentIndexIfNotExists,
        &statement_timeout_before_concurrently::StatementTimeoutBeforeConcurrently,
        &missing_lock_timeout::MissingLockTimeout,
        &slow_work_while_holding_lock::SlowWorkWhileHoldingLock,
        &breaking_rename::BreakingRename,
        &breaking_drop::BreakingDrop,
        &whole_table_update::WholeTableUpdate,
        &unsupported_on_version::UnsupportedOnVersion,
        &statement_will_fail::StatementWillFail,
        &create_table_if_not_exists::CreateTableIfNotExists,
        &cascade_reach_unknown::CascadeReachUnknown,
        &unmodelled_statement::UnmodelledStatement,
    ]
}

/// Looks a rule up by id.
pub fn rule_by_id(id: &str) -> Option<&'static dyn Rule> {
    all_rules().iter().copied().find(|r| r.id() == id)
}

/// Ids that are not rules but can appear on findings.
pub const SYNTAX_ERROR: &str = "syntax-error";
pub const INVALID_DIRECTIVE: &str = "invalid-directive";
/// A psql meta-command that changes what is linted (an include not followed, `\c`, `\gexec`,
/// `\q`, `\if`), or one in a file whose tool is not psql (see [`crate::preprocess`]).
pub const PSQL_META_COMMAND: &str = "psql-meta-command";
/// A placeholder, psql variable or template action linted with a stand-in name.
pub const UNKNOWN_PLACEHOLDER: &str = "unknown-placeholder";

/// Ids of findings that come from reading the file rather than from a rule, which
/// `exclude` and `pgdiplomat:ignore` comments accept like rule ids.
pub const PREPROCESSOR_IDS: [&str; 2] = [PSQL_META_COMMAND, UNKNOWN_PLACEHOLDER];

/// `ACCESS EXCLUSIVE on users_user (blocks reads and writes)` for messages.
pub fn describe_lock(mode: pgdiplomat_locks::LockMode, relation: &str) -> String {
    format!("{mode} on {relation} ({})", mode.impact())
}
