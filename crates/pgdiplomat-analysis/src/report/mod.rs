//! Turning lint results into output: [`human`] (rustc-style annotated snippets) and [`json`]
//! (stable, versioned). Both take the same [`FileReport`]s.
//!
//! [`FileReport`]: crate::lint::FileReport

pub mod compact;
pub mod github;
pub mod human;
pub mod json;
pub mod markdown;
pub mod sarif;

use crate::lint::FileReport;
use crate::rules::Severity;

/// Counts over a whole run.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct Summary {
    pub files: usize,
    pub statements: usize,
    pub errors: usize,
    pub warnings: usize,
    pub infos: usize,
    pub suppressed: usize,
}

impl Summary {
    pub fn of(reports: &[FileReport]) -> Summary {
        let mut s = Summary {
            files: reports.len(),
            ..Default::default()
        };
        for r in reports {
            s.statements += r.statements;
            s.suppressed += r.suppressed;
            for f in &r.findings {
                match f.severity {
                    Severity::Error => s.errors += 1,
                    Severity::Warning => s.warnings += 1,
                    Severity::Info => s.infos += 1,
                }
            }
        }
        s
    }
}
