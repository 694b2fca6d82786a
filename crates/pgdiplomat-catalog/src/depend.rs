//! Reads `pg_depend` and the names DROP statements use into a [`DependencyGraph`]: what a
//! DROP (with or without CASCADE) takes with it on this database.

use pgdiplomat_analysis::model::depend::{
    catalog, DependencyGraph, DependencyKind, NamedKind, ObjectAddress,
};
use pgdiplomat_analysis::model::RelName;
use pgdiplomat_pg::postgres::Client;

use crate::PgError;

/// The first OID of objects users create (`FirstNormalObjectId`): what they can drop.
const FIRST_USER_OID: u32 = 16384;

/// The dependency graph of the database `client` is connected to: user objects only
/// (system objects cannot be dropped), without TOAST tables.
pub fn load_dependencies(client: &mut Client) -> Result<DependencyGraph, PgError> {
    let mut g = DependencyGraph::default();
    for row in client.query(
        "SELECT c.oid, n.nspname::text, c.relname::text, c.relkind::text, i.indrelid
           FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
           LEFT JOIN pg_index i ON i.indexrelid = c.oid
          WHERE c.oid >= $1 AND n.nspname NOT IN ('pg_toast', 'information_schema')
            AND n.nspname NOT LIKE 'pg\\_toast\\_temp%'",
        &[&FIRST_USER_OID],
    )? {
        let kind: String = row.get(3);
        g.learn_relation(
            row.get(0),
            RelName::new(Some(row.get(1)), row.get(2)),
            kind.chars().next().unwrap_or('r'),
            row.get(4),
        );
    }
    // Objects that belong to a relation, and lock it when dropped.
    for row in client.query(
        "SELECT 'pg_constraint'::regclass::oid, oid, conrelid FROM pg_constraint WHERE conrelid <> 0 AND oid >= $1
         UNION ALL SELECT 'pg_trigger'::regclass::oid, oid, tgrelid FROM pg_trigger WHERE oid >= $1
         UNION ALL SELECT 'pg_rewrite'::regclass::oid, oid, ev_class FROM pg_rewrite WHERE oid >= $1
         UNION ALL SELECT 'pg_attrdef'::regclass::oid, oid, adrelid FROM pg_attrdef WHERE oid >= $1
         UNION ALL SELECT 'pg_policy'::regclass::oid, oid, polrelid FROM pg_policy WHERE oid >= $1
         UNION ALL SELECT 'pg_statistic_ext'::regclass::oid, oid, stxrelid FROM pg_statistic_ext WHERE oid >= $1
         UNION ALL SELECT 'pg_publication_rel'::regclass::oid, oid, prrelid FROM pg_publication_rel WHERE oid >= $1",
        &[&FIRST_USER_OID],
    )? {
        g.learn_owner((row.get(0), row.get(1)), row.get(2));
    }
    for row in client.query(
        "SELECT classid, objid, objsubid, refclassid, refobjid, refobjsubid, deptype::text
           FROM pg_depend
          WHERE objid >= $1 AND (refobjid >= $1 OR refclassid = 'pg_namespace'::regclass)",
        &[&FIRST_USER_OID],
    )? {
        let deptype: String = row.get(6);
        let Some(kind) = deptype
            .chars()
            .next()
            .and_then(DependencyKind::from_deptype)
        else {
            continue;
        };
        g.learn_dependency(
            ObjectAddress {
                class: row.get(0),
                oid: row.get(1),
                sub: row.get(2),
            },
            (row.get(3), row.get(4)),
            row.get(5),
            kind,
        );
    }
    // What each role owns in this database (DROP OWNED, REASSIGN OWNED).
    for row in client.query(
        "SELECT s.classid, s.objid, r.rolname::text
           FROM pg_shdepend s JOIN pg_roles r ON r.oid = s.refobjid
          WHERE s.deptype = 'o' AND s.dbid = (SELECT oid FROM pg_database WHERE datname = current_database())",
        &[],
    )? {
        g.learn_owned(row.get(2), ObjectAddress::new(row.get(0), row.get(1)));
    }
    // The names DROP statements use: (kind, catalog, schema or none, name, argument count).
    let named: [(NamedKind, u32, &str); 10] = [
        (NamedKind::Schema, catalog::PG_NAMESPACE,
         "SELECT oid, NULL::text, nspname::text, NULL::int4 FROM pg_namespace WHERE nspname NOT LIKE 'pg\\_%' AND nspname <> 'information_schema'"),
        (NamedKind::Type, catalog::PG_TYPE,
         "SELECT t.oid, n.nspname::text, t.typname::text, NULL::int4 FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace WHERE t.oid >= 16384"),
        (NamedKind::Routine, catalog::PG_PROC,
         "SELECT p.oid, n.nspname::text, p.proname::text, p.pronargs::int4 FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace WHERE p.oid >= 16384"),
        (NamedKind::Statistics, catalog::PG_STATISTIC_EXT,
         "SELECT s.oid, n.nspname::text, s.stxname::text, NULL::int4 FROM pg_statistic_ext s JOIN pg_namespace n ON n.oid = s.stxnamespace"),
        (NamedKind::Server, catalog::PG_FOREIGN_SERVER,
         "SELECT oid, NULL::text, srvname::text, NULL::int4 FROM pg_foreign_server"),
        (NamedKind::ForeignDataWrapper, catalog::PG_FOREIGN_DATA_WRAPPER,
         "SELECT oid, NULL::text, fdwname::text, NULL::int4 FROM pg_foreign_data_wrapper"),
        (NamedKind::Collation, catalog::PG_COLLATION,
         "SELECT c.oid, n.nspname::text, c.collname::text, NULL::int4 FROM pg_collation c JOIN pg_namespace n ON n.oid = c.collnamespace WHERE c.oid >= 16384"),
        (NamedKind::Extension, catalog::PG_EXTENSION,
         "SELECT oid, NULL::text, extname::text, NULL::int4 FROM pg_extension"),
        (NamedKind::Publication, catalog::PG_PUBLICATION,
         "SELECT oid, NULL::text, pubname::text, NULL::int4 FROM pg_publication"),
        (NamedKind::Language, catalog::PG_LANGUAGE,
         "SELECT oid, NULL::text, lanname::text, NULL::int4 FROM pg_language"),
    ];
    for (kind, class, sql) in named {
        for row in client.query(sql, &[])? {
            let schema: Option<String> = row.get(1);
            let args: Option<i32> = row.get(3);
            g.learn_name(
                kind,
                &RelName::new(schema.as_deref(), row.get(2)),
                ObjectAddress::new(class, row.get(0)),
                args.map(|a| a.max(0) as usize),
            );
        }
    }
    Ok(g)
}
