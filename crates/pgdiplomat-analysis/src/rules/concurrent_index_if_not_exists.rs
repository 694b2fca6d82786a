//! `concurrent-index-if-not-exists`: PLACEHOLDER — to be written.

use super::{Finding, Rule, RuleContext, Severity};

pub struct ConcurrentIndexIfNotExists;

impl Rule for ConcurrentIndexIfNotExists {
    fn id(&self) -> &'static str {
        "concurrent-index-if-not-exists"
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
