//! GitHub Actions output: one workflow command per finding, which the runner turns into an
//! annotation on the pull request's diff:
//!
//! ```text
//! ::error file=db/0001.sql,line=3,col=1,endLine=3,endColumn=42,title=rule-id::message
//! ```
//!
//! Warnings become `::warning`, infos `::notice`. Property values and the message are escaped
//! as the runner requires (`%`, CR and LF everywhere; `:` and `,` in properties too).

use std::io;

use crate::lint::FileReport;
use crate::rules::Severity;

/// The workflow command for a severity.
pub fn command(severity: Severity) -> &'static str {
    match severity {
        Severity::Error => "error",
        Severity::Warning => "warning",
        Severity::Info => "notice",
    }
}

/// Escapes a command's message (the data after `::`).
pub fn escape_data(s: &str) -> String {
    s.replace('%', "%25")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

/// Escapes a property value (`file=`, `title=`, …).
pub fn escape_property(s: &str) -> String {
    escape_data(s).replace(':', "%3A").replace(',', "%2C")
}

/// A path as GitHub expects it, relative to the repository root: forward slashes and no
/// leading `./`.
pub fn repo_path(name: &str) -> String {
    let mut path = name.replace('\\', "/");
    while let Some(rest) = path.strip_prefix("./") {
        path = rest.trim_start_matches('/').to_string();
    }
    path
}

/// Writes one workflow command per finding, in file order then source order.
pub fn write(out: &mut dyn io::Write, reports: &[FileReport]) -> io::Result<()> {
    for report in reports {
        let file = escape_property(&repo_path(&report.source.name));
        for f in &report.findings {
            let start = report.source.line_col(f.span.start);
            let end = report.source.line_col(f.span.end.max(f.span.start));
            let mut message = f.message.clone();
            if let Some(help) = &f.help {
                message.push_str("\nhelp: ");
                message.push_str(help);
            }
            writeln!(
                out,
                "::{} file={file},line={},col={},endLine={},endColumn={},title={}::{}",
                command(f.severity),
                start.line,
                start.column,
                end.line,
                end.column,
                escape_property(f.rule),
                escape_data(&message),
            )?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repo_paths_use_forward_slashes() {
        assert_eq!(repo_path(".\\db\\0001.sql"), "db/0001.sql");
        assert_eq!(repo_path("././/db/0001.sql"), "db/0001.sql");
        assert_eq!(repo_path("../db/0001.sql"), "../db/0001.sql");
    }
}
