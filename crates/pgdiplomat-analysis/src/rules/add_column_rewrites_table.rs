//! `add-column-rewrites-table`: ADD COLUMN forms that give every existing row its own value
//! (serial, identity, GENERATED ... STORED, an inline PRIMARY KEY) rewrite the table and all its
//! indexes under ACCESS EXCLUSIVE.
//!
//! A volatile DEFAULT rewrites too but has its own rule, `add-column-volatile-default`. This file
//! also holds [`expand_add_column`], the expand alternative the ADD COLUMN rules share.

use pg_query::protobuf::{self, AlterTableCmd, AlterTableStmt, AlterTableType, ConstrType};
use pg_query::NodeEnum;
use pgdiplomat_locks::{lookup, Rewrite, Scan, StatementForm};

use super::add_column_not_null_without_default::not_null_via_check;
use super::check_without_not_valid::{
    alter_cmd, deparse_alter, node, not_valid_then_validate, table_lock,
};
use super::{Finding, Rule, RuleContext, Severity};
use crate::analyze::Effect;
use crate::model::schema::column_constraints;
use crate::model::{quote_ident, ColumnType, RelName};

pub struct AddColumnRewritesTable;

impl Rule for AddColumnRewritesTable {
    fn id(&self) -> &'static str {
        "add-column-rewrites-table"
    }
    fn severity(&self) -> Severity {
        Severity::Error
    }
    fn summary(&self) -> &'static str {
        "ADD COLUMN with serial, identity, GENERATED STORED or PRIMARY KEY rewrites the table while blocking reads and writes"
    }
    fn explanation(&self) -> &'static str {
        "Adding a serial or identity column, a GENERATED ... STORED column, or a column with an \
inline PRIMARY KEY gives every existing row its own value, so PostgreSQL rewrites the whole table \
and rebuilds every index while holding ACCESS EXCLUSIVE: every SELECT, INSERT, UPDATE and DELETE \
on the table waits until the rewrite is done, which on a large table takes minutes to hours and \
needs twice the disk space. Expand the schema in steps instead: add a plain nullable column \
(a catalog change), give it its default for new rows (for serial or identity: a sequence and a \
nextval() default; for a generated column: a trigger or the application), backfill the existing \
rows in batches, then add NOT NULL through a NOT VALID CHECK (col IS NOT NULL) that is validated \
separately, and build keys with CREATE UNIQUE INDEX CONCURRENTLY followed by ADD CONSTRAINT ... \
USING INDEX. Tables created earlier in the same migration run are empty and are not flagged."
    }
    fn bad_example(&self) -> &'static str {
        "ALTER TABLE orders ADD COLUMN seq_no bigserial;"
    }
    fn good_example(&self) -> &'static str {
        "SET lock_timeout = '2s';
CREATE SEQUENCE orders_seq_no_seq;
ALTER TABLE orders ADD COLUMN seq_no bigint;
ALTER TABLE orders ALTER COLUMN seq_no SET DEFAULT nextval('orders_seq_no_seq');
ALTER SEQUENCE orders_seq_no_seq OWNED BY orders.seq_no;
-- backfill existing rows in batches, then:
ALTER TABLE orders ADD CONSTRAINT orders_seq_no_not_null_check CHECK (seq_no IS NOT NULL) NOT VALID;
-- in a separate transaction:
ALTER TABLE orders VALIDATE CONSTRAINT orders_seq_no_not_null_check;
ALTER TABLE orders ALTER COLUMN seq_no SET NOT NULL;"
    }
    fn check(&self, ctx: &RuleContext<'_>, out: &mut Vec<Finding>) {
        for (i, e) in ctx.stmt.effects.iter().enumerate() {
            if e.new_table {
                continue;
            }
            let Some(
                form @ (StatementForm::AddColumnIdentity
                | StatementForm::AddColumnSerial
                | StatementForm::AddColumnGeneratedStored
                | StatementForm::AddColumnPrimaryKey),
            ) = e.form()
            else {
                continue;
            };
            let mut f = ctx.finding(
                self,
                format!("{} takes {}{}", what(e), table_lock(e), work(e)),
            );
            f.help = Some(help(form, ctx));
            f.fix_sql = match (alter_cmd(ctx.node, i), &e.op.table) {
                (Some((stmt, cmd)), Some(t)) => expand_add_column(stmt, cmd, t),
                _ => None,
            };
            out.push(f);
        }
    }
}

/// `ADD COLUMN id ... serial`, from the lock table's title of the form.
fn what(e: &Effect) -> String {
    let title = e.fact.map(|f| f.title).unwrap_or("ADD COLUMN");
    match &e.op.column {
        Some(c) => title.replacen("ADD COLUMN", &format!("ADD COLUMN {c}"), 1),
        None => title.to_string(),
    }
}

/// What the statement does while it holds the lock, from the lock table.
pub(super) fn work(e: &Effect) -> &'static str {
    match e.fact.map(|f| (f.rewrite, f.scan)) {
        Some((Rewrite::Table, _)) => " while it rewrites every row and rebuilds every index",
        Some((Rewrite::Indexes, _)) => " while it rebuilds indexes",
        Some((Rewrite::No, Scan::Table)) => " while it scans every row",
        _ => "",
    }
}

fn help(form: StatementForm, ctx: &RuleContext<'_>) -> String {
    match form {
        StatementForm::AddColumnSerial => "add a nullable column of the integer type, a sequence \
and a nextval() default for new rows, backfill existing rows in batches, then SET NOT NULL \
through a validated CHECK (col IS NOT NULL), as in the fix"
            .into(),
        StatementForm::AddColumnIdentity => "add a nullable column, a sequence and a nextval() \
default for new rows, backfill existing rows in batches, then SET NOT NULL through a validated \
CHECK (col IS NOT NULL), as in the fix; once the column is NOT NULL it can become an identity \
without a rewrite (ALTER COLUMN ... DROP DEFAULT, ALTER COLUMN ... ADD GENERATED BY DEFAULT AS \
IDENTITY (START WITH <max + 1>))"
            .into(),
        StatementForm::AddColumnGeneratedStored => {
            let mut h = String::from(
                "add a plain nullable column, keep it up to date with a trigger (or from the \
application), backfill existing rows in batches, then add constraints",
            );
            let virtual_ok = lookup(
                StatementForm::AddColumnGeneratedVirtual,
                ctx.options.pg_version,
            )
            .is_some_and(|f| f.unsupported.is_none());
            if virtual_ok {
                h.push_str(
                    "; or make it VIRTUAL, which is computed when read and added without a \
rewrite (a virtual column cannot be indexed)",
                );
            }
            h
        }
        _ => "add the column without the key the expand way (nullable, a default for new rows, \
backfill in batches, NOT NULL through a validated CHECK), then build the index with CREATE UNIQUE \
INDEX CONCURRENTLY and attach it with ADD CONSTRAINT ... PRIMARY KEY USING INDEX, as in the fix"
            .into(),
    }
}

/// The expand alternative to one `ADD COLUMN` subcommand of `stmt`, as SQL:
///
/// 1. for serial and identity columns, a sequence;
/// 2. the column added plain and nullable (serial types become their integer type);
/// 3. its default for new rows (`nextval(...)`, or the DEFAULT it was written with);
/// 4. a comment standing for the batched backfill of existing rows;
/// 5. NOT NULL through a validated CHECK, when the column was NOT NULL (or serial, identity,
///    primary key);
/// 6. inline CHECKs as NOT VALID + VALIDATE, keys as CREATE UNIQUE INDEX CONCURRENTLY +
///    ADD CONSTRAINT ... USING INDEX.
///
/// `None` for columns it cannot split up this way (GENERATED, REFERENCES).
pub(super) fn expand_add_column(
    stmt: &AlterTableStmt,
    cmd: &AlterTableCmd,
    table: &RelName,
) -> Option<String> {
    let Some(NodeEnum::ColumnDef(cd)) = cmd.def.as_ref().and_then(|d| d.node.as_ref()) else {
        return None;
    };
    let cons = column_constraints(cd);
    let has = |t: ConstrType| cons.iter().any(|c| c.contype == t as i32);
    if has(ConstrType::ConstrGenerated) || has(ConstrType::ConstrForeign) {
        return None;
    }
    let col = cd.colname.as_str();
    let c = quote_ident(col);
    let t = table.quoted();
    let ty = cd.type_name.as_ref().and_then(ColumnType::from_type_name);
    let serial = ty.as_ref().is_some_and(ColumnType::is_serial);
    let sequence = serial || has(ConstrType::ConstrIdentity);

    let mut plain = (**cd).clone();
    plain.constraints.clear();
    plain.is_not_null = false;
    if let (true, Some(ty), Some(tn)) = (serial, &ty, plain.type_name.as_mut()) {
        let int = match ty.name.as_str() {
            "bigserial" | "serial8" => "int8",
            "smallserial" | "serial2" => "int2",
            _ => "int4",
        };
        tn.names = ["pg_catalog", int]
            .into_iter()
            .map(|s| node(NodeEnum::String(protobuf::String { sval: s.into() })))
            .collect();
    }
    let mut add = cmd.clone();
    add.def = Some(Box::new(node(NodeEnum::ColumnDef(Box::new(plain)))));

    let mut sql = Vec::new();
    let seq = RelName::new(
        table.schema.as_deref(),
        &format!("{}_{col}_seq", table.name),
    )
    .quoted();
    if sequence {
        sql.push(format!("CREATE SEQUENCE {seq};"));
    }
    sql.push(deparse_alter(stmt, add)?);
    let mut value = None;
    if sequence {
        let v = format!("nextval('{}')", seq.replace('\'', "''"));
        sql.push(format!("ALTER TABLE {t} ALTER COLUMN {c} SET DEFAULT {v};"));
        sql.push(format!("ALTER SEQUENCE {seq} OWNED BY {t}.{c};"));
        value = Some(v);
    } else if let Some(expr) = cons
        .iter()
        .find(|c| c.contype == ConstrType::ConstrDefault as i32)
        .and_then(|c| c.raw_expr.clone())
    {
        let mut set = cmd.clone();
        set.subtype = AlterTableType::AtColumnDefault as i32;
        set.name = col.to_string();
        set.def = Some(expr);
        let s = deparse_alter(stmt, set)?;
        value = s
            .split_once(" SET DEFAULT ")
            .map(|(_, e)| e.trim_end_matches(';').to_string());
        sql.push(s);
    }
    sql.push(format!(
        "-- backfill existing rows in batches: UPDATE {t} SET {c} = {} WHERE {c} IS NULL AND <key range>;",
        value.as_deref().unwrap_or("<value>")
    ));
    let not_null = serial
        || cd.is_not_null
        || has(ConstrType::ConstrNotnull)
        || has(ConstrType::ConstrPrimary)
        || has(ConstrType::ConstrIdentity);
    if not_null {
        sql.push(not_null_via_check(table, col));
    }
    let mut checks = 0;
    for con in &cons {
        match ConstrType::try_from(con.contype) {
            Ok(ConstrType::ConstrCheck) => {
                let mut con = con.clone();
                if con.conname.is_empty() {
                    con.conname = match checks {
                        0 => format!("{}_{col}_check", table.name),
                        n => format!("{}_{col}_check{n}", table.name),
                    };
                    checks += 1;
                }
                sql.push(not_valid_then_validate(stmt, cmd, con, table)?);
            }
            Ok(kind @ (ConstrType::ConstrPrimary | ConstrType::ConstrUnique)) => {
                let primary = kind == ConstrType::ConstrPrimary;
                let name = if !con.conname.is_empty() {
                    con.conname.clone()
                } else if primary {
                    format!("{}_pkey", table.name)
                } else {
                    format!("{}_{col}_key", table.name)
                };
                let name = quote_ident(&name);
                let key = if primary { "PRIMARY KEY" } else { "UNIQUE" };
                sql.push(format!(
                    "CREATE UNIQUE INDEX CONCURRENTLY {name} ON {t} ({c});\n\
ALTER TABLE {t} ADD CONSTRAINT {name} {key} USING INDEX {name};"
                ));
            }
            _ => {}
        }
    }
    Some(sql.join("\n"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::test_support::*;

    const ID: &str = "add-column-rewrites-table";

    #[test]
    fn flags_serial_with_the_sequence_fix() {
        let f = assert_fires(ID, "ALTER TABLE t ADD COLUMN sr bigserial;", 1);
        assert_eq!(
            f[0].message,
            "ADD COLUMN sr ... serial takes ACCESS EXCLUSIVE on t (blocks reads and writes) \
while it rewrites every row and rebuilds every index"
        );
        assert_eq!(
            f[0].fix_sql.as_deref(),
            Some(
                "CREATE SEQUENCE t_sr_seq;\n\
ALTER TABLE t ADD COLUMN sr bigint;\n\
ALTER TABLE t ALTER COLUMN sr SET DEFAULT nextval('t_sr_seq');\n\
ALTER SEQUENCE t_sr_seq OWNED BY t.sr;\n\
-- backfill existing rows in batches: UPDATE t SET sr = nextval('t_sr_seq') WHERE sr IS NULL AND <key range>;\n\
ALTER TABLE t ADD CONSTRAINT t_sr_not_null_check CHECK (sr IS NOT NULL) NOT VALID;\n\
-- in a separate transaction:\n\
ALTER TABLE t VALIDATE CONSTRAINT t_sr_not_null_check;\n\
ALTER TABLE t ALTER COLUMN sr SET NOT NULL;"
            )
        );
    }

    #[test]
    fn the_serial_fix_lints_clean_for_this_rule() {
        let f = assert_fires(ID, "ALTER TABLE t ADD COLUMN sr serial;", 1);
        assert_clean(ID, f[0].fix_sql.as_deref().unwrap());
    }

    #[test]
    fn flags_identity() {
        let f = assert_fires(
            ID,
            "ALTER TABLE app.t ADD COLUMN idn bigint GENERATED ALWAYS AS IDENTITY;",
            1,
        );
        assert!(
            f[0].message.starts_with(
                "ADD COLUMN idn ... GENERATED AS IDENTITY takes ACCESS EXCLUSIVE on app.t"
            ),
            "{}",
            f[0].message
        );
        let fix = f[0].fix_sql.as_deref().unwrap();
        assert!(
            fix.starts_with(
                "CREATE SEQUENCE app.t_idn_seq;\nALTER TABLE app.t ADD COLUMN idn bigint;\n"
            ),
            "{fix}"
        );
        assert!(
            fix.contains("SET DEFAULT nextval('app.t_idn_seq');"),
            "{fix}"
        );
        assert!(f[0]
            .help
            .as_deref()
            .unwrap()
            .contains("ADD GENERATED BY DEFAULT AS IDENTITY"));
    }

    #[test]
    fn flags_generated_stored_without_a_fix() {
        let f = assert_fires(
            ID,
            "ALTER TABLE t ADD COLUMN g int GENERATED ALWAYS AS (a * 2) STORED;",
            1,
        );
        assert_eq!(f[0].fix_sql, None);
        assert!(f[0].help.as_deref().unwrap().contains("trigger"));
        let f = findings_with(
            ID,
            "ALTER TABLE t ADD COLUMN g int GENERATED ALWAYS AS (a * 2) STORED;",
            on_version(18),
        );
        assert!(f[0].help.as_deref().unwrap().contains("VIRTUAL"));
        let f = findings_with(
            ID,
            "ALTER TABLE t ADD COLUMN g int GENERATED ALWAYS AS (a * 2) STORED;",
            on_version(16),
        );
        assert!(!f[0].help.as_deref().unwrap().contains("VIRTUAL"));
    }

    #[test]
    fn flags_primary_key_column_with_a_concurrent_index_in_the_fix() {
        let f = assert_fires(ID, "ALTER TABLE t2 ADD COLUMN n serial PRIMARY KEY;", 1);
        let fix = f[0].fix_sql.as_deref().unwrap();
        assert!(fix.contains("ALTER TABLE t2 ADD COLUMN n int;"), "{fix}");
        assert!(
            fix.ends_with(
                "CREATE UNIQUE INDEX CONCURRENTLY t2_pkey ON t2 (n);\n\
ALTER TABLE t2 ADD CONSTRAINT t2_pkey PRIMARY KEY USING INDEX t2_pkey;"
            ),
            "{fix}"
        );
    }

    #[test]
    fn volatile_default_and_plain_columns_are_left_to_other_rules() {
        assert_clean(ID, "ALTER TABLE t ADD COLUMN n float8 DEFAULT random();");
        assert_clean(ID, "ALTER TABLE t ADD COLUMN n int DEFAULT 5;");
        assert_clean(ID, "ALTER TABLE t ADD COLUMN n bigint;");
    }

    #[test]
    fn column_on_a_table_created_earlier_in_the_run_is_clean() {
        assert_clean(
            ID,
            "CREATE TABLE t (a int);\n\
ALTER TABLE t ADD COLUMN sr serial;\n\
ALTER TABLE t ADD COLUMN idn bigint GENERATED ALWAYS AS IDENTITY;\n\
ALTER TABLE t ADD COLUMN g int GENERATED ALWAYS AS (a * 2) STORED;",
        );
    }

    #[test]
    fn examples() {
        assert_examples(&AddColumnRewritesTable);
    }
}
