//! Flyway's configuration, for its placeholders: `flyway.conf` (Java properties) or
//! `conf/flyway.conf` in the migration directory or the nearest parent that has one, or
//! `flyway.toml` (Flyway 10); and the `FLYWAY_PLACEHOLDERS_*` environment variables.
//!
//! Read: `flyway.placeholders.NAME=VALUE`, `flyway.placeholderPrefix`,
//! `flyway.placeholderSuffix`, `flyway.placeholderReplacement` (TOML: the same keys under
//! `[flyway]`, placeholders under `[flyway.placeholders]`). A value may name environment
//! variables (`${FLYWAY_PLACEHOLDERS_USER}`), as Flyway allows: they are expanded from the
//! environment given, and a value whose variable is not set has no value the linter can know.

use std::path::{Path, PathBuf};

use super::{FlywaySyntax, Value};

/// The file names looked for in each directory, in order.
const CONFIG_FILES: &[&str] = &["flyway.conf", "conf/flyway.conf", "flyway.toml"];

/// What a Flyway configuration says about placeholders.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FlywayConfig {
    pub path: PathBuf,
    pub syntax: FlywaySyntax,
    /// Placeholders in file order.
    pub placeholders: Vec<(String, Value)>,
}

/// The Flyway configuration for migrations in `dir`: `flyway.conf`, `conf/flyway.conf` or
/// `flyway.toml` in `dir` or its nearest parent that has one.
pub fn find_flyway_config(dir: &Path) -> Option<PathBuf> {
    let absolute = std::path::absolute(dir).unwrap_or_else(|_| dir.to_path_buf());
    absolute
        .ancestors()
        .find_map(|d| CONFIG_FILES.iter().map(|f| d.join(f)).find(|p| p.is_file()))
}

/// Reads a Flyway configuration file; `env` looks environment variables up.
pub fn load_flyway_config(
    path: &Path,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<FlywayConfig, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("{}: cannot read: {e}", path.display()))?;
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let mut config = FlywayConfig {
        path: path.to_path_buf(),
        syntax: FlywaySyntax::default(),
        placeholders: Vec::new(),
    };
    let mut set = |key: &str, value: String, origin: String| {
        let key = key.strip_prefix("flyway.").unwrap_or(key);
        if let Some(placeholder) = key.strip_prefix("placeholders.") {
            let value = expand_env(&value, env);
            let origin = match &value {
                Ok(_) => origin,
                Err(var) => {
                    format!("{origin}, from the environment variable {var}, which is not set")
                }
            };
            config.placeholders.push((
                placeholder.to_string(),
                Value {
                    value: value.ok(),
                    origin,
                },
            ));
        } else if key.eq_ignore_ascii_case("placeholderPrefix") {
            config.syntax.prefix = value;
        } else if key.eq_ignore_ascii_case("placeholderSuffix") {
            config.syntax.suffix = value;
        } else if key.eq_ignore_ascii_case("placeholderReplacement") {
            config.syntax.replace = !value.trim().eq_ignore_ascii_case("false");
        }
    };
    if name.ends_with(".toml") {
        let table: toml::Table = text
            .parse()
            .map_err(|e: toml::de::Error| format!("{}: {}", path.display(), e.message()))?;
        if let Some(flyway) = table.get("flyway").and_then(toml::Value::as_table) {
            for (key, value) in flyway {
                match value {
                    toml::Value::Table(placeholders) if key == "placeholders" => {
                        for (k, v) in placeholders {
                            set(&format!("placeholders.{k}"), toml_text(v), name.clone());
                        }
                    }
                    v => set(key, toml_text(v), name.clone()),
                }
            }
        }
    } else {
        for (key, value, line) in properties(&text) {
            set(&key, value, format!("{name}:{line}"));
        }
    }
    Ok(config)
}

/// The placeholders and syntax settings of `FLYWAY_PLACEHOLDERS_<NAME>` (the name lowercased,
/// as Flyway reads it), `FLYWAY_PLACEHOLDER_PREFIX`, `_SUFFIX` and `_REPLACEMENT`, applied over
/// `syntax`.
pub fn env_placeholders(
    vars: impl Iterator<Item = (String, String)>,
    syntax: &mut FlywaySyntax,
) -> Vec<(String, Value)> {
    let mut out = Vec::new();
    for (k, v) in vars {
        if let Some(name) = k.strip_prefix("FLYWAY_PLACEHOLDERS_") {
            out.push((
                name.to_ascii_lowercase(),
                Value {
                    value: Some(v),
                    origin: format!("environment variable {k}"),
                },
            ));
        } else if k == "FLYWAY_PLACEHOLDER_PREFIX" {
            syntax.prefix = v;
        } else if k == "FLYWAY_PLACEHOLDER_SUFFIX" {
            syntax.suffix = v;
        } else if k == "FLYWAY_PLACEHOLDER_REPLACEMENT" {
            syntax.replace = !v.trim().eq_ignore_ascii_case("false");
        }
    }
    out
}

fn toml_text(v: &toml::Value) -> String {
    match v {
        toml::Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// `value` with each `${VAR}` replaced by the environment variable; `Err(VAR)` for the first
/// one that is not set.
fn expand_env(value: &str, env: &dyn Fn(&str) -> Option<String>) -> Result<String, String> {
    let mut out = String::new();
    let mut rest = value;
    while let Some(at) = rest.find("${") {
        let Some(close) = rest[at + 2..].find('}') else {
            break;
        };
        let var = &rest[at + 2..at + 2 + close];
        out.push_str(&rest[..at]);
        out.push_str(&env(var).ok_or_else(|| var.to_string())?);
        rest = &rest[at + 2 + close + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

/// The entries of a Java properties file, as `(key, value, line)` (1-based line of the key):
/// `key=value`, `key: value` or `key value`; `#` and `!` comment lines; a line ending in an odd
/// number of backslashes continues on the next; `\t`, `\n`, `\r`, `\uXXXX` and `\<char>`
/// escapes.
pub fn properties(text: &str) -> Vec<(String, String, usize)> {
    let mut out = Vec::new();
    let mut lines = text.lines().enumerate();
    while let Some((n, line)) = lines.next() {
        let first = line.trim_start();
        if first.is_empty() || first.starts_with('#') || first.starts_with('!') {
            continue;
        }
        let mut logical = first.to_string();
        while ends_in_continuation(&logical) {
            logical.pop();
            match lines.next() {
                Some((_, next)) => logical.push_str(next.trim_start()),
                None => break,
            }
        }
        let (key, value) = split_entry(&logical);
        out.push((unescape(key), unescape(value), n + 1));
    }
    out
}

fn ends_in_continuation(line: &str) -> bool {
    line.bytes().rev().take_while(|&b| b == b'\\').count() % 2 == 1
}

/// The key and the value of one logical line.
fn split_entry(line: &str) -> (&str, &str) {
    let mut escaped = false;
    for (i, c) in line.char_indices() {
        if escaped {
            escaped = false;
            continue;
        }
        match c {
            '\\' => escaped = true,
            '=' | ':' => return (&line[..i], line[i + 1..].trim_start()),
            c if c.is_whitespace() => {
                let rest = line[i..].trim_start();
                let rest = rest.strip_prefix(['=', ':']).map_or(rest, str::trim_start);
                return (&line[..i], rest);
            }
            _ => {}
        }
    }
    (line, "")
}

fn unescape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('t') => out.push('\t'),
            Some('n') => out.push('\n'),
            Some('r') => out.push('\r'),
            Some('f') => out.push('\x0c'),
            Some('u') => {
                let hex: String = chars.by_ref().take(4).collect();
                match u32::from_str_radix(&hex, 16).ok().and_then(char::from_u32) {
                    Some(u) => out.push(u),
                    None => out.push_str(&hex),
                }
            }
            Some(other) => out.push(other),
            None => {}
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn properties_read_like_java_does() {
        let text = "# comment\n! also\nflyway.url=jdbc:x\nflyway.placeholders.a = one\n\
                    flyway.placeholders.b: two\nkey value\nlong=first\\\n    second\nesc=a\\tb\\u0041\\\\\nempty\n";
        let got = properties(text);
        assert_eq!(
            got,
            vec![
                ("flyway.url".into(), "jdbc:x".into(), 3),
                ("flyway.placeholders.a".into(), "one".into(), 4),
                ("flyway.placeholders.b".into(), "two".into(), 5),
                ("key".into(), "value".into(), 6),
                ("long".into(), "firstsecond".into(), 7),
                ("esc".into(), "a\tbA\\".into(), 9),
                ("empty".into(), "".into(), 10),
            ]
        );
    }

    #[test]
    fn conf_placeholders_syntax_and_environment() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("flyway.conf");
        std::fs::write(
            &path,
            "flyway.placeholders.schema=app\nflyway.placeholders.user=${DB_USER}\n\
             flyway.placeholders.pw=${NOT_SET}\nflyway.placeholderPrefix=#[\nflyway.placeholderSuffix=]\n",
        )
        .expect("write");
        let env = |v: &str| (v == "DB_USER").then(|| "migrator".to_string());
        let c = load_flyway_config(&path, &env).expect("loads");
        assert_eq!(c.syntax.prefix, "#[");
        assert_eq!(c.syntax.suffix, "]");
        assert!(c.syntax.replace);
        assert_eq!(c.placeholders[0].0, "schema");
        assert_eq!(c.placeholders[0].1.value.as_deref(), Some("app"));
        assert_eq!(c.placeholders[0].1.origin, "flyway.conf:1");
        assert_eq!(c.placeholders[1].1.value.as_deref(), Some("migrator"));
        assert_eq!(c.placeholders[2].1.value, None);
        assert!(
            c.placeholders[2]
                .1
                .origin
                .contains("NOT_SET, which is not set"),
            "{}",
            c.placeholders[2].1.origin
        );
    }

    #[test]
    fn toml_config_and_discovery_from_a_subdirectory() {
        let dir = tempfile::tempdir().expect("tempdir");
        let migrations = dir.path().join("db/migration");
        std::fs::create_dir_all(&migrations).expect("mkdir");
        std::fs::write(
            dir.path().join("flyway.toml"),
            "[flyway]\nplaceholderReplacement = false\n[flyway.placeholders]\nschema = \"app\"\nsize = 10\n",
        )
        .expect("write");
        let found = find_flyway_config(&migrations).expect("found in a parent");
        assert!(found.ends_with("flyway.toml"));
        let c = load_flyway_config(&found, &|_| None).expect("loads");
        assert!(!c.syntax.replace);
        assert_eq!(
            c.placeholders
                .iter()
                .map(|(k, v)| (k.as_str(), v.value.as_deref()))
                .collect::<Vec<_>>(),
            vec![("schema", Some("app")), ("size", Some("10"))]
        );
        // conf/flyway.conf in the nearer directory wins over the parent's flyway.toml.
        std::fs::create_dir_all(dir.path().join("db/conf")).expect("mkdir");
        std::fs::write(dir.path().join("db/conf/flyway.conf"), "").expect("write");
        assert!(find_flyway_config(&dir.path().join("db"))
            .expect("found")
            .ends_with("conf/flyway.conf"));
        let bad = dir.path().join("bad.toml");
        std::fs::write(&bad, "[flyway\n").expect("write");
        assert!(load_flyway_config(&bad, &|_| None).is_err());
    }

    #[test]
    fn environment_placeholders_are_lowercased_like_flyway() {
        let mut syntax = FlywaySyntax::default();
        let got = env_placeholders(
            vec![
                ("FLYWAY_PLACEHOLDERS_SCHEMA".to_string(), "app".to_string()),
                ("FLYWAY_PLACEHOLDER_PREFIX".to_string(), "@{".to_string()),
                ("PATH".to_string(), "/bin".to_string()),
            ]
            .into_iter(),
            &mut syntax,
        );
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].0, "schema");
        assert_eq!(syntax.prefix, "@{");
    }
}
