//! Column types as far as the lock model needs them: which `ALTER COLUMN TYPE` changes are
//! binary coercible (no table rewrite) and which rewrite every row.

use pg_query::protobuf::{self, TypeName};
use pg_query::NodeEnum;

use super::names::string_value;

/// A column type reduced to its base name and modifiers, e.g. `varchar(20)` →
/// `{ name: "varchar", mods: [20] }`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ColumnType {
    pub name: String,
    pub mods: Vec<i64>,
    pub array: bool,
}

impl ColumnType {
    pub fn from_type_name(tn: &TypeName) -> Option<ColumnType> {
        let parts: Vec<&str> = tn.names.iter().filter_map(string_value).collect();
        let last = *parts.last()?;
        let name = canonical(last).to_string();
        let mods = tn
            .typmods
            .iter()
            .filter_map(|m| match m.node.as_ref()? {
                NodeEnum::AConst(c) => match c.val.as_ref()? {
                    protobuf::a_const::Val::Ival(i) => Some(i.ival as i64),
                    _ => None,
                },
                NodeEnum::Integer(i) => Some(i.ival as i64),
                _ => None,
            })
            .collect();
        Some(ColumnType {
            name,
            mods,
            array: !tn.array_bounds.is_empty(),
        })
    }

    /// Parses a type as SQL writes it (`character varying(10)`, `bigint[]`, ...).
    pub fn parse(sql_type: &str) -> Option<ColumnType> {
        let parsed = crate::parse::parse_sql(&format!("CREATE TABLE x (c {sql_type})")).ok()?;
        let node = parsed.statements.into_iter().next()?.node?;
        let NodeEnum::CreateStmt(c) = node else {
            return None;
        };
        let NodeEnum::ColumnDef(cd) = c.table_elts.first()?.node.as_ref()? else {
            return None;
        };
        ColumnType::from_type_name(cd.type_name.as_ref()?)
    }

    /// Type names that always mean an auto-increment column.
    pub fn is_serial(&self) -> bool {
        matches!(
            self.name.as_str(),
            "serial" | "bigserial" | "smallserial" | "serial4" | "serial8" | "serial2"
        )
    }
}

impl std::fmt::Display for ColumnType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The spelling users write, not the internal name.
        let name = match self.name.as_str() {
            "int2" => "smallint",
            "int4" => "integer",
            "int8" => "bigint",
            "float4" => "real",
            "float8" => "double precision",
            "bool" => "boolean",
            "bpchar" => "char",
            "varbit" => "bit varying",
            other => other,
        };
        f.write_str(name)?;
        if !self.mods.is_empty() {
            let mods: Vec<String> = self.mods.iter().map(|m| m.to_string()).collect();
            write!(f, "({})", mods.join(","))?;
        }
        if self.array {
            f.write_str("[]")?;
        }
        Ok(())
    }
}

fn canonical(name: &str) -> &str {
    match name {
        "int" | "integer" | "int4" => "int4",
        "bigint" | "int8" => "int8",
        "smallint" | "int2" => "int2",
        "varchar" | "character varying" => "varchar",
        "bpchar" | "char" | "character" => "bpchar",
        "decimal" | "numeric" => "numeric",
        "timestamp" | "timestamp without time zone" => "timestamp",
        "timestamptz" | "timestamp with time zone" => "timestamptz",
        "float8" | "double precision" => "float8",
        "float4" | "real" => "float4",
        "bool" | "boolean" => "bool",
        "varbit" | "bit varying" => "varbit",
        other => other,
    }
}

/// Whether changing a column from `old` to `new` keeps every stored value as it is (PostgreSQL
/// then skips the table rewrite). Mirrors the cases PostgreSQL treats as binary coercible or
/// as a no-op length coercion.
pub fn is_binary_coercible(old: &ColumnType, new: &ColumnType) -> bool {
    if old.array != new.array {
        return false;
    }
    if old == new {
        return true;
    }
    let widens = |old_len: Option<&i64>, new_len: Option<&i64>| match (old_len, new_len) {
        (_, None) => true,
        (Some(o), Some(n)) => n >= o,
        (None, Some(_)) => false,
    };
    match (old.name.as_str(), new.name.as_str()) {
        // A cast without a function (pg_cast, data/binary-coercible-casts.tsv: varchar → text,
        // cidr → inet, bit → varbit ...), then no length coercion or one that only widens.
        // (char(n) → text strips trailing blanks with a function: a rewrite.)
        (o, n) if o != n && cast_is_binary_coercible(o, n) => {
            // (bit(4) → varbit(4) is measured to rewrite: the length coercion after the cast
            // is not recognised as a no-op.)
            new.mods.is_empty()
        }
        ("varchar", "varchar") => widens(old.mods.first(), new.mods.first()),
        ("varbit", "varbit") => widens(old.mods.first(), new.mods.first()),
        ("numeric", "numeric") => match (old.mods.as_slice(), new.mods.as_slice()) {
            (_, []) => true,
            ([p1], [p2]) => p2 >= p1,
            ([p1, s1], [p2, s2]) => s1 == s2 && p2 >= p1,
            ([p1], [p2, 0]) => p2 >= p1,
            _ => false,
        },
        ("timestamp", "timestamp")
        | ("timestamptz", "timestamptz")
        | ("time", "time")
        | ("interval", "interval") => widens(old.mods.first(), new.mods.first()),
        _ => false,
    }
}

const BINARY_COERCIBLE_CASTS: &str = include_str!("../../data/binary-coercible-casts.tsv");

/// Whether `pg_cast` has a binary-coercible cast (no function) from `source` to `target` on
/// every supported version (generated from real servers: data/binary-coercible-casts.tsv).
pub fn cast_is_binary_coercible(source: &str, target: &str) -> bool {
    static CASTS: std::sync::OnceLock<std::collections::HashSet<String>> =
        std::sync::OnceLock::new();
    let casts = CASTS.get_or_init(|| {
        BINARY_COERCIBLE_CASTS
            .lines()
            .filter(|l| !l.starts_with('#') && !l.starts_with("cast\t") && !l.is_empty())
            .filter_map(|l| {
                let mut cells = l.split('\t');
                let key = cells.next()?;
                cells.all(|c| c == "b").then(|| key.to_string())
            })
            .collect()
    });
    casts.contains(&format!("{source}>{target}"))
}

/// For an unknown old type: whether the new type is one that *some* old type reaches
/// without a rewrite (text, unbounded or wider varchar, unconstrained numeric ...).
pub fn may_be_binary_coercible(new: &ColumnType) -> bool {
    matches!(
        new.name.as_str(),
        "text" | "varchar" | "numeric" | "varbit" | "inet"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ty(sql_type: &str) -> ColumnType {
        let sql = format!("CREATE TABLE x (c {sql_type})");
        let parsed = crate::parse::parse_sql(&sql).unwrap();
        let Some(NodeEnum::CreateStmt(c)) = &parsed.statements[0].node else {
            panic!()
        };
        let Some(NodeEnum::ColumnDef(cd)) = &c.table_elts[0].node else {
            panic!()
        };
        ColumnType::from_type_name(cd.type_name.as_ref().unwrap()).unwrap()
    }

    #[test]
    fn the_no_rewrite_changes() {
        for (old, new) in [
            ("varchar(10)", "varchar(20)"),
            ("varchar(10)", "varchar"),
            ("varchar(10)", "text"),
            ("character varying(10)", "text"),
            ("text", "varchar"),
            ("numeric(10,2)", "numeric(12,2)"),
            ("numeric(10,2)", "numeric"),
            ("decimal(10)", "numeric(12)"),
            ("timestamp(3)", "timestamp(6)"),
            ("cidr", "inet"),
        ] {
            assert!(is_binary_coercible(&ty(old), &ty(new)), "{old} -> {new}");
        }
    }

    #[test]
    fn the_rewriting_changes() {
        for (old, new) in [
            ("int", "bigint"),
            ("varchar(20)", "varchar(10)"),
            ("text", "varchar(10)"),
            ("numeric(10,2)", "numeric(12,3)"),
            ("numeric(10,2)", "numeric(8,2)"),
            ("timestamp", "timestamptz"),
            ("int[]", "bigint[]"),
            ("text", "text[]"),
        ] {
            assert!(!is_binary_coercible(&ty(old), &ty(new)), "{old} -> {new}");
        }
    }

    #[test]
    fn aliases_are_canonical() {
        assert_eq!(ty("integer"), ty("int4"));
        assert_eq!(ty("character varying(5)").to_string(), "varchar(5)");
        assert!(ty("bigserial").is_serial());
    }
}
