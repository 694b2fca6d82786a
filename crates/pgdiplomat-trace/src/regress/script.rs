//! Reading a psql script (a file of PostgreSQL's regression suite) the way psql does: SQL
//! statements end at a `;` outside quotes, parentheses and `BEGIN ATOMIC ... END` bodies, or at
//! a `\g`-like meta-command; other meta-commands (`\d`, `\set`, ...) are dropped, `\if` / `\elif`
//! / `\else` / `\endif` are followed (a branch is taken only when its condition is a literal
//! true: psql variables are not evaluated), `\c` reconnects and `\q` ends the script. The data
//! of `COPY ... FROM STDIN` is read only when the caller says the server accepted the COPY
//! ([`Script::copy_data`]), exactly as psql reads it.
//!
//! Statements referring to psql variables (`:name`, `:'name'`, `:"name"`, `:{?name}`) are
//! returned with the variable named, so the caller can skip them.

/// One thing the script does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Item {
    Sql(Piece),
    /// `\c` / `\connect`: a new session on the same database.
    Reconnect {
        line: usize,
    },
}

/// One SQL statement of the script.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Piece {
    /// 1-based line of its first token.
    pub line: usize,
    /// The statement without its terminating `;` (meta-commands inside it blanked out).
    pub text: String,
    /// The first psql variable it refers to.
    pub psql_variable: Option<String>,
    /// The meta-command that ended it (`\gset`, `\gexec`, ...), if not a `;`.
    pub meta_terminator: Option<String>,
}

#[derive(Debug, Clone, Copy)]
struct Cond {
    active: bool,
    taken: bool,
    parent_active: bool,
}

/// An incremental reader of one script.
pub struct Script<'a> {
    text: &'a str,
    pos: usize,
    line_starts: Vec<usize>,
    standard_strings: bool,
    conds: Vec<Cond>,
    quit: bool,
}

const G_COMMANDS: &[&str] = &[
    "g",
    "gx",
    "gset",
    "gexec",
    "gdesc",
    "crosstabview",
    "watch",
    ";",
];

fn is_ident_start(b: u8) -> bool {
    b.is_ascii_alphabetic() || b == b'_' || b >= 0x80
}

fn is_ident_char(b: u8) -> bool {
    is_ident_start(b) || b.is_ascii_digit() || b == b'$'
}

enum Meta {
    None,
    Terminate(String),
    Reconnect,
    Quit,
}

impl<'a> Script<'a> {
    pub fn new(text: &'a str) -> Self {
        let mut line_starts = vec![0];
        line_starts.extend(text.match_indices('\n').map(|(i, _)| i + 1));
        Script {
            text,
            pos: 0,
            line_starts,
            standard_strings: true,
            conds: Vec::new(),
            quit: false,
        }
    }

    /// 1-based line of byte `offset`.
    pub fn line_of(&self, offset: usize) -> usize {
        match self.line_starts.binary_search(&offset) {
            Ok(i) => i + 1,
            Err(i) => i,
        }
    }

    fn active(&self) -> bool {
        self.conds.last().is_none_or(|c| c.active)
    }

    fn eol(&self, from: usize) -> usize {
        self.text[from..]
            .find('\n')
            .map_or(self.text.len(), |i| from + i)
    }

    /// The data lines of a `COPY ... FROM STDIN` the server has just accepted: from the line
    /// after the statement to the line `\.` (or the end of the script), which are consumed.
    pub fn copy_data(&mut self) -> String {
        let (data, end) = self.peek_copy_data();
        self.pos = end;
        data
    }

    /// The data lines a `COPY ... FROM STDIN` would read, and the offset after them; nothing
    /// is consumed (see [`Script::skip_to`]).
    pub fn peek_copy_data(&self) -> (String, usize) {
        let mut at = self.eol(self.pos);
        if at < self.text.len() {
            at += 1;
        }
        let mut data = String::new();
        while at < self.text.len() {
            let end = self.eol(at);
            let line = self.text[at..end].trim_end_matches('\r');
            at = (end + 1).min(self.text.len());
            if line == "\\." {
                break;
            }
            data.push_str(line);
            data.push('\n');
        }
        (data, at)
    }

    /// Continues reading at `offset` (from [`Script::peek_copy_data`]).
    pub fn skip_to(&mut self, offset: usize) {
        self.pos = offset.max(self.pos).min(self.text.len());
    }

    fn eval_condition(expr: &str) -> bool {
        matches!(
            expr.trim().to_ascii_lowercase().as_str(),
            "true" | "on" | "yes" | "1" | "t" | "y"
        )
    }

    /// Handles one meta-command line (`cmd` starts with the backslash).
    fn meta(&mut self, cmd: &str) -> Meta {
        let body = &cmd[1..];
        let name_end = body
            .find(|c: char| c.is_whitespace() || c == '\\')
            .unwrap_or(body.len());
        let (name, args) = body.split_at(if name_end == 0 && !body.is_empty() {
            1
        } else {
            name_end
        });
        match name {
            "if" => {
                let parent_active = self.active();
                let v = parent_active && Self::eval_condition(args);
                self.conds.push(Cond {
                    active: v,
                    taken: v,
                    parent_active,
                });
                return Meta::None;
            }
            "elif" => {
                if let Some(c) = self.conds.last_mut() {
                    if c.taken || !c.parent_active {
                        c.active = false;
                    } else {
                        let v = Self::eval_condition(args);
                        c.active = v;
                        c.taken |= v;
                    }
                }
                return Meta::None;
            }
            "else" => {
                if let Some(c) = self.conds.last_mut() {
                    c.active = c.parent_active && !c.taken;
                    c.taken = true;
                }
                return Meta::None;
            }
            "endif" => {
                self.conds.pop();
                return Meta::None;
            }
            _ => {}
        }
        if !self.active() {
            return Meta::None;
        }
        if G_COMMANDS.contains(&name) {
            return Meta::Terminate(format!("\\{name}"));
        }
        // `\bind $1 \g`: a query-ending command later on the line.
        if let Some(g) = cmd
            .split_whitespace()
            .skip(1)
            .filter_map(|w| w.strip_prefix('\\'))
            .find(|w| G_COMMANDS.contains(w))
        {
            return Meta::Terminate(format!("\\{g}"));
        }
        match name {
            "c" | "connect" => Meta::Reconnect,
            "q" | "quit" => Meta::Quit,
            _ => Meta::None,
        }
    }

    fn note_setting(&mut self, sql: &str) {
        let norm: String = sql
            .to_ascii_lowercase()
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ");
        if norm.starts_with("reset all") || norm.starts_with("reset standard_conforming_strings") {
            self.standard_strings = true;
        } else if let Some(rest) = norm
            .strip_prefix("set standard_conforming_strings")
            .or_else(|| norm.strip_prefix("set session standard_conforming_strings"))
        {
            let v = rest
                .trim_start_matches([' ', '='])
                .trim_start_matches("to ")
                .trim_matches(['\'', ' ']);
            self.standard_strings = !matches!(v, "off" | "false" | "0" | "no");
        }
    }

    /// The next statement or event; `None` at the end (or after `\q`).
    #[allow(clippy::should_implement_trait)]
    pub fn next(&mut self) -> Option<Item> {
        let bytes = self.text.as_bytes();
        let len = bytes.len();
        let mut buf = String::new();
        let mut start: Option<usize> = None;
        let mut var: Option<String> = None;
        let (mut paren, mut bracket, mut begin_depth) = (0i32, 0i32, 0i32);
        let mut idents: [u8; 4] = [0; 4];
        let mut ident_count = 0usize;
        macro_rules! finish {
            ($term:expr) => {{
                let text = buf.trim_end().to_string();
                if let Some(s) = start {
                    self.note_setting(&text);
                    return Some(Item::Sql(Piece {
                        line: self.line_of(s),
                        text,
                        psql_variable: var,
                        meta_terminator: $term,
                    }));
                }
            }};
        }
        while self.pos < len && !self.quit {
            if !self.active() {
                // Inside a branch not taken: only conditionals matter, line by line.
                let end = self.eol(self.pos);
                let line = self.text[self.pos..end].trim_start();
                if line.starts_with('\\') {
                    let line = line.to_string();
                    self.meta(&line);
                }
                self.pos = (end + 1).min(len);
                continue;
            }
            let b = bytes[self.pos];
            let from = self.pos;
            if !b.is_ascii_whitespace() && b != b'\\' && b != b';' && start.is_none() {
                let comment = (b == b'-' && bytes.get(from + 1) == Some(&b'-'))
                    || (b == b'/' && bytes.get(from + 1) == Some(&b'*'));
                if !comment {
                    start = Some(from);
                }
            }
            match b {
                // `\;`: a semicolon that does not send the query; the statements go together.
                b'\\' if bytes.get(from + 1) == Some(&b';') => {
                    self.pos = from + 2;
                    finish!(Some("\\;".to_string()));
                    continue;
                }
                b'\\' => {
                    let end = self.eol(from);
                    let cmd = self.text[from..end].to_string();
                    self.pos = end;
                    if start.is_some() {
                        buf.push(' ');
                    }
                    match self.meta(&cmd) {
                        Meta::None => {}
                        Meta::Terminate(name) => finish!(Some(name)),
                        Meta::Reconnect if start.is_none() => {
                            return Some(Item::Reconnect {
                                line: self.line_of(from),
                            })
                        }
                        Meta::Reconnect => {}
                        Meta::Quit => {
                            self.quit = true;
                            start = None;
                        }
                    }
                    continue;
                }
                b'\'' => {
                    let escapes = !self.standard_strings;
                    self.pos = skip_string(bytes, from + 1, escapes);
                }
                b'"' => {
                    let mut i = from + 1;
                    while i < len {
                        if bytes[i] == b'"' {
                            if bytes.get(i + 1) == Some(&b'"') {
                                i += 2;
                                continue;
                            }
                            i += 1;
                            break;
                        }
                        i += 1;
                    }
                    self.pos = i.min(len);
                }
                b'$' => {
                    let mut i = from + 1;
                    while i < len && is_ident_char(bytes[i]) && bytes[i] != b'$' {
                        i += 1;
                    }
                    let tag_ok = i < len
                        && bytes[i] == b'$'
                        && (i == from + 1 || !bytes[from + 1].is_ascii_digit());
                    if tag_ok {
                        let tag = &self.text[from..=i];
                        self.pos = match self.text[i + 1..].find(tag) {
                            Some(k) => i + 1 + k + tag.len(),
                            None => len,
                        };
                    } else {
                        self.pos = from + 1;
                    }
                }
                b'-' if bytes.get(from + 1) == Some(&b'-') => {
                    self.pos = self.eol(from);
                }
                b'/' if bytes.get(from + 1) == Some(&b'*') => {
                    let mut depth = 0;
                    let mut i = from;
                    while i < len {
                        if bytes[i] == b'/' && bytes.get(i + 1) == Some(&b'*') {
                            depth += 1;
                            i += 2;
                        } else if bytes[i] == b'*' && bytes.get(i + 1) == Some(&b'/') {
                            depth -= 1;
                            i += 2;
                            if depth == 0 {
                                break;
                            }
                        } else {
                            i += 1;
                        }
                    }
                    self.pos = i.min(len);
                }
                b'(' => {
                    paren += 1;
                    self.pos += 1;
                }
                b')' => {
                    paren -= 1;
                    self.pos += 1;
                }
                b'[' => {
                    bracket += 1;
                    self.pos += 1;
                }
                b']' => {
                    bracket -= 1;
                    self.pos += 1;
                }
                b';' if paren <= 0 && begin_depth <= 0 => {
                    self.pos += 1;
                    finish!(None);
                    // An empty statement: keep going.
                    buf.clear();
                    (paren, bracket, begin_depth, ident_count) = (0, 0, 0, 0);
                    continue;
                }
                b':' => {
                    let prev = from.checked_sub(1).map(|i| bytes[i]);
                    let next = bytes.get(from + 1).copied();
                    let is_var = prev != Some(b':')
                        && bracket <= 0
                        && next
                            .is_some_and(|n| is_ident_start(n) || matches!(n, b'\'' | b'"' | b'{'));
                    if is_var && var.is_none() {
                        let rest = &self.text[from + 1..];
                        let name: String = rest
                            .chars()
                            .take_while(|c| {
                                c.is_alphanumeric()
                                    || matches!(c, '_' | '\'' | '"' | '{' | '?' | '}')
                            })
                            .collect();
                        var = Some(format!(":{name}"));
                    }
                    self.pos += 1;
                }
                _ if is_ident_start(b) => {
                    let mut i = from;
                    while i < len && is_ident_char(bytes[i]) {
                        i += 1;
                    }
                    let word = &self.text[from..i];
                    if (word == "E" || word == "e") && bytes.get(i) == Some(&b'\'') {
                        i = skip_string(bytes, i + 1, true);
                    } else {
                        // psql's heuristic for CREATE [OR REPLACE] FUNCTION|PROCEDURE ... BEGIN
                        // ATOMIC ... END: semicolons inside the body do not end the statement.
                        let lower = word.to_ascii_lowercase();
                        if ident_count == 0 {
                            idents = [0; 4];
                        }
                        if matches!(
                            lower.as_str(),
                            "create" | "function" | "procedure" | "or" | "replace"
                        ) && ident_count < idents.len()
                        {
                            idents[ident_count] = lower.as_bytes()[0];
                        }
                        ident_count += 1;
                        let in_routine = idents[0] == b'c'
                            && (idents[1] == b'f'
                                || idents[1] == b'p'
                                || (idents[1] == b'o'
                                    && idents[2] == b'r'
                                    && (idents[3] == b'f' || idents[3] == b'p')));
                        if in_routine && paren == 0 {
                            match lower.as_str() {
                                "begin" => begin_depth += 1,
                                "case" if begin_depth >= 1 => begin_depth += 1,
                                "end" if begin_depth > 0 => begin_depth -= 1,
                                _ => {}
                            }
                        }
                    }
                    self.pos = i;
                }
                _ if b.is_ascii_digit() => {
                    let mut i = from;
                    while i < len
                        && (bytes[i].is_ascii_alphanumeric()
                            || bytes[i] == b'_'
                            || bytes[i] == b'.')
                    {
                        if bytes[i] == b'.' && bytes.get(i + 1) == Some(&b'.') {
                            break;
                        }
                        i += 1;
                    }
                    self.pos = i;
                }
                _ => {
                    // One character (whole, for UTF-8).
                    let ch = self.text[from..].chars().next().map_or(1, char::len_utf8);
                    self.pos = from + ch;
                }
            }
            if start.is_some() {
                buf.push_str(&self.text[from..self.pos]);
            }
        }
        finish!(None);
        None
    }
}

/// The offset after a string literal whose body starts at `i`.
fn skip_string(bytes: &[u8], mut i: usize, escapes: bool) -> usize {
    let len = bytes.len();
    while i < len {
        match bytes[i] {
            b'\\' if escapes => i += 2,
            b'\'' if bytes.get(i + 1) == Some(&b'\'') => i += 2,
            b'\'' => return i + 1,
            _ => i += 1,
        }
    }
    len
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all(text: &str) -> Vec<Item> {
        let mut s = Script::new(text);
        let mut out = Vec::new();
        while let Some(i) = s.next() {
            out.push(i);
        }
        out
    }

    fn sql(items: &[Item]) -> Vec<(usize, &str)> {
        items
            .iter()
            .filter_map(|i| match i {
                Item::Sql(p) => Some((p.line, p.text.as_str())),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn statements_meta_commands_and_conditionals() {
        let text = "-- c\nCREATE TABLE t (a int); SELECT ';' AS x;\n\\d t\nSELECT 1 \\gset\n\
                    \\if false\nDROP TABLE t;\n\\else\nALTER TABLE t ADD b int;\n\\endif\n\
                    SELECT $$;$$, E'\\';', \"a;\" FROM t WHERE a = ANY (ARRAY[1:2]);\n\
                    \\c -\nCREATE FUNCTION f() RETURNS int LANGUAGE sql BEGIN ATOMIC SELECT 1; SELECT CASE WHEN true THEN 2 END; END;\n\
                    SELECT :'v';\n/* only a comment */;\n\\q\nSELECT 'after quit';\n";
        let items = all(text);
        assert_eq!(
            sql(&items),
            vec![
                (2, "CREATE TABLE t (a int)"),
                (2, "SELECT ';' AS x"),
                (4, "SELECT 1"),
                (8, "ALTER TABLE t ADD b int"),
                (10, "SELECT $$;$$, E'\\';', \"a;\" FROM t WHERE a = ANY (ARRAY[1:2])"),
                (12, "CREATE FUNCTION f() RETURNS int LANGUAGE sql BEGIN ATOMIC SELECT 1; SELECT CASE WHEN true THEN 2 END; END"),
                (13, "SELECT :'v'"),
            ]
        );
        assert!(items.contains(&Item::Reconnect { line: 11 }));
        let vars: Vec<Option<String>> = items
            .iter()
            .filter_map(|i| match i {
                Item::Sql(p) => Some(p.psql_variable.clone()),
                _ => None,
            })
            .collect();
        assert_eq!(vars.iter().filter(|v| v.is_some()).count(), 1);
        assert_eq!(vars[6].as_deref(), Some(":'v'"));
    }

    #[test]
    fn copy_data_is_read_only_when_asked() {
        let text = "COPY t FROM stdin;\n1\t2\n\\.\nSELECT 1;\nCOPY t (zz) FROM stdin;\nSELECT 2;\n";
        let mut s = Script::new(text);
        assert!(matches!(s.next(), Some(Item::Sql(p)) if p.text == "COPY t FROM stdin"));
        assert_eq!(s.copy_data(), "1\t2\n");
        assert!(matches!(s.next(), Some(Item::Sql(p)) if p.text == "SELECT 1" && p.line == 4));
        assert!(matches!(s.next(), Some(Item::Sql(p)) if p.text == "COPY t (zz) FROM stdin"));
        // The server refused that COPY: what follows is SQL again.
        assert!(matches!(s.next(), Some(Item::Sql(p)) if p.text == "SELECT 2"));
        assert_eq!(s.next(), None);
    }

    #[test]
    fn standard_conforming_strings_off_makes_backslash_an_escape() {
        let text = "SET standard_conforming_strings = off;\nSELECT 'a\\';b';\nSET standard_conforming_strings TO on;\nSELECT 'c\\';\n";
        let items = all(text);
        assert_eq!(
            sql(&items),
            vec![
                (1, "SET standard_conforming_strings = off"),
                (2, "SELECT 'a\\';b'"),
                (3, "SET standard_conforming_strings TO on"),
                (4, "SELECT 'c\\'"),
            ]
        );
    }
}
