//! Expressions in DDL: volatility of defaults and the shape of CHECK constraints.

use pg_query::protobuf;
use pg_query::NodeEnum;

use super::names::string_value;

/// How a default expression behaves when PostgreSQL adds a column with it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DefaultKind {
    /// Constants and stable functions (`now()`): evaluated once, stored in the catalog.
    NonVolatile,
    /// Evaluated per row: the table is rewritten. Holds the function name that makes it so.
    Volatile(String),
}

/// Functions PostgreSQL marks VOLATILE that commonly appear in defaults.
const VOLATILE_FUNCTIONS: &[&str] = &[
    "random",
    "gen_random_uuid",
    "uuid_generate_v1",
    "uuid_generate_v1mc",
    "uuid_generate_v4",
    "uuidv4",
    "uuidv7",
    "clock_timestamp",
    "timeofday",
    "nextval",
    "setseed",
    "txid_current",
    "pg_current_xact_id",
    "random_normal",
    "gen_random_bytes",
    "uuid_generate_v7",
];

/// Built-in functions that are IMMUTABLE or STABLE (safe as a fast default).
const NON_VOLATILE_FUNCTIONS: &[&str] = &[
    "now",
    "statement_timestamp",
    "transaction_timestamp",
    "current_date",
    "current_timestamp",
    "localtimestamp",
    "lower",
    "upper",
    "coalesce",
    "concat",
    "length",
    "to_jsonb",
    "jsonb_build_object",
    "json_build_object",
    "jsonb_build_array",
    "array",
    "make_interval",
    "to_timestamp",
    "date_trunc",
    "abs",
    "round",
    "greatest",
    "least",
    "md5",
    "format",
    "replace",
    "trim",
    "btrim",
    "interval",
    "timezone",
    "current_setting",
    "inet_client_addr",
    "current_user",
    "session_user",
    "make_date",
];

/// Classifies a default expression. Functions we do not know are assumed volatile, since
/// that is PostgreSQL's default for user-defined functions.
pub fn default_kind(expr: &protobuf::Node) -> DefaultKind {
    let mut found = None;
    visit(expr, &mut |n| {
        if found.is_some() {
            return;
        }
        if let NodeEnum::FuncCall(f) = n {
            let name = f
                .funcname
                .iter()
                .filter_map(string_value)
                .next_back()
                .unwrap_or("")
                .to_string();
            if VOLATILE_FUNCTIONS.contains(&name.as_str())
                || !NON_VOLATILE_FUNCTIONS.contains(&name.as_str())
            {
                found = Some(name);
            }
        }
    });
    match found {
        Some(name) => DefaultKind::Volatile(name),
        None => DefaultKind::NonVolatile,
    }
}

/// The columns `expr` proves NOT NULL: `a IS NOT NULL`, and every such term of an AND.
pub fn not_null_check_columns(expr: &protobuf::Node) -> Vec<String> {
    let mut out = Vec::new();
    collect_not_null(expr, &mut out);
    out
}

fn collect_not_null(expr: &protobuf::Node, out: &mut Vec<String>) {
    match expr.node.as_ref() {
        Some(NodeEnum::BoolExpr(b)) if b.boolop == protobuf::BoolExprType::AndExpr as i32 => {
            for a in &b.args {
                collect_not_null(a, out);
            }
        }
        _ => out.extend(not_null_check_column(expr)),
    }
}

/// If `expr` is `col IS NOT NULL` (possibly AND-ed with more), the first such column.
pub fn not_null_check_column(expr: &protobuf::Node) -> Option<String> {
    match expr.node.as_ref()? {
        NodeEnum::NullTest(nt) if nt.nulltesttype == protobuf::NullTestType::IsNotNull as i32 => {
            match nt.arg.as_ref()?.node.as_ref()? {
                NodeEnum::ColumnRef(cr) => cr
                    .fields
                    .iter()
                    .filter_map(string_value)
                    .next_back()
                    .map(str::to_string),
                _ => None,
            }
        }
        NodeEnum::BoolExpr(b) if b.boolop == protobuf::BoolExprType::AndExpr as i32 => {
            b.args.iter().find_map(not_null_check_column)
        }
        _ => None,
    }
}

/// Calls `f` on every node of an expression tree (pre-order). Iterative, so deep nesting
/// cannot overflow the stack.
pub fn visit(root: &protobuf::Node, f: &mut dyn FnMut(&NodeEnum)) {
    let Some(root) = root.node.as_ref() else {
        return;
    };
    for (node, _, _, _) in root.nodes() {
        f(&node.to_enum());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn default_of(sql_default: &str) -> DefaultKind {
        let sql = format!("ALTER TABLE t ADD COLUMN c int DEFAULT {sql_default}");
        let parsed = crate::parse::parse_sql(&sql).unwrap();
        let Some(NodeEnum::AlterTableStmt(a)) = &parsed.statements[0].node else {
            panic!()
        };
        let Some(NodeEnum::AlterTableCmd(cmd)) = &a.cmds[0].node else {
            panic!()
        };
        let Some(NodeEnum::ColumnDef(cd)) = cmd.def.as_ref().unwrap().node.as_ref() else {
            panic!()
        };
        let expr = cd.constraints.iter().find_map(|c| match c.node.as_ref()? {
            NodeEnum::Constraint(c) => c.raw_expr.clone(),
            _ => None,
        });
        default_kind(&expr.unwrap())
    }

    #[test]
    fn constants_and_stable_functions_are_not_volatile() {
        for d in [
            "5",
            "'x'",
            "now()",
            "CURRENT_TIMESTAMP",
            "'{}'::jsonb",
            "lower('A')",
            "-1",
        ] {
            assert_eq!(default_of(d), DefaultKind::NonVolatile, "{d}");
        }
    }

    #[test]
    fn volatile_and_unknown_functions_are_volatile() {
        assert_eq!(
            default_of("random()"),
            DefaultKind::Volatile("random".into())
        );
        assert_eq!(
            default_of("gen_random_uuid()"),
            DefaultKind::Volatile("gen_random_uuid".into())
        );
        assert_eq!(
            default_of("nextval('s')"),
            DefaultKind::Volatile("nextval".into())
        );
        assert_eq!(
            default_of("my_func()"),
            DefaultKind::Volatile("my_func".into())
        );
        assert_eq!(
            default_of("(clock_timestamp() + interval '1 day')"),
            DefaultKind::Volatile("clock_timestamp".into())
        );
    }
}
