//! `alter-column-type-rewrites-table`: PLACEHOLDER — to be written.

use super::{Finding, Rule, RuleContext, Severity};

pub struct AlterColumnTypeRewritesTable;

impl Rule for AlterColumnTypeRewritesTable {
    fn id(&self) -> &'static str {
        "alter-column-type-rewrites-table"
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
