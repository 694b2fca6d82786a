//! The lock table: the one source of truth for what each statement form does to the
//! relations it touches, per PostgreSQL major version.
//!
//! Every fact the linter, `explain`, `fix` and `trace` state about locks, rewrites and scans
//! comes from [`LOCK_TABLE`]. Rows are `statement form × version range → facts`; a form has
//! rows covering every supported major version ([`SUPPORTED_VERSIONS`]) — a test checks it.
//! The facts were measured on PostgreSQL 15.18 (see `shared/reference/postgres-locks.md`) and
//! are re-measured on every version by the differential trace test.

use crate::mode::LockMode;
use crate::mode::LockMode::*;

/// The major versions the model covers.
pub const SUPPORTED_VERSIONS: std::ops::RangeInclusive<u32> = 13..=18;
/// The version assumed when the user does not say (`--pg-version`).
pub const DEFAULT_VERSION: u32 = 17;

/// Which relation of a statement a lock applies to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum RelationRole {
    /// The table (or materialized view) the statement is about.
    Table,
    /// The existing index the statement drops, alters or rebuilds.
    Index,
    /// The index the statement creates: nobody else can be waiting on it.
    NewIndex,
    /// Every existing index of the table (REINDEX TABLE, rewrites).
    AllIndexes,
    /// The table a foreign key points at.
    ReferencedTable,
    /// Tables whose foreign keys point at the table (DROP TABLE, PK type change).
    ReferencingTables,
    /// The partitioned parent of a partition.
    PartitionParent,
    /// The partition being attached or detached.
    Partition,
    /// Every partition and inheritance child, recursively (the statement recurses unless it
    /// says ONLY); rewrites and scans of the fact apply to each of them too.
    Descendants,
    /// Every partition, recursively (not inheritance children: CREATE TRIGGER, CREATE INDEX).
    Partitions,
    /// The indexes that use the altered column (as a key, in an expression or a predicate).
    ColumnIndexes,
    /// The DEFAULT partition of the partitioned table: rows of a new partition's range may be
    /// in it, so it is locked and scanned.
    DefaultPartition,
    /// The partitioned parent of the partition the statement drops.
    Parent,
    /// Sequences owned by the table's columns (serial, identity) that the statement changes.
    OwnedSequences,
    /// What CASCADE reaches: referencing tables (their foreign keys dropped or their rows
    /// truncated), views and materialized views built on it, recursively.
    Dependents,
    /// Every table with a column of the domain the statement changes.
    DomainUsers,
    /// The relations a DML statement's rows may reach: partitions and inheritance children,
    /// a view's base tables, tables whose foreign keys point at it. The plan decides which:
    /// the lock is "up to", never required ([`RelationRole::may_lock`]).
    RowsReach,
    /// The partitions (recursively) of the partition being attached or detached, when it is
    /// itself partitioned.
    SubPartitions,
}

impl RelationRole {
    /// Roles whose relations come from the schema graph (the operation lists them when the
    /// schema knows them; explain says "any ..." otherwise).
    pub fn from_schema_graph(self) -> bool {
        matches!(
            self,
            RelationRole::ColumnIndexes
                | RelationRole::DefaultPartition
                | RelationRole::Parent
                | RelationRole::OwnedSequences
                | RelationRole::Dependents
                | RelationRole::DomainUsers
                | RelationRole::RowsReach
                | RelationRole::SubPartitions
        )
    }

    /// Whether the lock on this role's relations is a maximum the plan may take, not a lock
    /// the statement always takes.
    pub fn may_lock(self) -> bool {
        self == RelationRole::RowsReach
    }
}

impl RelationRole {
    pub fn label(self) -> &'static str {
        match self {
            RelationRole::Table => "table",
            RelationRole::Index => "index",
            RelationRole::NewIndex => "new index",
            RelationRole::AllIndexes => "every index of the table",
            RelationRole::ReferencedTable => "referenced table",
            RelationRole::ReferencingTables => "referencing tables",
            RelationRole::PartitionParent => "partitioned parent",
            RelationRole::Partition => "partition",
            RelationRole::Descendants => "every partition and inheritance child",
            RelationRole::Partitions => "every partition",
            RelationRole::ColumnIndexes => "indexes on the column",
            RelationRole::DefaultPartition => "DEFAULT partition",
            RelationRole::Parent => "partitioned parent of the partition",
            RelationRole::OwnedSequences => "sequences owned by the table",
            RelationRole::Dependents => "dependents reached by CASCADE",
            RelationRole::DomainUsers => "tables with a column of the domain",
            RelationRole::RowsReach => "relations its rows may reach",
            RelationRole::SubPartitions => "partitions of the partition",
        }
    }
}

/// Whether a statement writes a new copy of data on disk.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Rewrite {
    No,
    /// The whole table and all its indexes are written anew (new relfilenodes).
    Table,
    /// One or more indexes are rebuilt; the table itself is not.
    Indexes,
}

/// Whether a statement reads every row of the table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Scan {
    No,
    /// A full scan (validation or index build); time grows with the table.
    Table,
    /// Reads what its query reads (DML, CREATE TABLE AS, REFRESH): the plan decides, not the
    /// statement form, so the lock model makes no claim about scans.
    Query,
}

/// Whether the statement may run inside a transaction block.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TransactionUse {
    Allowed,
    /// PostgreSQL refuses it inside `BEGIN ... COMMIT` (the CONCURRENTLY forms).
    Forbidden,
}

/// A statement form: one kind of schema change whose locking behaviour is uniform.
///
/// The analyser maps each parsed statement (each `ALTER TABLE` subcommand) to one form.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum StatementForm {
    // --- indexes
    CreateIndex,
    CreateIndexConcurrently,
    CreateIndexSkipped,
    DropIndex,
    DropIndexConcurrently,
    ReindexIndex,
    ReindexTable,
    ReindexConcurrently,
    ReindexPartitioned,
    AlterIndexRename,
    AlterIndexSetTablespace,
    AlterIndexSetStorage,
    AlterIndexSetStorageExclusive,
    AlterIndexSetStatistics,
    AttachIndexPartition,
    // --- ALTER TABLE ... ADD COLUMN
    AddColumnNullable,
    AddColumnNonVolatileDefault,
    AddColumnVolatileDefault,
    AddColumnNotNullWithDefault,
    AddColumnNotNullNoDefault,
    AddColumnIdentity,
    AddColumnSerial,
    AddColumnGeneratedStored,
    AddColumnGeneratedVirtual,
    AddColumnCheck,
    AddColumnReferences,
    AddColumnReferencesWithDefault,
    AddColumnUnique,
    AddColumnPrimaryKey,
    // --- ALTER TABLE ... other column changes
    DropColumn,
    AlterColumnTypeNoRewrite,
    AlterColumnTypeRecheck,
    AlterColumnTypeRebuildIndex,
    AlterColumnTypeRewrite,
    SetDefault,
    DropDefault,
    SetNotNull,
    SetNotNullProvenByCheck,
    DropNotNull,
    SetStatistics,
    SetColumnStorage,
    SetCompression,
    AddIdentity,
    DropIdentity,
    SetIdentity,
    SetExpression,
    DropExpression,
    // --- constraints
    AddCheck,
    AddCheckNotValid,
    AddNotNullConstraintNotValid,
    AddForeignKey,
    AddForeignKeyNotValid,
    AddUnique,
    AddPrimaryKey,
    AddUniqueUsingIndex,
    AddPrimaryKeyUsingIndex,
    AddPrimaryKeyUsingIndexSetsNotNull,
    AddExclude,
    ValidateCheck,
    ValidateForeignKey,
    DropConstraint,
    DropForeignKey,
    RenameConstraint,
    // --- table level
    RenameTable,
    RenameColumn,
    SetSchema,
    OwnerTo,
    SetStorageParameters,
    SetStorageParametersExclusive,
    SetTablespace,
    SetLogged,
    SetUnlogged,
    SetAccessMethod,
    ReplicaIdentity,
    RowLevelSecurity,
    ClusterOn,
    InheritChange,
    SetWithoutOids,
    DropInherit,
    EnableDisableTrigger,
    AttachPartition,
    DetachPartition,
    DetachPartitionConcurrently,
    // --- other statements
    CreateTable,
    CreateTableWithForeignKey,
    CreateTablePartitionOf,
    CreateTableInherits,
    DropTable,
    Truncate,
    CreateTrigger,
    DropTrigger,
    Cluster,
    VacuumFull,
    Vacuum,
    Analyze,
    RefreshMaterializedView,
    RefreshMaterializedViewConcurrently,
    CreateOrReplaceView,
    DropView,
    CreateRule,
    DropRule,
    RenameRule,
    RenameTrigger,
    CreateStatistics,
    AlterSequence,
    RenameSequence,
    AlterSequenceSetLogged,
    DropSequence,
    DropType,
    DropSchema,
    DropObject,
    DropStatistics,
    DropForeignTable,
    DropOwned,
    ReassignOwned,
    AlterForeignTableRows,
    AlterTableNoMove,
    AlterIndexNoMove,
    AttachPartitionUnchecked,
    AlterDomainCheck,
    AlterDomainCatalogOnly,
    CreateTableAs,
    AlterConstraint,
    CreatePublication,
    AlterPublicationTables,
    PublicationCatalogOnly,
    AlterTypeAddValue,
    Grant,
    Comment,
    CreatePolicy,
    LockTable,
    Dml,
}

/// Everything the model knows about one statement form on a range of versions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LockFact {
    pub form: StatementForm,
    /// Human-readable name of the form, e.g. `CREATE INDEX CONCURRENTLY`.
    pub title: &'static str,
    /// First and last major version this row is about (inclusive).
    pub since: u32,
    pub until: u32,
    /// `None` when the form exists on these versions; otherwise why it does not.
    pub unsupported: Option<&'static str>,
    /// Lock mode per relation role. Empty for statements that lock no relation.
    pub locks: &'static [(RelationRole, LockMode)],
    pub rewrite: Rewrite,
    pub scan: Scan,
    pub transaction: TransactionUse,
    /// Waits for every transaction that touched the table (or holds an old snapshot) to end.
    pub waits_for_transactions: bool,
    /// A runnable example on the fixture schema of the differential trace test
    /// (`pgdiplomat_trace::catalogue::FIXTURE`).
    pub example: &'static str,
    /// Qualifications the columns cannot express.
    pub note: &'static str,
    /// A stronger lock taken on a role at the very end, once no transaction can be using that
    /// relation any more (the old index of DROP/REINDEX CONCURRENTLY, after it is marked dead):
    /// it blocks no one, and a sampling trace sees it only when it is lucky.
    pub final_lock: Option<(RelationRole, LockMode)>,
    /// Relations of other roles that are scanned too (the DEFAULT partition on ATTACH, the
    /// referencing tables whose foreign keys are re-validated).
    pub also_scans: &'static [RelationRole],
    /// Relations of other roles that are rewritten too (TRUNCATE ... CASCADE empties them).
    pub also_rewrites: &'static [RelationRole],
}

impl LockFact {
    /// The strongest lock taken on the statement's main table (or index, for index-only forms).
    pub fn strongest_lock(&self) -> Option<LockMode> {
        self.locks.iter().map(|(_, m)| *m).max()
    }

    /// The lock on a given role, if any.
    pub fn lock_on(&self, role: RelationRole) -> Option<LockMode> {
        self.locks.iter().find(|(r, _)| *r == role).map(|(_, m)| *m)
    }

    /// How the time the statement holds its lock grows.
    pub fn duration(&self) -> Duration {
        if self.rewrite == Rewrite::Table
            || self.scan == Scan::Table
            || self.rewrite == Rewrite::Indexes
        {
            if self.waits_for_transactions {
                Duration::TableSizeAndWaits
            } else {
                Duration::TableSize
            }
        } else if self.waits_for_transactions {
            Duration::WaitsForTransactions
        } else {
            Duration::Instant
        }
    }
}

/// How long a statement runs once its lock is granted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Duration {
    /// A catalog update: milliseconds whatever the table size.
    Instant,
    /// Grows with the size of the table (a scan or a rewrite).
    TableSize,
    /// Waits for concurrent transactions to finish, but does no heavy work itself.
    WaitsForTransactions,
    /// Both: scans/builds and waits for older transactions.
    TableSizeAndWaits,
}

impl Duration {
    pub fn describe(self) -> &'static str {
        match self {
            Duration::Instant => "instant (catalog change only)",
            Duration::TableSize => "grows with table size",
            Duration::WaitsForTransactions => "waits for running transactions to finish",
            Duration::TableSizeAndWaits => {
                "grows with table size and waits for running transactions"
            }
        }
    }
}

const fn fact(
    form: StatementForm,
    title: &'static str,
    locks: &'static [(RelationRole, LockMode)],
    example: &'static str,
) -> LockFact {
    LockFact {
        form,
        title,
        since: 13,
        until: 18,
        unsupported: None,
        locks,
        rewrite: Rewrite::No,
        scan: Scan::No,
        transaction: TransactionUse::Allowed,
        waits_for_transactions: false,
        example,
        note: "",
        final_lock: None,
        also_scans: &[],
        also_rewrites: &[],
    }
}

impl LockFact {
    const fn final_lock(mut self, role: RelationRole, mode: LockMode) -> Self {
        self.final_lock = Some((role, mode));
        self
    }
    const fn also_scans(mut self, roles: &'static [RelationRole]) -> Self {
        self.also_scans = roles;
        self
    }
    const fn also_rewrites(mut self, roles: &'static [RelationRole]) -> Self {
        self.also_rewrites = roles;
        self
    }
    const fn rewrites(mut self, rewrite: Rewrite) -> Self {
        self.rewrite = rewrite;
        self
    }
    const fn scans(mut self) -> Self {
        self.scan = Scan::Table;
        self
    }
    const fn query_scans(mut self) -> Self {
        self.scan = Scan::Query;
        self
    }
    const fn no_transaction(mut self) -> Self {
        self.transaction = TransactionUse::Forbidden;
        self
    }
    const fn waits(mut self) -> Self {
        self.waits_for_transactions = true;
        self
    }
    const fn versions(mut self, since: u32, until: u32) -> Self {
        self.since = since;
        self.until = until;
        self
    }
    const fn unsupported(mut self, since: u32, until: u32, why: &'static str) -> Self {
        self.since = since;
        self.until = until;
        self.unsupported = Some(why);
        self
    }
    const fn note(mut self, note: &'static str) -> Self {
        self.note = note;
        self
    }
}

use RelationRole::*;
use StatementForm as F;

const T_AE: &[(RelationRole, LockMode)] = &[(Table, AccessExclusive)];
const T_SUE: &[(RelationRole, LockMode)] = &[(Table, ShareUpdateExclusive)];
const T_SRE: &[(RelationRole, LockMode)] = &[(Table, ShareRowExclusive)];
/// The table and, unless ONLY, every partition and inheritance child (ALTER TABLE recursion).
const D_AE: &[(RelationRole, LockMode)] =
    &[(Table, AccessExclusive), (Descendants, AccessExclusive)];
const D_SUE: &[(RelationRole, LockMode)] = &[
    (Table, ShareUpdateExclusive),
    (Descendants, ShareUpdateExclusive),
];
/// ALTER COLUMN TYPE without a rewrite: the indexes on the column are re-created, foreign keys
/// on it (either side) re-added.
const ALTER_TYPE_LOCKS: &[(RelationRole, LockMode)] = &[
    (Table, AccessExclusive),
    (ColumnIndexes, AccessExclusive),
    (ReferencingTables, AccessExclusive),
    (ReferencedTable, AccessExclusive),
    (Descendants, AccessExclusive),
];
const D_AE_INDEXES: &[(RelationRole, LockMode)] = &[
    (Table, AccessExclusive),
    (AllIndexes, AccessExclusive),
    (Descendants, AccessExclusive),
];

/// The lock table. See the module documentation.
pub static LOCK_TABLE: &[LockFact] = &[
    // ------------------------------------------------------------------ indexes
    fact(F::CreateIndex, "CREATE INDEX", &[(Table, Share), (NewIndex, AccessExclusive), (Partitions, Share)],
        "CREATE INDEX t_d_idx ON t (d)")
        .scans()
        .note("SHARE on the table blocks writes for the whole build."),
    fact(F::CreateIndexSkipped, "CREATE INDEX IF NOT EXISTS (an index of that name exists: skipped)", &[(Table, Share)],
        "CREATE INDEX IF NOT EXISTS t_e_idx ON t (e)")
        .note("Nothing is built, but SHARE is still taken on the table (writes wait for the lock). The existing index is kept as it is, even if it differs or is INVALID."),
    fact(F::CreateIndexConcurrently, "CREATE INDEX CONCURRENTLY", T_SUE,
        "CREATE INDEX CONCURRENTLY t_d_idx ON t (d)")
        .scans().no_transaction().waits()
        .note("Two table scans; waits for writers and for every transaction with an older snapshot in the database. A failure leaves an INVALID index behind. Not supported on partitioned tables."),
    fact(F::DropIndex, "DROP INDEX", &[(Table, AccessExclusive), (Index, AccessExclusive), (Partitions, AccessExclusive)],
        "DROP INDEX t_a_idx")
        .note("The index of a partitioned table is dropped on every partition too (ACCESS EXCLUSIVE on each)."),
    fact(F::DropIndexConcurrently, "DROP INDEX CONCURRENTLY",
        &[(Table, ShareUpdateExclusive), (Index, ShareUpdateExclusive)],
        "DROP INDEX CONCURRENTLY t_a_idx")
        .no_transaction().waits()
        .final_lock(Index, AccessExclusive)
        .note("At the very end, once no transaction can use the index any more, it takes ACCESS EXCLUSIVE on the index to remove its files: that blocks no one."),
    fact(F::ReindexIndex, "REINDEX INDEX", &[(Table, Share), (Index, AccessExclusive)],
        "REINDEX INDEX t_a_idx")
        .rewrites(Rewrite::Indexes).scans()
        .note("ACCESS EXCLUSIVE on an index also blocks SELECTs that plan with it (the planner locks every index of the table)."),
    fact(F::ReindexTable, "REINDEX TABLE", &[(Table, Share), (AllIndexes, AccessExclusive)],
        "REINDEX TABLE t")
        .rewrites(Rewrite::Indexes).scans()
        .note("ACCESS EXCLUSIVE on the indexes blocks SELECTs as well as writes."),
    fact(F::ReindexPartitioned, "REINDEX of a partitioned table or index",
        &[(Partitions, Share)],
        "REINDEX INDEX t_rp_v_idx")
        .unsupported(13, 13, "REINDEX of a partitioned table or index arrived in PostgreSQL 14"),
    fact(F::ReindexPartitioned, "REINDEX of a partitioned table or index",
        &[(Partitions, Share)],
        "REINDEX INDEX t_rp_v_idx")
        .versions(14, 18).rewrites(Rewrite::Indexes).scans().no_transaction()
        .note("Each partition is reindexed in a transaction of its own, one after another: SHARE on the partition (writes wait) and ACCESS EXCLUSIVE on its indexes (reads that use them wait) while they are rebuilt. Cannot run inside a transaction block."),
    fact(F::ReindexConcurrently, "REINDEX CONCURRENTLY",
        &[(Table, ShareUpdateExclusive), (Index, ShareUpdateExclusive)],
        "REINDEX INDEX CONCURRENTLY t_a_idx")
        .rewrites(Rewrite::Indexes).scans().no_transaction().waits()
        .final_lock(Index, AccessExclusive)
        .note("The old index is dropped at the end under ACCESS EXCLUSIVE, once no transaction can use it any more: that blocks no one."),
    fact(F::AlterIndexRename, "ALTER INDEX ... RENAME", &[(Index, ShareUpdateExclusive)],
        "ALTER INDEX t_a_idx RENAME TO t_a_idx2"),
    fact(F::AlterIndexSetTablespace, "ALTER INDEX ... SET TABLESPACE", &[(Index, AccessExclusive)],
        "ALTER INDEX t_a_idx SET TABLESPACE ts1")
        .rewrites(Rewrite::Indexes)
        .note("Copies the index; ACCESS EXCLUSIVE on an index blocks SELECTs on its table."),
    fact(F::AlterIndexSetStatistics, "ALTER INDEX ... ALTER COLUMN ... SET STATISTICS", &[(Index, ShareUpdateExclusive)],
        "ALTER INDEX t_expr_idx ALTER COLUMN 1 SET STATISTICS 100"),
    fact(F::AlterIndexSetStorage, "ALTER INDEX ... SET (...)", &[(Index, ShareUpdateExclusive)],
        "ALTER INDEX t_a_idx SET (fillfactor = 80)")
        .note("The lock level is the option's, measured per version (data/reloption-locks.tsv)."),
    fact(F::AlterIndexSetStorageExclusive, "ALTER INDEX ... SET (option taking ACCESS EXCLUSIVE)", &[(Index, AccessExclusive)],
        "ALTER INDEX t_d_gin SET (fastupdate = off)")
        .note("GIN fastupdate / gin_pending_list_limit, GiST buffering, BRIN pages_per_range / autosummarize (measured per version, data/reloption-locks.tsv): ACCESS EXCLUSIVE on an index blocks SELECTs that plan with it."),
    fact(F::AttachIndexPartition, "ALTER INDEX ... ATTACH PARTITION", &[(Index, ShareUpdateExclusive), (Partition, AccessExclusive)],
        "ALTER INDEX parted_v_idx ATTACH PARTITION parted_1_v_idx")
        .note("Brief: the partition's index (ACCESS EXCLUSIVE) joins the parent's index (SHARE UPDATE EXCLUSIVE); the parent becomes valid with its last partition. Nothing is scanned."),
    // ------------------------------------------------------------------ ADD COLUMN
    fact(F::AddColumnNullable, "ADD COLUMN (nullable, no default)", D_AE,
        "ALTER TABLE t ADD COLUMN n int"),
    fact(F::AddColumnNonVolatileDefault, "ADD COLUMN ... DEFAULT <constant or stable>", D_AE,
        "ALTER TABLE t ADD COLUMN n int DEFAULT 5")
        .note("Since PostgreSQL 11 the default is stored in the catalog: no rewrite."),
    fact(F::AddColumnVolatileDefault, "ADD COLUMN ... DEFAULT <volatile>", D_AE_INDEXES,
        "ALTER TABLE t ADD COLUMN n float8 DEFAULT random()")
        .rewrites(Rewrite::Table).scans()
        .note("Each row gets its own value, so every row is rewritten under ACCESS EXCLUSIVE."),
    fact(F::AddColumnNotNullWithDefault, "ADD COLUMN ... NOT NULL DEFAULT <constant>", D_AE,
        "ALTER TABLE t ADD COLUMN n int NOT NULL DEFAULT 5"),
    fact(F::AddColumnNotNullNoDefault, "ADD COLUMN ... NOT NULL (no default)", D_AE,
        "ALTER TABLE empty_t ADD COLUMN n int NOT NULL")
        .scans()
        .note("Fails on a non-empty table: every existing row would be NULL."),
    fact(F::AddColumnIdentity, "ADD COLUMN ... GENERATED AS IDENTITY", D_AE_INDEXES,
        "ALTER TABLE t ADD COLUMN idn bigint GENERATED ALWAYS AS IDENTITY")
        .rewrites(Rewrite::Table).scans(),
    fact(F::AddColumnSerial, "ADD COLUMN ... serial", D_AE_INDEXES,
        "ALTER TABLE t ADD COLUMN sr serial")
        .rewrites(Rewrite::Table).scans()
        .note("serial is a nextval() default: volatile, so every row is rewritten."),
    fact(F::AddColumnGeneratedStored, "ADD COLUMN ... GENERATED ALWAYS AS (...) STORED", D_AE_INDEXES,
        "ALTER TABLE t ADD COLUMN g2 int GENERATED ALWAYS AS (a * 2) STORED")
        .rewrites(Rewrite::Table).scans(),
    fact(F::AddColumnGeneratedVirtual, "ADD COLUMN ... GENERATED ALWAYS AS (...) VIRTUAL", T_AE,
        "ALTER TABLE t ADD COLUMN g2 int GENERATED ALWAYS AS (a * 2) VIRTUAL")
        .unsupported(13, 17, "virtual generated columns arrived in PostgreSQL 18"),
    fact(F::AddColumnGeneratedVirtual, "ADD COLUMN ... GENERATED ALWAYS AS (...) VIRTUAL", T_AE,
        "ALTER TABLE t ADD COLUMN g2 int GENERATED ALWAYS AS (a * 2) VIRTUAL")
        .versions(18, 18),
    fact(F::AddColumnCheck, "ADD COLUMN ... CHECK (...)", D_AE,
        "ALTER TABLE t ADD COLUMN n int CHECK (n > 0)")
        .scans()
        .note("The inline CHECK is validated against every row under ACCESS EXCLUSIVE."),
    fact(F::AddColumnReferences, "ADD COLUMN ... REFERENCES", &[(Table, AccessExclusive), (ReferencedTable, ShareRowExclusive), (Descendants, AccessExclusive)],
        "ALTER TABLE t ADD COLUMN n int REFERENCES pk (id)")
        .note("No validation scan when the new column has no default (all NULL)."),
    fact(F::AddColumnReferencesWithDefault, "ADD COLUMN ... DEFAULT ... REFERENCES", &[(Table, AccessExclusive), (ReferencedTable, ShareRowExclusive), (Descendants, AccessExclusive)],
        "ALTER TABLE t ADD COLUMN n int DEFAULT 1 REFERENCES pk (id)")
        .scans()
        .note("Every existing row gets the default, so the new foreign key is checked against the referenced table for every row (a join of both tables) while ACCESS EXCLUSIVE is held."),
    fact(F::AddColumnUnique, "ADD COLUMN ... UNIQUE", &[(Table, AccessExclusive), (NewIndex, AccessExclusive)],
        "ALTER TABLE t ADD COLUMN n int UNIQUE")
        .scans(),
    fact(F::AddColumnPrimaryKey, "ADD COLUMN ... PRIMARY KEY", &[(Table, AccessExclusive), (NewIndex, AccessExclusive)],
        "ALTER TABLE t2 ADD COLUMN n serial PRIMARY KEY")
        .rewrites(Rewrite::Table).scans(),
    // ------------------------------------------------------------------ columns
    fact(F::DropColumn, "DROP COLUMN", &[(Table, AccessExclusive), (Descendants, AccessExclusive), (ReferencedTable, AccessExclusive), (OwnedSequences, AccessExclusive), (Dependents, AccessExclusive)], "ALTER TABLE t DROP COLUMN e")
        .note("Instant (the column is only marked dropped), but running code that names the column breaks; indexes on it are dropped."),
    fact(F::AlterColumnTypeNoRewrite, "ALTER COLUMN TYPE (binary coercible)", ALTER_TYPE_LOCKS,
        "ALTER TABLE t ALTER COLUMN b TYPE varchar(20)")
        .note("varchar(n)→varchar(m>n), varchar→text, numeric precision increase (binary-coercible casts come from pg_cast): no rewrite; indexes on the column are recreated but keep their storage; foreign keys on it are re-added without a check."),
    fact(F::AlterColumnTypeRecheck, "ALTER COLUMN TYPE (binary coercible, a CHECK uses the column)", ALTER_TYPE_LOCKS,
        "ALTER TABLE t ALTER COLUMN chk TYPE varchar(40)")
        .scans()
        .note("No rewrite, but every CHECK on the column is re-added and checked against every row under ACCESS EXCLUSIVE."),
    fact(F::AlterColumnTypeRebuildIndex, "ALTER COLUMN TYPE (binary coercible, an expression or partial index uses the column)", ALTER_TYPE_LOCKS,
        "ALTER TABLE t ALTER COLUMN lbl TYPE varchar(40)")
        .rewrites(Rewrite::Indexes).scans()
        .note("No table rewrite, but an index with an expression or a predicate on the column is rebuilt (every row read) under ACCESS EXCLUSIVE."),
    fact(F::AlterColumnTypeRewrite, "ALTER COLUMN TYPE (rewrite)", &[(Table, AccessExclusive), (AllIndexes, AccessExclusive), (ReferencingTables, AccessExclusive), (ReferencedTable, AccessExclusive), (Descendants, AccessExclusive)],
        "ALTER TABLE t ALTER COLUMN e TYPE bigint")
        .rewrites(Rewrite::Table).scans().also_scans(&[ReferencingTables])
        .note("Every row is rewritten and every index rebuilt under ACCESS EXCLUSIVE. Changing a referenced key also locks and re-validates referencing tables."),
    fact(F::SetDefault, "ALTER COLUMN SET DEFAULT", D_AE, "ALTER TABLE t ALTER COLUMN a SET DEFAULT 0"),
    fact(F::DropDefault, "ALTER COLUMN DROP DEFAULT", D_AE, "ALTER TABLE t ALTER COLUMN a DROP DEFAULT"),
    fact(F::SetNotNull, "ALTER COLUMN SET NOT NULL", D_AE, "ALTER TABLE t ALTER COLUMN a SET NOT NULL")
        .scans()
        .note("Scans every row under ACCESS EXCLUSIVE, unless a validated CHECK (col IS NOT NULL) proves it."),
    fact(F::SetNotNullProvenByCheck, "ALTER COLUMN SET NOT NULL (proven by a valid CHECK)", D_AE,
        "ALTER TABLE t ALTER COLUMN a SET NOT NULL")
        .note("A validated CHECK (col IS NOT NULL) lets PostgreSQL skip the scan (since 12)."),
    fact(F::DropNotNull, "ALTER COLUMN DROP NOT NULL", D_AE, "ALTER TABLE t ALTER COLUMN a DROP NOT NULL"),
    fact(F::SetStatistics, "ALTER COLUMN SET STATISTICS", D_SUE, "ALTER TABLE t ALTER COLUMN a SET STATISTICS 500"),
    fact(F::SetColumnStorage, "ALTER COLUMN SET STORAGE", D_AE, "ALTER TABLE t ALTER COLUMN d SET STORAGE EXTERNAL"),
    fact(F::SetCompression, "ALTER COLUMN SET COMPRESSION", T_AE, "ALTER TABLE t ALTER COLUMN d SET COMPRESSION pglz")
        .unsupported(13, 13, "SET COMPRESSION arrived in PostgreSQL 14"),
    fact(F::SetCompression, "ALTER COLUMN SET COMPRESSION", T_AE, "ALTER TABLE t ALTER COLUMN d SET COMPRESSION pglz")
        .versions(14, 18),
    fact(F::AddIdentity, "ALTER COLUMN ADD GENERATED AS IDENTITY", T_AE,
        "ALTER TABLE t ALTER COLUMN a ADD GENERATED BY DEFAULT AS IDENTITY")
        .note("Existing values are kept: no rewrite. The column must already be NOT NULL."),
    fact(F::DropIdentity, "ALTER COLUMN DROP IDENTITY", &[(Table, AccessExclusive), (OwnedSequences, AccessExclusive)],
        "ALTER TABLE t ALTER COLUMN id DROP IDENTITY IF EXISTS")
        .note("The identity's sequence is dropped (ACCESS EXCLUSIVE on it)."),
    fact(F::SetIdentity, "ALTER COLUMN SET GENERATED / SET sequence option / RESTART", &[(Table, AccessExclusive), (OwnedSequences, ShareRowExclusive)],
        "ALTER TABLE t ALTER COLUMN idn SET GENERATED ALWAYS")
        .note("Changes the identity's sequence like ALTER SEQUENCE (SHARE ROW EXCLUSIVE on it: nextval() waits)."),
    fact(F::SetExpression, "ALTER COLUMN SET EXPRESSION", &[(Table, AccessExclusive), (AllIndexes, AccessExclusive)],
        "ALTER TABLE t ALTER COLUMN g SET EXPRESSION AS (a * 3)")
        .unsupported(13, 16, "SET EXPRESSION arrived in PostgreSQL 17"),
    fact(F::SetExpression, "ALTER COLUMN SET EXPRESSION", &[(Table, AccessExclusive), (AllIndexes, AccessExclusive)],
        "ALTER TABLE t ALTER COLUMN g SET EXPRESSION AS (a * 3)")
        .versions(17, 18).rewrites(Rewrite::Table).scans(),
    fact(F::DropExpression, "ALTER COLUMN DROP EXPRESSION", T_AE, "ALTER TABLE t ALTER COLUMN g DROP EXPRESSION"),
    // ------------------------------------------------------------------ constraints
    fact(F::AddCheck, "ADD CONSTRAINT ... CHECK", D_AE, "ALTER TABLE t ADD CONSTRAINT t_a_pos CHECK (a > 0)")
        .scans()
        .note("Validates every row while holding ACCESS EXCLUSIVE."),
    fact(F::AddCheckNotValid, "ADD CONSTRAINT ... CHECK ... NOT VALID", D_AE,
        "ALTER TABLE t ADD CONSTRAINT t_a_pos CHECK (a > 0) NOT VALID")
        .note("Only new and updated rows are checked; VALIDATE CONSTRAINT later checks the rest under SHARE UPDATE EXCLUSIVE."),
    fact(F::AddNotNullConstraintNotValid, "ADD CONSTRAINT ... NOT NULL ... NOT VALID", T_AE,
        "ALTER TABLE t ADD CONSTRAINT t_a_nn NOT NULL a NOT VALID")
        .unsupported(13, 17, "NOT NULL constraints with NOT VALID arrived in PostgreSQL 18"),
    fact(F::AddNotNullConstraintNotValid, "ADD CONSTRAINT ... NOT NULL ... NOT VALID", T_AE,
        "ALTER TABLE t ADD CONSTRAINT t_a_nn NOT NULL a NOT VALID")
        .versions(18, 18),
    fact(F::AddForeignKey, "ADD CONSTRAINT ... FOREIGN KEY", &[(Table, ShareRowExclusive), (ReferencedTable, ShareRowExclusive)],
        "ALTER TABLE t ADD CONSTRAINT t_ref_fk FOREIGN KEY (ref_id) REFERENCES pk (id)")
        .scans()
        .note("Validates every row while blocking writes on both tables."),
    fact(F::AddForeignKeyNotValid, "ADD CONSTRAINT ... FOREIGN KEY ... NOT VALID", &[(Table, ShareRowExclusive), (ReferencedTable, ShareRowExclusive)],
        "ALTER TABLE t ADD CONSTRAINT t_ref_fk FOREIGN KEY (ref_id) REFERENCES pk (id) NOT VALID"),
    fact(F::AddUnique, "ADD CONSTRAINT ... UNIQUE", &[(Table, AccessExclusive), (NewIndex, AccessExclusive)],
        "ALTER TABLE t ADD CONSTRAINT t_d_key UNIQUE (d)")
        .scans()
        .note("Builds the unique index while holding ACCESS EXCLUSIVE: reads and writes wait for the whole build."),
    fact(F::AddPrimaryKey, "ADD CONSTRAINT ... PRIMARY KEY", &[(Table, AccessExclusive), (NewIndex, AccessExclusive)],
        "ALTER TABLE t2 ADD CONSTRAINT t2_pkey PRIMARY KEY (id)")
        .scans()
        .note("Builds the index (and checks NOT NULL) while holding ACCESS EXCLUSIVE."),
    fact(F::AddUniqueUsingIndex, "ADD CONSTRAINT ... UNIQUE USING INDEX", &[(Table, AccessExclusive), (Index, ShareUpdateExclusive)],
        "ALTER TABLE t ADD CONSTRAINT t_d_key UNIQUE USING INDEX t_d_uidx")
        .note("Catalog change only; the index is renamed to the constraint name (SHARE UPDATE EXCLUSIVE on the index, as measured)."),
    fact(F::AddPrimaryKeyUsingIndex, "ADD CONSTRAINT ... PRIMARY KEY USING INDEX", &[(Table, AccessExclusive), (Index, ShareUpdateExclusive)],
        "ALTER TABLE t2 ADD CONSTRAINT t2_pkey PRIMARY KEY USING INDEX t2_id_uidx")
        .note("No scan when the key columns are already NOT NULL; otherwise PostgreSQL scans to set NOT NULL."),
    fact(F::AddPrimaryKeyUsingIndexSetsNotNull, "ADD CONSTRAINT ... PRIMARY KEY USING INDEX (a key column is nullable)", &[(Table, AccessExclusive), (Index, ShareUpdateExclusive)],
        "ALTER TABLE t2 ADD CONSTRAINT t2_pkey PRIMARY KEY USING INDEX t2_v_uidx")
        .scans()
        .note("A nullable key column is set NOT NULL first: every row is checked under ACCESS EXCLUSIVE. Add a CHECK (col IS NOT NULL) NOT VALID, VALIDATE it, SET NOT NULL, then the key."),
    fact(F::AddExclude, "ADD CONSTRAINT ... EXCLUDE", &[(Table, AccessExclusive), (NewIndex, AccessExclusive)],
        "ALTER TABLE t ADD CONSTRAINT t_a_excl EXCLUDE USING btree (a WITH =)")
        .scans()
        .note("No concurrent alternative exists: the index is built under ACCESS EXCLUSIVE."),
    fact(F::ValidateCheck, "VALIDATE CONSTRAINT (check)", D_SUE, "ALTER TABLE t VALIDATE CONSTRAINT t_a_pos")
        .scans()
        .note("Scans the table without blocking reads or writes."),
    fact(F::ValidateForeignKey, "VALIDATE CONSTRAINT (foreign key)", &[(Table, ShareUpdateExclusive), (ReferencedTable, RowShare)],
        "ALTER TABLE t VALIDATE CONSTRAINT t_ref_fk")
        .scans(),
    fact(F::DropConstraint, "DROP CONSTRAINT", &[(Table, AccessExclusive), (Descendants, AccessExclusive), (Dependents, AccessExclusive)], "ALTER TABLE t DROP CONSTRAINT t_a_pos"),
    fact(F::DropForeignKey, "DROP CONSTRAINT (foreign key)", &[(Table, AccessExclusive), (ReferencedTable, AccessExclusive)],
        "ALTER TABLE t DROP CONSTRAINT t_ref_fk")
        .note("Also takes ACCESS EXCLUSIVE on the referenced table (its triggers are dropped)."),
    fact(F::RenameConstraint, "RENAME CONSTRAINT", T_AE, "ALTER TABLE t RENAME CONSTRAINT t_a_pos TO t_a_positive"),
    // ------------------------------------------------------------------ table level
    fact(F::RenameTable, "ALTER TABLE ... RENAME TO", T_AE, "ALTER TABLE t RENAME TO t_new")
        .note("Instant, but every query that names the old table fails at once."),
    fact(F::RenameColumn, "ALTER TABLE ... RENAME COLUMN", D_AE, "ALTER TABLE t RENAME COLUMN a TO a2")
        .note("Instant, but every query that names the old column fails at once."),
    fact(F::SetSchema, "ALTER TABLE ... SET SCHEMA", T_AE, "ALTER TABLE t SET SCHEMA other"),
    fact(F::OwnerTo, "ALTER TABLE ... OWNER TO", T_AE, "ALTER TABLE t OWNER TO CURRENT_USER"),
    fact(F::SetStorageParameters, "ALTER TABLE ... SET (storage parameter)", T_SUE,
        "ALTER TABLE t SET (fillfactor = 90)"),
    fact(F::SetStorageParametersExclusive, "ALTER TABLE/VIEW ... SET (option taking ACCESS EXCLUSIVE)", T_AE,
        "ALTER TABLE t SET (user_catalog_table = true)")
        .note("user_catalog_table and every view option (security_barrier, check_option, security_invoker), measured per version (data/reloption-locks.tsv)."),
    fact(F::SetTablespace, "ALTER TABLE ... SET TABLESPACE", T_AE, "ALTER TABLE t SET TABLESPACE ts1")
        .rewrites(Rewrite::Table)
        .note("Copies the table file by file while holding ACCESS EXCLUSIVE."),
    fact(F::SetLogged, "ALTER TABLE ... SET LOGGED", &[(Table, AccessExclusive), (AllIndexes, AccessExclusive)],
        "ALTER TABLE t SET LOGGED")
        .rewrites(Rewrite::Table).scans(),
    fact(F::SetUnlogged, "ALTER TABLE ... SET UNLOGGED", &[(Table, AccessExclusive), (AllIndexes, AccessExclusive)],
        "ALTER TABLE t SET UNLOGGED")
        .rewrites(Rewrite::Table).scans(),
    fact(F::SetAccessMethod, "ALTER TABLE ... SET ACCESS METHOD", &[(Table, AccessExclusive), (AllIndexes, AccessExclusive)],
        "ALTER TABLE t SET ACCESS METHOD heap2")
        .unsupported(13, 14, "SET ACCESS METHOD arrived in PostgreSQL 15"),
    fact(F::SetAccessMethod, "ALTER TABLE ... SET ACCESS METHOD", &[(Table, AccessExclusive), (AllIndexes, AccessExclusive)],
        "ALTER TABLE t SET ACCESS METHOD heap2")
        .versions(15, 18).rewrites(Rewrite::Table).scans(),
    fact(F::AlterTableNoMove, "ALTER TABLE ... SET TABLESPACE / SET ACCESS METHOD to what the table already has", T_AE,
        "ALTER TABLE t_nm SET TABLESPACE pg_default")
        .note("Nothing is copied: PostgreSQL sees the table is already there. It still takes ACCESS EXCLUSIVE (blocks reads and writes) for the instant of the check."),
    fact(F::AlterIndexNoMove, "ALTER INDEX ... SET TABLESPACE to the one the index is in", &[(Index, AccessExclusive)],
        "ALTER INDEX t_nm_idx SET TABLESPACE pg_default")
        .note("Nothing is copied; the ACCESS EXCLUSIVE on the index still blocks SELECTs on its table for that instant."),
    fact(F::ReplicaIdentity, "ALTER TABLE ... REPLICA IDENTITY", T_AE, "ALTER TABLE t REPLICA IDENTITY FULL"),
    fact(F::RowLevelSecurity, "ALTER TABLE ... ENABLE/DISABLE ROW LEVEL SECURITY", T_AE,
        "ALTER TABLE t ENABLE ROW LEVEL SECURITY"),
    fact(F::ClusterOn, "ALTER TABLE ... CLUSTER ON", T_SUE, "ALTER TABLE t CLUSTER ON t_a_idx"),
    fact(F::SetWithoutOids, "ALTER TABLE ... SET WITHOUT OIDS", T_AE, "ALTER TABLE t SET WITHOUT OIDS")
        .note("A no-op since PostgreSQL 12 (tables have no OIDs), but it still takes ACCESS EXCLUSIVE."),
    fact(F::InheritChange, "ALTER TABLE ... INHERIT", &[(Table, AccessExclusive), (ReferencedTable, ShareUpdateExclusive)],
        "ALTER TABLE inh_child INHERIT inh_parent")
        .note("The parent (shown as the referenced table) is locked too; the child keeps its rows (no scan)."),
    fact(F::DropInherit, "ALTER TABLE ... NO INHERIT", &[(Table, AccessExclusive), (ReferencedTable, AccessShare)],
        "ALTER TABLE inh_child NO INHERIT inh_parent")
        .note("The parent (shown as the referenced table) is only read (ACCESS SHARE)."),
    fact(F::EnableDisableTrigger, "ALTER TABLE ... ENABLE/DISABLE TRIGGER", T_SRE,
        "ALTER TABLE t DISABLE TRIGGER t_trg"),
    fact(F::AttachPartition, "ALTER TABLE ... ATTACH PARTITION", &[(PartitionParent, ShareUpdateExclusive), (Partition, AccessExclusive), (DefaultPartition, AccessExclusive), (SubPartitions, AccessExclusive), (ReferencedTable, ShareRowExclusive)],
        "ALTER TABLE parted ATTACH PARTITION parted_2 FOR VALUES FROM (100) TO (200)")
        .scans().also_scans(&[DefaultPartition, SubPartitions])
        .note("Scans the partition to check the bound unless a valid CHECK constraint implies it; a default partition is scanned too."),
    fact(F::AttachPartitionUnchecked, "ALTER TABLE ... ATTACH PARTITION (no rows to check: a foreign table, a DEFAULT partition of a table with no other partitions, or a partition whose valid CHECK constraints imply the bound beside no DEFAULT partition)",
        &[(PartitionParent, ShareUpdateExclusive), (Partition, AccessExclusive), (SubPartitions, AccessExclusive), (ReferencedTable, ShareRowExclusive)],
        "ALTER TABLE t_lp ATTACH PARTITION t_lp_d DEFAULT")
        .note("PostgreSQL checks no rows: a foreign table's are remote, a DEFAULT partition with no other partitions beside it may hold any row, and a partition whose valid CHECK constraints (and NOT NULL key) already imply the bound needs no proof (the model proves single-column LIST and RANGE bounds from equalities, IN lists, comparisons and BETWEEN)."),
    fact(F::AlterForeignTableRows, "ALTER FOREIGN TABLE ... SET NOT NULL / ADD CHECK / ALTER TYPE / ADD COLUMN ... DEFAULT (the rows are remote)",
        &[(Table, AccessExclusive), (Descendants, AccessExclusive)],
        "ALTER FOREIGN TABLE t_ft ALTER COLUMN id TYPE bigint")
        .note("What would check or rewrite a local table's rows reads and writes nothing here: the constraint or type is declared, not verified, and the remote data must already fit it."),
    fact(F::DetachPartition, "ALTER TABLE ... DETACH PARTITION", &[(PartitionParent, AccessExclusive), (Partition, ShareUpdateExclusive), (DefaultPartition, AccessExclusive), (SubPartitions, AccessExclusive)],
        "ALTER TABLE parted DETACH PARTITION parted_1")
        .versions(13, 13)
        .note("PostgreSQL 13 takes only SHARE UPDATE EXCLUSIVE on the partition (measured)."),
    fact(F::DetachPartition, "ALTER TABLE ... DETACH PARTITION", &[(PartitionParent, AccessExclusive), (Partition, AccessExclusive), (DefaultPartition, AccessExclusive), (SubPartitions, AccessExclusive)],
        "ALTER TABLE parted DETACH PARTITION parted_1")
        .versions(14, 18),
    fact(F::DetachPartitionConcurrently, "ALTER TABLE ... DETACH PARTITION CONCURRENTLY", &[(PartitionParent, ShareUpdateExclusive), (Partition, AccessExclusive)],
        "ALTER TABLE parted DETACH PARTITION parted_1 CONCURRENTLY")
        .unsupported(13, 13, "DETACH PARTITION CONCURRENTLY arrived in PostgreSQL 14"),
    fact(F::DetachPartitionConcurrently, "ALTER TABLE ... DETACH PARTITION CONCURRENTLY", &[(PartitionParent, ShareUpdateExclusive), (Partition, AccessExclusive)],
        "ALTER TABLE parted DETACH PARTITION parted_1 CONCURRENTLY")
        .versions(14, 18).no_transaction().waits()
        .note("Two transactions; waits for every transaction using the parent. Not allowed when a default partition exists."),
    // ------------------------------------------------------------------ other statements
    fact(F::CreateTable, "CREATE TABLE", &[], "CREATE TABLE t3 (id int PRIMARY KEY)"),
    fact(F::CreateTableWithForeignKey, "CREATE TABLE ... REFERENCES", &[(ReferencedTable, ShareRowExclusive)],
        "CREATE TABLE t3 (id int PRIMARY KEY, pk_id int REFERENCES pk (id))")
        .note("The referenced table gets SHARE ROW EXCLUSIVE (its triggers are created): writes to it wait."),
    fact(F::CreateTablePartitionOf, "CREATE TABLE ... PARTITION OF", &[(PartitionParent, AccessExclusive), (DefaultPartition, AccessExclusive), (ReferencedTable, ShareRowExclusive)],
        "CREATE TABLE parted_3 PARTITION OF parted FOR VALUES FROM (200) TO (300)")
        .also_scans(&[DefaultPartition])
        .note("With a DEFAULT partition, it is locked and scanned for rows that belong to the new partition."),
    fact(F::CreateTableInherits, "CREATE TABLE ... INHERITS", &[(Parent, ShareUpdateExclusive), (ReferencedTable, ShareRowExclusive)],
        "CREATE TABLE inh_child2 (x int) INHERITS (inh_parent)")
        .note("SHARE UPDATE EXCLUSIVE on each parent: other DDL and VACUUM on it wait, reads and writes do not."),
    fact(F::DropTable, "DROP TABLE", &[(Table, AccessExclusive), (ReferencedTable, AccessExclusive), (Descendants, AccessExclusive), (Parent, AccessExclusive), (DefaultPartition, AccessExclusive), (OwnedSequences, AccessExclusive), (Dependents, AccessExclusive)],
        "DROP TABLE t2")
        .note("Also ACCESS EXCLUSIVE on every table its foreign keys reference, its partitions, the parent (and DEFAULT partition) of a dropped partition, its owned sequences and, with CASCADE, every dependent."),
    fact(F::Truncate, "TRUNCATE", &[(Table, AccessExclusive), (Descendants, AccessExclusive), (OwnedSequences, AccessExclusive), (Dependents, AccessExclusive)], "TRUNCATE t2")
        .rewrites(Rewrite::Table).also_rewrites(&[Dependents])
        .note("Replaces the table with an empty file: all data is gone."),
    fact(F::CreateTrigger, "CREATE TRIGGER", &[(Table, ShareRowExclusive), (Partitions, ShareRowExclusive)],
        "CREATE TRIGGER t_trg2 BEFORE UPDATE ON t FOR EACH ROW EXECUTE FUNCTION trg_fn()"),
    fact(F::DropTrigger, "DROP TRIGGER", T_AE, "DROP TRIGGER t_trg ON t"),
    fact(F::Cluster, "CLUSTER", &[(Table, AccessExclusive), (AllIndexes, AccessExclusive)], "CLUSTER t USING t_pkey")
        .rewrites(Rewrite::Table).scans(),
    fact(F::VacuumFull, "VACUUM FULL", &[(Table, AccessExclusive), (AllIndexes, AccessExclusive)], "VACUUM FULL t")
        .rewrites(Rewrite::Table).scans().no_transaction(),
    fact(F::Vacuum, "VACUUM", &[(Table, ShareUpdateExclusive), (Partitions, ShareUpdateExclusive)], "VACUUM t")
        .scans().no_transaction().versions(13, 17)
        .note("Its final truncate phase briefly takes ACCESS EXCLUSIVE (disable with vacuum_truncate = false). Each partition is vacuumed too."),
    fact(F::Vacuum, "VACUUM", &[(Table, ShareUpdateExclusive), (Descendants, ShareUpdateExclusive)], "VACUUM t")
        .scans().no_transaction().versions(18, 18)
        .note("Its final truncate phase briefly takes ACCESS EXCLUSIVE (disable with vacuum_truncate = false). Since PostgreSQL 18 inheritance children are vacuumed too, unless ONLY."),
    fact(F::Analyze, "ANALYZE", &[(Table, ShareUpdateExclusive), (Partitions, ShareUpdateExclusive)], "ANALYZE t")
        .versions(13, 17)
        .note("Reads a sample, not the whole table. Each partition is analysed too; inheritance children are only read (ACCESS SHARE)."),
    fact(F::Analyze, "ANALYZE", &[(Table, ShareUpdateExclusive), (Descendants, ShareUpdateExclusive)], "ANALYZE t")
        .versions(18, 18)
        .note("Reads a sample, not the whole table. Since PostgreSQL 18 partitions and inheritance children are analysed too, unless ONLY."),
    fact(F::RefreshMaterializedView, "REFRESH MATERIALIZED VIEW", &[(Table, AccessExclusive)], "REFRESH MATERIALIZED VIEW mv")
        .rewrites(Rewrite::Table).query_scans(),
    fact(F::RefreshMaterializedViewConcurrently, "REFRESH MATERIALIZED VIEW CONCURRENTLY", &[(Table, Exclusive)],
        "REFRESH MATERIALIZED VIEW CONCURRENTLY mv")
        .scans()
        .note("EXCLUSIVE lets SELECTs continue; needs a unique index on the view."),
    fact(F::CreateOrReplaceView, "CREATE OR REPLACE VIEW", T_AE, "CREATE OR REPLACE VIEW v AS SELECT id, a FROM t")
        .note("ACCESS EXCLUSIVE on the existing view: queries on the view wait; its base tables are only read (ACCESS SHARE)."),
    fact(F::DropView, "DROP VIEW", &[(Table, AccessExclusive), (Dependents, AccessExclusive)], "DROP VIEW v")
        .note("Queries that use the view fail from then on; with CASCADE, views built on it are dropped too."),
    fact(F::CreateRule, "CREATE RULE", &[(Table, AccessExclusive), (RowsReach, RowExclusive)], "CREATE RULE t2_no_delete AS ON DELETE TO t2 DO INSTEAD NOTHING")
        .note("Changes what every query on the table does."),
    fact(F::DropRule, "DROP RULE", T_AE, "DROP RULE t2_no_delete ON t2"),
    fact(F::RenameRule, "ALTER RULE ... RENAME", T_AE, "ALTER RULE t2_no_delete ON t2 RENAME TO t2_keep"),
    fact(F::RenameTrigger, "ALTER TRIGGER ... RENAME", T_AE, "ALTER TRIGGER t_trg ON t RENAME TO t_trg2"),
    fact(F::CreateStatistics, "CREATE STATISTICS", T_SUE, "CREATE STATISTICS t_st (dependencies) ON a, e FROM t"),
    fact(F::AlterSequence, "ALTER SEQUENCE", T_SRE, "ALTER SEQUENCE t_seq INCREMENT BY 2")
        .note("The relation is the sequence: nextval() on it (every insert that uses it) waits until the transaction ends. The sequence's one-row file is replaced."),
    fact(F::AlterSequenceSetLogged, "ALTER SEQUENCE ... SET LOGGED / UNLOGGED", T_AE, "ALTER SEQUENCE t_seq SET UNLOGGED")
        .unsupported(13, 14, "ALTER SEQUENCE ... SET LOGGED / UNLOGGED arrived in PostgreSQL 15"),
    fact(F::AlterSequenceSetLogged, "ALTER SEQUENCE ... SET LOGGED / UNLOGGED", T_AE, "ALTER SEQUENCE t_seq SET UNLOGGED")
        .versions(15, 18)
        .note("The sequence's one-row file is replaced under ACCESS EXCLUSIVE: nextval() waits."),
    fact(F::RenameSequence, "ALTER SEQUENCE ... RENAME", T_AE, "ALTER SEQUENCE t_seq RENAME TO t_seq2")
        .note("Defaults keep working (they name the sequence by OID); code that names it breaks."),
    fact(F::AlterDomainCheck, "ALTER DOMAIN ... ADD CONSTRAINT / SET NOT NULL / VALIDATE CONSTRAINT", &[(DomainUsers, Share)],
        "ALTER DOMAIN t_dom ADD CONSTRAINT t_dom_pos CHECK (VALUE > 0)")
        .also_scans(&[DomainUsers])
        .note("Checks every row of every table with a column of the domain, under SHARE (writes wait). Add it NOT VALID, then VALIDATE: the validation still takes SHARE."),
    fact(F::AlterDomainCatalogOnly, "ALTER DOMAIN ... ADD CONSTRAINT NOT VALID / DROP CONSTRAINT / DROP NOT NULL / SET DEFAULT", &[],
        "ALTER DOMAIN t_dom DROP NOT NULL")
        .note("A catalog change: no table is locked or read."),
    fact(F::DropType, "DROP TYPE / DROP DOMAIN", &[(Dependents, AccessExclusive)], "DROP TYPE t_mood")
        .note("Locks no table: PostgreSQL refuses it while a column, function or view uses the type (without CASCADE)."),
    fact(F::DropSequence, "DROP SEQUENCE", &[(Table, AccessExclusive), (Dependents, AccessExclusive)], "DROP SEQUENCE t_seq")
        .note("Column defaults that use it block the drop (or are dropped with CASCADE, locking their tables); inserts relying on them fail."),
    fact(F::DropSchema, "DROP SCHEMA", &[(Dependents, AccessExclusive)], "DROP SCHEMA other")
        .note("With CASCADE, every table, view, sequence and index in the schema is dropped under ACCESS EXCLUSIVE, and so is every table elsewhere that loses a column, key, default, trigger or view to it. Which ones the database's dependency graph tells (--database-url)."),
    fact(F::DropObject, "DROP FUNCTION / COLLATION / SERVER / EXTENSION / ... (an object that is not a relation)", &[(Dependents, AccessExclusive)],
        "DROP FUNCTION t_noop()")
        .note("Locks no table by itself; with CASCADE, every trigger, default, index, constraint, view or column that uses it is dropped, under ACCESS EXCLUSIVE on its table. Which ones the database's dependency graph tells (--database-url)."),
    fact(F::DropStatistics, "DROP STATISTICS", T_SUE, "DROP STATISTICS t_st")
        .note("SHARE UPDATE EXCLUSIVE on the table the statistics are on: reads and writes go on; the planner loses the statistics."),
    fact(F::DropOwned, "DROP OWNED", &[(Dependents, AccessExclusive)], "DROP OWNED BY t_owner")
        .note("Drops every object the role owns in this database (ACCESS EXCLUSIVE on each table, view and sequence, and on what CASCADE reaches) and revokes its privileges. Which ones the database tells (--database-url)."),
    fact(F::ReassignOwned, "REASSIGN OWNED", &[(Dependents, AccessExclusive)], "REASSIGN OWNED BY t_owner2 TO CURRENT_USER")
        .note("Changes the owner of every object the role owns in this database: ACCESS EXCLUSIVE on each table, view and sequence, as ALTER TABLE ... OWNER TO takes. Which ones the database tells (--database-url)."),
    fact(F::DropForeignTable, "DROP FOREIGN TABLE", &[(Table, AccessExclusive), (Parent, AccessExclusive), (DefaultPartition, AccessExclusive), (Dependents, AccessExclusive)],
        "DROP FOREIGN TABLE t_ft")
        .note("A foreign table that is a partition also locks its parent (and the DEFAULT partition); with CASCADE, views on it go too."),
    fact(F::CreateTableAs, "CREATE TABLE AS / SELECT INTO / CREATE MATERIALIZED VIEW", &[], "CREATE TABLE t_copy AS SELECT * FROM t")
        .query_scans()
        .note("A new table filled by a query: the tables it reads are only read (ACCESS SHARE), for as long as the query runs."),
    fact(F::AlterConstraint, "ALTER TABLE ... ALTER CONSTRAINT", T_AE, "ALTER TABLE t ALTER CONSTRAINT t_ref_fk DEFERRABLE"),
    fact(F::CreatePublication, "CREATE PUBLICATION ... FOR TABLE", T_SUE, "CREATE PUBLICATION t_pub FOR TABLE t"),
    fact(F::AlterPublicationTables, "ALTER PUBLICATION ... ADD / SET / DROP TABLE", T_SUE, "ALTER PUBLICATION t_pub ADD TABLE t2")
        .note("SHARE UPDATE EXCLUSIVE on each table added, set or dropped: DDL and VACUUM on it wait, reads and writes do not."),
    fact(F::PublicationCatalogOnly, "ALTER PUBLICATION (options, schemas, owner) / DROP PUBLICATION", &[], "DROP PUBLICATION t_pub")
        .note("A catalog change: no table is locked."),
    fact(F::AlterTypeAddValue, "ALTER TYPE ... ADD VALUE", &[], "ALTER TYPE mood ADD VALUE 'ok'")
        .note("Locks the type, not tables. The new value cannot be used in the same transaction."),
    fact(F::Grant, "GRANT / REVOKE", &[], "GRANT SELECT ON t TO PUBLIC"),
    fact(F::Comment, "COMMENT ON", T_SUE, "COMMENT ON TABLE t IS 'x'"),
    fact(F::CreatePolicy, "CREATE/ALTER/DROP POLICY", T_AE, "CREATE POLICY p ON t USING (true)"),
    fact(F::LockTable, "LOCK TABLE", T_AE, "LOCK TABLE t IN ACCESS EXCLUSIVE MODE")
        .note("The mode shown is the default; an explicit IN ... MODE is honoured."),
    fact(F::Dml, "INSERT / UPDATE / DELETE", &[(Table, RowExclusive), (RowsReach, RowExclusive)], "UPDATE t SET a = a WHERE id = 1")
        .query_scans()
        .note("Row locks on every changed row; a whole-table UPDATE writes a new version of every row."),
];

/// The row for `form` on PostgreSQL `major`, or `None` if the version is outside every row.
pub fn lookup(form: StatementForm, major: u32) -> Option<&'static LockFact> {
    LOCK_TABLE
        .iter()
        .find(|f| f.form == form && f.since <= major && major <= f.until)
}

/// Every distinct form that has a row, in table order.
pub fn all_forms() -> Vec<StatementForm> {
    let mut out: Vec<StatementForm> = Vec::new();
    for f in LOCK_TABLE {
        if !out.contains(&f.form) {
            out.push(f.form);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_form_has_exactly_one_row_per_supported_version() {
        for form in all_forms() {
            for v in SUPPORTED_VERSIONS {
                let rows: Vec<_> = LOCK_TABLE
                    .iter()
                    .filter(|f| f.form == form && f.since <= v && v <= f.until)
                    .collect();
                assert_eq!(rows.len(), 1, "{form:?} on {v}: {} rows", rows.len());
            }
        }
    }

    #[test]
    fn concurrent_forms_are_forbidden_in_transactions_and_never_block_writes_on_the_table() {
        // REFRESH MATERIALIZED VIEW CONCURRENTLY is the exception: it may run in a
        // transaction and takes EXCLUSIVE (reads continue, writes to a matview don't exist).
        for f in LOCK_TABLE.iter().filter(|f| {
            f.title.contains("CONCURRENTLY")
                && f.unsupported.is_none()
                && f.form != StatementForm::RefreshMaterializedViewConcurrently
        }) {
            assert_eq!(f.transaction, TransactionUse::Forbidden, "{}", f.title);
            let table_lock = f
                .lock_on(RelationRole::Table)
                .or(f.lock_on(RelationRole::PartitionParent));
            assert!(!table_lock.unwrap().blocks_writes(), "{}", f.title);
        }
    }

    #[test]
    fn rewrites_hold_a_lock_that_blocks_writes() {
        for f in LOCK_TABLE.iter().filter(|f| f.rewrite == Rewrite::Table) {
            assert!(f.strongest_lock().unwrap().blocks_writes(), "{}", f.title);
        }
    }

    #[test]
    fn the_seed_incident_forms() {
        let naive = lookup(StatementForm::AddUnique, 15).unwrap();
        assert_eq!(
            naive.lock_on(RelationRole::Table),
            Some(LockMode::AccessExclusive)
        );
        assert_eq!(naive.scan, Scan::Table);
        let step1 = lookup(StatementForm::CreateIndexConcurrently, 15).unwrap();
        assert_eq!(
            step1.lock_on(RelationRole::Table),
            Some(LockMode::ShareUpdateExclusive)
        );
        let step2 = lookup(StatementForm::AddUniqueUsingIndex, 15).unwrap();
        assert_eq!(step2.scan, Scan::No);
        assert_eq!(step2.duration(), Duration::Instant);
    }

    #[test]
    fn version_specific_rows() {
        assert!(lookup(StatementForm::DetachPartitionConcurrently, 13)
            .unwrap()
            .unsupported
            .is_some());
        assert!(lookup(StatementForm::DetachPartitionConcurrently, 14)
            .unwrap()
            .unsupported
            .is_none());
        assert!(lookup(StatementForm::AddNotNullConstraintNotValid, 17)
            .unwrap()
            .unsupported
            .is_some());
        assert!(lookup(StatementForm::AddNotNullConstraintNotValid, 18)
            .unwrap()
            .unsupported
            .is_none());
        assert!(lookup(StatementForm::CreateIndex, 12).is_none());
    }
}
