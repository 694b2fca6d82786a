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

#[cfg(test)]
mod tests {
    use super::*;

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
