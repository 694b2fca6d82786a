//! `validate-in-same-transaction`: `VALIDATE CONSTRAINT` in the transaction that added the
//! constraint `NOT VALID` keeps the add's strong lock during the validation scan.

use pgdiplomat_locks::StatementForm;

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
        "VALIDATE CONSTRAINT in the same transaction as its NOT VALID add holds the strong lock during the scan"
    }
    fn explanation(&self) -> &'static str {
        "Adding a constraint NOT VALID is quick, but its lock (ACCESS EXCLUSIVE for a CHECK, SHARE \
ROW EXCLUSIVE on both tables for a foreign key) is held until the transaction ends. Validating in the \
same transaction therefore scans the whole table while that lock is still held, which is exactly what \
NOT VALID was meant to avoid. Commit after the NOT VALID add and validate in a later transaction (a \
separate migration for tools that wrap each file in a transaction); VALIDATE alone takes only SHARE \
UPDATE EXCLUSIVE, which lets reads and writes continue."
    }
    fn bad_example(&self) -> &'static str {
        "SET lock_timeout = '2s';\nBEGIN;\nALTER TABLE t ADD CONSTRAINT t_a_pos CHECK (a > 0) NOT VALID;\nALTER TABLE t VALIDATE CONSTRAINT t_a_pos;\nCOMMIT;"
    }
    fn good_example(&self) -> &'static str {
        "SET lock_timeout = '2s';\nBEGIN;\nALTER TABLE t ADD CONSTRAINT t_a_pos CHECK (a > 0) NOT VALID;\nCOMMIT;\nBEGIN;\nALTER TABLE t VALIDATE CONSTRAINT t_a_pos;\nCOMMIT;"
    }
    fn check(&self, ctx: &RuleContext<'_>, out: &mut Vec<Finding>) {
        for e in ctx.effects_on_existing() {
            if !matches!(
                e.form(),
                Some(StatementForm::ValidateCheck | StatementForm::ValidateForeignKey)
            ) {
                continue;
            }
            let (Some(table), Some(con)) = (&e.op.table, &e.op.constraint) else {
                continue;
            };
            if !ctx
                .stmt
                .not_valid_in_transaction
                .contains(&(table.key(), con.clone()))
            {
                continue;
            }
            let held = ctx
                .stmt
                .held_before
                .iter()
                .filter(|h| h.relation == table.to_string())
                .max_by_key(|h| h.mode);
            let lock = held
                .map(|h| format!("{} on {} ({})", h.mode, h.relation, h.mode.impact()))
                .unwrap_or_default();
            let mut f = ctx.finding(
                self,
                format!("VALIDATE CONSTRAINT {con} scans {table} while this transaction still holds {lock} from the NOT VALID add"),
            );
            f.help = Some("commit after adding the constraint NOT VALID and validate it in a later transaction".into());
            f.fix_sql = Some("COMMIT;\nBEGIN;\n".to_string() + ctx.sql + ";");
            out.push(f);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analyze::AnalysisOptions;
    use crate::rules::test_support::*;

    const ID: &str = "validate-in-same-transaction";

    #[test]
    fn validate_after_not_valid_in_one_explicit_transaction_is_flagged() {
        let f = assert_fires(
            ID,
            "BEGIN; ALTER TABLE t ADD CONSTRAINT c CHECK (a > 0) NOT VALID; ALTER TABLE t VALIDATE CONSTRAINT c; COMMIT;",
            1,
        );
        assert!(
            f[0].message.contains("ACCESS EXCLUSIVE on t"),
            "{}",
            f[0].message
        );
    }

    #[test]
    fn foreign_key_validation_in_a_wrapped_file_is_flagged() {
        let sql = "ALTER TABLE t ADD CONSTRAINT fk FOREIGN KEY (p) REFERENCES p (id) NOT VALID;\nALTER TABLE t VALIDATE CONSTRAINT fk;";
        let opts = AnalysisOptions {
            assume_in_transaction: true,
            ..Default::default()
        };
        let f = findings_with(ID, sql, opts);
        assert_eq!(f.len(), 1);
        assert!(
            f[0].message.contains("SHARE ROW EXCLUSIVE on t"),
            "{}",
            f[0].message
        );
        // Without a wrapping transaction each statement commits on its own.
        assert_clean(ID, sql);
    }

    #[test]
    fn validate_in_a_later_transaction_is_clean() {
        assert_clean(
            ID,
            "BEGIN; ALTER TABLE t ADD CONSTRAINT c CHECK (a > 0) NOT VALID; COMMIT; BEGIN; ALTER TABLE t VALIDATE CONSTRAINT c; COMMIT;",
        );
    }

    #[test]
    fn examples() {
        assert_examples(&ValidateInSameTransaction);
    }
}
