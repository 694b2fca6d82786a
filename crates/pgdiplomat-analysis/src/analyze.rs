//! The analysis pass: walks the statements of every file in order, classifies each one,
//! resolves its lock facts for the target PostgreSQL version, and tracks the session
//! (transactions, `lock_timeout`, `statement_timeout`, locks already held) and the schema state
//! across statements and files. Rules and `explain` read its output; they never re-parse.

use std::collections::HashSet;
use std::ops::Range;

use pgdiplomat_locks::{lookup, LockFact, LockMode, RelationRole, StatementForm};

use crate::model::{classify, relation_for_role, Operation, SchemaState, StatementKind, Timeout};
use crate::parse::{ParsedFile, Statement};
use crate::plpgsql::BlockPart;

/// Settings that change what the analysis concludes.
#[derive(Debug, Clone, Copy)]
pub struct AnalysisOptions {
    /// PostgreSQL major version the migrations will run on.
    pub pg_version: u32,
    /// The migration tool wraps each file in a transaction (Django, Rails, Flyway defaults).
    pub assume_in_transaction: bool,
}

impl Default for AnalysisOptions {
    fn default() -> Self {
        AnalysisOptions {
            pg_version: pgdiplomat_locks::DEFAULT_VERSION,
            assume_in_transaction: false,
        }
    }
}

/// A lock one operation takes, resolved to a relation name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResolvedLock {
    pub role: RelationRole,
    /// The relation, or a description when its name is not in the statement.
    pub relation: String,
    pub mode: LockMode,
    /// The relation was created earlier in this deploy: empty and unused, its lock harms
    /// nobody.
    pub new_relation: bool,
}

/// One operation with its facts from the lock table.
#[derive(Debug, Clone)]
pub struct Effect {
    pub op: Operation,
    pub fact: Option<&'static LockFact>,
    /// The main table was created earlier in this run: it is empty and unused, so its locks
    /// harm nobody.
    pub new_table: bool,
    /// The new main table was created with rows (CREATE TABLE AS, SELECT INTO): its locks harm
    /// nobody, but scanning or rewriting it takes time.
    pub new_populated: bool,
    pub locks: Vec<ResolvedLock>,
}

impl Effect {
    pub fn form(&self) -> Option<StatementForm> {
        self.fact.map(|f| f.form)
    }

    /// The locks on relations that already exist (not created in this run).
    /// When the statement recurses to partitions or inheritance children the run does not
    /// know (no schema for the table): the role and its lock mode, for "and any ...".
    pub fn unknown_descendants(&self) -> Option<(RelationRole, LockMode)> {
        if self.op.only || self.op.descendants.is_some() || self.new_table {
            return None;
        }
        let fact = self.fact?;
        [RelationRole::Descendants, RelationRole::Partitions]
            .into_iter()
            .find_map(|r| fact.lock_on(r).map(|m| (r, m)))
    }

    /// The schema-graph roles of the fact the schema did not resolve (the DEFAULT partition,
    /// the indexes on a column, CASCADE dependents ... of a table the run does not know),
    /// each with its lock mode, for "and, where they exist, ...".
    pub fn unknown_related(&self) -> Vec<(RelationRole, LockMode)> {
        let Some(fact) = self.fact else {
            return Vec::new();
        };
        if self.new_table {
            return Vec::new();
        }
        fact.locks
            .iter()
            // (A DML statement's "rows may reach" is not worth a line when unknown: ROW
            // EXCLUSIVE at most, only where its rows go.)
            .filter(|(r, _)| {
                r.from_schema_graph() && !r.may_lock() && self.op.related(*r).is_none()
            })
            .copied()
            .collect()
    }

    pub fn locks_on_existing(&self) -> impl Iterator<Item = &ResolvedLock> {
        self.locks.iter().filter(move |l| {
            l.role != RelationRole::NewIndex
                && !l.new_relation
                && !(self.new_table
                    && matches!(
                        l.role,
                        RelationRole::Table | RelationRole::Index | RelationRole::AllIndexes
                    ))
        })
    }

    /// The strongest lock on a relation that already exists.
    pub fn strongest_lock_on_existing(&self) -> Option<&ResolvedLock> {
        // On ties prefer the table: it is what the application queries.
        self.locks_on_existing()
            .max_by_key(|l| (l.mode, l.role == RelationRole::Table))
    }
}

/// The session as it stands when a statement runs.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct SessionState {
    pub in_transaction: bool,
    /// The transaction was opened by an explicit BEGIN (vs. assumed from the tool).
    pub explicit_transaction: bool,
    pub lock_timeout_ms: Option<u64>,
    pub statement_timeout_ms: Option<u64>,
}

/// A lock held since an earlier statement of the same transaction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeldLock {
    pub relation: String,
    pub mode: LockMode,
    /// What the relation is to the statement that took the lock (a table, an index ...).
    pub role: RelationRole,
    /// Index of the statement that took it (in the same file).
    pub statement: usize,
    pub span: Range<usize>,
}

/// Everything known about one statement.
#[derive(Debug, Clone)]
pub struct AnalyzedStatement {
    pub index: usize,
    pub span: Range<usize>,
    pub kind: StatementKind,
    pub effects: Vec<Effect>,
    pub session: SessionState,
    /// Locks held from earlier statements of the same transaction when this one starts.
    pub held_before: Vec<HeldLock>,
    /// `(table key, constraint)` pairs added NOT VALID earlier in the same transaction.
    pub not_valid_in_transaction: HashSet<(String, String)>,
}

impl AnalyzedStatement {
    pub fn is_ddl(&self) -> bool {
        matches!(self.kind, StatementKind::Operations(_))
    }
}

/// The analysis of one file.
#[derive(Debug, Clone, Default)]
pub struct FileAnalysis {
    pub statements: Vec<AnalyzedStatement>,
}

/// Carries the schema state from file to file.
#[derive(Debug, Default)]
pub struct Analyzer {
    pub options: AnalysisOptions,
    pub schema: SchemaState,
}

/// The session of the file being analysed, carried from chunk to chunk.
pub struct FileSession(Session);

#[derive(Default)]
struct Session {
    state: SessionState,
    /// `SET search_path` of the file: where unqualified names resolve (`None`: the default,
    /// `"$user", public`).
    search_path: Option<Vec<String>>,
    session_lock_timeout: Option<u64>,
    session_statement_timeout: Option<u64>,
    /// One entry per (relation, mode), from the first statement that took it: a long
    /// transaction does not copy a growing list into every statement (PostgreSQL itself bounds
    /// the distinct locks of a transaction by its lock table).
    held: Vec<HeldLock>,
    held_keys: HashSet<(String, LockMode)>,
    not_valid: HashSet<(String, String)>,
    /// A `DO` block started a transaction (none was open): it ends with the block.
    do_transaction: bool,
}

impl Session {
    fn end_transaction(&mut self, assume: bool) {
        self.held.clear();
        self.held_keys.clear();
        self.not_valid.clear();
        self.state.lock_timeout_ms = self.session_lock_timeout;
        self.state.statement_timeout_ms = self.session_statement_timeout;
        self.state.explicit_transaction = false;
        self.state.in_transaction = assume;
    }
}

impl Analyzer {
    pub fn new(options: AnalysisOptions) -> Self {
        Analyzer {
            options,
            schema: SchemaState::default(),
        }
    }

    /// Ends a deploy (see [`SchemaState::settle_created`]): tables created by the files
    /// analysed so far are existing tables with data for the files that follow.
    pub fn end_deploy(&mut self) {
        self.schema.settle_created();
    }

    /// Analyses one file. Each file starts a new session (its own transactions and
    /// settings); the schema state carries over from earlier files.
    pub fn analyze_file(&mut self, parsed: &ParsedFile) -> FileAnalysis {
        let mut session = self.start_file();
        FileAnalysis {
            statements: self.analyze_chunk(parsed, &mut session),
        }
    }

    /// Starts a file: a new session (no transaction unless the tool wraps files in one).
    pub fn start_file(&self) -> FileSession {
        let mut session = Session::default();
        session.state.in_transaction = self.options.assume_in_transaction;
        FileSession(session)
    }

    /// Analyses the next chunk of statements of the file whose session is `session`.
    pub fn analyze_chunk(
        &mut self,
        parsed: &ParsedFile,
        session: &mut FileSession,
    ) -> Vec<AnalyzedStatement> {
        parsed
            .statements
            .iter()
            .map(|stmt| self.analyze_statement(stmt, &mut session.0))
            .collect()
    }

    /// Analyses the next statement of the file whose session is `session`; `before_apply` sees
    /// the analysis and the schema state as it was before the statement (the statement is
    /// applied to the schema state afterwards).
    pub fn analyze_statement_with<R>(
        &mut self,
        stmt: &Statement,
        session: &mut FileSession,
        before_apply: impl FnOnce(&AnalyzedStatement, &SchemaState) -> R,
    ) -> R {
        let node = stmt
            .node
            .as_ref()
            .map(|n| resolve_search_path(n, &session.0, &self.schema));
        let analyzed = self.analyze_statement_only(stmt, node.as_deref(), &mut session.0);
        let r = before_apply(&analyzed, &self.schema);
        if let Some(node) = &node {
            self.schema.apply(node);
        }
        r
    }

    fn analyze_statement(&mut self, stmt: &Statement, session: &mut Session) -> AnalyzedStatement {
        let node = stmt
            .node
            .as_ref()
            .map(|n| resolve_search_path(n, session, &self.schema));
        let analyzed = self.analyze_statement_only(stmt, node.as_deref(), session);
        if let Some(node) = &node {
            self.schema.apply(node);
        }
        analyzed
    }

    /// The analysis of one statement, without applying it to the schema state.
    fn analyze_statement_only(
        &mut self,
        stmt: &Statement,
        node: Option<&pg_query::NodeEnum>,
        session: &mut Session,
    ) -> AnalyzedStatement {
        if let Some(pg_query::NodeEnum::VariableSetStmt(v)) = node {
            if v.name.eq_ignore_ascii_case("search_path") {
                session.search_path = search_path_of(v);
            }
        }
        let kind = match (&stmt.block, node) {
            (
                Some(BlockPart::Inner {
                    not_analysed: Some(why),
                }),
                _,
            ) => StatementKind::Operations(vec![Operation::not_modelled(
                format!("a statement of a DO block: {why}"),
                None,
            )]),
            (_, Some(node)) => classify(node, &self.schema),
            (_, None) => StatementKind::Other,
        };
        let before = session.state.clone();
        // A DO block is one statement: its body's statements share a transaction (the one
        // open, or one of its own that ends with the block).
        match stmt.block {
            Some(BlockPart::Open) if !session.state.in_transaction => {
                session.state.in_transaction = true;
                session.do_transaction = true;
            }
            Some(BlockPart::Close) if session.do_transaction => {
                session.do_transaction = false;
                session.end_transaction(false);
            }
            _ => {}
        }
        let held_before = session.held.clone();
        let not_valid_before = session.not_valid.clone();
        let mut effects = Vec::new();
        match &kind {
            StatementKind::Begin => {
                session.state.in_transaction = true;
                session.state.explicit_transaction = true;
            }
            StatementKind::Commit | StatementKind::Rollback => {
                session.end_transaction(
                    self.options.assume_in_transaction && !before.explicit_transaction,
                );
            }
            StatementKind::SetTimeout {
                timeout,
                millis,
                local,
            } => {
                let (current, sess) = match timeout {
                    Timeout::Lock => (
                        &mut session.state.lock_timeout_ms,
                        &mut session.session_lock_timeout,
                    ),
                    Timeout::Statement => (
                        &mut session.state.statement_timeout_ms,
                        &mut session.session_statement_timeout,
                    ),
                };
                *current = *millis;
                if !local {
                    *sess = *millis;
                }
            }
            StatementKind::Operations(ops) => {
                for op in ops {
                    effects.push(self.resolve(op));
                }
            }
            StatementKind::Other => {}
        }
        // Locks are held to the end of the transaction; outside one, to the end of the statement.
        if before.in_transaction {
            for e in &effects {
                for l in e.locks_on_existing() {
                    if !session.held_keys.insert((l.relation.clone(), l.mode)) {
                        continue;
                    }
                    session.held.push(HeldLock {
                        relation: l.relation.clone(),
                        mode: l.mode,
                        role: l.role,
                        statement: stmt.index,
                        span: stmt.span.clone(),
                    });
                }
                if let (Some(form), Some(table), Some(con)) =
                    (e.form(), &e.op.table, &e.op.constraint)
                {
                    if matches!(
                        form,
                        StatementForm::AddCheckNotValid
                            | StatementForm::AddForeignKeyNotValid
                            | StatementForm::AddNotNullConstraintNotValid
                    ) {
                        session.not_valid.insert((table.key(), con.clone()));
                    }
                }
            }
        }
        AnalyzedStatement {
            index: stmt.index,
            span: stmt.span.clone(),
            kind,
            effects,
            session: before,
            held_before,
            not_valid_in_transaction: not_valid_before,
        }
    }

    fn resolve(&self, op: &Operation) -> Effect {
        let mut op = op.clone();
        if !op.only {
            op.descendants = op.table.as_ref().and_then(|t| self.schema.descendants(t));
        }
        storage_parameter_form(&mut op, self.options.pg_version);
        foreign_table_form(&mut op, &self.schema, self.options.pg_version);
        let op = &op;
        let fact = op.form.and_then(|f| lookup(f, self.options.pg_version));
        let new_table = op
            .table
            .as_ref()
            .is_some_and(|t| self.schema.is_new_table(t))
            || (op.table.is_none()
                && op
                    .index
                    .as_ref()
                    .is_some_and(|i| self.schema.index(i).is_some_and(|i| i.created_in_run)));
        let mut locks = Vec::new();
        if let Some(fact) = fact {
            for &(role, mode) in fact.locks {
                let mode = if role == RelationRole::Table {
                    op.explicit_lock.unwrap_or(mode)
                } else {
                    mode
                };
                let relation = relation_for_role(op, role).unwrap_or_else(|| match role {
                    RelationRole::Table if op.index.is_some() => format!(
                        "the table of index {}",
                        op.index.as_ref().map(|i| i.to_string()).unwrap_or_default()
                    ),
                    _ => format!("the {}", role.label()),
                });
                // An unnamed referenced table (DROP TABLE without known FKs) is not a lock we can show.
                if role == RelationRole::ReferencedTable && op.referenced.is_none() {
                    continue;
                }
                if role == RelationRole::ReferencedTable {
                    for r in &op.also_referenced {
                        locks.push(ResolvedLock {
                            role,
                            relation: r.to_string(),
                            mode,
                            new_relation: false,
                        });
                    }
                }
                if matches!(role, RelationRole::Descendants | RelationRole::Partitions) {
                    if op.only {
                        continue;
                    }
                    // Unknown descendants are not locks of named relations: explain says
                    // "and any partitions ..." (Effect::unknown_descendants).
                    for (r, is_partition) in op.descendants.iter().flatten() {
                        if role == RelationRole::Descendants || *is_partition {
                            locks.push(ResolvedLock {
                                role,
                                relation: r.to_string(),
                                mode,
                                new_relation: false,
                            });
                        }
                    }
                    continue;
                }
                if role.from_schema_graph() {
                    // Unknown ones are not locks of named relations: explain says "and,
                    // where they exist, ..." (Effect::unknown_related).
                    for r in op.related(role).into_iter().flatten() {
                        locks.push(ResolvedLock {
                            role,
                            relation: r.to_string(),
                            mode,
                            new_relation: false,
                        });
                    }
                    continue;
                }
                if role == RelationRole::ReferencingTables {
                    for r in &op.referencing {
                        locks.push(ResolvedLock {
                            role,
                            relation: r.to_string(),
                            mode,
                            new_relation: false,
                        });
                    }
                    continue;
                }
                locks.push(ResolvedLock {
                    role,
                    relation,
                    mode,
                    new_relation: false,
                });
            }
        }
        // Which named relations were created in this deploy (a referenced table, a partition
        // or parent created earlier in the file is as harmless to lock as the table itself).
        let named = op
            .table
            .iter()
            .chain(&op.index)
            .chain(&op.referenced)
            .chain(&op.also_referenced)
            .chain(&op.referencing)
            .chain(&op.partition)
            .chain(op.descendants.iter().flatten().map(|(r, _)| r))
            .chain(op.related.iter().flat_map(|(_, rs)| rs));
        let new_names: HashSet<String> = named
            .filter(|r| self.schema.is_new_relation(r))
            .map(|r| r.to_string())
            .collect();
        for l in &mut locks {
            l.new_relation = new_names.contains(&l.relation);
        }
        let new_populated = op
            .table
            .as_ref()
            .is_some_and(|t| self.schema.is_new_populated_table(t));
        Effect {
            op: op.clone(),
            fact,
            new_table,
            new_populated,
            locks,
        }
    }
}

/// The schemas of `SET search_path TO a, b` (`None` for RESET / DEFAULT, or the default path).
fn search_path_of(v: &pg_query::protobuf::VariableSetStmt) -> Option<Vec<String>> {
    use pg_query::protobuf::{a_const::Val, VariableSetKind as K};
    if K::try_from(v.kind).unwrap_or(K::Undefined) != K::VarSetValue {
        return None;
    }
    let path: Vec<String> = v
        .args
        .iter()
        .filter_map(|a| match a.node.as_ref()? {
            pg_query::NodeEnum::AConst(c) => match c.val.as_ref()? {
                Val::Sval(s) => Some(s.sval.clone()),
                _ => None,
            },
            _ => None,
        })
        .flat_map(|s| {
            s.split(',')
                .map(|p| p.trim().trim_matches('"').to_string())
                .collect::<Vec<_>>()
        })
        .filter(|p| !p.is_empty())
        .collect();
    let default = path.iter().all(|p| p == "$user" || p == "public");
    (!default).then_some(path)
}

/// The statement with its unqualified relation names resolved on the session's search_path:
/// to the first schema on it where the run knows the relation, else to the first schema (where
/// PostgreSQL creates new ones). Unchanged on the default path.
fn resolve_search_path<'a>(
    node: &'a pg_query::NodeEnum,
    session: &Session,
    schema: &SchemaState,
) -> std::borrow::Cow<'a, pg_query::NodeEnum> {
    use std::borrow::Cow;
    let Some(path) = &session.search_path else {
        return Cow::Borrowed(node);
    };
    let path: Vec<&str> = path
        .iter()
        .map(String::as_str)
        .filter(|p| !matches!(*p, "$user" | "pg_catalog" | "pg_temp"))
        .collect();
    let Some(first) = path.first().copied() else {
        return Cow::Borrowed(node);
    };
    let mut out = node.clone();
    let resolve = |rv: &mut pg_query::protobuf::RangeVar| {
        if !rv.schemaname.is_empty() || rv.relname.is_empty() {
            return;
        }
        let target = path
            .iter()
            .copied()
            .find(|s| schema.knows_relation(&crate::model::RelName::new(Some(s), &rv.relname)))
            .unwrap_or(first);
        if target != "public" {
            rv.schemaname = target.to_string();
        }
    };
    // SAFETY: the pointers come from `out`, which outlives them and is not otherwise touched
    // while they are used; each RangeVar is written once.
    unsafe {
        for (n, _, _) in out.nodes_mut() {
            if let pg_query::NodeMut::RangeVar(rv) = n {
                if let Some(rv) = rv.as_mut() {
                    resolve(rv);
                }
            }
        }
    }
    // pg_query's walk stops at the statement's own relation: the others a DDL statement names
    // (PARTITION OF's parent, a REFERENCES target, a policy's table, ...) are found here.
    for_each_ddl_range_var(&mut out, &mut |rv| resolve(rv));
    // DROP names relations as name lists, not RangeVars; DROP POLICY / TRIGGER / RULE name the
    // table before the object.
    if let pg_query::NodeEnum::DropStmt(d) = &mut out {
        use pg_query::protobuf::ObjectType as O;
        let table_len = match O::try_from(d.remove_type) {
            Ok(
                O::ObjectTable
                | O::ObjectView
                | O::ObjectIndex
                | O::ObjectSequence
                | O::ObjectMatview
                | O::ObjectForeignTable,
            ) => Some(1),
            Ok(O::ObjectPolicy | O::ObjectTrigger | O::ObjectRule) => Some(2),
            _ => None,
        };
        if let Some(len) = table_len {
            for obj in &mut d.objects {
                let Some(pg_query::NodeEnum::List(list)) = obj.node.as_mut() else {
                    continue;
                };
                if list.items.len() != len {
                    continue;
                }
                let Some(pg_query::NodeEnum::String(name)) = list.items[0].node.as_ref() else {
                    continue;
                };
                let mut rv = pg_query::protobuf::RangeVar {
                    relname: name.sval.clone(),
                    ..Default::default()
                };
                resolve(&mut rv);
                if !rv.schemaname.is_empty() {
                    list.items.insert(
                        0,
                        pg_query::protobuf::Node {
                            node: Some(pg_query::NodeEnum::String(pg_query::protobuf::String {
                                sval: rv.schemaname,
                            })),
                        },
                    );
                }
            }
        }
    }
    Cow::Owned(out)
}

/// Calls `f` on every relation a DDL statement names beyond what `nodes_mut` walks: the parents
/// of INHERITS / PARTITION OF, REFERENCES targets (in column and table constraints, and in
/// ALTER TABLE), ATTACH / DETACH / INHERIT targets, the tables of policies, statistics,
/// publications, RENAME, SET SCHEMA, OWNER TO and constraint triggers.
fn for_each_ddl_range_var(
    node: &mut pg_query::NodeEnum,
    f: &mut dyn FnMut(&mut pg_query::protobuf::RangeVar),
) {
    use pg_query::NodeEnum as N;
    fn constraint(
        n: &mut pg_query::protobuf::Node,
        f: &mut dyn FnMut(&mut pg_query::protobuf::RangeVar),
    ) {
        match n.node.as_mut() {
            Some(N::Constraint(c)) => {
                if let Some(rv) = c.pktable.as_mut() {
                    f(rv)
                }
            }
            Some(N::ColumnDef(c)) => c.constraints.iter_mut().for_each(|n| constraint(n, f)),
            Some(N::PartitionCmd(p)) => {
                if let Some(rv) = p.name.as_mut() {
                    f(rv)
                }
            }
            Some(N::RangeVar(rv)) => f(rv),
            _ => {}
        }
    }
    match node {
        N::CreateStmt(s) => {
            s.inh_relations.iter_mut().for_each(|n| constraint(n, f));
            s.table_elts.iter_mut().for_each(|n| constraint(n, f));
            s.constraints.iter_mut().for_each(|n| constraint(n, f));
        }
        N::CreateForeignTableStmt(s) => {
            if let Some(b) = s.base_stmt.as_mut() {
                b.inh_relations.iter_mut().for_each(|n| constraint(n, f));
                b.table_elts.iter_mut().for_each(|n| constraint(n, f));
            }
        }
        N::AlterTableStmt(s) => {
            for cmd in &mut s.cmds {
                if let Some(N::AlterTableCmd(c)) = cmd.node.as_mut() {
                    if let Some(def) = c.def.as_mut() {
                        constraint(def, f);
                    }
                }
            }
        }
        N::CreatePolicyStmt(s) => s.table.iter_mut().for_each(&mut *f),
        N::AlterPolicyStmt(s) => s.table.iter_mut().for_each(&mut *f),
        N::RenameStmt(s) => s.relation.iter_mut().for_each(&mut *f),
        N::AlterObjectSchemaStmt(s) => s.relation.iter_mut().for_each(&mut *f),
        N::AlterOwnerStmt(s) => s.relation.iter_mut().for_each(&mut *f),
        N::CreateStatsStmt(s) => s.relations.iter_mut().for_each(|n| constraint(n, f)),
        N::CreateTrigStmt(s) => s.constrrel.iter_mut().for_each(&mut *f),
        N::CreatePublicationStmt(s) => s.pubobjects.iter_mut().for_each(|n| publication(n, f)),
        N::AlterPublicationStmt(s) => s.pubobjects.iter_mut().for_each(|n| publication(n, f)),
        _ => {}
    }
    fn publication(
        n: &mut pg_query::protobuf::Node,
        f: &mut dyn FnMut(&mut pg_query::protobuf::RangeVar),
    ) {
        if let Some(N::PublicationObjSpec(o)) = n.node.as_mut() {
            if let Some(rv) = o.pubtable.as_mut().and_then(|t| t.relation.as_mut()) {
                f(rv)
            }
        }
    }
}

/// On a foreign table, what would check or rewrite a local table's rows (SET NOT NULL, ADD
/// CHECK, ALTER TYPE, ...) reads and writes nothing: the rows are remote.
fn foreign_table_form(op: &mut Operation, schema: &SchemaState, major: u32) {
    use pgdiplomat_locks::{Rewrite, Scan, StatementForm as F};
    let (Some(form), Some(table)) = (op.form, op.table.as_ref()) else {
        return;
    };
    if !schema.is_foreign_table(table) {
        return;
    }
    let Some(fact) = lookup(form, major) else {
        return;
    };
    let exclusive = fact.lock_on(RelationRole::Table) == Some(LockMode::AccessExclusive);
    if exclusive && (fact.rewrite != Rewrite::No || fact.scan == Scan::Table) {
        op.form = Some(F::AlterForeignTableRows);
    }
}

/// `SET (...)` takes the strongest lock of its options on this version (measured,
/// `data/reloption-locks.tsv`): ACCESS EXCLUSIVE picks the exclusive form. An option the
/// version does not have is assumed ACCESS EXCLUSIVE, and said so.
fn storage_parameter_form(op: &mut Operation, major: u32) {
    use pgdiplomat_locks::StatementForm as F;
    let Some((kinds, options)) = &op.storage_parameters else {
        return;
    };
    let mut strongest = None;
    let mut unknown: Vec<&str> = Vec::new();
    for o in options {
        match crate::model::reloptions::lock_for(kinds, o, major) {
            Some(m) => strongest = strongest.max(Some(m)),
            None => unknown.push(o),
        }
    }
    if !unknown.is_empty() {
        op.assumed = true;
        op.detail = Some(format!(
            "PostgreSQL {major} has no storage parameter {} for a {}: assumed ACCESS EXCLUSIVE (PostgreSQL refuses an unknown one)",
            unknown.join(", "),
            kinds.join(" or ")
        ));
        strongest = Some(LockMode::AccessExclusive);
    }
    if strongest == Some(LockMode::AccessExclusive) {
        op.form = match op.form {
            Some(F::SetStorageParameters) => Some(F::SetStorageParametersExclusive),
            Some(F::AlterIndexSetStorage) => Some(F::AlterIndexSetStorageExclusive),
            other => other,
        };
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parse::parse_sql;

    /// `SET search_path` decides where unqualified names live: the first schema on the path
    /// that has the relation, else the first schema (where new ones are created).
    #[test]
    fn unqualified_names_resolve_on_the_session_search_path() {
        let sql = "CREATE TABLE keep (id int);
SET search_path TO app, public;
CREATE TABLE t (id int);
ALTER TABLE t ADD COLUMN x int;
ALTER TABLE keep ADD COLUMN y int;
DROP TABLE t;
RESET search_path;
ALTER TABLE t ADD COLUMN z int;";
        let parsed = parse_sql(sql).unwrap();
        let mut a = Analyzer::new(AnalysisOptions::default());
        let analysis = a.analyze_file(&parsed);
        let table = |i: usize| {
            analysis.statements[i].effects[0]
                .op
                .table
                .as_ref()
                .map(|t| t.key())
                .unwrap_or_default()
        };
        assert_eq!(table(3), "app.t");
        assert_eq!(
            table(4),
            "keep",
            "found in public, which is on the path too"
        );
        assert_eq!(table(5), "app.t");
        assert_eq!(table(7), "t", "the default path again");
    }

    /// The other relations a DDL statement names resolve on the path too: PARTITION OF's
    /// parent, a REFERENCES target, a policy's table (also in DROP POLICY's name list).
    #[test]
    fn relations_beyond_the_statement_target_resolve_on_the_search_path() {
        let sql = "SET search_path TO app;
CREATE TABLE parent (id int PRIMARY KEY) PARTITION BY LIST (id);
CREATE TABLE child PARTITION OF parent FOR VALUES IN (1);
CREATE TABLE fk (pid int REFERENCES parent);
CREATE POLICY p ON parent USING (true);
ALTER POLICY p ON parent USING (false);
DROP POLICY p ON parent;
ALTER TABLE fk RENAME TO fk2;";
        let parsed = parse_sql(sql).unwrap();
        let mut a = Analyzer::new(AnalysisOptions::default());
        let analysis = a.analyze_file(&parsed);
        let names = |i: usize| -> Vec<String> {
            let op = &analysis.statements[i].effects[0].op;
            op.table
                .iter()
                .chain(&op.partition)
                .chain(&op.referenced)
                .chain(&op.also_referenced)
                .map(|t| t.key())
                .collect()
        };
        assert!(
            names(2).contains(&"app.parent".to_string()),
            "{:?}",
            names(2)
        );
        assert!(
            names(3).contains(&"app.parent".to_string()),
            "{:?}",
            names(3)
        );
        for i in 4..=6 {
            assert_eq!(names(i), vec!["app.parent".to_string()], "statement {i}");
        }
        assert_eq!(names(7)[0], "app.fk");
    }

    /// REINDEX of a partitioned table or of an index on one rebuilds each partition's indexes,
    /// a partition at a time, outside a transaction block; a plain table's stays REINDEX.
    #[test]
    fn reindex_of_a_partitioned_table_or_index_reaches_every_partition() {
        let sql = "CREATE TABLE ev (id int, at date) PARTITION BY RANGE (at);
CREATE TABLE ev_1 PARTITION OF ev FOR VALUES FROM ('2025-01-01') TO ('2026-01-01');
CREATE TABLE ev_2 PARTITION OF ev FOR VALUES FROM ('2026-01-01') TO ('2027-01-01');
CREATE INDEX ev_at_idx ON ev (at);
CREATE TABLE plain (id int);
CREATE INDEX plain_id_idx ON plain (id);
REINDEX INDEX ev_at_idx;
REINDEX TABLE ev;
REINDEX INDEX plain_id_idx;
REINDEX INDEX CONCURRENTLY ev_at_idx;
";
        let parsed = parse_sql(sql).unwrap();
        let opts = AnalysisOptions {
            pg_version: 16,
            ..AnalysisOptions::default()
        };
        let analysis = Analyzer::new(opts).analyze_file(&parsed);
        let form = |n: usize| analysis.statements[n].effects[0].form();
        assert_eq!(form(6), Some(StatementForm::ReindexPartitioned));
        assert_eq!(form(7), Some(StatementForm::ReindexPartitioned));
        assert_eq!(form(8), Some(StatementForm::ReindexIndex));
        assert_eq!(form(9), Some(StatementForm::ReindexConcurrently));
        let locked: Vec<(String, LockMode)> = analysis.statements[6].effects[0]
            .locks
            .iter()
            .map(|l| (l.relation.clone(), l.mode))
            .collect();
        assert_eq!(
            locked,
            vec![
                ("ev_1".into(), LockMode::Share),
                ("ev_2".into(), LockMode::Share)
            ]
        );
    }

    /// A statement that recurses takes its lock on every partition and inheritance child the
    /// schema knows (recursively), not under ONLY; CREATE TRIGGER and CREATE INDEX reach
    /// partitions only; with no schema for the table, explain says "and any ...".
    #[test]
    fn recursing_statements_lock_every_partition_and_child_unless_only() {
        let sql = "CREATE TABLE parted (id int, v int) PARTITION BY LIST (id);
CREATE TABLE parted_1 PARTITION OF parted FOR VALUES IN (1) PARTITION BY LIST (v);
CREATE TABLE parted_1_a PARTITION OF parted_1 FOR VALUES IN (1);
CREATE TABLE base (id int);
CREATE TABLE kid (x int) INHERITS (base);
ALTER TABLE parted ADD COLUMN n int;
ALTER TABLE ONLY parted ALTER COLUMN v SET DEFAULT 1;
ALTER TABLE base ALTER COLUMN id SET NOT NULL;
CREATE TRIGGER trg BEFORE UPDATE ON base FOR EACH ROW EXECUTE FUNCTION f();
ALTER TABLE somewhere_else ADD COLUMN n int;
";
        let parsed = parse_sql(sql).unwrap();
        let analysis = Analyzer::new(AnalysisOptions::default()).analyze_file(&parsed);
        let locked = |n: usize| -> Vec<(String, LockMode)> {
            analysis.statements[n].effects[0]
                .locks
                .iter()
                .filter(|l| matches!(l.role, RelationRole::Descendants | RelationRole::Partitions))
                .map(|l| (l.relation.clone(), l.mode))
                .collect()
        };
        let ae = LockMode::AccessExclusive;
        assert_eq!(
            locked(5),
            vec![("parted_1".into(), ae), ("parted_1_a".into(), ae)]
        );
        assert_eq!(locked(6), vec![]);
        assert_eq!(locked(7), vec![("kid".into(), ae)]);
        assert_eq!(locked(8), vec![], "inheritance children get no trigger");
        assert_eq!(locked(9), vec![]);
        let unknown = &analysis.statements[9].effects[0];
        assert_eq!(
            unknown.unknown_descendants(),
            Some((RelationRole::Descendants, ae))
        );
        assert_eq!(
            analysis.statements[5].effects[0].unknown_descendants(),
            None
        );
    }

    /// A long transaction must not copy a list that grows with every statement into each one:
    /// the locks held are kept once per relation and mode, from the statement that took them first.
    #[test]
    fn locks_held_in_a_long_transaction_are_kept_once_per_relation_and_mode() {
        let mut sql = String::from("BEGIN;\nALTER TABLE t ADD COLUMN c0 int;\n");
        for k in 1..500 {
            sql.push_str(&format!("ALTER TABLE t ADD COLUMN c{k} int;\n"));
        }
        sql.push_str("ALTER TABLE u ADD COLUMN x int;\nALTER TABLE t VALIDATE CONSTRAINT k;\n");
        let parsed = parse_sql(&sql).unwrap();
        let analysis = Analyzer::new(AnalysisOptions::default()).analyze_file(&parsed);
        let last = analysis.statements.last().unwrap();
        let held: Vec<(&str, LockMode, usize)> = last
            .held_before
            .iter()
            .map(|h| (h.relation.as_str(), h.mode, h.statement))
            .collect();
        assert_eq!(
            held,
            vec![
                ("t", LockMode::AccessExclusive, 1),
                ("u", LockMode::AccessExclusive, 501)
            ]
        );
    }
}
