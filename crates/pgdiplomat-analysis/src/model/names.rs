//! Relation names as written in migrations, and the helpers that read them off parse trees.

use std::fmt;

use pg_query::protobuf::{self, RangeVar};
use pg_query::NodeEnum;

/// A possibly schema-qualified relation name. Identifiers are as PostgreSQL folded them.
#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize)]
pub struct RelName {
    pub schema: Option<String>,
    pub name: String,
}

impl RelName {
    pub fn new(schema: Option<&str>, name: &str) -> Self {
        RelName {
            schema: schema.filter(|s| !s.is_empty()).map(str::to_string),
            name: name.to_string(),
        }
    }

    pub fn from_range_var(rv: &RangeVar) -> Self {
        RelName::new(Some(&rv.schemaname), &rv.relname)
    }

    /// Reads `[schema.]name` from a list of String nodes (DROP objects, qualified names).
    pub fn from_name_list(items: &[protobuf::Node]) -> Option<Self> {
        let parts: Vec<&str> = items.iter().filter_map(string_value).collect();
        match parts.as_slice() {
            [name] => Some(RelName::new(None, name)),
            [schema, name] => Some(RelName::new(Some(schema), name)),
            [_, schema, name] => Some(RelName::new(Some(schema), name)),
            _ => None,
        }
    }

    /// The key used to recognise the same relation across statements: the schema is dropped
    /// when it is `public` (the usual search_path).
    pub fn key(&self) -> String {
        match self.schema.as_deref() {
            None | Some("public") => self.name.clone(),
            Some(s) => format!("{s}.{}", self.name),
        }
    }

    /// The name quoted for use in generated SQL.
    pub fn quoted(&self) -> String {
        match &self.schema {
            Some(s) => format!("{}.{}", quote_ident(s), quote_ident(&self.name)),
            None => quote_ident(&self.name),
        }
    }
}

impl fmt::Display for RelName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.schema {
            Some(s) => write!(f, "{s}.{}", self.name),
            None => f.write_str(&self.name),
        }
    }
}

/// Quotes an identifier when PostgreSQL would need it (upper case, special characters,
/// keywords); doubles embedded quotes.
pub fn quote_ident(ident: &str) -> String {
    let plain = !ident.is_empty()
        && ident
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_lowercase() || c == '_')
        && ident
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '$')
        && !is_keyword(ident);
    if plain {
        ident.to_string()
    } else {
        format!("\"{}\"", ident.replace('"', "\"\""))
    }
}

/// Whether `ident` is a keyword that must be quoted — as PostgreSQL's `quote_identifier`
/// decides: every keyword except the unreserved ones (`name`, `type`, `value` stay bare).
fn is_keyword(ident: &str) -> bool {
    match pg_query::scan_tokens(ident) {
        Ok(tokens) => {
            let kind = tokens.first().map(|t| t.keyword_kind);
            !(tokens.len() == 1
                && (kind == Some(protobuf::KeywordKind::NoKeyword as i32)
                    || kind == Some(protobuf::KeywordKind::UnreservedKeyword as i32)))
        }
        Err(_) => true,
    }
}

/// The string value of a `String` node.
pub fn string_value(node: &protobuf::Node) -> Option<&str> {
    match node.node.as_ref()? {
        NodeEnum::String(s) => Some(s.sval.as_str()),
        _ => None,
    }
}

/// The names in a list of String nodes, e.g. column lists.
pub fn string_list(nodes: &[protobuf::Node]) -> Vec<String> {
    nodes
        .iter()
        .filter_map(string_value)
        .map(str::to_string)
        .collect()
}

/// PostgreSQL's NAMEDATALEN: identifiers are at most 63 bytes.
pub const NAMEDATALEN: usize = 64;

/// The longest prefix of `s` of at most `max` bytes that ends on a character boundary.
fn clip(s: &str, max: usize) -> &str {
    let mut end = max.min(s.len());
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

/// PostgreSQL's `makeObjectName`: `name1_name2_label`, the longer of `name1` and `name2`
/// shortened until the result fits in NAMEDATALEN − 1 bytes.
pub fn make_object_name(name1: &str, name2: Option<&str>, label: &str) -> String {
    let mut overhead = 0;
    if name2.is_some() {
        overhead += 1;
    }
    if !label.is_empty() {
        overhead += label.len() + 1;
    }
    let avail = (NAMEDATALEN - 1).saturating_sub(overhead);
    let (mut n1, mut n2) = (name1.len(), name2.map_or(0, str::len));
    while n1 + n2 > avail {
        if n1 > n2 {
            n1 -= 1;
        } else {
            n2 -= 1;
        }
    }
    let mut out = clip(name1, n1).to_string();
    if let Some(name2) = name2 {
        out.push('_');
        out.push_str(clip(name2, n2));
    }
    if !label.is_empty() {
        out.push('_');
        out.push_str(label);
    }
    out
}

/// PostgreSQL's `ChooseIndexNameAddition` / `ChooseForeignKeyConstraintNameAddition`: the
/// names joined by `_`, stopping once NAMEDATALEN bytes are reached.
pub fn name_addition(names: &[String]) -> String {
    let mut out = String::new();
    for n in names {
        if !out.is_empty() {
            out.push('_');
        }
        out.push_str(clip(n, NAMEDATALEN - 1));
        if out.len() >= NAMEDATALEN {
            break;
        }
    }
    out
}

/// PostgreSQL's `ChooseIndexColumnNames`: each index column's name (`expr` for an
/// expression), made unique by appending 1, 2, ...
pub fn index_column_names(elems: &[protobuf::Node]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for e in elems {
        let orig = match e.node.as_ref() {
            Some(NodeEnum::IndexElem(ie)) if !ie.indexcolname.is_empty() => ie.indexcolname.clone(),
            Some(NodeEnum::IndexElem(ie)) if !ie.name.is_empty() => ie.name.clone(),
            _ => "expr".to_string(),
        };
        let mut name = orig.clone();
        let mut suffix = 1;
        while out.contains(&name) {
            let n = suffix.to_string();
            name = format!("{}{n}", clip(&orig, NAMEDATALEN - 1 - n.len()));
            suffix += 1;
        }
        out.push(name);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn object_names_are_shortened_as_postgres_does() {
        assert_eq!(make_object_name("t", Some("a"), "key"), "t_a_key");
        assert_eq!(make_object_name("t", None, "pkey"), "t_pkey");
        let long = "x".repeat(60);
        let n = make_object_name(&long, Some("col"), "check");
        assert_eq!(n.len(), 63);
        assert_eq!(n, format!("{}_col_check", "x".repeat(53)));
        // Never splits a character.
        let n = make_object_name(&"é".repeat(40), None, "pkey");
        assert!(n.len() <= 63 && n.ends_with("_pkey"), "{n}");
    }

    #[test]
    fn quote_ident_quotes_only_when_needed() {
        assert_eq!(quote_ident("users_user"), "users_user");
        assert_eq!(quote_ident("User"), "\"User\"");
        assert_eq!(quote_ident("a\"b"), "\"a\"\"b\"");
        assert_eq!(quote_ident("select"), "\"select\"");
        assert_eq!(quote_ident("user"), "\"user\"");
        assert_eq!(quote_ident("name"), "name");
        assert_eq!(quote_ident("type"), "type");
        assert_eq!(quote_ident("1abc"), "\"1abc\"");
        assert_eq!(quote_ident(""), "\"\"");
    }

    #[test]
    fn public_schema_is_the_default_key() {
        assert_eq!(
            RelName::new(Some("public"), "t").key(),
            RelName::new(None, "t").key()
        );
        assert_ne!(
            RelName::new(Some("app"), "t").key(),
            RelName::new(None, "t").key()
        );
    }
}
