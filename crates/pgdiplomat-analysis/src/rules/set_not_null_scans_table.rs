//! `set-not-null-scans-table`: PLACEHOLDER — to be written.

use super::{Finding, Rule, RuleContext, Severity};

pub struct SetNotNullScansTable;

impl Rule for SetNotNullScansTable {
    fn id(&self) -> &'static str {
        "set-not-null-scans-table"
    }
    fn severity(&self) -> Severity {
        Severity::Error
    }
    fn summary(&self) -> &'static str {
        ""
    }
    fn explanation(&self) -> &'static str {
        ""
    }
    fn bad_example(&self) -> &'static str {
        ""
    }
    fn good_example(&self) -> &'static str {
        ""
    }
    fn check(&self, _ctx: &RuleContext<'_>, _out: &mut Vec<Finding>) {}
}
