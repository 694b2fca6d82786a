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

/// `pg_proc.provolatile` per function name and major version (13–18), generated from real
/// servers by `scripts/gen-pg-facts` (built-ins plus uuid-ossp and pgcrypto).
const FUNCTION_VOLATILITY: &str = include_str!("../../data/function-volatility.tsv");

/// Whether a function called by this name can be volatile on some supported version: `None`
/// when PostgreSQL has no built-in function of that name (a user's function: unknown).
pub fn builtin_may_be_volatile(name: &str) -> Option<bool> {
    static TABLE: std::sync::OnceLock<std::collections::HashMap<&'static str, bool>> =
        std::sync::OnceLock::new();
    let table = TABLE.get_or_init(|| {
        FUNCTION_VOLATILITY
            .lines()
            .filter(|l| !l.starts_with('#') && !l.starts_with("function\t"))
            .filter_map(|l| {
                let mut cells = l.split('\t');
                let name = cells.next()?;
                Some((name, cells.any(|c| c == "v" || c == "m")))
            })
            .collect()
    });
    table.get(name).copied()
}

/// Classifies a default expression from PostgreSQL's own volatility of the functions it calls.
/// Functions we do not know (a user's, or schema-qualified outside pg_catalog) are assumed
/// volatile, since that is PostgreSQL's default for user-defined functions.
pub fn default_kind(expr: &protobuf::Node) -> DefaultKind {
    default_kind_with(expr, &|_| None)
}

/// [`default_kind`] knowing the user's functions: `user(name)` is `Some(true)` when a function
/// of that name is volatile (some overload), `Some(false)` when none is (from the database's
/// `pg_proc`, or a CREATE FUNCTION earlier in the run).
pub fn default_kind_with(
    expr: &protobuf::Node,
    user: &dyn Fn(&str) -> Option<bool>,
) -> DefaultKind {
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
            let qualified_elsewhere = f.funcname.len() > 1
                && f.funcname.first().and_then(string_value) != Some("pg_catalog");
            let volatile = match user(&name) {
                Some(v) => v,
                None => qualified_elsewhere || builtin_may_be_volatile(&name).unwrap_or(true),
            };
            if volatile {
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
            column_name(nt.arg.as_deref()?)
        }
        NodeEnum::BoolExpr(b) if b.boolop == protobuf::BoolExprType::AndExpr as i32 => {
            b.args.iter().find_map(not_null_check_column)
        }
        // NOT (col IS NULL): PostgreSQL's predicate proof treats it as col IS NOT NULL.
        NodeEnum::BoolExpr(b) if b.boolop == protobuf::BoolExprType::NotExpr as i32 => {
            match b.args.first()?.node.as_ref()? {
                NodeEnum::NullTest(nt)
                    if nt.nulltesttype == protobuf::NullTestType::IsNull as i32 =>
                {
                    column_name(nt.arg.as_deref()?)
                }
                _ => None,
            }
        }
        _ => None,
    }
}

/// The column a plain column reference names (its last field).
pub(crate) fn column_name(expr: &protobuf::Node) -> Option<String> {
    match expr.node.as_ref()? {
        NodeEnum::ColumnRef(cr) => cr
            .fields
            .iter()
            .filter_map(string_value)
            .next_back()
            .map(str::to_string),
        _ => None,
    }
}

/// The column names an expression refers to (the last field of each column reference).
pub fn column_refs(expr: &protobuf::Node) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    visit(expr, &mut |n| {
        if let NodeEnum::ColumnRef(cr) = n {
            if let Some(name) = cr.fields.iter().filter_map(string_value).next_back() {
                if !out.iter().any(|o| o == name) {
                    out.push(name.to_string());
                }
            }
        }
    });
    out
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

    /// Volatility comes from PostgreSQL's catalog (data/function-volatility.tsv), not a hand
    /// list: the stable functions a hand list called volatile are not, and functions the hand
    /// list never named are classified.
    #[test]
    fn volatility_follows_pg_proc() {
        for d in [
            "txid_current()",
            "pg_current_xact_id()",
            "to_char(now(), 'YYYY')",
            "pg_catalog.now()",
            "date_part('year', now())",
        ] {
            assert_eq!(default_of(d), DefaultKind::NonVolatile, "{d}");
        }
        for (d, f) in [
            ("random()", "random"),
            ("gen_random_uuid()", "gen_random_uuid"),
            ("uuid_generate_v4()", "uuid_generate_v4"),
            ("encode(gen_random_bytes(16), 'hex')", "gen_random_bytes"),
            ("clock_timestamp()", "clock_timestamp"),
            ("uuidv7()", "uuidv7"),
            ("my_own_function()", "my_own_function"),
            ("app.now()", "now"),
        ] {
            assert_eq!(default_of(d), DefaultKind::Volatile(f.into()), "{d}");
        }
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

/// A `CREATE FUNCTION` PostgreSQL inlines into the expression that calls it, whose body is
/// not volatile — so a call is not volatile whatever the function declares (PostgreSQL's
/// `inline_function`: a `LANGUAGE sql` function, not `SECURITY DEFINER`, no `SET`, not
/// `SETOF`, whose body is one `SELECT <expression>` with nothing else, or `RETURN <expression>`;
/// a volatile function may inline into anything, a STABLE or IMMUTABLE one only into an
/// expression no more volatile than declared, which cannot make it volatile). `user` says
/// whether a user function the body calls is volatile.
pub fn sql_function_inlines_non_volatile(
    f: &protobuf::CreateFunctionStmt,
    user: &dyn Fn(&str) -> Option<bool>,
) -> bool {
    let mut sql = false;
    let mut body: Option<String> = None;
    for o in &f.options {
        let Some(NodeEnum::DefElem(d)) = o.node.as_ref() else {
            continue;
        };
        let arg = d.arg.as_deref().and_then(|a| a.node.as_ref());
        match d.defname.as_str() {
            "language" => {
                sql = matches!(arg, Some(NodeEnum::String(s)) if s.sval.eq_ignore_ascii_case("sql"))
            }
            "security" => {
                if matches!(arg, Some(NodeEnum::Boolean(b)) if b.boolval)
                    || matches!(arg, Some(NodeEnum::Integer(i)) if i.ival != 0)
                {
                    return false;
                }
            }
            "set" => return false,
            "as" => {
                if let Some(NodeEnum::List(l)) = arg {
                    if l.items.len() != 1 {
                        return false;
                    }
                    body = l.items.first().and_then(string_value).map(str::to_string);
                }
            }
            _ => {}
        }
    }
    if !sql || f.return_type.as_ref().is_some_and(|t| t.setof) {
        return false;
    }
    let expr: protobuf::Node = if let Some(b) = f.sql_body.as_deref() {
        // `RETURN expr` (PostgreSQL 14+): sql_body is a ReturnStmt.
        match b.node.as_ref() {
            Some(NodeEnum::ReturnStmt(r)) => match r.returnval.as_deref() {
                Some(e) => e.clone(),
                None => return false,
            },
            _ => return false,
        }
    } else {
        let Some(body) = body else { return false };
        let Ok(parsed) = crate::parse::parse_sql(&body) else {
            return false;
        };
        let [stmt] = parsed.statements.as_slice() else {
            return false;
        };
        let Some(NodeEnum::SelectStmt(s)) = stmt.node.as_ref() else {
            return false;
        };
        let plain = s.from_clause.is_empty()
            && s.where_clause.is_none()
            && s.group_clause.is_empty()
            && s.having_clause.is_none()
            && s.window_clause.is_empty()
            && s.values_lists.is_empty()
            && s.sort_clause.is_empty()
            && s.limit_count.is_none()
            && s.limit_offset.is_none()
            && s.locking_clause.is_empty()
            && s.with_clause.is_none()
            && s.distinct_clause.is_empty()
            && s.into_clause.is_none()
            && s.larg.is_none()
            && s.target_list.len() == 1;
        if !plain {
            return false;
        }
        match s.target_list[0].node.as_ref() {
            Some(NodeEnum::ResTarget(r)) => match r.val.as_deref() {
                Some(e) => e.clone(),
                None => return false,
            },
            _ => return false,
        }
    };
    // Sub-selects, aggregates, window functions and set-returning calls stop the inlining.
    let mut blocks = false;
    visit(&expr, &mut |n| match n {
        NodeEnum::SubLink(_) => blocks = true,
        NodeEnum::FuncCall(fc) if fc.agg_star || fc.over.is_some() || !fc.agg_order.is_empty() => {
            blocks = true
        }
        _ => {}
    });
    !blocks && matches!(default_kind_with(&expr, user), DefaultKind::NonVolatile)
}

#[cfg(test)]
mod inline_tests {
    use super::*;

    fn inlines(sql: &str) -> bool {
        let parsed = crate::parse::parse_sql(sql).unwrap();
        let Some(NodeEnum::CreateFunctionStmt(f)) = parsed.statements[0].node.as_ref() else {
            panic!("not a CREATE FUNCTION: {sql}");
        };
        sql_function_inlines_non_volatile(f, &|n| (n == "user_volatile").then_some(true))
    }

    #[test]
    fn a_volatile_sql_function_returning_a_constant_inlines_to_a_constant() {
        assert!(inlines(
            "CREATE FUNCTION f() RETURNS int LANGUAGE sql VOLATILE AS 'SELECT 1'"
        ));
        assert!(inlines(
            "CREATE FUNCTION f(a int) RETURNS int LANGUAGE sql AS $$ SELECT a + 1 $$"
        ));
        assert!(inlines(
            "CREATE FUNCTION f() RETURNS int LANGUAGE sql RETURN 2"
        ));
        assert!(inlines(
            "CREATE FUNCTION f() RETURNS text LANGUAGE sql AS 'SELECT upper(''x'')'"
        ));
    }

    #[test]
    fn what_postgresql_does_not_inline_keeps_its_declared_volatility() {
        for sql in [
            "CREATE FUNCTION f() RETURNS int LANGUAGE sql AS 'SELECT (random() * 10)::int'",
            "CREATE FUNCTION f() RETURNS int LANGUAGE sql AS 'SELECT user_volatile()'",
            "CREATE FUNCTION f() RETURNS int LANGUAGE sql SECURITY DEFINER AS 'SELECT 1'",
            "CREATE FUNCTION f() RETURNS int LANGUAGE sql SET search_path = public AS 'SELECT 1'",
            "CREATE FUNCTION f() RETURNS SETOF int LANGUAGE sql AS 'SELECT 1'",
            "CREATE FUNCTION f() RETURNS int LANGUAGE plpgsql AS 'BEGIN RETURN 1; END'",
            "CREATE FUNCTION f() RETURNS bigint LANGUAGE sql AS 'SELECT count(*) FROM t'",
            "CREATE FUNCTION f() RETURNS int LANGUAGE sql AS 'SELECT 1; SELECT 2'",
            "CREATE FUNCTION f() RETURNS int LANGUAGE sql AS 'SELECT (SELECT 1)'",
        ] {
            assert!(!inlines(sql), "{sql}");
        }
    }
}
