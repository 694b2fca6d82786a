//! Source text and positions: byte offsets ↔ 1-based line and column.

use std::ops::Range;

/// Bytes between two character-count checkpoints: a lookup counts characters in at most this
/// many bytes (twice: once for the offset, once for its line start).
const CHECKPOINT: usize = 512;

/// One migration's text and the name it is shown under.
#[derive(Debug, Clone)]
pub struct SourceFile {
    /// The path as the user should see it (`-` → `<stdin>`).
    pub name: String,
    pub text: String,
    /// Byte offset of the start of each line.
    line_starts: Vec<usize>,
    /// `chars_before[k]`: the number of characters in `text[..k * CHECKPOINT]`.
    chars_before: Vec<usize>,
}

/// A 1-based line and column (columns count characters, not bytes).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct LineCol {
    pub line: usize,
    pub column: usize,
}

impl SourceFile {
    pub fn new(name: impl Into<String>, text: impl Into<String>) -> Self {
        let text = text.into();
        let mut line_starts = vec![0];
        line_starts.extend(text.match_indices('\n').map(|(i, _)| i + 1));
        let bytes = text.as_bytes();
        let mut chars_before = Vec::with_capacity(bytes.len() / CHECKPOINT + 1);
        let mut count = 0;
        for block in bytes.chunks(CHECKPOINT) {
            chars_before.push(count);
            count += char_starts(block);
        }
        if bytes.len() % CHECKPOINT == 0 {
            chars_before.push(count);
        }
        SourceFile {
            name: name.into(),
            text,
            line_starts,
            chars_before,
        }
    }

    /// The number of characters before `offset` (a character boundary): the checkpoint at or
    /// before it plus the characters between the two, at most `CHECKPOINT` bytes to count.
    fn chars_to(&self, offset: usize) -> usize {
        let block = offset / CHECKPOINT;
        let from = block * CHECKPOINT;
        #[cfg(test)]
        tests::SCANNED.with(|c| c.set(c.get() + (offset - from)));
        self.chars_before[block] + char_starts(&self.text.as_bytes()[from..offset])
    }

    /// The byte range of the line holding `offset` (clamped), without its line break.
    /// O(log lines).
    pub fn line_bounds(&self, offset: usize) -> std::ops::Range<usize> {
        let offset = offset.min(self.text.len());
        let line = self.line_starts.partition_point(|&s| s <= offset) - 1;
        let start = self.line_starts[line];
        let mut end = self
            .line_starts
            .get(line + 1)
            .map_or(self.text.len(), |&next| next - 1);
        if end > start && self.text.as_bytes()[end - 1] == b'\r' {
            end -= 1;
        }
        start..end
    }

    /// The line and column of a byte offset (clamped to the text; never panics).
    ///
    /// O(log lines + CHECKPOINT): the line by binary search over the line starts, the column
    /// from the character-count checkpoints, so even a file that is one long line costs the
    /// same per lookup. An offset inside a character counts bytes from the line start.
    pub fn line_col(&self, offset: usize) -> LineCol {
        let offset = offset.min(self.text.len());
        let line = self.line_starts.partition_point(|&s| s <= offset) - 1;
        let start = self.line_starts[line];
        let column = if self.text.is_char_boundary(offset) {
            self.chars_to(offset) - self.chars_to(start)
        } else {
            offset - start
        } + 1;
        LineCol {
            line: line + 1,
            column,
        }
    }

    /// The text of a span, or "" when the span is not on character boundaries.
    pub fn slice(&self, span: &Range<usize>) -> &str {
        self.text.get(span.clone()).unwrap_or("")
    }
}

/// The characters that start in `bytes` (every byte that is not a UTF-8 continuation byte).
fn char_starts(bytes: &[u8]) -> usize {
    bytes.iter().filter(|&&b| (b as i8) >= -0x40).count()
}

#[cfg(test)]
mod tests {
    use super::*;

    thread_local! {
        /// Bytes `line_col` examined on this thread (the work a lookup does).
        pub(super) static SCANNED: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
    }

    fn scanned_by(f: impl FnOnce()) -> usize {
        SCANNED.with(|c| c.set(0));
        f();
        SCANNED.with(|c| c.get())
    }

    /// The column by counting characters from the line start: what a lookup must agree with.
    fn naive(text: &str, offset: usize) -> LineCol {
        let before = &text[..offset];
        let line = before.matches('\n').count() + 1;
        let start = before.rfind('\n').map_or(0, |i| i + 1);
        LineCol {
            line,
            column: text[start..offset].chars().count() + 1,
        }
    }

    #[test]
    fn lookups_on_one_long_line_do_bounded_work_and_count_characters() {
        // 40,000 statements on one line, with two- and three-byte characters in it.
        let text: String = (0..40_000)
            .map(|i| format!("COMMENT ON TABLE t{i} IS 'é€ {i}';"))
            .collect();
        let f = SourceFile::new("one-line.sql", text.as_str());
        let offsets: Vec<usize> = text.match_indices("COMMENT").map(|(i, _)| i).collect();
        // The expected columns, counted once from the start of the line.
        let mut expected = Vec::new();
        let mut chars = 0;
        let mut at = 0;
        for &o in &offsets {
            chars += text[at..o].chars().count();
            at = o;
            expected.push(LineCol {
                line: 1,
                column: chars + 1,
            });
        }
        assert_eq!(f.line_col(offsets[7]), naive(&text, offsets[7]));
        let work = scanned_by(|| {
            for (&o, want) in offsets.iter().zip(&expected) {
                assert_eq!(f.line_col(o), *want, "offset {o}");
            }
        });
        // A lookup examines a bounded stretch of text, not the line up to the offset.
        assert!(
            work <= offsets.len() * 2 * CHECKPOINT,
            "{work} bytes examined for {} lookups",
            offsets.len()
        );
        assert_eq!(f.line_col(text.len()).line, 1);
        assert_eq!(f.line_col(text.len()).column, text.chars().count() + 1);
    }

    #[test]
    fn lookups_on_many_lines_agree_with_counting_incl_crlf_and_multibyte() {
        let mut text = String::new();
        for i in 0..3_000 {
            let eol = if i % 3 == 0 { "\r\n" } else { "\n" };
            let pad = "ü".repeat(i % 7);
            text.push_str(&format!("{pad}ALTER TABLE t{i} ADD c int; -- ✓{eol}"));
        }
        let f = SourceFile::new("many.sql", text.as_str());
        let mut checked = 0;
        let work = scanned_by(|| {
            for (o, _) in text.char_indices().step_by(7) {
                assert_eq!(f.line_col(o), naive(&text, o), "offset {o}");
                checked += 1;
            }
        });
        assert!(work <= checked * 2 * CHECKPOINT);
        // \r belongs to the line it ends: the column after it is one more, the line the same.
        let cr = text.find('\r').unwrap();
        assert_eq!(f.line_col(cr).line, 1);
        assert_eq!(f.line_col(cr + 2), LineCol { line: 2, column: 1 });
    }

    #[test]
    fn offsets_inside_a_character_and_past_the_end_never_panic() {
        let f = SourceFile::new("x.sql", "aé\n€b");
        // Inside 'é' (bytes 1..3) and inside '€' (bytes 4..7): byte columns, as before.
        assert_eq!(f.line_col(2), LineCol { line: 1, column: 3 });
        assert_eq!(f.line_col(5), LineCol { line: 2, column: 2 });
        assert_eq!(f.line_col(7), LineCol { line: 2, column: 2 });
        assert_eq!(f.line_col(usize::MAX), LineCol { line: 2, column: 3 });
    }

    #[test]
    fn line_and_column_are_one_based_and_count_characters() {
        let f = SourceFile::new("x.sql", "ab\nçd\n\nx");
        assert_eq!(f.line_col(0), LineCol { line: 1, column: 1 });
        assert_eq!(f.line_col(2), LineCol { line: 1, column: 3 });
        assert_eq!(f.line_col(3), LineCol { line: 2, column: 1 });
        // 'ç' is two bytes; 'd' is the second character.
        assert_eq!(f.line_col(5), LineCol { line: 2, column: 2 });
        assert_eq!(f.line_col(8), LineCol { line: 4, column: 1 });
        assert_eq!(f.line_col(1000), LineCol { line: 4, column: 2 });
    }
}
