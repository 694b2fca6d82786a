//! `require-concurrent-index-deletion`: PLACEHOLDER — to be written.

use super::{Finding, Rule, RuleContext, Severity};

pub struct RequireConcurrentIndexDeletion;

impl Rule for RequireConcurrentIndexDeletion {
    fn id(&self) -> &'static str {
        "require-concurrent-index-deletion"
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
