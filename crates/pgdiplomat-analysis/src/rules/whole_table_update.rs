//! `whole-table-update`: PLACEHOLDER — to be written.

use super::{Finding, Rule, RuleContext, Severity};

pub struct WholeTableUpdate;

impl Rule for WholeTableUpdate {
    fn id(&self) -> &'static str {
        "whole-table-update"
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
