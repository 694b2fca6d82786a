//! Whether a partition's own constraints already prove an ATTACH PARTITION bound.
//!
//! PostgreSQL skips the validation scan of `ALTER TABLE p ATTACH PARTITION c FOR VALUES ...`
//! when the partition constraint is implied by `c`'s valid CHECK constraints and NOT NULL
//! columns (`PartConstraintImpliedByRelConstraint` → `predicate_implied_by(..., weak)`). The
//! partition constraint of a bound is (`get_qual_for_list` / `get_qual_for_range`):
//!
//! * LIST: `key IS NOT NULL AND key = ANY (ARRAY[v, ...])` (`key IS NULL OR ...` when the list
//!   holds NULL);
//! * RANGE: `key IS NOT NULL AND key >= lower AND key < upper` (a side that is MINVALUE or
//!   MAXVALUE adds nothing);
//! * HASH: `satisfies_hash_partition(...)`, which no CHECK proves.
//!
//! This prover is a strict subset of PostgreSQL's: a single-column key named by a plain column,
//! constants (integers, numerics, strings, booleans, possibly cast), and CHECK conjuncts of
//! the forms `key IS NOT NULL`, `key = c`, `key IN (...)`, `key = ANY (ARRAY[...])`, an OR of
//! those, `key <op> c` / `c <op> key` for `<`, `<=`, `>`, `>=`, and `key BETWEEN a AND b`. It
//! never proves what PostgreSQL would not (an unproven bound is predicted as a scan, the safe
//! side): the IS NOT NULL part needs a NOT NULL column or an explicit `IS NOT NULL` conjunct
//! (weak implication does not take it from a strict operator), strings are ordered only
//! when both have the same shape of digits and separators (ISO dates and timestamps), and a
//! partitioned partition (whose own partitions PostgreSQL checks one by one) is never proven.

use std::cmp::Ordering;

use pg_query::protobuf::{self, AExprKind, BoolExprType, NullTestType};
use pg_query::NodeEnum;

use super::expr::column_name;
use super::names::string_value;

/// How a partitioned table splits its rows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PartitionStrategy {
    List,
    Range,
    Hash,
}

/// The partition key of a partitioned table, when it is one plain column.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartitionKey {
    pub strategy: PartitionStrategy,
    pub column: String,
}

impl PartitionKey {
    /// The key a `PARTITION BY` clause declares (`None` for an expression or several columns).
    pub fn from_spec(spec: &protobuf::PartitionSpec) -> Option<PartitionKey> {
        let strategy = match protobuf::PartitionStrategy::try_from(spec.strategy).ok()? {
            protobuf::PartitionStrategy::List => PartitionStrategy::List,
            protobuf::PartitionStrategy::Range => PartitionStrategy::Range,
            protobuf::PartitionStrategy::Hash => PartitionStrategy::Hash,
            protobuf::PartitionStrategy::Undefined => return None,
        };
        let [param] = spec.part_params.as_slice() else {
            return None;
        };
        let Some(NodeEnum::PartitionElem(elem)) = param.node.as_ref() else {
            return None;
        };
        if elem.name.is_empty() || elem.expr.is_some() {
            return None;
        }
        Some(PartitionKey {
            strategy,
            column: elem.name.clone(),
        })
    }

    /// The key `pg_get_partkeydef` prints (e.g. `LIST (id)`, `RANGE (created_at)`).
    pub fn from_definition(definition: &str) -> Option<PartitionKey> {
        let sql = format!("CREATE TABLE x (a int) PARTITION BY {definition}");
        let parsed = crate::parse::parse_sql(&sql).ok()?;
        let Some(NodeEnum::CreateStmt(c)) = parsed.statements.into_iter().next()?.node else {
            return None;
        };
        PartitionKey::from_spec(c.partspec.as_ref()?)
    }
}

/// A constant of a CHECK constraint or a partition bound.
#[derive(Debug, Clone, PartialEq)]
enum Datum {
    Int(i128),
    Num(f64),
    Str(String),
    Bool(bool),
}

impl Datum {
    /// The constant an expression is (through casts); `Some(None)` for NULL.
    fn of(node: &protobuf::Node) -> Option<Option<Datum>> {
        match node.node.as_ref()? {
            NodeEnum::AConst(c) => {
                if c.isnull {
                    return Some(None);
                }
                use protobuf::a_const::Val;
                Some(Some(match c.val.as_ref()? {
                    Val::Ival(i) => Datum::Int(i.ival as i128),
                    Val::Fval(f) => match f.fval.parse::<i128>() {
                        Ok(i) => Datum::Int(i),
                        Err(_) => Datum::Num(f.fval.parse().ok()?),
                    },
                    Val::Sval(s) => Datum::Str(s.sval.clone()),
                    Val::Boolval(b) => Datum::Bool(b.boolval),
                    Val::Bsval(_) => return None,
                }))
            }
            NodeEnum::TypeCast(tc) => Datum::of(tc.arg.as_deref()?),
            _ => None,
        }
    }

    fn numeric(&self) -> Option<f64> {
        match self {
            Datum::Int(i) => Some(*i as f64),
            Datum::Num(n) => Some(*n),
            Datum::Str(s) => s.trim().parse().ok(),
            Datum::Bool(_) => None,
        }
    }

    /// How two constants of the same column compare, when that is certain.
    fn compare(&self, other: &Datum) -> Option<Ordering> {
        match (self, other) {
            (Datum::Int(a), Datum::Int(b)) => Some(a.cmp(b)),
            (Datum::Bool(a), Datum::Bool(b)) => Some(a.cmp(b)),
            (Datum::Str(a), Datum::Str(b)) if a == b => Some(Ordering::Equal),
            (Datum::Str(a), Datum::Str(b)) => {
                // Only strings of one shape (digits in the same places, the same separators):
                // ISO dates and timestamps order as their text does.
                let shape = |s: &str| -> Vec<char> {
                    s.chars()
                        .map(|c| if c.is_ascii_digit() { '0' } else { c })
                        .collect()
                };
                let digits = a.chars().any(|c| c.is_ascii_digit());
                (digits && shape(a) == shape(b)).then(|| a.cmp(b))
            }
            (Datum::Bool(_), _) | (_, Datum::Bool(_)) => None,
            _ => self.numeric()?.partial_cmp(&other.numeric()?),
        }
    }
}

/// What a partition's constraints say about its key column's non-NULL values.
#[derive(Debug, Default)]
struct KeyFacts {
    not_null: bool,
    /// The key is one of these values.
    values: Option<Vec<Datum>>,
    /// `key > d` (false) or `key >= d` (true).
    lower: Option<(Datum, bool)>,
    /// `key < d` (false) or `key <= d` (true).
    upper: Option<(Datum, bool)>,
}

impl KeyFacts {
    fn learn(&mut self, key: &str, conjunct: &protobuf::Node) {
        match conjunct.node.as_ref() {
            Some(NodeEnum::BoolExpr(b)) if b.boolop == BoolExprType::AndExpr as i32 => {
                for a in &b.args {
                    self.learn(key, a);
                }
            }
            Some(NodeEnum::NullTest(nt))
                if nt.nulltesttype == NullTestType::IsNotNull as i32
                    && nt.arg.as_deref().and_then(column_name).as_deref() == Some(key) =>
            {
                self.not_null = true;
            }
            Some(NodeEnum::AExpr(e)) if e.kind == AExprKind::AexprBetween as i32 => {
                let (Some(l), Some(r)) = (e.lexpr.as_deref(), e.rexpr.as_deref()) else {
                    return;
                };
                let Some(NodeEnum::List(bounds)) = r.node.as_ref() else {
                    return;
                };
                if column_name(l).as_deref() != Some(key) || bounds.items.len() != 2 {
                    return;
                }
                if let (Some(Some(lo)), Some(Some(hi))) =
                    (Datum::of(&bounds.items[0]), Datum::of(&bounds.items[1]))
                {
                    self.tighten_lower(lo, true);
                    self.tighten_upper(hi, true);
                }
            }
            Some(NodeEnum::AExpr(e)) if e.kind == AExprKind::AexprOp as i32 => {
                let (Some(l), Some(r)) = (e.lexpr.as_deref(), e.rexpr.as_deref()) else {
                    return;
                };
                let Some(op) = operator(e) else { return };
                let (op, value) = if column_name(l).as_deref() == Some(key) {
                    (op, Datum::of(r))
                } else if column_name(r).as_deref() == Some(key) {
                    (flip(op), Datum::of(l))
                } else {
                    return;
                };
                let Some(Some(value)) = value else { return };
                match op {
                    ">" => self.tighten_lower(value, false),
                    ">=" => self.tighten_lower(value, true),
                    "<" => self.tighten_upper(value, false),
                    "<=" => self.tighten_upper(value, true),
                    "=" => self.restrict(vec![value]),
                    _ => {}
                }
            }
            _ => {
                if let Some(values) = value_set(key, conjunct) {
                    self.restrict(values);
                }
            }
        }
    }

    fn restrict(&mut self, values: Vec<Datum>) {
        // Either set bounds the key; keeping the smaller one is still a sound fact.
        if self.values.as_ref().is_none_or(|v| values.len() < v.len()) {
            self.values = Some(values);
        }
    }

    fn tighten_lower(&mut self, value: Datum, inclusive: bool) {
        let tighter = match &self.lower {
            None => true,
            Some((old, old_inclusive)) => match value.compare(old) {
                Some(Ordering::Greater) => true,
                Some(Ordering::Equal) => *old_inclusive && !inclusive,
                _ => false,
            },
        };
        if tighter {
            self.lower = Some((value, inclusive));
        }
    }

    fn tighten_upper(&mut self, value: Datum, inclusive: bool) {
        let tighter = match &self.upper {
            None => true,
            Some((old, old_inclusive)) => match value.compare(old) {
                Some(Ordering::Less) => true,
                Some(Ordering::Equal) => *old_inclusive && !inclusive,
                _ => false,
            },
        };
        if tighter {
            self.upper = Some((value, inclusive));
        }
    }

    /// Every value the key may take is `>= lo` (true) — certain, not merely possible.
    fn at_least(&self, lo: &Datum) -> bool {
        let by_bound = self.lower.as_ref().is_some_and(|(d, _)| {
            matches!(d.compare(lo), Some(Ordering::Greater | Ordering::Equal))
        });
        by_bound
            || self.values.as_ref().is_some_and(|vs| {
                vs.iter()
                    .all(|v| matches!(v.compare(lo), Some(Ordering::Greater | Ordering::Equal)))
            })
    }

    /// Every value the key may take is `< hi`.
    fn below(&self, hi: &Datum) -> bool {
        let by_bound = self
            .upper
            .as_ref()
            .is_some_and(|(d, inclusive)| match d.compare(hi) {
                Some(Ordering::Less) => true,
                Some(Ordering::Equal) => !inclusive,
                _ => false,
            });
        by_bound
            || self
                .values
                .as_ref()
                .is_some_and(|vs| vs.iter().all(|v| v.compare(hi) == Some(Ordering::Less)))
    }
}

/// The operator name of an `A_Expr` (`=`, `<`, ...), unqualified or `pg_catalog.`.
fn operator(e: &protobuf::AExpr) -> Option<&str> {
    match e.name.as_slice() {
        [op] => string_value(op),
        [schema, op] if string_value(schema) == Some("pg_catalog") => string_value(op),
        _ => None,
    }
}

fn flip(op: &str) -> &str {
    match op {
        "<" => ">",
        "<=" => ">=",
        ">" => "<",
        ">=" => "<=",
        other => other,
    }
}

/// The values `key = c`, `key IN (...)`, `key = ANY (ARRAY[...])` or an OR of those allow.
fn value_set(key: &str, node: &protobuf::Node) -> Option<Vec<Datum>> {
    match node.node.as_ref()? {
        NodeEnum::BoolExpr(b) if b.boolop == BoolExprType::OrExpr as i32 => {
            let mut out = Vec::new();
            for a in &b.args {
                out.extend(value_set(key, a)?);
            }
            Some(out)
        }
        NodeEnum::AExpr(e) => {
            if column_name(e.lexpr.as_deref()?).as_deref() != Some(key) || operator(e)? != "=" {
                return None;
            }
            let r = e.rexpr.as_deref()?;
            let items: &[protobuf::Node] = if e.kind == AExprKind::AexprOp as i32 {
                std::slice::from_ref(r)
            } else if e.kind == AExprKind::AexprIn as i32 {
                match r.node.as_ref()? {
                    NodeEnum::List(l) => &l.items,
                    _ => return None,
                }
            } else if e.kind == AExprKind::AexprOpAny as i32 {
                let mut array = r;
                while let Some(NodeEnum::TypeCast(tc)) = array.node.as_ref() {
                    array = tc.arg.as_deref()?;
                }
                match array.node.as_ref()? {
                    NodeEnum::AArrayExpr(a) => &a.elements,
                    _ => return None,
                }
            } else {
                return None;
            };
            // A NULL element matches no row (`key = NULL` is never true): it allows nothing.
            let items = items.iter().map(Datum::of).collect::<Option<Vec<_>>>()?;
            Some(items.into_iter().flatten().collect())
        }
        _ => None,
    }
}

/// A range bound's datum: `None` for MINVALUE/MAXVALUE, `Some(d)` for a constant.
fn range_datum(node: &protobuf::Node) -> Option<Option<Datum>> {
    match node.node.as_ref()? {
        NodeEnum::PartitionRangeDatum(d) => match d.value.as_deref() {
            Some(v) => range_datum(v),
            None => Some(None),
        },
        NodeEnum::ColumnRef(_) => {
            let name = column_name(node)?.to_ascii_lowercase();
            (name == "minvalue" || name == "maxvalue").then_some(None)
        }
        _ => Some(Some(Datum::of(node)??)),
    }
}

/// Whether the partition constraint of `bound` under `key` is implied by a partition whose
/// key column is `not_null` (attnotnull) and whose valid CHECK constraints are `checks`.
pub fn bound_implied(
    key: &PartitionKey,
    bound: &protobuf::PartitionBoundSpec,
    not_null: bool,
    checks: &[&protobuf::Node],
) -> bool {
    if bound.is_default {
        return false;
    }
    let mut facts = KeyFacts {
        not_null,
        ..KeyFacts::default()
    };
    for c in checks {
        facts.learn(&key.column, c);
    }
    match key.strategy {
        PartitionStrategy::Hash => false,
        PartitionStrategy::List => {
            let Some(list) = bound
                .listdatums
                .iter()
                .map(Datum::of)
                .collect::<Option<Vec<Option<Datum>>>>()
            else {
                return false;
            };
            let allows_null = list.iter().any(Option::is_none);
            let Some(values) = &facts.values else {
                return false;
            };
            (facts.not_null || allows_null)
                && values.iter().all(|v| {
                    list.iter()
                        .flatten()
                        .any(|b| v.compare(b) == Some(Ordering::Equal))
                })
        }
        PartitionStrategy::Range => {
            let ([lower], [upper]) = (bound.lowerdatums.as_slice(), bound.upperdatums.as_slice())
            else {
                return false;
            };
            let (Some(lower), Some(upper)) = (range_datum(lower), range_datum(upper)) else {
                return false;
            };
            facts.not_null
                && lower.as_ref().is_none_or(|lo| facts.at_least(lo))
                && upper.as_ref().is_none_or(|hi| facts.below(hi))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Parses `ALTER TABLE p ATTACH PARTITION c <bound>` and `CHECK (<check>)`s, and proves.
    fn implied(key: &str, bound: &str, not_null: bool, checks: &[&str]) -> bool {
        let key = PartitionKey::from_definition(key).expect("key parses");
        let sql = format!("ALTER TABLE p ATTACH PARTITION c {bound}");
        let parsed = crate::parse::parse_sql(&sql).expect("bound parses");
        let Some(NodeEnum::AlterTableStmt(a)) = parsed.statements[0].node.clone() else {
            panic!("not ALTER TABLE")
        };
        let Some(NodeEnum::AlterTableCmd(cmd)) = a.cmds[0].node.clone() else {
            panic!("no command")
        };
        let Some(NodeEnum::PartitionCmd(pc)) = cmd.def.and_then(|d| d.node) else {
            panic!("no partition command")
        };
        let exprs: Vec<protobuf::Node> = checks
            .iter()
            .map(|c| {
                let p = crate::parse::parse_sql(&format!("SELECT {c}")).expect("check parses");
                let Some(NodeEnum::SelectStmt(s)) = p.statements[0].node.clone() else {
                    panic!("not SELECT")
                };
                let Some(NodeEnum::ResTarget(t)) = s.target_list[0].node.clone() else {
                    panic!("no target")
                };
                *t.val.expect("value")
            })
            .collect();
        let refs: Vec<&protobuf::Node> = exprs.iter().collect();
        bound_implied(&key, pc.bound.as_ref().unwrap(), not_null, &refs)
    }

    #[test]
    fn list_bound_is_implied_by_a_not_null_equal_any_check_as_postgres_prints_it() {
        let check = "((id IS NOT NULL) AND (id = ANY (ARRAY[7, 8])))";
        assert!(implied(
            "LIST (id)",
            "FOR VALUES IN (7, 8)",
            false,
            &[check]
        ));
        assert!(implied(
            "LIST (id)",
            "FOR VALUES IN (8, 7, 9)",
            false,
            &[check]
        ));
        assert!(!implied("LIST (id)", "FOR VALUES IN (7)", false, &[check]));
    }

    #[test]
    fn list_bound_needs_not_null_unless_the_list_holds_null() {
        assert!(!implied(
            "LIST (id)",
            "FOR VALUES IN (7, 8)",
            false,
            &["id IN (7, 8)"]
        ));
        assert!(implied(
            "LIST (id)",
            "FOR VALUES IN (7, 8)",
            true,
            &["id IN (7, 8)"]
        ));
        assert!(implied(
            "LIST (id)",
            "FOR VALUES IN (NULL, 7, 8)",
            false,
            &["id IN (7, 8)"]
        ));
        assert!(implied(
            "LIST (region)",
            "FOR VALUES IN ('eu', 'us')",
            true,
            &["region = 'eu' OR region = 'us'"]
        ));
        assert!(!implied(
            "LIST (region)",
            "FOR VALUES IN ('eu')",
            true,
            &["region <> 'us'"]
        ));
    }

    #[test]
    fn range_bound_is_implied_by_bounds_between_and_value_lists() {
        let key = "RANGE (created_at)";
        let bound = "FOR VALUES FROM ('2027-01-01') TO ('2028-01-01')";
        let checks = [
            "created_at IS NOT NULL AND created_at >= '2027-01-01'::date AND created_at < '2028-01-01'::date",
        ];
        assert!(implied(key, bound, false, &checks));
        assert!(implied(
            key,
            bound,
            true,
            &["created_at >= '2027-03-01' AND '2027-12-31' >= created_at"]
        ));
        assert!(!implied(
            key,
            bound,
            true,
            &["created_at >= '2026-12-31' AND created_at < '2028-01-01'"]
        ));
        assert!(!implied(
            key,
            bound,
            true,
            &["created_at >= '2027-01-01' AND created_at <= '2028-01-01'"]
        ));
        assert!(!implied(
            key,
            bound,
            false,
            &["created_at BETWEEN '2027-01-01' AND '2027-06-01'"]
        ));
        assert!(implied(
            "RANGE (n)",
            "FOR VALUES FROM (0) TO (100)",
            true,
            &["n BETWEEN 0 AND 99"]
        ));
        assert!(implied(
            "RANGE (n)",
            "FOR VALUES FROM (MINVALUE) TO (100)",
            true,
            &["n IN (-5, 3)"]
        ));
        assert!(implied(
            "RANGE (n)",
            "FOR VALUES FROM (10) TO (MAXVALUE)",
            true,
            &["n >= 10"]
        ));
        // PostgreSQL compares the constants, not what an integer column can hold.
        assert!(!implied(
            "RANGE (n)",
            "FOR VALUES FROM (10) TO (MAXVALUE)",
            true,
            &["n > 9"]
        ));
        assert!(!implied(
            "RANGE (n)",
            "FOR VALUES FROM (10) TO (MAXVALUE)",
            true,
            &["n > 9.5"]
        ));
    }

    #[test]
    fn what_cannot_be_proven_is_not_proven() {
        // Different key column, hash partitioning, expressions, strings of different shapes.
        assert!(!implied(
            "LIST (id)",
            "FOR VALUES IN (7)",
            true,
            &["other = 7"]
        ));
        assert!(!implied(
            "HASH (id)",
            "FOR VALUES WITH (MODULUS 2, REMAINDER 0)",
            true,
            &["id = 2"]
        ));
        assert!(PartitionKey::from_definition("RANGE (lower(name))").is_none());
        assert!(PartitionKey::from_definition("RANGE (a, b)").is_none());
        assert!(!implied(
            "RANGE (s)",
            "FOR VALUES FROM ('a') TO ('m')",
            true,
            &["s >= 'b' AND s < 'c'"]
        ));
        assert!(!implied("LIST (id)", "FOR VALUES IN (7)", true, &[]));
    }
}
