//! `unique-constraint-builds-index`: PLACEHOLDER — to be written.

use super::{Finding, Rule, RuleContext, Severity};

pub struct UniqueConstraintBuildsIndex;

impl Rule for UniqueConstraintBuildsIndex {
    fn id(&self) -> &'static str {
        "unique-constraint-builds-index"
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
