//! Reads the schema of a live database into the analyser's [`SchemaState`], so predictions
//! know existing column types (a binary-coercible type change is not a rewrite), validated
//! CHECK constraints (SET NOT NULL without a scan), foreign keys and indexes, which tables are
//! partitioned and their partitions, and plain inheritance children.

use pgdiplomat_analysis::model::schema::ConstraintKind;
use pgdiplomat_analysis::model::{ColumnType, RelName, SchemaState};
use pgdiplomat_pg::postgres::Client;

use crate::observe::PgError;

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
              WHERE c.relkind IN ('r', 'p', 'm') AND a.attnum > 0 AND NOT a.attisdropped AND {USER}"
        ),
        &[],
    )? {
        let ty: String = row.get(3);
        state.learn_existing_column(&rel(row.get(0), row.get(1)), row.get(2), ColumnType::parse(&ty), row.get(4));
    }
    for row in client.query(
        &format!(
            "SELECT n.nspname, c.relname, c.relkind = 'p'
               FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
              WHERE c.relkind IN ('r', 'p') AND {USER}"
        ),
        &[],
    )? {
        state.learn_existing_table(&rel(row.get(0), row.get(1)), row.get(2));
    }
    for row in client.query(
        &format!(
            "SELECT pn.nspname, p.relname, n.nspname, c.relname, c.relispartition
               FROM pg_inherits i JOIN pg_class p ON p.oid = i.inhparent JOIN pg_namespace pn ON pn.oid = p.relnamespace
               JOIN pg_class c ON c.oid = i.inhrelid JOIN pg_namespace n ON n.oid = c.relnamespace
              WHERE p.relkind IN ('r', 'p') AND c.relkind IN ('r', 'p', 'f') AND {USER}
              ORDER BY c.relname"
        ),
        &[],
    )? {
        let (parent, child) = (rel(row.get(0), row.get(1)), rel(row.get(2), row.get(3)));
        if row.get::<_, bool>(4) {
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
                           WHERE a.attrelid = k.confrelid AND a.attnum = ANY (k.confkey))
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
        );
    }
    for row in client.query(
        &format!(
            "SELECT n.nspname, i.relname, t.relname
               FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid JOIN pg_class t ON t.oid = x.indrelid
               JOIN pg_namespace n ON n.oid = t.relnamespace WHERE {USER}"
        ),
        &[],
    )? {
        let schema: String = row.get(0);
        state.learn_existing_index(&rel(&schema, row.get(1)), &rel(&schema, row.get(2)));
    }
    Ok(())
}
