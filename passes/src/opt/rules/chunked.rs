//! Group 2, continued: causal linear attention in chunked form. The quadratic form masks a `T x T`
//! score matrix, `Y = select(j <= i, s Q K^T, 0) V`, with the normalizer `z = rowsum(select(j <= i,
//! s Q K^T, 0))` beside it. Cut `T` into `n` chunks of `C`; for a query in chunk `c`,
//!
//! ```text
//! Y_c = select(j <= i, s Q_c K_c^T, 0) V_c  +  s Q_c sum_{c' < c} K_c'^T V_c'
//! z_c = rowsum(select(j <= i, s Q_c K_c^T, 0))  +  s Q_c sum_{c' < c} K_c'^T 1
//! ```
//!
//! an intra-chunk quadratic term (`C x C` scores per chunk) plus the exclusive prefix over chunks of
//! the `dk x dv` states `K_c^T V_c` (and of the key sums), written `pad(slice(cumsum(states)))`: the
//! inclusive prefix shifted by one chunk. Work falls from `T^2` to `T C + T dk`: linear in `T`. The
//! identity holds in real arithmetic (sums in another order). It needs a static `T`; each chunk
//! size in the table (32, 64, 128) that divides `T` adds one alternative and extraction picks by cost. The chunk's
//! causal mask is the top-left `C x C` block of the matched mask. The numerator and the normalizer
//! share the chunked scores, so extraction pays them once.

use std::sync::LazyLock;

use egg::{Id, PatternAst, Subst};

use super::fusion::{is_causal, scaled_scores};
use super::{Exactness::*, Rhs::*, RuleDef, RuleGroup::*, attr, data, ty, var};
use crate::opt::analysis::EG;
use crate::opt::lang::{Attr, D, TNode, dims_of};

/// The masked quadratic scores times the values, and their row sums.
const NUM_LHS: &str = "(matmul (select ?m ?sc ?z) ?v)";
const DEN_LHS: &str = "(reduce_sum ?ax (select ?m ?sc ?z))";

// Operands cut into chunks: `[.., T, d] -> [.., n, C, d]`, keys as `[.., n, dk, C]`.
const QC: &str = "(reshape ?q_sh ?q)";
const KTC: &str = "(permute ?kt_p (reshape ?kt_sh ?kt))";
const VC: &str = "(reshape ?v_sh ?v)";

/// A right-hand side: `{SC}` is the chunk's masked scores, `{X}` is where the exclusive prefix
/// goes; the scale multiplies the inter-chunk term (a scale of one folds away).
fn rhs(intra: &str, state: &str) -> String {
    let sc = format!(
        "(select (expand ?cmask_sh (reshape ?cmask_r (slice ?cols (slice ?rows ?m)))) \
         (mul (matmul {QC} {KTC}) (expand ?cc_sh ?scale)) (expand ?cc_sh ?zero))"
    );
    let prefix = format!("(pad ?pad (slice ?drop (cumsum ?cum {state})))");
    let intra = intra.replace("{SC}", &sc);
    format!("(reshape ?out_sh (add {intra} (mul (matmul {QC} {prefix}) (expand ?o_sh ?scale))))")
}

static NUMERATOR: LazyLock<PatternAst<TNode>> =
    LazyLock::new(|| parse(&rhs(&format!("(matmul {{SC}} {VC})"), &format!("(matmul {KTC} {VC})"))));
static NORMALIZER: LazyLock<PatternAst<TNode>> =
    LazyLock::new(|| parse(&rhs("(reduce_sum ?last {SC})", &format!("(reduce_sum ?last {KTC})"))));

fn parse(s: &str) -> PatternAst<TNode> {
    s.parse::<egg::Pattern<TNode>>().expect("the chunked patterns are well-formed").ast
}

/// The matched operands, checked: `q: [.., T, dk]`, `kt: [.., dk, T]`, equal batch dims, static `T`
/// divisible by `chunk` and larger than it, a causal mask, a zero fill.
struct Match {
    q: Id,
    kt: Id,
    scale: f64,
    lead: Vec<D>,
    t: usize,
    dk: D,
}

fn match_masked(eg: &EG, s: &Subst, chunk: usize) -> Option<Match> {
    if data(eg, s, "?z").splat != Some(0.0) {
        return None;
    }
    let dims = dims_of(&ty(eg, s, "?sc")?.shape);
    let (q, kt, scale) = scaled_scores(eg, s[var("?sc")])?;
    let (qd, ktd) = (dims_of(&eg[q].data.ty.as_ref()?.shape), dims_of(&eg[kt].data.ty.as_ref()?.shape));
    let r = qd.len();
    if r < 2 || ktd.len() != r || dims.len() != r || qd[..r - 2] != ktd[..r - 2] || !ty(eg, s, "?sc")?.dtype.is_float()
    {
        return None;
    }
    let D::S(t) = qd[r - 2] else { return None };
    if ktd[r - 1] != D::S(t) || t % chunk != 0 || t <= chunk || !is_causal(eg, s[var("?m")], &dims) {
        return None;
    }
    Some(Match { q, kt, scale, lead: qd[..r - 2].to_vec(), t, dk: qd[r - 1].clone() })
}

/// Binds every attribute of the chunked form for `m` cut into chunks of `chunk`, the value operand
/// of width `dv` (`None` for the normalizer), and instantiates `pat`.
fn build(eg: &mut EG, s: &Subst, m: Match, chunk: usize, v: Option<Id>, pat: &PatternAst<TNode>) -> Option<Id> {
    let dtype = ty(eg, s, "?sc")?.dtype;
    let (n, r) = (m.t / chunk, m.lead.len() + 2);
    let shape = |tail: &[D]| Attr::Shape(m.lead.iter().chain(tail).cloned().collect());
    let (c, nd) = (D::S(chunk), D::S(n));
    let dv = match v {
        Some(v) => dims_of(&eg[v].data.ty.as_ref()?.shape).pop()?,
        None => D::S(1),
    };
    let tail = if v.is_some() {
        ("?v_sh", shape(&[nd.clone(), c.clone(), dv.clone()]))
    } else {
        ("?last", Attr::Axes(vec![r]))
    };
    let attrs = [
        ("?q_sh", shape(&[nd.clone(), c.clone(), m.dk.clone()])),
        ("?kt_sh", shape(&[m.dk.clone(), nd.clone(), c.clone()])),
        ("?kt_p", Attr::Perm((0..r - 2).chain([r - 1, r - 2, r]).collect())),
        ("?rows", Attr::Slice { axis: r - 2, start: 0, end: c.clone() }),
        ("?cols", Attr::Slice { axis: r - 1, start: 0, end: c.clone() }),
        ("?cmask_r", shape(&[D::S(1), c.clone(), c.clone()])),
        ("?cmask_sh", shape(&[nd.clone(), c.clone(), c.clone()])),
        ("?cc_sh", shape(&[nd.clone(), c.clone(), c.clone()])),
        ("?cum", Attr::Cumsum { axis: r - 2, reverse: false }),
        ("?drop", Attr::Slice { axis: r - 2, start: 0, end: D::S(n - 1) }),
        ("?pad", Attr::Pad { axis: r - 2, before: 1, after: 0 }),
        ("?o_sh", shape(&[nd.clone(), c.clone(), dv.clone()])),
        ("?out_sh", shape(&[D::S(m.t), dv])),
        tail,
    ];
    let mut s = s.clone();
    for (name, a) in attrs {
        s.insert(var(name), eg.add(TNode::Attr(a)));
    }
    s.insert(var("?q"), m.q);
    s.insert(var("?kt"), m.kt);
    s.insert(var("?scale"), eg.add(TNode::constant(m.scale, dtype)));
    s.insert(var("?zero"), eg.add(TNode::constant(0.0, dtype)));
    Some(eg.add_instantiation(pat, &s))
}

/// `select(causal, s Q K^T, 0) V` in chunks of `C`.
fn chunk_numerator<const C: usize>(eg: &mut EG, s: &Subst) -> Option<Id> {
    let m = match_masked(eg, s, C)?;
    build(eg, s, m, C, Some(s[var("?v")]), &NUMERATOR)
}

/// `rowsum(select(causal, s Q K^T, 0))` in chunks of `C`.
fn chunk_normalizer<const C: usize>(eg: &mut EG, s: &Subst) -> Option<Id> {
    let m = match_masked(eg, s, C)?;
    let last = m.lead.len() + 1;
    if attr(eg, s, "?ax") != Some(&Attr::Axes(vec![last])) {
        return None;
    }
    build(eg, s, m, C, None, &NORMALIZER)
}

macro_rules! chunk_rules {
    ($($c:literal => $num:literal, $den:literal;)*) => {
        &[$(
            RuleDef {
                name: $num,
                group: MatmulAssoc,
                exactness: Real,
                identity: "causal (Q K^T) V = intra-chunk quadratic + Q (exclusive prefix of chunk states K^T V)",
                lhs: NUM_LHS,
                rhs: Build(chunk_numerator::<$c>),
            },
            RuleDef {
                name: $den,
                group: MatmulAssoc,
                exactness: Real,
                identity: "causal rowsum(Q K^T) = intra-chunk rowsum + Q (exclusive prefix of chunk key sums)",
                lhs: DEN_LHS,
                rhs: Build(chunk_normalizer::<$c>),
            },
        )*]
    };
}

pub const CHUNKED: &[RuleDef] = chunk_rules! {
    32 => "chunk-linear-attention-32", "chunk-normalizer-32";
    64 => "chunk-linear-attention-64", "chunk-normalizer-64";
    128 => "chunk-linear-attention-128", "chunk-normalizer-128";
};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_patterns_parse() {
        let _ = (&*NUMERATOR, &*NORMALIZER);
    }
}
