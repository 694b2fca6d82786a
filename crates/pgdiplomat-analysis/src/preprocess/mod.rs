//! Between [`source`](crate::source) and [`parse`](crate::parse): the text PostgreSQL's parser
//! is given, made from what the migration tool would send. Three kinds of text are not SQL:
//!
//! * **psql meta-commands** (`\set ON_ERROR_STOP 1`, `\echo`, `\i file`, `\c db`, `\if` ...):
//!   a backslash outside quotes and comments starts one, and it runs to the end of the line, to
//!   the next unquoted backslash (another meta-command) or to `\\` (SQL again). They are blanked;
//!   `\g`-like commands that send the query become a `;`. psql variables `:name`, `:'name'`,
//!   `:"name"` become a value of the same kind (a name, a literal, a quoted identifier). The data
//!   lines of `COPY ... FROM STDIN` (up to `\.`) are blanked.
//! * **Flyway placeholders** `${name}` (or the prefix and suffix `flyway.conf` sets), replaced
//!   everywhere in the text, as Flyway does, when the layout is Flyway; elsewhere only where
//!   PostgreSQL would reject them (outside quotes and comments).
//! * **Go templates** `{{ ... }}` (pop/soda, popx): an action that prints something becomes a
//!   name, one that does not (`if`, `else`, `end`, `range`, comments, assignments) is blanked.
//!
//! Every replacement has exactly the length of what it replaces and newlines are kept, so byte
//! offsets, lines and columns of everything reported are those of the user's file: lint parses
//! [`Preprocessed::text`] and shows the original. A value that does not fit (a `--define`
//! longer than its placeholder), or none, gives a *neutral name* derived from the placeholder
//! instead (`${schema}` → `__schema_`), which [`Preprocessed::restore`] turns back into the
//! placeholder in findings. Whatever is not linted as written is said ([`Finding`]s with the pseudo-rules [`PSQL_META_COMMAND`] and
//! [`UNKNOWN_PLACEHOLDER`]): includes that are not followed, `\c`, `\gexec`, `\q`, `\if`, names
//! without a value, meta-commands in a file whose tool is not psql. Nothing here panics, on any
//! input.

mod flyway;
#[cfg(test)]
mod tests;

use std::collections::BTreeMap;
use std::ops::Range;
use std::path::Path;

pub use flyway::{find_flyway_config, load_flyway_config, properties, FlywayConfig};

use crate::layout::Layout;
use crate::rules::{Finding, Severity, PSQL_META_COMMAND, UNKNOWN_PLACEHOLDER};

/// A value for a placeholder or psql variable, and where it was given.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Value {
    /// `None` when the source names it without a value the linter can know (a Flyway config
    /// value taken from an environment variable that is not set, a psql variable set from a
    /// shell command).
    pub value: Option<String>,
    /// Where it comes from, for messages: `--define`, `pgdiplomat.toml`, `flyway.conf:12`.
    pub origin: String,
}

/// Values of placeholders and psql variables by name. The first value inserted for a name
/// wins, so insert the sources by precedence, highest first.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Defines(BTreeMap<String, Value>);

impl Defines {
    /// Adds `name` unless it already has a value.
    pub fn insert(&mut self, name: &str, value: Option<String>, origin: &str) {
        self.0.entry(name.to_string()).or_insert(Value {
            value,
            origin: origin.to_string(),
        });
    }

    /// The value of `name`: spelled exactly, else ignoring ASCII case (Flyway's placeholder
    /// names are case-insensitive).
    pub fn get(&self, name: &str) -> Option<&Value> {
        self.0.get(name).or_else(|| {
            self.0
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(name))
                .map(|(_, v)| v)
        })
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// `NAME=VALUE` (for `--define`): the name is non-empty and has no `=`; the value may be
/// empty.
pub fn parse_define(s: &str) -> Result<(String, String), String> {
    match s.split_once('=') {
        Some((name, value)) if !name.trim().is_empty() => {
            Ok((name.trim().to_string(), value.to_string()))
        }
        _ => Err(format!(
            "`{s}` is not NAME=VALUE (e.g. --define schema=app)"
        )),
    }
}

/// Flyway's placeholder syntax for a directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FlywaySyntax {
    pub prefix: String,
    pub suffix: String,
    /// `flyway.placeholderReplacement`: when false Flyway sends `${name}` as written.
    pub replace: bool,
}

impl Default for FlywaySyntax {
    fn default() -> Self {
        FlywaySyntax {
            prefix: DEFAULT_PREFIX.into(),
            suffix: DEFAULT_SUFFIX.into(),
            replace: true,
        }
    }
}

const DEFAULT_PREFIX: &str = "${";
const DEFAULT_SUFFIX: &str = "}";

/// How the tool that runs a file reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    /// The file is run by psql: meta-commands and variables are psql's. Otherwise a
    /// meta-command is an error the tool's server will report (it is still blanked, so the
    /// rest of the file is linted).
    pub psql: bool,
    /// The tool's name, for messages about meta-commands when it is not psql.
    pub tool: String,
    /// Flyway: its placeholder syntax; placeholders are replaced everywhere in the text.
    pub flyway: Option<FlywaySyntax>,
    /// Values of `${name}` placeholders and psql variables (`--define`, `pgdiplomat.toml`,
    /// Flyway's configuration).
    pub defines: Defines,
}

impl Default for Settings {
    /// psql, no Flyway, nothing defined.
    fn default() -> Self {
        Settings {
            psql: true,
            tool: "psql".into(),
            flyway: None,
            defines: Defines::default(),
        }
    }
}

impl Settings {
    /// How the tool of `layout` reads the files of `dir`: psql runs plain SQL and Alembic's
    /// offline output; Flyway replaces placeholders with the values of its configuration (found
    /// from `dir` upwards, see [`find_flyway_config`]) and of `FLYWAY_PLACEHOLDERS_*` in `env`.
    /// `defines` (`--define`, pgdiplomat.toml) win over both. A Flyway configuration that cannot
    /// be read is returned as the second value (the run goes on without it).
    pub fn for_layout(
        layout: Layout,
        dir: &Path,
        defines: &Defines,
        env: &[(String, String)],
    ) -> (Settings, Option<String>) {
        let mut settings = Settings {
            psql: matches!(
                layout,
                Layout::Plain | Layout::Alembic | Layout::Sqitch | Layout::SchemaDump
            ),
            tool: layout.name().to_string(),
            flyway: None,
            defines: defines.clone(),
        };
        let mut problem = None;
        if layout == Layout::Flyway {
            let lookup = |var: &str| env.iter().find(|(k, _)| k == var).map(|(_, v)| v.clone());
            let mut syntax = FlywaySyntax::default();
            let mut from_config = Vec::new();
            if let Some(path) = find_flyway_config(dir) {
                match load_flyway_config(&path, &lookup) {
                    Ok(c) => {
                        syntax = c.syntax;
                        from_config = c.placeholders;
                    }
                    Err(e) => problem = Some(e),
                }
            }
            let from_env = flyway::env_placeholders(env.iter().cloned(), &mut syntax);
            for (name, value) in from_env.into_iter().chain(from_config) {
                settings.defines.insert(&name, value.value, &value.origin);
            }
            settings.flyway = Some(syntax);
        }
        (settings, problem)
    }
}

/// A file ready for the parser.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Preprocessed {
    /// The text to parse: as long as the file, with the same newlines.
    pub text: String,
    /// What the user must know about what was not linted as written, in text order.
    pub notes: Vec<Finding>,
    /// psql meta-commands (and COPY data) that were blanked.
    pub meta_commands: Vec<Range<usize>>,
    /// Placeholders, psql variables and template actions that were replaced.
    pub substitutions: Vec<Range<usize>>,
    /// The stand-in names of placeholders and template actions and what they stand for
    /// (`__schema_` → `${schema}`), longest first; see [`Preprocessed::restore`].
    pub stand_ins: Vec<(String, String)>,
}

impl Preprocessed {
    /// Whether the text differs from the file.
    pub fn changed(&self) -> bool {
        !self.meta_commands.is_empty() || !self.substitutions.is_empty()
    }

    /// `text` (a message, generated SQL) with the stand-in names of placeholders and template
    /// actions put back as they are written in the file (`__schema_.users` → `${schema}.users`).
    /// psql variables are not put back: their stand-ins are too short to be told apart from
    /// other names.
    pub fn restore(&self, text: &str) -> String {
        let mut out = text.to_string();
        for (neutral, original) in &self.stand_ins {
            if out.contains(neutral.as_str()) {
                out = out.replace(neutral.as_str(), original);
            }
        }
        out
    }

    /// Whether every substitution in `span` is a stand-in that [`Preprocessed::restore`] puts
    /// back (no value and no psql variable was put there).
    pub fn restorable(&self, span: &Range<usize>) -> bool {
        self.substitutions
            .iter()
            .filter(|r| r.start < span.end && span.start < r.end)
            .all(|r| {
                self.text
                    .get(r.clone())
                    .is_some_and(|t| self.stand_ins.iter().any(|(n, _)| n == t))
            })
    }

    /// Keeps only what lies in `range` (the part of the file the tool runs, see
    /// [`crate::layout::masked_text`]), blanking the text outside it like `masked_text` does.
    pub fn restrict(mut self, range: Range<usize>) -> Preprocessed {
        let inside = |r: &Range<usize>| range.contains(&r.start);
        self.notes.retain(|f| inside(&f.span));
        self.meta_commands.retain(inside);
        self.substitutions.retain(inside);
        self.text = crate::layout::masked_text(&self.text, range);
        self
    }
}

/// Prepares `text` for the parser as the tool of `settings` would run it.
pub fn preprocess(text: &str, settings: &Settings) -> Preprocessed {
    let mut lx = Lexer::new(text, settings);
    lx.run();
    lx.finish()
}

/// How a psql variable is interpolated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum VarKind {
    /// `:name`: the value as it is.
    Raw,
    /// `:'name'`: a quoted literal.
    Literal,
    /// `:"name"`: a quoted identifier.
    Ident,
}

/// Where a replacement happens.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Context {
    Code,
    /// Inside a string literal, comment or dollar-quoted body (Flyway replaces there too).
    Text,
    /// Inside a quoted identifier, where padding would change the name.
    QuotedIdent,
}

/// Names without a usable value, collected per file: one note each.
#[derive(Debug)]
struct Unknown {
    first: Range<usize>,
    uses: usize,
    shown_as: String,
    why: String,
}

struct Lexer<'a> {
    src: &'a str,
    b: &'a [u8],
    out: Vec<u8>,
    settings: &'a Settings,
    i: usize,
    notes: Vec<Finding>,
    meta: Vec<Range<usize>>,
    subs: Vec<Range<usize>>,
    stand_ins: Vec<(String, String)>,
    /// Variables `\set` earlier in the file (`None`: set to something unknowable).
    vars: BTreeMap<String, Option<String>>,
    unknown: BTreeMap<String, Unknown>,
    /// Start of the first token of the statement being read (for `COPY ... FROM STDIN`).
    stmt_first: Option<usize>,
    if_depth: usize,
    first_if: Option<(Range<usize>, usize)>,
    templates: Option<(Range<usize>, usize)>,
    foreign_meta: Option<(Range<usize>, String, usize)>,
}

fn is_ident_start(b: u8) -> bool {
    b.is_ascii_alphabetic() || b == b'_' || b >= 0x80
}

fn is_ident_char(b: u8) -> bool {
    is_ident_start(b) || b.is_ascii_digit() || b == b'$'
}

/// psql's `variable_char`.
fn is_var_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_' || b >= 0x80
}

/// A name of exactly the bytes of `original`: ASCII letters and digits kept (lowercased),
/// other ASCII characters `_`, other characters kept, newlines kept; a leading digit becomes
/// `_`. `${schema}` → `__schema_`, `{{ .Table }}` → `____table___`.
pub fn neutral_name(original: &str) -> String {
    let mut out = String::with_capacity(original.len());
    for (k, c) in original.chars().enumerate() {
        out.push(match c {
            '\n' => '\n',
            c if c.is_ascii_digit() && k == 0 => '_',
            c if c.is_ascii_alphanumeric() => c.to_ascii_lowercase(),
            c if c.is_ascii() => '_',
            c => c,
        });
    }
    out
}

/// The first line of `s`, shortened for a message.
fn shown(s: &str) -> String {
    let line = s.lines().next().unwrap_or("").trim_end();
    if line.chars().count() > 60 {
        let cut: String = line.chars().take(57).collect();
        format!("{cut}...")
    } else {
        line.to_string()
    }
}

impl<'a> Lexer<'a> {
    fn new(src: &'a str, settings: &'a Settings) -> Self {
        Lexer {
            src,
            b: src.as_bytes(),
            out: src.as_bytes().to_vec(),
            settings,
            i: 0,
            notes: Vec::new(),
            meta: Vec::new(),
            subs: Vec::new(),
            stand_ins: Vec::new(),
            vars: BTreeMap::new(),
            unknown: BTreeMap::new(),
            stmt_first: None,
            if_depth: 0,
            first_if: None,
            templates: None,
            foreign_meta: None,
        }
    }

    fn at(&self, k: usize) -> u8 {
        self.b.get(k).copied().unwrap_or(0)
    }

    fn eol(&self, from: usize) -> usize {
        self.src
            .get(from..)
            .and_then(|s| s.find('\n'))
            .map_or(self.b.len(), |k| from + k)
    }

    /// The byte length of the character at `k` (1 past the end).
    fn char_len(&self, k: usize) -> usize {
        self.src
            .get(k..)
            .and_then(|s| s.chars().next())
            .map_or(1, char::len_utf8)
    }

    /// Spaces over `range`, newlines kept.
    fn blank(&mut self, range: Range<usize>) {
        let end = range.end.min(self.out.len());
        for k in range.start.min(end)..end {
            if self.out[k] != b'\n' {
                self.out[k] = b' ';
            }
        }
    }

    /// Writes `with` over `range` when it has the same length (it always has: callers build
    /// it so; anything else is left as written rather than shifting offsets).
    fn put(&mut self, range: Range<usize>, with: &str) {
        if with.len() == range.len() && range.end <= self.out.len() {
            self.out[range.clone()].copy_from_slice(with.as_bytes());
            self.subs.push(range);
        }
    }

    /// Remembers a stand-in name that findings should show as what it stands for.
    fn stand_in(&mut self, neutral: &str, original: &str) {
        if neutral.len() >= 4
            && !neutral.contains('\n')
            && !self.stand_ins.iter().any(|(n, _)| n == neutral)
        {
            self.stand_ins
                .push((neutral.to_string(), original.to_string()));
        }
    }

    fn note(
        &mut self,
        severity: Severity,
        rule: &'static str,
        span: Range<usize>,
        message: String,
        help: &str,
    ) {
        self.notes.push(Finding {
            rule,
            severity,
            span,
            message,
            help: Some(help.to_string()),
            fix_sql: None,
        });
    }

    fn run(&mut self) {
        let len = self.b.len();
        while self.i < len {
            let i = self.i;
            let c = self.b[i];
            if let Some(end) = self.placeholder_at(i, Context::Code) {
                self.token_at(i);
                self.i = end;
                continue;
            }
            match c {
                b'-' if self.at(i + 1) == b'-' => {
                    let end = self.eol(i);
                    self.text_run(i..end, Context::Text);
                    self.i = end;
                }
                b'/' if self.at(i + 1) == b'*' => {
                    let end = self.block_comment_end(i);
                    self.text_run(i..end, Context::Text);
                    self.i = end;
                }
                b'\'' => {
                    self.token_at(i);
                    let escapes = i > 0
                        && matches!(self.b[i - 1], b'e' | b'E')
                        && (i < 2 || !is_ident_char(self.b[i - 2]));
                    let end = self.string_end(i + 1, escapes);
                    self.text_run(i..end, Context::Text);
                    self.i = end;
                }
                b'"' => {
                    self.token_at(i);
                    let end = self.quoted_ident_end(i + 1);
                    self.text_run(i..end, Context::QuotedIdent);
                    self.i = end;
                }
                b'$' => {
                    self.token_at(i);
                    match self.dollar_quote_end(i) {
                        Some(end) => {
                            self.text_run(i..end, Context::Text);
                            self.i = end;
                        }
                        None => self.i = i + 1,
                    }
                }
                b'\\' => {
                    if self.settings.psql {
                        self.i = self.psql_backslash(i);
                    } else {
                        let end = self.eol(i);
                        self.foreign_meta_command(i..end);
                        self.i = end;
                    }
                }
                b':' if self.settings.psql => {
                    self.token_at(i);
                    self.i = self.psql_variable(i);
                }
                b'{' if self.at(i + 1) == b'{' => {
                    self.token_at(i);
                    self.i = self.template(i);
                }
                b';' => {
                    self.i = self.statement_end(i);
                }
                c if is_ident_start(c) => {
                    self.token_at(i);
                    let mut k = i;
                    while k < len && is_ident_char(self.b[k]) && !self.prefix_at(k) {
                        k += 1;
                    }
                    self.i = k.max(i + 1);
                }
                c if c.is_ascii_whitespace() => self.i = i + 1,
                _ => {
                    self.token_at(i);
                    self.i = i + self.char_len(i);
                }
            }
        }
    }

    fn token_at(&mut self, i: usize) {
        if self.stmt_first.is_none() {
            self.stmt_first = Some(i);
        }
    }

    fn block_comment_end(&self, from: usize) -> usize {
        let len = self.b.len();
        let mut depth = 0usize;
        let mut k = from;
        while k < len {
            if self.b[k] == b'/' && self.at(k + 1) == b'*' {
                depth += 1;
                k += 2;
            } else if self.b[k] == b'*' && self.at(k + 1) == b'/' {
                depth = depth.saturating_sub(1);
                k += 2;
                if depth == 0 {
                    return k;
                }
            } else {
                k += 1;
            }
        }
        len
    }

    /// The offset after a string literal whose body starts at `k`.
    fn string_end(&self, mut k: usize, escapes: bool) -> usize {
        let len = self.b.len();
        while k < len {
            match self.b[k] {
                b'\\' if escapes => k += 2,
                b'\'' if self.at(k + 1) == b'\'' => k += 2,
                b'\'' => return k + 1,
                _ => k += 1,
            }
        }
        len
    }

    fn quoted_ident_end(&self, mut k: usize) -> usize {
        let len = self.b.len();
        while k < len {
            if self.b[k] == b'"' {
                if self.at(k + 1) == b'"' {
                    k += 2;
                    continue;
                }
                return k + 1;
            }
            k += 1;
        }
        len
    }

    /// `$tag$ ... $tag$` starting at `i` (a `$` not inside a name): its end.
    fn dollar_quote_end(&self, i: usize) -> Option<usize> {
        let len = self.b.len();
        let mut k = i + 1;
        if k < len && self.b[k].is_ascii_digit() {
            return None;
        }
        while k < len && is_ident_char(self.b[k]) && self.b[k] != b'$' {
            k += 1;
        }
        if self.at(k) != b'$' {
            return None;
        }
        let tag = &self.src[i..=k];
        Some(match self.src[k + 1..].find(tag) {
            Some(at) => k + 1 + at + tag.len(),
            None => len,
        })
    }

    // ---------------------------------------------------------------------------------------
    // Placeholders
    // ---------------------------------------------------------------------------------------

    /// The placeholder syntax in force: Flyway's (only when it replaces), else `${` `}`.
    fn syntax(&self) -> Option<(&str, &str)> {
        match &self.settings.flyway {
            Some(f) if f.replace => Some((f.prefix.as_str(), f.suffix.as_str())),
            Some(_) => None,
            None => Some((DEFAULT_PREFIX, DEFAULT_SUFFIX)),
        }
    }

    fn prefix_at(&self, k: usize) -> bool {
        self.syntax()
            .is_some_and(|(p, _)| !p.is_empty() && self.b[k..].starts_with(p.as_bytes()))
    }

    /// A placeholder starting at `i` in `context`: replaced, and its end returned. Outside
    /// Flyway only placeholders in code count (elsewhere `${x}` is just text).
    fn placeholder_at(&mut self, i: usize, context: Context) -> Option<usize> {
        if context != Context::Code && self.settings.flyway.is_none() {
            return None;
        }
        let (prefix, suffix) = self.syntax()?;
        if prefix.is_empty() || suffix.is_empty() || !self.b[i..].starts_with(prefix.as_bytes()) {
            return None;
        }
        let name_start = i + prefix.len();
        let rest = self.src.get(name_start..)?;
        let close = rest.find(suffix)?;
        let name = &rest[..close];
        if name.is_empty()
            || name.len() > 128
            || name.contains(['\n', '\'', '"'])
            || name.contains(prefix)
        {
            return None;
        }
        let name = name.to_string();
        let end = name_start + close + suffix.len();
        let kind = if self.settings.flyway.is_some() {
            "Flyway placeholder"
        } else {
            "placeholder"
        };
        let value = self.settings.defines.get(&name).cloned();
        self.substitute(i..end, &name, kind, value, VarKind::Raw, context);
        Some(end)
    }

    /// Replaces every placeholder inside a string, comment, quoted identifier or dollar-quoted
    /// body (Flyway only: it replaces placeholders wherever they are).
    fn text_run(&mut self, range: Range<usize>, context: Context) {
        if self.settings.flyway.is_none() {
            return;
        }
        let Some((prefix, _)) = self.syntax() else {
            return;
        };
        let prefix = prefix.to_string();
        let mut k = range.start;
        while k < range.end {
            let Some(at) = self.src.get(k..range.end).and_then(|s| s.find(&prefix)) else {
                break;
            };
            let at = k + at;
            match self.placeholder_at(at, context) {
                Some(end) if end <= range.end => k = end,
                _ => k = at + prefix.len(),
            }
        }
    }

    /// Replaces `range` (a placeholder or variable called `name`) by its value when it has one
    /// that fits, else by a neutral name, and remembers what to tell the user.
    fn substitute(
        &mut self,
        range: Range<usize>,
        name: &str,
        kind: &str,
        value: Option<Value>,
        how: VarKind,
        context: Context,
    ) {
        let original = self.src[range.clone()].to_string();
        let neutral = match how {
            VarKind::Raw => neutral_name(&original),
            VarKind::Literal | VarKind::Ident => {
                let q = if how == VarKind::Literal { "'" } else { "\"" };
                let inner = &original[1..original.len() - 1];
                format!("{q}{}{q}", neutral_name(inner))
            }
        };
        let next = self.at(range.end);
        let fitted = value
            .as_ref()
            .and_then(|v| v.value.as_deref())
            .and_then(|v| fit(v, how, original.len(), next, context));
        if let Some(text) = fitted {
            self.put(range, &text);
            return;
        }
        self.put(range.clone(), &neutral);
        let placeholder = !name.starts_with(':');
        if placeholder {
            self.stand_in(&neutral, &original);
        }
        let builtin = name.to_ascii_lowercase().starts_with("flyway:");
        if builtin && value.is_none() {
            // Flyway's own placeholders (`${flyway:defaultSchema}`, ...) always have a value
            // at run time; it is the same in every file, and so is the neutral name.
            return;
        }
        if placeholder
            && context == Context::Code
            && value.as_ref().is_some_and(|v| v.value.is_some())
        {
            // A name whose value is too long: the stand-in is as good a name for linting, the
            // same in every file, and findings say the placeholder itself (`restore`).
            return;
        }
        let why = match &value {
            None => format!("{kind} `{original}` has no value here"),
            Some(Value { value: None, origin }) => {
                format!("{kind} `{original}` has no value the linter can know ({origin})")
            }
            Some(Value {
                value: Some(v),
                origin,
            }) => format!(
                "{kind} `{original}` is `{}` ({origin}), which cannot stand in its place without moving \
                 the positions of what follows",
                shown(v)
            ),
        };
        let entry = self.unknown.entry(name.to_string()).or_insert(Unknown {
            first: range,
            uses: 0,
            shown_as: neutral.clone(),
            why,
        });
        entry.uses += 1;
    }

    // ---------------------------------------------------------------------------------------
    // psql
    // ---------------------------------------------------------------------------------------

    /// A backslash in SQL (psql): `\;` and `\:` are a literal `;`/`:`, anything else a
    /// meta-command. Returns where SQL continues.
    fn psql_backslash(&mut self, i: usize) -> usize {
        match self.at(i + 1) {
            b';' => {
                // Statements joined with `\;` are sent as one query; here they are split.
                self.blank(i..i + 1);
                self.meta.push(i..i + 1);
                i + 1
            }
            b':' => {
                self.blank(i..i + 1);
                self.meta.push(i..i + 1);
                i + 2
            }
            _ => self.meta_commands(i),
        }
    }

    /// One or more meta-commands from `i` (a backslash): returns where SQL continues.
    fn meta_commands(&mut self, mut i: usize) -> usize {
        let len = self.b.len();
        loop {
            let eol = self.eol(i);
            if self.at(i + 1) == b'\\' {
                // `\\`: the separator; SQL continues after it.
                self.blank(i..i + 2);
                self.meta.push(i..i + 2);
                return i + 2;
            }
            let mut k = i + 1;
            while k < eol && (self.b[k].is_ascii_alphanumeric() || self.b[k] == b'_') {
                k += 1;
            }
            if k == i + 1 && k < eol {
                k += self.char_len(k);
            }
            while k < eol && self.b[k] == b'+' {
                k += 1;
            }
            let name = self.src[i + 1..k.min(eol)].to_string();
            let whole_line = matches!(
                name.as_str(),
                "!" | "copy" | "ef" | "ev" | "sf" | "sv" | "h" | "help"
            );
            // Arguments: up to the end of the line, or the next unquoted backslash.
            let (args_end, next) = if whole_line {
                (eol, None)
            } else {
                self.meta_args_end(k, eol)
            };
            let args = self.src[k.min(args_end)..args_end].trim().to_string();
            let span = i..args_end;
            self.blank(span.clone());
            self.meta.push(span.clone());
            if let Some(end) = self.meta_command(&name, &args, span) {
                return end;
            }
            match next {
                Some(k) if k < len => i = k,
                _ => return eol,
            }
        }
    }

    /// Where the arguments starting at `k` end (before `eol`), and the offset of the next
    /// meta-command's backslash on the line, if any.
    fn meta_args_end(&self, mut k: usize, eol: usize) -> (usize, Option<usize>) {
        while k < eol {
            match self.b[k] {
                b'\\' => return (k, Some(k)),
                q @ (b'\'' | b'"' | b'`') => {
                    k += 1;
                    while k < eol && self.b[k] != q {
                        if q == b'\'' && self.b[k] == b'\\' {
                            k += 1;
                        }
                        k += 1;
                    }
                    k = (k + 1).min(eol);
                }
                _ => k += 1,
            }
        }
        (eol, None)
    }

    /// What one blanked meta-command does. `Some(offset)` when SQL does not continue on its
    /// line (`\q`, `\copy ... from stdin`).
    fn meta_command(&mut self, name: &str, args: &str, span: Range<usize>) -> Option<usize> {
        let shown_cmd = shown(&self.src[span.clone()]);
        match name {
            "g" | "gx" | "gset" | "gexec" | "gdesc" | "crosstabview" | "watch" => {
                // Sends the query buffer: the statement before it ends here.
                self.out[span.start] = b';';
                self.stmt_first = None;
                if name == "gexec" {
                    self.note(
                        Severity::Info,
                        PSQL_META_COMMAND,
                        span,
                        "`\\gexec` runs every value the query returns as a statement: those statements are not linted".into(),
                        "write the statements out in the migration, or lint what the query produces",
                    );
                }
            }
            "i" | "include" | "ir" | "include_relative" => self.note(
                Severity::Info,
                PSQL_META_COMMAND,
                span,
                format!("`{shown_cmd}`: psql runs that file here, but pgdiplomat does not follow includes, so its statements are not linted as part of this migration"),
                "lint the included file as well (in the order psql runs it)",
            ),
            "c" | "connect" => self.note(
                Severity::Info,
                PSQL_META_COMMAND,
                span,
                format!("`{shown_cmd}`: psql opens a new session here; pgdiplomat lints what follows as if it ran in the same session and database (a lock_timeout set before does not carry over)"),
                "set lock_timeout again after reconnecting",
            ),
            "if" => {
                self.if_depth += 1;
                match &mut self.first_if {
                    Some((_, n)) => *n += 1,
                    None => self.first_if = Some((span, 1)),
                }
            }
            "endif" => self.if_depth = self.if_depth.saturating_sub(1),
            "set" => {
                let mut words = split_meta_args(args).into_iter();
                if let Some(Some(var)) = words.next() {
                    let value: Option<String> = words.collect();
                    self.vars.insert(var, value);
                }
            }
            "unset" => {
                if let Some(Some(var)) = split_meta_args(args).into_iter().next() {
                    self.vars.remove(&var);
                }
            }
            "q" | "quit" if self.if_depth == 0 => {
                let end = self.b.len();
                let after = span.end;
                self.blank(after..end);
                if after < end {
                    // Blanked (a `\r` after it becomes a space too): a reported range.
                    self.meta.push(after..end);
                }
                if after < end && self.src[after..].trim() != "" {
                    self.note(
                        Severity::Info,
                        PSQL_META_COMMAND,
                        span,
                        "`\\q`: psql stops here, so the rest of the file is not run and not linted".into(),
                        "remove what follows, or the `\\q`",
                    );
                }
                return Some(end);
            }
            "copy" if reads_stdin(args) => return Some(self.copy_data(span.end)),
            _ => {}
        }
        None
    }

    /// `\set` in a file whose tool is not psql: blanked so the rest is linted, and reported
    /// once (the tool sends it to the server, which rejects it).
    fn foreign_meta_command(&mut self, span: Range<usize>) {
        self.blank(span.clone());
        self.meta.push(span.clone());
        match &mut self.foreign_meta {
            Some((_, _, n)) => *n += 1,
            None => self.foreign_meta = Some((span.clone(), shown(&self.src[span]), 1)),
        }
    }

    /// A psql variable at `i` (a `:`): replaced; returns where SQL continues.
    fn psql_variable(&mut self, i: usize) -> usize {
        let len = self.b.len();
        let next = self.at(i + 1);
        if next == b':' {
            return i + 2;
        }
        let (how, name_start) = match next {
            b'\'' => (VarKind::Literal, i + 2),
            b'"' => (VarKind::Ident, i + 2),
            b'{' if self.at(i + 2) == b'?' => (VarKind::Raw, i + 3),
            _ => (VarKind::Raw, i + 1),
        };
        let mut k = name_start;
        while k < len && is_var_char(self.b[k]) {
            k += 1;
        }
        if k == name_start {
            return i + 1;
        }
        let name = self.src[name_start..k].to_string();
        let end = match (how, next) {
            (VarKind::Literal, _) if self.at(k) == b'\'' => k + 1,
            (VarKind::Ident, _) if self.at(k) == b'"' => k + 1,
            (VarKind::Raw, b'{') if self.at(k) == b'}' => k + 1,
            (VarKind::Raw, b'{') => return i + 1,
            (VarKind::Raw, _) => k,
            _ => return i + 1,
        };
        let set = self.vars.get(&name).cloned();
        let defined = self.settings.defines.get(&name).cloned();
        // `a[1:n]`, `a[:2]`: psql replaces `:n` only when `n` is set; right after a value or
        // `[`, or all digits, it is more likely an array slice than a variable.
        let slice =
            i > 0 && (is_ident_char(self.b[i - 1]) || matches!(self.b[i - 1], b']' | b')' | b'['));
        let digits = name.bytes().all(|c| c.is_ascii_digit());
        if (slice || digits) && set.is_none() && defined.is_none() {
            return k;
        }
        let value = match (next, set, defined) {
            // `:{?name}`: whether it is set.
            (b'{', s, d) => Some(Value {
                value: Some(
                    if s.is_some() || d.is_some() {
                        "TRUE"
                    } else {
                        "FALSE"
                    }
                    .into(),
                ),
                origin: "\\set".into(),
            }),
            (_, Some(v), _) => Some(Value {
                value: v,
                origin: "set with \\set in this file".into(),
            }),
            (_, None, d) => d,
        };
        self.substitute(
            i..end,
            &format!(":{name}"),
            "psql variable",
            value,
            how,
            Context::Code,
        );
        end
    }

    /// A `;` in SQL: after `COPY ... FROM STDIN` the data lines follow.
    fn statement_end(&mut self, i: usize) -> usize {
        let first = self.stmt_first.take();
        match first {
            Some(s) if copy_from_stdin(&self.src[s..i]) => self.copy_data(i + 1),
            _ => i + 1,
        }
    }

    /// Blanks the data lines of a COPY from the line after `from` to the line `\.` (included)
    /// or the end of the file; returns the offset after them.
    fn copy_data(&mut self, from: usize) -> usize {
        let len = self.b.len();
        let mut at = self.eol(from);
        if at >= len {
            return len;
        }
        at += 1;
        let start = at;
        while at < len {
            let end = self.eol(at);
            let line = self.src[at..end].trim_end_matches('\r');
            at = (end + 1).min(len);
            if line == "\\." {
                break;
            }
        }
        self.blank(start..at);
        self.meta.push(start..at);
        self.stmt_first = None;
        at
    }

    // ---------------------------------------------------------------------------------------
    // Go templates
    // ---------------------------------------------------------------------------------------

    /// A Go template action at `i` (`{{`): a printing action becomes a name, others are
    /// blanked. Returns where SQL continues.
    fn template(&mut self, i: usize) -> usize {
        let Some(close) = self.src[i + 2..].find("}}") else {
            return i + 1;
        };
        let end = i + 2 + close + 2;
        let inner = self.src[i + 2..end - 2]
            .trim_start_matches('-')
            .trim_end_matches('-')
            .trim();
        let first = inner.split_whitespace().next().unwrap_or("");
        let prints = !(inner.is_empty()
            || inner.starts_with("/*")
            || matches!(
                first,
                "if" | "else" | "end" | "range" | "with" | "define" | "break" | "continue"
            )
            || (first.starts_with('$') && inner.contains('=')));
        if prints {
            let original = self.src[i..end].to_string();
            let neutral = neutral_name(&original);
            self.put(i..end, &neutral);
            self.stand_in(&neutral, &original);
        } else {
            self.blank(i..end);
            self.subs.push(i..end);
        }
        match &mut self.templates {
            Some((_, n)) => *n += 1,
            None => self.templates = Some((i..end, 1)),
        }
        end
    }

    // ---------------------------------------------------------------------------------------

    fn finish(mut self) -> Preprocessed {
        if let Some((span, n)) = self.first_if.take() {
            let more = plural_more(n, "conditional");
            self.note(
                Severity::Info,
                PSQL_META_COMMAND,
                span,
                format!("psql conditionals (`\\if`{more}) are not evaluated here: every branch is linted as if it ran"),
                "findings in a branch that does not run on your database can be ignored with `-- pgdiplomat:ignore`",
            );
        }
        if let Some((span, n)) = self.templates.take() {
            let shown_at = shown(&self.src[span.clone()]);
            let more = plural_more(n, "action");
            self.note(
                Severity::Info,
                UNKNOWN_PLACEHOLDER,
                span,
                format!("Go template actions (`{shown_at}`{more}) are not evaluated here: each one that prints a value is linted as a name of the same length, the others (`if`, `range`, `end`, comments) are skipped, so every branch is linted"),
                "the findings name the template's output by that stand-in name",
            );
        }
        if let Some((span, cmd, n)) = self.foreign_meta.take() {
            let tool = self.settings.tool.clone();
            let more = match plural_more(n, "meta-command line") {
                m if m.is_empty() => m,
                m => format!(" ({})", m.trim_start()),
            };
            self.note(
                Severity::Error,
                PSQL_META_COMMAND,
                span,
                format!("`{cmd}`{more} is a psql meta-command, but {tool} sends the file to PostgreSQL, which cannot run it: the migration fails here"),
                "remove it, or run the file with psql (lint it with `--layout plain`)",
            );
        }
        let unknown = std::mem::take(&mut self.unknown);
        for u in unknown.into_values() {
            let uses = if u.uses > 1 {
                format!(" ({} uses)", u.uses)
            } else {
                String::new()
            };
            self.note(
                Severity::Info,
                UNKNOWN_PLACEHOLDER,
                u.first,
                format!("{}{uses}: linted as `{}`", u.why, u.shown_as.trim()),
                "give it a value with `--define NAME=VALUE` or `[placeholders]` in pgdiplomat.toml (a value as long as the placeholder, or shorter before a space or punctuation, stands in its place)",
            );
        }
        self.notes.sort_by_key(|f| f.span.start);
        let text = match String::from_utf8(self.out) {
            Ok(t) => t,
            // Unreachable: only whole characters are replaced, by ASCII or by themselves.
            Err(_) => self.src.to_string(),
        };
        let mut stand_ins = self.stand_ins;
        stand_ins.sort_by_key(|(n, _)| std::cmp::Reverse(n.len()));
        Preprocessed {
            text,
            notes: self.notes,
            meta_commands: self.meta,
            substitutions: self.subs,
            stand_ins,
        }
    }
}

fn plural_more(n: usize, what: &str) -> String {
    match n {
        0 | 1 => String::new(),
        2 => format!(" and 1 more {what}"),
        n => format!(" and {} more {what}s", n - 1),
    }
}

/// `value` as the text standing in for a placeholder of `len` bytes followed by the byte
/// `next`, when it fits: exactly, or shorter and padded with spaces where a space changes
/// nothing (not inside a quoted identifier, not glued to a following name).
fn fit(value: &str, how: VarKind, len: usize, next: u8, context: Context) -> Option<String> {
    let text = match how {
        VarKind::Raw => value.to_string(),
        VarKind::Literal => format!("'{}'", value.replace('\'', "''")),
        VarKind::Ident => format!("\"{}\"", value.replace('"', "\"\"")),
    };
    if text.contains(['\n', '\r']) || text.len() > len {
        return None;
    }
    if text.len() == len {
        return Some(text);
    }
    let glued = context == Context::Code && is_ident_char(next);
    if glued || context == Context::QuotedIdent {
        return None;
    }
    Some(format!("{text}{}", " ".repeat(len - text.len())))
}

/// Whether a `COPY` statement reads its data from the script.
fn copy_from_stdin(sql: &str) -> bool {
    let mut words = sql.split_whitespace();
    words.next().is_some_and(|w| w.eq_ignore_ascii_case("copy")) && reads_stdin(sql)
}

/// Whether COPY (or `\copy`) text says `FROM STDIN` (or psql's `FROM PSTDIN`).
fn reads_stdin(copy: &str) -> bool {
    let lower = copy.to_ascii_lowercase();
    let words: Vec<&str> = lower
        .split(|c: char| c.is_whitespace() || matches!(c, '(' | ')' | ',' | ';'))
        .filter(|w| !w.is_empty())
        .collect();
    words
        .windows(2)
        .any(|w| w[0] == "from" && matches!(w[1], "stdin" | "pstdin"))
}

/// The words of a meta-command's arguments: quotes removed (`'...'` with psql's escapes,
/// `"..."` kept as written); a backquoted shell command has no value the linter can know
/// (`None`).
fn split_meta_args(args: &str) -> Vec<Option<String>> {
    let mut out = Vec::new();
    let mut chars = args.chars().peekable();
    while let Some(&c) = chars.peek() {
        if c.is_whitespace() {
            chars.next();
            continue;
        }
        let mut word = Some(String::new());
        while let Some(&c) = chars.peek() {
            if c.is_whitespace() {
                break;
            }
            chars.next();
            match c {
                '\'' => {
                    while let Some(c) = chars.next() {
                        match c {
                            '\'' if chars.peek() == Some(&'\'') => {
                                chars.next();
                                if let Some(w) = word.as_mut() {
                                    w.push('\'');
                                }
                            }
                            '\'' => break,
                            '\\' => {
                                let e = chars.next().unwrap_or('\\');
                                let e = match e {
                                    'n' => '\n',
                                    't' => '\t',
                                    e => e,
                                };
                                if let Some(w) = word.as_mut() {
                                    w.push(e);
                                }
                            }
                            c => {
                                if let Some(w) = word.as_mut() {
                                    w.push(c);
                                }
                            }
                        }
                    }
                }
                '`' => {
                    for c in chars.by_ref() {
                        if c == '`' {
                            break;
                        }
                    }
                    word = None;
                }
                c => {
                    if let Some(w) = word.as_mut() {
                        w.push(c);
                    }
                }
            }
        }
        out.push(word);
    }
    out
}
