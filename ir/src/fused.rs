//! Fused ops: a small set of ops whose meaning is *defined* by one expansion into primitives. The
//! optimizer discovers them (group 3), lowering gives them dedicated kernels, and everything that
//! needs the primitive meaning (the reference interpreter, autodiff) calls [`expand_fused`], so the
//! semantics are written down once, here.

use crate::{BinaryOp, DType, Dim, Graph, IrError, NodeId, Op, ReduceOp, Shape, TensorType, UnaryOp};

use crate::infer::TypeResult;

fn check(cond: bool, msg: impl FnOnce() -> String) -> TypeResult<()> {
    if cond { Ok(()) } else { Err(msg()) }
}

fn float_same(ins: &[&TensorType]) -> TypeResult<()> {
    let d = ins[0].dtype;
    check(d.is_float(), || format!("expects a floating-point dtype, got {d}"))?;
    check(ins.iter().all(|t| t.dtype == d), || "operand dtypes differ".to_string())
}

/// `attention(q, kt, v)`: `q: [.., T, D]`, `kt: [.., D, S]`, `v: [.., S, E]` with equal batch dims
/// give `[.., T, E]`.
pub(crate) fn attention_type(ins: &[&TensorType]) -> TypeResult<TensorType> {
    float_same(ins)?;
    let (q, kt, v) = (ins[0], ins[1], ins[2]);
    let r = q.rank();
    check(r >= 2 && kt.rank() == r && v.rank() == r, || format!("operands need one rank >= 2, got {q}, {kt}, {v}"))?;
    let (qs, ks, vs) = (&q.shape.0, &kt.shape.0, &v.shape.0);
    check(qs[..r - 2] == ks[..r - 2] && qs[..r - 2] == vs[..r - 2], || "batch dims differ".to_string())?;
    check(qs[r - 1] == ks[r - 2], || format!("query width {} differs from key width {}", qs[r - 1], ks[r - 2]))?;
    check(ks[r - 1] == vs[r - 2], || format!("key count {} differs from value count {}", ks[r - 1], vs[r - 2]))?;
    let mut dims = qs[..r - 1].to_vec();
    dims.push(vs[r - 1].clone());
    Ok(TensorType::new(q.dtype, Shape(dims)))
}

/// The static sizes of a Monarch product: `(m1, a, m2, c)` for `r: [m1, a, m2]`, `l: [m2, m1, c]`.
pub fn monarch_dims(r: &Shape, l: &Shape) -> Option<(usize, usize, usize, usize)> {
    let st = |s: &Shape| -> Option<Vec<usize>> { s.0.iter().map(Dim::as_static).collect() };
    match (st(r)?.as_slice(), st(l)?.as_slice()) {
        (&[m1, a, m2], &[l0, l1, c]) if l0 == m2 && l1 == m1 => Some((m1, a, m2, c)),
        _ => None,
    }
}

/// `monarch(x, r, l)`: `x: [.., m1*a]`, `r: [m1, a, m2]`, `l: [m2, m1, c]` (static) give `[.., c*m2]`.
pub(crate) fn monarch_type(ins: &[&TensorType]) -> TypeResult<TensorType> {
    float_same(ins)?;
    let (x, r, l) = (ins[0], ins[1], ins[2]);
    let (m1, a, m2, c) = monarch_dims(&r.shape, &l.shape)
        .ok_or_else(|| format!("factors {r} and {l} are not [m1, a, m2] and [m2, m1, c] of static sizes"))?;
    let last = x.shape.0.last().and_then(Dim::as_static);
    check(last == Some(m1 * a), || format!("input {x} needs a last dimension of {m1} * {a}"))?;
    let mut dims = x.shape.0.clone();
    *dims.last_mut().expect("checked above") = Dim::Static(c * m2);
    Ok(TensorType::new(x.dtype, Shape(dims)))
}

/// Appends nodes to a graph, with the helpers the expansions need.
struct Pusher<'a>(&'a mut Graph);

impl Pusher<'_> {
    fn op(&mut self, op: Op, ins: &[NodeId]) -> Result<NodeId, IrError> {
        self.0.push(op, ins)
    }
    fn shape(&self, n: NodeId) -> Shape {
        self.0.ty(n).shape.clone()
    }
    /// `expand(x, shape)`.
    fn expand(&mut self, x: NodeId, shape: &Shape) -> Result<NodeId, IrError> {
        self.op(Op::Expand { shape: shape.clone() }, &[x])
    }
    /// A constant broadcast to `shape`.
    fn splat(&mut self, value: f64, dtype: DType, shape: &Shape) -> Result<NodeId, IrError> {
        let c = self.op(Op::Const { value, dtype }, &[])?;
        self.expand(c, shape)
    }
    fn binary(&mut self, op: BinaryOp, a: NodeId, b: NodeId) -> Result<NodeId, IrError> {
        self.op(Op::Binary { op }, &[a, b])
    }
    /// `reduce(x)` over the last axis, expanded back to `x`'s shape.
    fn row_reduce(&mut self, op: ReduceOp, x: NodeId) -> Result<NodeId, IrError> {
        let shape = self.shape(x);
        let r = self.op(Op::Reduce { op, axes: vec![shape.rank() - 1] }, &[x])?;
        self.expand(r, &shape)
    }
}

/// The primitives of `attention(q, kt, v)`, appended to `g`: the naive pattern the DSL builds
/// (`frontends/src/nn/attention.rs`), so interpreting it gives the original's values bit for bit.
///
/// `s = q kt * scale`; with `causal`, `s = select(j <= i, s, fill)` (`i`, `j` from two `iota`s);
/// `p = exp(s - max(s)) / sum(exp(s - max(s)))` over the last axis; the result is `p v`.
pub fn expand_attention(g: &mut Graph, scale: f64, causal: bool, fill: f64, ins: &[NodeId]) -> Result<NodeId, IrError> {
    let mut p = Pusher(g);
    let (q, kt, v) = (ins[0], ins[1], ins[2]);
    let dtype = p.0.ty(q).dtype;
    let qk = p.op(Op::MatMul, &[q, kt])?;
    let shape = p.shape(qk);
    let sc = p.splat(scale, dtype, &shape)?;
    let mut s = p.binary(BinaryOp::Mul, qk, sc)?;
    if causal {
        let r = shape.rank();
        let ts = TensorType::new(DType::I32, Shape(shape.0[r - 2..].to_vec()));
        let rows = p.op(Op::Iota { axis: 0, ty: ts.clone() }, &[])?;
        let cols = p.op(Op::Iota { axis: 1, ty: ts }, &[])?;
        let visible = p.binary(BinaryOp::Le, cols, rows)?;
        let mask = p.expand(visible, &shape)?;
        let f = p.splat(fill, dtype, &shape)?;
        s = p.op(Op::Select, &[mask, s, f])?;
    }
    let mx = p.row_reduce(ReduceOp::Max, s)?;
    let shifted = p.binary(BinaryOp::Sub, s, mx)?;
    let e = p.op(Op::Unary { op: UnaryOp::Exp }, &[shifted])?;
    let sum = p.row_reduce(ReduceOp::Sum, e)?;
    let probs = p.binary(BinaryOp::Div, e, sum)?;
    p.op(Op::MatMul, &[probs, v])
}

/// The primitives of `monarch(x, r, l)`, appended to `g`: the layout `monarch_linear` builds
/// (`frontends/src/nn/monarch.rs`). With `L` the lead dims of `x`:
/// `u = reshape(x, L+[m1,1,a]) r` (block `i` of `x` times `r[i]`) as `L+[m1,m2]`, swapped to
/// `L+[m2,1,m1]` and multiplied by `l` (block `q` times `l[q]`) as `L+[m2,c]`, swapped to `L+[c,m2]`
/// and flattened to `L+[c*m2]`.
pub fn expand_monarch(g: &mut Graph, ins: &[NodeId]) -> Result<NodeId, IrError> {
    let mut p = Pusher(g);
    let (x, r, l) = (ins[0], ins[1], ins[2]);
    let (m1, a, m2, c) = monarch_dims(&p.shape(r), &p.shape(l)).ok_or_else(|| IrError::Type {
        node: p.0.len(),
        op: "monarch",
        inputs: String::new(),
        msg: "bad factors".into(),
    })?;
    let xs = p.shape(x);
    let lead = &xs.0[..xs.rank() - 1];
    let dims = |tail: &[usize]| Shape(lead.iter().cloned().chain(tail.iter().map(|&n| Dim::Static(n))).collect());
    let rank = lead.len() + 2;
    let swap: Vec<usize> = (0..rank - 2).chain([rank - 1, rank - 2]).collect();
    let xb = p.op(Op::Reshape { shape: dims(&[m1, 1, a]) }, &[x])?;
    let u = p.op(Op::MatMul, &[xb, r])?;
    let u = p.op(Op::Reshape { shape: dims(&[m1, m2]) }, &[u])?;
    let ut = p.op(Op::Permute { perm: swap.clone() }, &[u])?;
    let ub = p.op(Op::Reshape { shape: dims(&[m2, 1, m1]) }, &[ut])?;
    let w = p.op(Op::MatMul, &[ub, l])?;
    let w = p.op(Op::Reshape { shape: dims(&[m2, c]) }, &[w])?;
    let wt = p.op(Op::Permute { perm: swap }, &[w])?;
    p.op(Op::Reshape { shape: dims(&[c * m2]) }, &[wt])
}

/// The primitives of fused op `op` applied to `ins`, appended to `g`; `None` for a primitive.
pub fn expand(g: &mut Graph, op: &Op, ins: &[NodeId]) -> Option<Result<NodeId, IrError>> {
    match op {
        Op::Attention { scale, causal, fill } => Some(expand_attention(g, *scale, *causal, *fill, ins)),
        Op::Monarch => Some(expand_monarch(g, ins)),
        _ => None,
    }
}

impl Graph {
    /// Whether any node is a fused op.
    pub fn has_fused(&self) -> bool {
        self.nodes().iter().any(|n| n.op.is_fused())
    }
}

/// `g` with every fused node replaced by its expansion: the same inputs, params (same order) and
/// outputs (same names and types), primitives only. A graph without fused ops comes back unchanged.
pub fn expand_fused(g: &Graph) -> Result<Graph, IrError> {
    if !g.has_fused() {
        return Ok(g.clone());
    }
    let mut out = Graph::new(g.name.clone());
    let mut map: Vec<NodeId> = Vec::with_capacity(g.len());
    for node in g.nodes() {
        let ins: Vec<NodeId> = node.inputs.iter().map(|i| map[i.0]).collect();
        let id = match expand(&mut out, &node.op, &ins) {
            Some(r) => r?,
            None => out.push(node.op.clone(), &ins)?,
        };
        map.push(id);
    }
    for o in g.outputs() {
        out.add_output(o.name.clone(), map[o.node.0])?;
    }
    Ok(out)
}
