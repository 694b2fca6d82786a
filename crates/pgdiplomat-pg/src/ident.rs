//! SQL identifier quoting.

/// Quotes `name` as a PostgreSQL identifier: wraps it in double quotes and
/// doubles any double quote inside, so `a"b` becomes `"a""b"`.
///
/// The result is always quoted. That is never wrong, and unlike quoting only
/// "when needed" it does not depend on the keyword list of a particular
/// PostgreSQL version: reserved words (`"select"`) and names with upper-case
/// letters (`"Users"`, which unquoted would fold to `users`) stay exactly as
/// given.
pub fn quote_ident(name: &str) -> String {
    let mut out = String::with_capacity(name.len() + 2);
    out.push('"');
    for c in name.chars() {
        if c == '"' {
            out.push('"');
        }
        out.push(c);
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::quote_ident;

    #[test]
    fn doubles_inner_quotes() {
        assert_eq!(quote_ident(r#"a"b"#), r#""a""b""#);
        assert_eq!(quote_ident(r#""""#), r#""""""""#);
    }

    #[test]
    fn keeps_case_and_reserved_words() {
        assert_eq!(quote_ident("Users"), r#""Users""#);
        assert_eq!(quote_ident("select"), r#""select""#);
        assert_eq!(quote_ident(""), r#""""#);
    }
}
