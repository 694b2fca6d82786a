//! Reads the schema of a live database into the analyser's [`SchemaState`], so predictions
//! know existing column types (a binary-coercible type change is not a rewrite), validated
//! CHECK constraints (SET NOT NULL without a scan), foreign keys and indexes, which tables are
//! partitioned and their partitions (and which is the DEFAULT one), plain inheritance children,
//! the columns each index and constraint uses, sequences owned by columns, and which views
//! and materialized views read each relation (what CASCADE reaches).

use pgdiplomat_analysis::model::schema::{ConstraintKind, DomainState};
use pgdiplomat_analysis::model::{ColumnType, RelName, SchemaState};
use pgdiplomat_pg::postgres::Client;

use crate::PgError;

fn rel(schema: &str, name: &str) -> RelName {
    RelName::new(Some(schema), name)
}

/// Adds every user table's columns, constraints and indexes to `state`.
pub fn load_schema(client: &mut Client, state: &mut SchemaState) -> Result<(), PgError> {
    const USER: &str =
        "n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\\_%'";
    for row in client.query(
        &format!(
            "SELECT n.nspname, c.relname, a.attname, format_type(a.atttypid, a.atttypmod), a.attnotnull
               FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace
              WHERE c.relkind IN ('r', 'p', 'm', 'f') AND a.attnum > 0 AND NOT a.attisdropped AND {USER}"
        ),
        &[],
    )? {
        let ty: String = row.get(3);
        state.learn_existing_column(&rel(row.get(0), row.get(1)), row.get(2), ColumnType::parse(&ty), row.get(4));
    }
    for row in client.query(
        &format!(
            "SELECT n.nspname, c.relname, c.relkind = 'p', c.relkind = 'f',
                    c.relkind = 'r' AND pg_relation_size(c.oid) = 0
               FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
              WHERE c.relkind IN ('r', 'p', 'f') AND {USER}"
        ),
        &[],
    )? {
        let table = rel(row.get(0), row.get(1));
        if row.get::<_, bool>(3) {
            state.learn_foreign_table(&table);
        } else {
            state.learn_existing_table(&table, row.get(2));
        }
        if row.get::<_, bool>(4) {
            state.learn_empty_table(&table);
        }
    }
    for row in client.query(
        &format!(
            "SELECT n.nspname, c.relname, pg_get_partkeydef(c.oid)
               FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
              WHERE c.relkind = 'p' AND {USER}"
        ),
        &[],
    )? {
        state.learn_partition_key(&rel(row.get(0), row.get(1)), row.get(2));
    }
    for row in client.query(
        &format!(
            "SELECT pn.nspname, p.relname, n.nspname, c.relname, c.relispartition,
                    coalesce(pg_get_expr(c.relpartbound, c.oid) = 'DEFAULT', false)
               FROM pg_inherits i JOIN pg_class p ON p.oid = i.inhparent JOIN pg_namespace pn ON pn.oid = p.relnamespace
               JOIN pg_class c ON c.oid = i.inhrelid JOIN pg_namespace n ON n.oid = c.relnamespace
              WHERE p.relkind IN ('r', 'p', 'f') AND c.relkind IN ('r', 'p', 'f') AND {USER}
              ORDER BY c.relname"
        ),
        &[],
    )? {
        let (parent, child) = (rel(row.get(0), row.get(1)), rel(row.get(2), row.get(3)));
        if row.get::<_, bool>(5) {
            state.learn_default_partition(&parent, &child);
        } else if row.get::<_, bool>(4) {
            state.learn_partition(&parent, &child);
        } else {
            state.learn_inheritance(&parent, &child);
        }
    }
    for row in client.query(
        &format!(
            "SELECT n.nspname, c.relname, k.conname, k.contype::text, k.convalidated, pg_get_constraintdef(k.oid),
                    fn.nspname, f.relname,
                    ARRAY(SELECT a.attname::text FROM pg_attribute a
                           WHERE a.attrelid = k.confrelid AND a.attnum = ANY (k.confkey)),
                    ARRAY(SELECT a.attname::text FROM pg_attribute a
                           WHERE a.attrelid = k.conrelid AND a.attnum = ANY (k.conkey))
               FROM pg_constraint k JOIN pg_class c ON c.oid = k.conrelid JOIN pg_namespace n ON n.oid = c.relnamespace
               LEFT JOIN pg_class f ON f.oid = k.confrelid LEFT JOIN pg_namespace fn ON fn.oid = f.relnamespace
              WHERE {USER}"
        ),
        &[],
    )? {
        let kind = match row.get::<_, String>(3).as_str() {
            "c" => ConstraintKind::Check,
            "f" => ConstraintKind::ForeignKey,
            "u" => ConstraintKind::Unique,
            "p" => ConstraintKind::PrimaryKey,
            "x" => ConstraintKind::Exclude,
            "n" => ConstraintKind::NotNull,
            _ => continue,
        };
        let referenced = match (row.get::<_, Option<String>>(6), row.get::<_, Option<String>>(7)) {
            (Some(s), Some(n)) => Some(rel(&s, &n)),
            _ => None,
        };
        let referenced_columns: Vec<String> = row.get(8);
        state.learn_existing_constraint(
            &rel(row.get(0), row.get(1)),
            row.get(2),
            kind,
            row.get(4),
            row.get(5),
            referenced,
            referenced_columns,
            row.get(9),
        );
    }
    for row in client.query(
        &format!(
            "SELECT n.nspname, i.relname, t.relname, x.indexprs IS NOT NULL OR x.indpred IS NOT NULL,
                    (SELECT am.amname::text FROM pg_am am WHERE am.oid = i.relam),
                    ARRAY(SELECT DISTINCT a.attname::text
                            FROM pg_depend d JOIN pg_attribute a ON a.attrelid = d.refobjid AND a.attnum = d.refobjsubid
                           WHERE d.classid = 'pg_class'::regclass AND d.objid = x.indexrelid
                             AND d.refclassid = 'pg_class'::regclass AND d.refobjsubid > 0)
               FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid JOIN pg_class t ON t.oid = x.indrelid
               JOIN pg_namespace n ON n.oid = t.relnamespace WHERE {USER}"
        ),
        &[],
    )? {
        let schema: String = row.get(0);
        state.learn_existing_index(
            &rel(&schema, row.get(1)),
            &rel(&schema, row.get(2)),
            row.get(5),
            row.get(3),
            row.get(4),
        );
    }
    // Sequences owned by a column (serial: 'a', identity: 'i').
    for row in client.query(
        &format!(
            "SELECT sn.nspname, s.relname, n.nspname, t.relname, a.attname
               FROM pg_depend d
               JOIN pg_class s ON s.oid = d.objid AND s.relkind = 'S' JOIN pg_namespace sn ON sn.oid = s.relnamespace
               JOIN pg_class t ON t.oid = d.refobjid JOIN pg_namespace n ON n.oid = t.relnamespace
               JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = d.refobjsubid
              WHERE d.classid = 'pg_class'::regclass AND d.refclassid = 'pg_class'::regclass
                AND d.deptype IN ('a', 'i') AND {USER}"
        ),
        &[],
    )? {
        state.learn_owned_sequence(&rel(row.get(2), row.get(3)), row.get(4), &rel(row.get(0), row.get(1)));
    }
    // Views and materialized views, per relation they read (and the columns they use).
    for row in client.query(
        &format!(
            "SELECT vn.nspname, v.relname, n.nspname, t.relname,
                    coalesce(array_agg(DISTINCT a.attname::text) FILTER (WHERE a.attname IS NOT NULL), '{{}}')
               FROM pg_depend d JOIN pg_rewrite r ON r.oid = d.objid
               JOIN pg_class v ON v.oid = r.ev_class JOIN pg_namespace vn ON vn.oid = v.relnamespace
               JOIN pg_class t ON t.oid = d.refobjid JOIN pg_namespace n ON n.oid = t.relnamespace
               LEFT JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = d.refobjsubid AND d.refobjsubid > 0
              WHERE d.classid = 'pg_rewrite'::regclass AND d.refclassid = 'pg_class'::regclass
                AND t.oid <> v.oid AND t.relkind IN ('r', 'p', 'm', 'v', 'f') AND {USER}
              GROUP BY 1, 2, 3, 4"
        ),
        &[],
    )? {
        state.learn_view_dependency(&rel(row.get(2), row.get(3)), &rel(row.get(0), row.get(1)), row.get(4));
    }
    // Domains: base type, constraints, and whether their own default is volatile.
    for row in client.query(
        &format!(
            "SELECT t.typname::text, format_type(t.typbasetype, t.typtypmod),
                    t.typnotnull OR EXISTS (SELECT 1 FROM pg_constraint k WHERE k.contypid = t.oid),
                    t.typdefault
               FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace
              WHERE t.typtype = 'd' AND {USER}"
        ),
        &[],
    )? {
        let base: String = row.get(1);
        let default: Option<String> = row.get(3);
        state.learn_domain(
            row.get(0),
            DomainState {
                base: ColumnType::parse(&base),
                constrained: row.get(2),
                volatile_default: default.is_some_and(|d| expression_is_volatile(&d)),
            },
        );
    }
    // Where each table and index lives: its tablespace (the database's own when
    // reltablespace is 0) and a table's access method.
    for row in client.query(
        &format!(
            "SELECT n.nspname, c.relname,
                    coalesce(ts.spcname, (SELECT d.spcname FROM pg_tablespace d
                                           WHERE d.oid = (SELECT dattablespace FROM pg_database
                                                           WHERE datname = current_database())))::text,
                    CASE WHEN c.relkind IN ('r', 'm') THEN am.amname::text END
               FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
               LEFT JOIN pg_tablespace ts ON ts.oid = c.reltablespace
               LEFT JOIN pg_am am ON am.oid = c.relam
              WHERE c.relkind IN ('r', 'm', 'i') AND {USER}"
        ),
        &[],
    )? {
        state.learn_placement(
            &rel(row.get(0), row.get(1)),
            pgdiplomat_analysis::model::schema::Placement {
                tablespace: row.get(2),
                access_method: row.get(3),
            },
        );
    }
    // User functions: whether some overload of each name is volatile. A volatile SQL function
    // PostgreSQL may inline is as volatile as its body: its definition is read and judged the
    // way a CREATE FUNCTION in the run is (non-volatile ones first, so the body's calls of
    // them are known).
    let rows = client.query(
        &format!(
            "SELECT p.proname::text, p.provolatile = 'v',
                    CASE WHEN p.provolatile = 'v' AND p.prokind = 'f' AND NOT p.proretset
                          AND NOT p.prosecdef AND p.proconfig IS NULL
                          AND p.prolang = (SELECT oid FROM pg_language WHERE lanname = 'sql')
                         THEN pg_get_functiondef(p.oid) END
               FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
              WHERE {USER} AND p.prokind IN ('f', 'w', 'a')
              ORDER BY 2, 1"
        ),
        &[],
    )?;
    for row in rows {
        let name: String = row.get(0);
        let mut volatile: bool = row.get(1);
        if let Some(def) = row.get::<_, Option<String>>(2) {
            volatile = !inlines_non_volatile(&def, &state);
        }
        state.learn_function(&name, volatile);
    }
    // The session TimeZone new connections get (timestamp <-> timestamptz rewrites unless UTC).
    let tz: String = client
        .query_one("SELECT current_setting('TimeZone')", &[])?
        .get(0);
    state.learn_timezone(&tz);
    state.learn_dependencies(crate::depend::load_dependencies(client)?);
    Ok(())
}

/// Whether a function definition (`pg_get_functiondef`) is one PostgreSQL inlines into a
/// non-volatile expression.
fn inlines_non_volatile(def: &str, state: &SchemaState) -> bool {
    let Ok(parsed) = pgdiplomat_analysis::parse::parse_sql(def) else {
        return false;
    };
    match parsed.statements.first().and_then(|s| s.node.as_ref()) {
        Some(pg_query::NodeEnum::CreateFunctionStmt(f)) => {
            pgdiplomat_analysis::model::expr::sql_function_inlines_non_volatile(f, &|n| {
                state.function_is_volatile(n)
            })
        }
        _ => false,
    }
}

/// Whether a default expression (as the catalog prints it) calls a volatile function.
fn expression_is_volatile(sql: &str) -> bool {
    let Ok(parsed) = pgdiplomat_analysis::parse::parse_sql(&format!("SELECT {sql}")) else {
        return true;
    };
    let Some(pg_query::NodeEnum::SelectStmt(sel)) =
        parsed.statements.into_iter().next().and_then(|s| s.node)
    else {
        return true;
    };
    sel.target_list.iter().any(|t| match t.node.as_ref() {
        Some(pg_query::NodeEnum::ResTarget(r)) => r.val.as_deref().is_some_and(|e| {
            matches!(
                pgdiplomat_analysis::model::expr::default_kind(e),
                pgdiplomat_analysis::model::expr::DefaultKind::Volatile(_)
            )
        }),
        _ => false,
    })
}
