//! Rewrite rules as data: each rule is a row (name, group, exactness, identity, pattern, right-hand
//! side) in a table of its group. Every right-hand side goes through [`Typed`], which refuses a
//! rewrite whose result has a different type than the matched class and records it as a conflict.

mod algebra;
mod chunked;
mod fusion;
mod matmul;

use egg::{Applier, Id, Pattern, PatternAst, Rewrite, Subst, Symbol, Var};
use irc_ir::TensorType;

use super::analysis::{Data, EG, TensorAnalysis};
use super::lang::{Attr, TNode};

/// Which rules the optimizer runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum RuleGroup {
    /// Group 1, exact: identities that hold bit for bit in floating point (`x * 1`, `neg(neg x)`,
    /// permute/reshape/expand folding, constant folding).
    Simplify,
    /// Group 1, real-arithmetic identities that change rounding (distributivity, `exp(log x)`).
    FloatAlgebra,
    /// Group 2: matmul chain reassociation and causal linear attention in chunks (sums in a
    /// different order).
    MatmulAssoc,
    /// Group 3: fusion discovery (softmax attention, Monarch products) into fused ops.
    Fusion,
}

impl RuleGroup {
    pub const ALL: [RuleGroup; 4] =
        [RuleGroup::Simplify, RuleGroup::FloatAlgebra, RuleGroup::MatmulAssoc, RuleGroup::Fusion];

    pub fn name(self) -> &'static str {
        match self {
            RuleGroup::Simplify => "simplify",
            RuleGroup::FloatAlgebra => "float-algebra",
            RuleGroup::MatmulAssoc => "matmul-assoc",
            RuleGroup::Fusion => "fusion",
        }
    }
}

/// How a rule's result compares with the original in floating point.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Exactness {
    /// Bit-identical results.
    Exact,
    /// Bit-identical except that `-0.0` may become `+0.0`.
    ExactUpToZeroSign,
    /// Equal in real arithmetic; floating-point rounding (or overflow) differs.
    Real,
}

pub type Cond = fn(&EG, &Subst) -> bool;
pub type Build = fn(&mut EG, &Subst) -> Option<Id>;

/// The right-hand side of a rule.
#[derive(Clone, Copy, Debug)]
pub enum Rhs {
    /// Instantiate this pattern.
    Pat(&'static str),
    /// Instantiate this pattern when the condition holds.
    If(Cond, &'static str),
    /// Build the result in code (attributes computed from the match); `None` if it does not apply.
    Build(Build),
}

/// One row of a rule table.
#[derive(Clone, Copy, Debug)]
pub struct RuleDef {
    pub name: &'static str,
    pub group: RuleGroup,
    pub exactness: Exactness,
    /// The identity the rule relies on, for the docs and `--explain`.
    pub identity: &'static str,
    pub lhs: &'static str,
    pub rhs: Rhs,
}

/// Every rule, in table order.
pub fn all_rules() -> Vec<RuleDef> {
    let tables = [algebra::SIMPLIFY, algebra::FLOAT_ALGEBRA, matmul::MATMUL, chunked::CHUNKED, fusion::FUSION];
    tables.into_iter().flatten().copied().collect()
}

enum RhsImpl {
    Pat(PatternAst<TNode>),
    Build(Build),
}

/// An applier that unions only results of the matched class's type.
pub struct Typed {
    name: &'static str,
    cond: Option<Cond>,
    rhs: RhsImpl,
}

fn type_name(t: &Option<TensorType>) -> String {
    t.as_ref().map_or_else(|| "ill-typed term".to_string(), |t| t.to_string())
}

impl Applier<TNode, TensorAnalysis> for Typed {
    fn apply_one(
        &self,
        eg: &mut EG,
        eclass: Id,
        subst: &Subst,
        _ast: Option<&PatternAst<TNode>>,
        _rule: Symbol,
    ) -> Vec<Id> {
        if self.cond.is_some_and(|c| !c(eg, subst)) {
            return vec![];
        }
        let new = match &self.rhs {
            RhsImpl::Pat(p) => eg.add_instantiation(p, subst),
            RhsImpl::Build(f) => match f(eg, subst) {
                Some(id) => id,
                None => return vec![],
            },
        };
        let (want, got) = (&eg[eclass].data.ty, &eg[new].data.ty);
        if got.is_none() {
            return vec![]; // the result does not type-check: the rule does not apply here
        }
        if want != got {
            let msg = format!("rule `{}` rewrote a {} into a {}", self.name, type_name(want), type_name(got));
            eg.analysis.conflicts.push(msg);
            return vec![];
        }
        if eg.union(eclass, new) { vec![eclass] } else { vec![] }
    }
}

/// Why a rule table row is malformed.
pub fn compile(def: &RuleDef) -> Result<Rewrite<TNode, TensorAnalysis>, String> {
    let lhs: Pattern<TNode> = def.lhs.parse().map_err(|e| format!("rule `{}`: bad pattern: {e:?}", def.name))?;
    let parse = |s: &str| -> Result<PatternAst<TNode>, String> {
        s.parse::<Pattern<TNode>>().map(|p| p.ast).map_err(|e| format!("rule `{}`: bad pattern: {e:?}", def.name))
    };
    let (cond, rhs) = match def.rhs {
        Rhs::Pat(p) => (None, RhsImpl::Pat(parse(p)?)),
        Rhs::If(c, p) => (Some(c), RhsImpl::Pat(parse(p)?)),
        Rhs::Build(f) => (None, RhsImpl::Build(f)),
    };
    Rewrite::new(def.name, lhs, Typed { name: def.name, cond, rhs })
}

// Helpers for conditions and builders.

pub(crate) fn var(name: &str) -> Var {
    name.parse().expect("rule variables are well-formed")
}

pub(crate) fn data<'a>(eg: &'a EG, s: &Subst, name: &str) -> &'a Data {
    &eg[s[var(name)]].data
}

pub(crate) fn attr<'a>(eg: &'a EG, s: &Subst, name: &str) -> Option<&'a Attr> {
    data(eg, s, name).attr.as_ref()
}

pub(crate) fn splat_is(eg: &EG, s: &Subst, name: &str, v: f64) -> bool {
    data(eg, s, name).splat.is_some_and(|x| x == v)
}

pub(crate) fn ty<'a>(eg: &'a EG, s: &Subst, name: &str) -> Option<&'a TensorType> {
    data(eg, s, name).ty.as_ref()
}
