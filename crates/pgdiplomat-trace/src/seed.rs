//! `--seed-rows N`: fills tables with generated rows so that scans and rewrites take
//! measurable time and unique builds meet realistic data. Values are derived from the row
//! number, so they are deterministic; foreign keys and triggers are not checked while seeding
//! (`session_replication_role = replica`, when allowed).

use pgdiplomat_pg::postgres::Client;
use pgdiplomat_pg::quote_ident;

use crate::observe::PgError;

/// What seeding did to one table.
#[derive(Debug, Clone, serde::Serialize)]
pub struct SeededTable {
    pub table: String,
    pub rows: u64,
    /// Why the table was left empty or partly filled, if it was.
    pub note: Option<String>,
}

struct Column {
    name: String,
    ty: String,
    not_null: bool,
    skip: bool,
    expr: Option<String>,
}

/// A value expression for column type `ty` (as `format_type` prints it) from row number `g`.
fn value_expr(ty: &str, type_oid_expr: &str, is_enum: bool) -> Option<String> {
    if is_enum {
        return Some(format!(
            "(SELECT enumlabel FROM pg_enum WHERE enumtypid = {type_oid_expr} ORDER BY enumsortorder LIMIT 1)::{ty}"
        ));
    }
    if ty.ends_with("[]") {
        return Some(format!("'{{}}'::{ty}"));
    }
    let base = ty.split('(').next().unwrap_or(ty).trim();
    let len: Option<i64> = ty.split('(').nth(1).and_then(|r| {
        r.trim_end_matches(')')
            .split(',')
            .next()?
            .trim()
            .parse()
            .ok()
    });
    Some(match base {
        "smallint" => "(g % 32000)::smallint".into(),
        "integer" | "bigint" | "oid" => format!("g::{ty}"),
        "numeric" => "(g % 1000)::numeric".into(),
        "real" | "double precision" => format!("g::{ty}"),
        "boolean" => "(g % 2 = 0)".into(),
        "text" | "citext" | "name" => "'value-' || g".into(),
        "character varying" | "character" => match len {
            Some(n) => format!("right('v' || g, {n})::{ty}"),
            None => "'value-' || g".into(),
        },
        "uuid" => "md5(g::text)::uuid".into(),
        "date" => "(date '2020-01-01' + (g % 3650))".into(),
        "timestamp without time zone" | "timestamp with time zone" => {
            format!("(timestamp '2020-01-01' + g * interval '1 second')::{ty}")
        }
        "time without time zone" => "(time '00:00' + (g % 86400) * interval '1 second')".into(),
        "interval" => "g * interval '1 second'".into(),
        "json" | "jsonb" => format!("json_build_object('g', g)::{ty}"),
        "bytea" => "convert_to(g::text, 'UTF8')".into(),
        "inet" | "cidr" => format!("('10.0.0.0'::inet + g)::{ty}"),
        _ => return None,
    })
}

/// Seeds every ordinary table of the current database that has no rows yet and is not in
/// `already`, with `rows` rows each. Returns what was done; never fails the trace (a table that
/// cannot be seeded gets a note).
pub fn seed_empty_tables(
    client: &mut Client,
    rows: u64,
    already: &mut Vec<String>,
) -> Result<Vec<SeededTable>, PgError> {
    let tables = client.query(
        "SELECT c.oid, n.nspname, c.relname
           FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
          WHERE c.relkind = 'r' AND NOT c.relispartition
            AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\\_%'
          ORDER BY 2, 3",
        &[],
    )?;
    let replica = client
        .batch_execute("SET session_replication_role = replica")
        .is_ok();
    let mut out = Vec::new();
    for t in tables {
        let oid: u32 = t.get(0);
        let name = format!(
            "{}.{}",
            quote_ident(&t.get::<_, String>(1)),
            quote_ident(&t.get::<_, String>(2))
        );
        let display = crate::observe::display_name(&format!(
            "{}.{}",
            t.get::<_, String>(1),
            t.get::<_, String>(2)
        ));
        if already.contains(&display) {
            continue;
        }
        already.push(display.clone());
        let has_rows: bool = client
            .query_one(&format!("SELECT EXISTS (SELECT 1 FROM {name})"), &[])?
            .get(0);
        if has_rows {
            continue;
        }
        let cols = client.query(
            "SELECT a.attname, format_type(a.atttypid, a.atttypmod), a.attnotnull,
                    a.attidentity <> '' OR a.attgenerated <> '' OR a.atthasdef,
                    a.atttypid, t.typtype = 'e'
               FROM pg_attribute a JOIN pg_type t ON t.oid = a.atttypid
              WHERE a.attrelid = $1 AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum",
            &[&oid],
        )?;
        let columns: Vec<Column> = cols
            .iter()
            .map(|c| {
                let ty: String = c.get(1);
                let type_oid: u32 = c.get(4);
                Column {
                    name: c.get(0),
                    expr: value_expr(&ty, &type_oid.to_string(), c.get(5)),
                    ty,
                    not_null: c.get(2),
                    skip: c.get(3),
                }
            })
            .collect();
        if let Some(c) = columns
            .iter()
            .find(|c| !c.skip && c.not_null && c.expr.is_none())
        {
            out.push(SeededTable {
                table: display,
                rows: 0,
                note: Some(format!(
                    "no generator for NOT NULL column {} of type {}",
                    c.name, c.ty
                )),
            });
            continue;
        }
        let used: Vec<&Column> = columns
            .iter()
            .filter(|c| !c.skip && c.expr.is_some())
            .collect();
        let names: Vec<String> = used.iter().map(|c| quote_ident(&c.name)).collect();
        let exprs: Vec<&str> = used.iter().filter_map(|c| c.expr.as_deref()).collect();
        let sql = if used.is_empty() {
            format!("INSERT INTO {name} SELECT FROM generate_series(1, {rows}) g")
        } else {
            format!(
                "INSERT INTO {name} ({}) SELECT {} FROM generate_series(1, {rows}) g",
                names.join(", "),
                exprs.join(", ")
            )
        };
        match client.batch_execute(&sql) {
            Ok(()) => out.push(SeededTable {
                table: display,
                rows,
                note: None,
            }),
            Err(e) => out.push(SeededTable {
                table: display,
                rows: 0,
                note: Some(crate::run::error_text(&e)),
            }),
        }
    }
    if replica {
        client.batch_execute("RESET session_replication_role")?;
    }
    client.batch_execute("ANALYZE")?;
    Ok(out)
}
