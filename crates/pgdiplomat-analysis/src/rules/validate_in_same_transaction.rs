//! `validate-in-same-transaction`: PLACEHOLDER — to be written.

use super::{Finding, Rule, RuleContext, Severity};

pub struct ValidateInSameTransaction;

impl Rule for ValidateInSameTransaction {
    fn id(&self) -> &'static str {
        "validate-in-same-transaction"
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
