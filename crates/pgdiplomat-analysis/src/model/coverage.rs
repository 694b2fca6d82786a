//! What the model covers of PostgreSQL's grammar: every statement node type pg_query can
//! produce is listed here exactly once, with how the model treats it. Nothing falls through:
//! a statement the model cannot describe becomes an explicit *not modelled* operation that
//! `explain` prints and lint reports (`unmodelled-statement`), never "takes no lock".
//!
//! A test (`tests/statement_coverage.rs`) reads the node list from pg_query's own protobuf
//! definition and fails when a statement type is missing here, and runs every example through
//! [`classify`](super::classify) to check the class.

use pg_query::NodeEnum;

/// How the model treats one statement node type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Coverage {
    /// Classified into lock-table forms (some variants may still be not modelled; those say so).
    Modelled,
    /// Takes no lock on an existing relation that blocks the application (queries, session
    /// settings, new objects that nothing uses yet, roles, cursors, ...).
    NoBlockingLock,
    /// Can lock or change existing relations in ways the model does not describe.
    NotModelled(&'static str),
    /// Not a top-level statement (it appears inside another one, or only in PL/pgSQL).
    Nested,
}

macro_rules! statements {
    ($( $variant:ident => $coverage:expr, $example:expr; )*) => {
        /// Every statement node type: name, coverage, and an example (empty for nested nodes).
        pub const STATEMENTS: &[(&str, Coverage, &str)] = &[
            $( (stringify!($variant), $coverage, $example), )*
        ];

        /// The node type name of a statement node (`"CreateStmt"`), `None` for other nodes.
        pub fn statement_name(node: &NodeEnum) -> Option<&'static str> {
            match node {
                $( NodeEnum::$variant(_) => Some(stringify!($variant)), )*
                _ => None,
            }
        }
    };
}

use Coverage::{Modelled as M, Nested as N, NoBlockingLock as Q, NotModelled as X};

statements! {
    AlterCollationStmt => Q, "ALTER COLLATION c REFRESH VERSION";
    AlterDatabaseRefreshCollStmt => Q, "ALTER DATABASE d REFRESH COLLATION VERSION";
    AlterDatabaseSetStmt => Q, "ALTER DATABASE d SET work_mem = '64MB'";
    AlterDatabaseStmt => Q, "ALTER DATABASE d CONNECTION LIMIT 10";
    AlterDefaultPrivilegesStmt => Q, "ALTER DEFAULT PRIVILEGES GRANT SELECT ON TABLES TO app";
    AlterDomainStmt => M, "ALTER DOMAIN d ADD CONSTRAINT c CHECK (VALUE > 0)";
    AlterEnumStmt => M, "ALTER TYPE mood ADD VALUE 'meh'";
    AlterEventTrigStmt => Q, "ALTER EVENT TRIGGER e DISABLE";
    AlterExtensionContentsStmt => Q, "ALTER EXTENSION e ADD FUNCTION f()";
    AlterExtensionStmt => X("ALTER EXTENSION ... UPDATE runs the extension's upgrade script, which may alter any table"), "ALTER EXTENSION e UPDATE";
    AlterFdwStmt => Q, "ALTER FOREIGN DATA WRAPPER w OPTIONS (ADD a '1')";
    AlterForeignServerStmt => Q, "ALTER SERVER s OPTIONS (ADD host 'h')";
    AlterFunctionStmt => Q, "ALTER FUNCTION f() STABLE";
    AlterObjectDependsStmt => Q, "ALTER FUNCTION f() DEPENDS ON EXTENSION e";
    AlterObjectSchemaStmt => M, "ALTER TABLE t SET SCHEMA s";
    AlterOpFamilyStmt => Q, "ALTER OPERATOR FAMILY f USING btree ADD OPERATOR 1 < (int, int)";
    AlterOperatorStmt => Q, "ALTER OPERATOR + (int, int) SET (RESTRICT = NONE)";
    AlterOwnerStmt => Q, "ALTER FUNCTION f() OWNER TO app";
    AlterPolicyStmt => M, "ALTER POLICY p ON t USING (true)";
    AlterPublicationStmt => M, "ALTER PUBLICATION p ADD TABLE t";
    AlterRoleSetStmt => Q, "ALTER ROLE app SET work_mem = '64MB'";
    AlterRoleStmt => Q, "ALTER ROLE app LOGIN";
    AlterSeqStmt => M, "ALTER SEQUENCE s RESTART";
    AlterStatsStmt => Q, "ALTER STATISTICS st SET STATISTICS 100";
    AlterSubscriptionStmt => Q, "ALTER SUBSCRIPTION sub DISABLE";
    AlterSystemStmt => Q, "ALTER SYSTEM SET work_mem = '64MB'";
    AlterTsconfigurationStmt => Q, "ALTER TEXT SEARCH CONFIGURATION c ALTER MAPPING FOR word WITH simple";
    AlterTsdictionaryStmt => Q, "ALTER TEXT SEARCH DICTIONARY d (StopWords = english)";
    AlterTableMoveAllStmt => X("ALTER ... ALL IN TABLESPACE moves (rewrites) every relation under ACCESS EXCLUSIVE"), "ALTER TABLE ALL IN TABLESPACE a SET TABLESPACE b";
    AlterTableSpaceOptionsStmt => Q, "ALTER TABLESPACE ts SET (random_page_cost = 1)";
    AlterTableStmt => M, "ALTER TABLE t ADD COLUMN c int";
    AlterTypeStmt => X("ALTER TYPE ... SET (...) changes a type that columns may use"), "ALTER TYPE ty SET (STORAGE = plain)";
    AlterUserMappingStmt => Q, "ALTER USER MAPPING FOR app SERVER s OPTIONS (ADD user 'u')";
    CallStmt => X("CALL runs a procedure whose body is not analysed"), "CALL p()";
    CheckPointStmt => Q, "CHECKPOINT";
    ClosePortalStmt => Q, "CLOSE c";
    ClusterStmt => M, "CLUSTER t USING t_pkey";
    CommentStmt => M, "COMMENT ON TABLE t IS 'x'";
    CompositeTypeStmt => Q, "CREATE TYPE pair AS (a int, b int)";
    ConstraintsSetStmt => Q, "SET CONSTRAINTS ALL DEFERRED";
    CopyStmt => Q, "COPY t FROM STDIN";
    CreateAmStmt => Q, "CREATE ACCESS METHOD am TYPE TABLE HANDLER heap_tableam_handler";
    CreateCastStmt => Q, "CREATE CAST (int AS text) WITH INOUT";
    CreateConversionStmt => Q, "CREATE CONVERSION cv FOR 'LATIN1' TO 'UTF8' FROM iso8859_1_to_utf8";
    CreateDomainStmt => Q, "CREATE DOMAIN d AS int CHECK (VALUE > 0)";
    CreateEnumStmt => Q, "CREATE TYPE mood AS ENUM ('sad', 'ok')";
    CreateEventTrigStmt => Q, "CREATE EVENT TRIGGER e ON ddl_command_start EXECUTE FUNCTION f()";
    CreateExtensionStmt => Q, "CREATE EXTENSION IF NOT EXISTS pg_trgm";
    CreateFdwStmt => Q, "CREATE FOREIGN DATA WRAPPER w";
    CreateForeignServerStmt => Q, "CREATE SERVER s FOREIGN DATA WRAPPER w";
    CreateForeignTableStmt => Q, "CREATE FOREIGN TABLE ft (a int) SERVER s";
    CreateFunctionStmt => Q, "CREATE FUNCTION f() RETURNS int LANGUAGE sql AS 'SELECT 1'";
    CreateOpClassStmt => Q, "CREATE OPERATOR CLASS oc FOR TYPE int USING btree AS OPERATOR 1 <";
    CreateOpFamilyStmt => Q, "CREATE OPERATOR FAMILY f USING btree";
    CreatePlangStmt => Q, "CREATE LANGUAGE plsample HANDLER plsample_call_handler";
    CreatePolicyStmt => M, "CREATE POLICY p ON t USING (true)";
    CreatePublicationStmt => M, "CREATE PUBLICATION p FOR TABLE t";
    CreateRangeStmt => Q, "CREATE TYPE r AS RANGE (SUBTYPE = int)";
    CreateRoleStmt => Q, "CREATE ROLE app";
    CreateSchemaStmt => Q, "CREATE SCHEMA s";
    CreateSeqStmt => Q, "CREATE SEQUENCE s";
    CreateStatsStmt => M, "CREATE STATISTICS st ON a, b FROM t";
    CreateStmt => M, "CREATE TABLE t (id int)";
    CreateSubscriptionStmt => Q, "CREATE SUBSCRIPTION sub CONNECTION 'dbname=x' PUBLICATION p";
    CreateTableAsStmt => M, "CREATE TABLE t2 AS SELECT * FROM t";
    CreateTableSpaceStmt => Q, "CREATE TABLESPACE ts LOCATION '/tmp/ts'";
    CreateTransformStmt => Q, "CREATE TRANSFORM FOR int LANGUAGE sql (FROM SQL WITH FUNCTION f(internal))";
    CreateTrigStmt => M, "CREATE TRIGGER tr BEFORE INSERT ON t FOR EACH ROW EXECUTE FUNCTION f()";
    CreateUserMappingStmt => Q, "CREATE USER MAPPING FOR app SERVER s";
    CreatedbStmt => Q, "CREATE DATABASE d";
    DeallocateStmt => Q, "DEALLOCATE ALL";
    DeclareCursorStmt => Q, "DECLARE c CURSOR FOR SELECT 1";
    DefineStmt => Q, "CREATE AGGREGATE agg (int) (SFUNC = int4pl, STYPE = int)";
    DeleteStmt => M, "DELETE FROM t WHERE id = 1";
    DiscardStmt => Q, "DISCARD ALL";
    DoStmt => X("a DO block in another language than PL/pgSQL, or whose body does not parse (lint reads a PL/pgSQL body statement by statement)"), "DO LANGUAGE plperl $$ print 1; $$";
    DropOwnedStmt => M, "DROP OWNED BY app";
    DropRoleStmt => Q, "DROP ROLE app";
    DropStmt => M, "DROP TABLE t";
    DropSubscriptionStmt => Q, "DROP SUBSCRIPTION sub";
    DropTableSpaceStmt => Q, "DROP TABLESPACE ts";
    DropUserMappingStmt => Q, "DROP USER MAPPING FOR app SERVER s";
    DropdbStmt => Q, "DROP DATABASE d";
    ExecuteStmt => X("EXECUTE runs a prepared statement that is not shown here"), "EXECUTE q";
    ExplainStmt => Q, "EXPLAIN SELECT 1";
    FetchStmt => Q, "FETCH NEXT FROM c";
    GrantRoleStmt => Q, "GRANT app TO bob";
    GrantStmt => M, "GRANT SELECT ON t TO app";
    ImportForeignSchemaStmt => Q, "IMPORT FOREIGN SCHEMA remote FROM SERVER s INTO local";
    IndexStmt => M, "CREATE INDEX i ON t (id)";
    InsertStmt => M, "INSERT INTO t VALUES (1)";
    ListenStmt => Q, "LISTEN ch";
    LoadStmt => Q, "LOAD 'plpgsql'";
    LockStmt => M, "LOCK TABLE t IN SHARE MODE";
    MergeStmt => M, "MERGE INTO t USING s ON t.id = s.id WHEN MATCHED THEN DELETE";
    NotifyStmt => Q, "NOTIFY ch";
    PlassignStmt => N, "";
    PrepareStmt => Q, "PREPARE q AS SELECT 1";
    RawStmt => N, "";
    ReassignOwnedStmt => M, "REASSIGN OWNED BY app TO bob";
    RefreshMatViewStmt => M, "REFRESH MATERIALIZED VIEW mv";
    ReindexStmt => M, "REINDEX INDEX i";
    RenameStmt => M, "ALTER TABLE t RENAME TO t2";
    ReplicaIdentityStmt => N, "";
    ReturnStmt => N, "";
    RuleStmt => M, "CREATE RULE r AS ON INSERT TO t DO INSTEAD NOTHING";
    SecLabelStmt => X("SECURITY LABEL locks the labelled object"), "SECURITY LABEL FOR selinux ON TABLE t IS 'x'";
    SelectStmt => Q, "SELECT 1";
    SetOperationStmt => N, "";
    TransactionStmt => M, "BEGIN";
    TruncateStmt => M, "TRUNCATE t";
    UnlistenStmt => Q, "UNLISTEN *";
    UpdateStmt => M, "UPDATE t SET id = 1 WHERE id = 2";
    VacuumStmt => M, "VACUUM t";
    VariableSetStmt => M, "SET lock_timeout = '1s'";
    VariableShowStmt => Q, "SHOW lock_timeout";
    ViewStmt => M, "CREATE OR REPLACE VIEW v AS SELECT 1";
}

/// The coverage of a statement node, `None` for a node that is not a statement.
pub fn coverage(node: &NodeEnum) -> Option<Coverage> {
    let name = statement_name(node)?;
    STATEMENTS
        .iter()
        .find(|(n, _, _)| *n == name)
        .map(|(_, c, _)| *c)
}
