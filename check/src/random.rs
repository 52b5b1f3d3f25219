//! Random valid graphs for differential checks and property tests (the proptest strategies over them are in
//! `irc-tests`).
//!
//! A graph is generated from a list of (op choice, seed) pairs. Each choice is tried against the typed nodes
//! built so far: its operands are picked among existing nodes (or fresh inputs are made for it) and the node
//! is added with `Graph::push`; a choice whose op does not type-check is skipped. Every graph returned has
//! passed `Graph::verify`.
//!
//! What a generated graph guarantees, so interpreters and optimizers can run it:
//! - Sizes are small: leaves have rank <= 3 and static dims in `1..=4`; no tensor has rank above 4.
//! - Every leaf is `f32`, except the index tensors of gather and scatter_add (and some `iota`s). There are no
//!   integer inputs: indices are built from `iota`, `literal` and arithmetic on them, so **every gather and
//!   scatter index is in range** for any binding of the symbols that is at least [`MIN_BINDING`].
//! - With `symbolic`, dims use the symbols in [`SYMBOLS`], possibly with offsets (`T+2`, `T-1`). Offsets never
//!   go below `-2`, so binding every symbol to `MIN_BINDING` (3) or more makes every dim at least 1.
//!   Without `symbolic` (see [`random_static_graph`]) every dim is a number and the graph can run as is.
//! - Zero-size dims (from empty slices) appear only with `zero_size`.
//! - Values are not tamed: `log`, `sqrt`, `div`, `pow` may produce NaN or infinity at run time, so compare
//!   results with a NaN-aware tolerance.
//! - Several nodes are outputs: the unused computed nodes (up to four), or the last node.

use irc_ir::Rng;
use irc_ir::{
    BINARY_NAMES, BinaryOp, DType, Dim, Graph, Init, NodeId, Op, REDUCE_NAMES, Shape, TensorType, UNARY_NAMES,
    broadcast_shapes,
};

/// Symbols used by symbolic graphs.
pub const SYMBOLS: [&str; 2] = ["B", "T"];
/// Bind every symbol to at least this when running a symbolic graph; then all dims are >= 1 and every slice
/// and index is in range.
pub const MIN_BINDING: usize = 3;
/// Lowest offset a symbolic dim may get from slicing (`T-2`), so `MIN_BINDING + MIN_OFFSET >= 1`.
const MIN_OFFSET: i64 = -2;
const MAX_RANK: usize = 4;
const MAX_STATIC: usize = 4;
/// Values exactly representable in every float dtype, so casts and JSON round trips are exact.
const NICE: [f64; 12] = [-2.0, -1.5, -1.0, -0.5, -0.25, 0.0, 0.25, 0.5, 1.0, 1.5, 2.0, 3.0];

/// What the generator may produce.
#[derive(Clone, Debug)]
pub struct GenConfig {
    /// Generation stops once the graph has this many nodes; the last choice may add a few helper nodes more
    /// (at most 4).
    pub max_nodes: usize,
    /// Use the symbolic dims in [`SYMBOLS`] as well as static ones.
    pub symbolic: bool,
    /// Allow zero-size dims (empty slices, empty gathers).
    pub zero_size: bool,
}

impl GenConfig {
    pub fn symbolic(max_nodes: usize) -> GenConfig {
        GenConfig { max_nodes, symbolic: true, zero_size: false }
    }

    pub fn static_dims(max_nodes: usize) -> GenConfig {
        GenConfig { max_nodes, symbolic: false, zero_size: false }
    }
}

/// One step of generation: which kind of node to try to add.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Choice {
    Input,
    Param,
    Const,
    Literal,
    Iota,
    Unary,
    Cast,
    Binary,
    Select,
    Reduce,
    Cumsum,
    Reshape,
    Permute,
    Expand,
    Slice,
    Pad,
    Concat,
    MatMul,
    Gather,
    ScatterAdd,
}

impl Choice {
    pub const ALL: [Choice; 20] = [
        Choice::Input,
        Choice::Param,
        Choice::Const,
        Choice::Literal,
        Choice::Iota,
        Choice::Unary,
        Choice::Cast,
        Choice::Binary,
        Choice::Select,
        Choice::Reduce,
        Choice::Cumsum,
        Choice::Reshape,
        Choice::Permute,
        Choice::Expand,
        Choice::Slice,
        Choice::Pad,
        Choice::Concat,
        Choice::MatMul,
        Choice::Gather,
        Choice::ScatterAdd,
    ];
}

/// The graph a list of choices builds (deterministic; exposed to replay a failing case).
pub fn build_graph(cfg: &GenConfig, choices: &[(Choice, u64)]) -> Graph {
    let mut b = Builder { cfg, g: Graph::new("random"), rng: Rng::new(0), leaves: 0 };
    for &(choice, seed) in choices {
        if b.g.len() >= cfg.max_nodes.max(1) {
            break;
        }
        b.rng = Rng::new(seed);
        b.apply(choice);
    }
    if b.g.is_empty() {
        let shape = b.shape(1);
        b.input(shape);
    }
    b.rng = Rng::new(choices.len() as u64);
    b.mark_outputs();
    debug_assert_eq!(b.g.verify(), Ok(()));
    b.g
}

struct Builder<'c> {
    cfg: &'c GenConfig,
    g: Graph,
    rng: Rng,
    leaves: usize,
}

fn numeric(t: &TensorType) -> bool {
    t.dtype != DType::Bool
}

/// The size of a symbolic dim with this offset under the smallest allowed binding.
fn smallest_size(offset: i64) -> usize {
    (MIN_BINDING as i64 + offset).max(1) as usize
}

fn last2(s: &Shape) -> (&[Dim], &Dim, &Dim) {
    let d = s.dims();
    (&d[..d.len() - 2], &d[d.len() - 2], &d[d.len() - 1])
}

impl Builder<'_> {
    fn apply(&mut self, choice: Choice) -> Option<NodeId> {
        match choice {
            Choice::Input => {
                let rank = self.rng.range(0, 3);
                let shape = self.shape(rank);
                self.input(shape)
            }
            Choice::Param => {
                let rank = self.rng.range(1, 2);
                let shape = self.static_shape(rank);
                self.param(shape)
            }
            Choice::Const => self.constant(),
            Choice::Literal => {
                let rank = self.rng.range(0, 2);
                let shape = self.static_shape(rank);
                let n = shape.numel().unwrap_or(0);
                let data = (0..n).map(|_| *self.rng.pick(&NICE)).collect();
                self.push(Op::Literal { ty: TensorType::new(DType::F32, shape), data }, &[])
            }
            Choice::Iota => {
                let rank = self.rng.range(1, 3);
                let shape = self.shape(rank);
                let dtype = *self.rng.pick(&[DType::F32, DType::F32, DType::I32]);
                let axis = self.rng.below(rank);
                self.push(Op::Iota { axis, ty: TensorType::new(dtype, shape) }, &[])
            }
            Choice::Unary => {
                let x = self.operand(0, numeric)?;
                let float = self.g.ty(x).dtype.is_float();
                let ops: Vec<_> = UNARY_NAMES.iter().map(|(op, _)| *op).filter(|op| float || op.is_sign_op()).collect();
                let op = *self.rng.pick(&ops);
                self.push(Op::Unary { op }, &[x])
            }
            Choice::Cast => {
                let x = self.operand(0, |_| true)?;
                let dtype = *self.rng.pick(&DType::ALL);
                self.push(Op::Cast { dtype }, &[x])
            }
            Choice::Binary => {
                let op = self.rng.pick(&BINARY_NAMES).0;
                let x = match op {
                    _ if op.is_comparison() => self.operand(0, |_| true),
                    BinaryOp::Pow => self.operand(0, |t| t.dtype.is_float()),
                    _ => self.operand(0, numeric),
                }?;
                let y = self.partner(x)?;
                self.push(Op::Binary { op }, &[x, y])
            }
            Choice::Select => self.select(),
            Choice::Reduce => {
                let x = self.operand(1, numeric)?;
                let rank = self.g.ty(x).rank();
                let mut axes: Vec<usize> = (0..rank).filter(|_| self.rng.one_in(2)).collect();
                if axes.is_empty() {
                    axes.push(self.rng.below(rank));
                }
                let op = self.rng.pick(&REDUCE_NAMES).0;
                self.push(Op::Reduce { op, axes }, &[x])
            }
            Choice::Cumsum => {
                let x = self.operand(1, numeric)?;
                let axis = self.rng.below(self.g.ty(x).rank());
                let reverse = self.rng.one_in(2);
                self.push(Op::Cumsum { axis, reverse }, &[x])
            }
            Choice::Reshape => {
                let x = self.operand(0, |_| true)?;
                let shape = self.reshape_target(&self.g.ty(x).shape.clone())?;
                self.push(Op::Reshape { shape }, &[x])
            }
            Choice::Permute => {
                let x = self.operand(0, |_| true)?;
                let mut perm: Vec<usize> = (0..self.g.ty(x).rank()).collect();
                self.rng.shuffle(&mut perm);
                self.push(Op::Permute { perm }, &[x])
            }
            Choice::Expand => {
                let x = self.operand(0, |t| t.rank() < MAX_RANK)?;
                let shape = self.expand_target(&self.g.ty(x).shape.clone());
                self.push(Op::Expand { shape }, &[x])
            }
            Choice::Slice => {
                let x = self.operand(1, |_| true)?;
                let axis = self.rng.below(self.g.ty(x).rank());
                let (start, end) = self.slice_bounds(&self.g.ty(x).shape.0[axis].clone());
                self.push(Op::Slice { axis, start, end }, &[x])
            }
            Choice::Pad => {
                let x = self.operand(1, |_| true)?;
                let axis = self.rng.below(self.g.ty(x).rank());
                let (before, after) = (self.rng.range(0, 2), self.rng.range(0, 2));
                self.push(Op::Pad { axis, before, after }, &[x])
            }
            Choice::Concat => self.concat(),
            Choice::MatMul => self.matmul(),
            Choice::Gather => self.gather(),
            Choice::ScatterAdd => self.scatter_add(),
        }
    }

    /// A value valid for a constant of `dtype`: from [`NICE`], integral for integers, 0 or 1 for bool.
    fn nice_value(&mut self, dtype: DType) -> f64 {
        let v = *self.rng.pick(&NICE);
        match dtype {
            DType::Bool => f64::from(u8::from(v > 0.0)),
            _ if dtype.is_int() => v.trunc(),
            _ => v,
        }
    }

    fn push(&mut self, op: Op, inputs: &[NodeId]) -> Option<NodeId> {
        self.g.push(op, inputs).ok()
    }

    fn dim(&mut self) -> Dim {
        if self.cfg.symbolic && self.rng.one_in(3) {
            Dim::sym(*self.rng.pick(&SYMBOLS))
        } else {
            Dim::Static(self.rng.range(1, MAX_STATIC))
        }
    }

    fn shape(&mut self, rank: usize) -> Shape {
        Shape((0..rank).map(|_| self.dim()).collect())
    }

    fn static_shape(&mut self, rank: usize) -> Shape {
        Shape((0..rank).map(|_| Dim::Static(self.rng.range(1, MAX_STATIC))).collect())
    }

    fn input(&mut self, shape: Shape) -> Option<NodeId> {
        self.leaves += 1;
        let name = format!("x{}", self.leaves);
        self.push(Op::Input { name, ty: TensorType::new(DType::F32, shape) }, &[])
    }

    fn param(&mut self, shape: Shape) -> Option<NodeId> {
        self.leaves += 1;
        let name = format!("layer{}.weight", self.leaves);
        let inits = [
            Init::Zeros,
            Init::Ones,
            Init::Normal { std: 0.02 },
            Init::Normal { std: 1.0 },
            Init::Uniform { bound: 0.5 },
        ];
        let init = *self.rng.pick(&inits);
        self.push(Op::Param { name, ty: TensorType::new(DType::F32, shape), init }, &[])
    }

    /// A scalar constant, broadcast half the time to the shape of an existing node.
    fn constant(&mut self) -> Option<NodeId> {
        let value = *self.rng.pick(&NICE);
        let c = self.push(Op::Const { value, dtype: DType::F32 }, &[])?;
        if self.rng.one_in(2) {
            let target = self.operand(0, |_| true)?;
            let shape = self.g.ty(target).shape.clone();
            return self.push(Op::Expand { shape }, &[c]);
        }
        Some(c)
    }

    /// An existing node of rank in `min_rank..=MAX_RANK` accepted by `ok`, preferring recent ones so graphs
    /// grow deep; if there is none, a fresh f32 input (which every caller's `ok` accepts).
    fn operand(&mut self, min_rank: usize, ok: impl Fn(&TensorType) -> bool) -> Option<NodeId> {
        let cands: Vec<NodeId> = self
            .g
            .ids()
            .filter(|&i| (min_rank..=MAX_RANK).contains(&self.g.ty(i).rank()) && ok(self.g.ty(i)))
            .collect();
        if cands.is_empty() {
            let rank = self.rng.range(min_rank, 3);
            let shape = self.shape(rank);
            return self.input(shape);
        }
        if self.rng.one_in(2) {
            let k = cands.len().min(4);
            Some(cands[cands.len() - 1 - self.rng.below(k)])
        } else {
            Some(*self.rng.pick(&cands))
        }
    }

    /// A second operand of `x`'s exact type: an existing node (maybe `x` itself) or a broadcast constant.
    fn partner(&mut self, x: NodeId) -> Option<NodeId> {
        let ty = self.g.ty(x).clone();
        if self.rng.one_in(4) {
            let value = self.nice_value(ty.dtype);
            let c = self.push(Op::Const { value, dtype: ty.dtype }, &[])?;
            return self.push(Op::Expand { shape: ty.shape }, &[c]);
        }
        let same: Vec<NodeId> = self.g.ids().filter(|&i| *self.g.ty(i) == ty).collect();
        Some(*self.rng.pick(&same))
    }

    fn select(&mut self) -> Option<NodeId> {
        let x = self.operand(0, |_| true)?;
        let y = self.partner(x)?;
        let shape = self.g.ty(x).shape.clone();
        let conds: Vec<NodeId> =
            self.g.ids().filter(|&i| self.g.ty(i).dtype == DType::Bool && self.g.ty(i).shape == shape).collect();
        let cond = if !conds.is_empty() && self.rng.one_in(2) {
            *self.rng.pick(&conds)
        } else {
            let op = *self.rng.pick(&[BinaryOp::Lt, BinaryOp::Le, BinaryOp::Eq, BinaryOp::Ne]);
            self.push(Op::Binary { op }, &[x, y])?
        };
        self.push(Op::Select, &[cond, x, y])
    }

    /// A shape with the same element count: the static product refactored, symbolic dims kept, shuffled.
    fn reshape_target(&mut self, s: &Shape) -> Option<Shape> {
        let (prod, _) = s.numel_parts();
        let mut dims: Vec<Dim> = s.dims().iter().filter(|d| d.as_static().is_none()).cloned().collect();
        if prod == 0 {
            dims.push(Dim::Static(0));
        }
        let mut rem = prod;
        while rem > 1 {
            let divisors: Vec<usize> = (2..=rem).filter(|d| rem % d == 0).collect();
            let d = *self.rng.pick(&divisors);
            dims.push(Dim::Static(d));
            rem /= d;
        }
        if self.rng.one_in(3) {
            dims.push(Dim::Static(1));
        }
        self.rng.shuffle(&mut dims);
        (dims.len() <= MAX_RANK).then_some(Shape(dims))
    }

    /// A broadcast of `s`: up to two new leading dims, and some size-1 dims widened.
    fn expand_target(&mut self, s: &Shape) -> Shape {
        let lead = self.rng.below(MAX_RANK - s.rank() + 1).min(2);
        let mut dims: Vec<Dim> = (0..lead).map(|_| self.dim()).collect();
        for d in s.dims() {
            let widen = d.is_one() && self.rng.one_in(2);
            dims.push(if widen { self.dim() } else { d.clone() });
        }
        Shape(dims)
    }

    /// `start..end` inside `d`, keeping symbolic offsets >= MIN_OFFSET and static windows of symbolic dims
    /// within the smallest allowed binding.
    fn slice_bounds(&mut self, d: &Dim) -> (usize, Dim) {
        let empty_ok = usize::from(!self.cfg.zero_size);
        match d {
            Dim::Static(0) => (0, Dim::Static(0)),
            Dim::Static(n) => {
                let start = self.rng.range(0, n - empty_ok);
                (start, Dim::Static(self.rng.range(start + empty_ok, *n)))
            }
            Dim::Sym { offset, .. } if self.rng.one_in(3) => {
                let end = self.rng.range(1, smallest_size(*offset).min(MAX_STATIC));
                (self.rng.range(0, end - empty_ok), Dim::Static(end))
            }
            Dim::Sym { name, offset } => {
                let start = self.rng.range(0, 2) as i64;
                let end = offset - self.rng.range(0, 1) as i64;
                if end - start < MIN_OFFSET {
                    (0, d.clone())
                } else {
                    (start as usize, Dim::Sym { name: name.clone(), offset: end })
                }
            }
        }
    }

    /// `x` joined with up to two nodes that agree with it off `axis` (at most one symbolic size on `axis`).
    fn concat(&mut self) -> Option<NodeId> {
        let x = self.operand(1, |_| true)?;
        let tx = self.g.ty(x).clone();
        let axis = self.rng.below(tx.rank());
        let fits = |t: &TensorType| {
            t.dtype == tx.dtype
                && t.rank() == tx.rank()
                && t.shape.dims().iter().zip(tx.shape.dims()).enumerate().all(|(i, (a, b))| i == axis || a == b)
        };
        let cands: Vec<NodeId> = self.g.ids().filter(|&i| fits(self.g.ty(i))).collect();
        let is_sym = |b: &Self, id: NodeId| b.g.ty(id).shape.0[axis].as_static().is_none();
        let mut parts = vec![x];
        let mut sym = is_sym(self, x);
        for _ in 0..self.rng.range(0, 2) {
            let c = *self.rng.pick(&cands);
            if is_sym(self, c) && sym {
                continue;
            }
            sym |= is_sym(self, c);
            parts.push(c);
        }
        self.rng.shuffle(&mut parts);
        self.push(Op::Concat { axis }, &parts)
    }

    /// `a @ b` with `b` an existing compatible node or a new weight `[.., K, N]`, whose batch dims are none
    /// (shared over `a`'s batch: the broadcasting case), `1`, or `a`'s last batch dim.
    fn matmul(&mut self) -> Option<NodeId> {
        let a = self.operand(2, numeric)?;
        let ta = self.g.ty(a).clone();
        let (batch_a, _, k) = last2(&ta.shape);
        let compatible = |t: &TensorType| {
            (2..=MAX_RANK).contains(&t.rank()) && t.dtype == ta.dtype && last2(&t.shape).1 == k && {
                let batch_b = Shape(last2(&t.shape).0.to_vec());
                broadcast_shapes(&Shape(batch_a.to_vec()), &batch_b).is_ok_and(|s| s.rank() + 2 <= MAX_RANK)
            }
        };
        let cands: Vec<NodeId> = self.g.ids().filter(|&i| compatible(self.g.ty(i))).collect();
        let b = if !cands.is_empty() && self.rng.one_in(2) {
            *self.rng.pick(&cands)
        } else {
            let mut dims = match self.rng.below(3) {
                1 => vec![Dim::Static(1)],
                2 if !batch_a.is_empty() => vec![batch_a[batch_a.len() - 1].clone()],
                _ => vec![],
            };
            dims.truncate(MAX_RANK - 2);
            dims.extend([k.clone(), Dim::Static(self.rng.range(1, MAX_STATIC))]);
            let shape = Shape(dims);
            let w = if shape.is_static() { self.param(shape) } else { self.input(shape) }?;
            if ta.dtype == DType::F32 { w } else { self.push(Op::Cast { dtype: ta.dtype }, &[w])? }
        };
        self.push(Op::MatMul, &[a, b])
    }

    fn index_dtype(&mut self) -> DType {
        *self.rng.pick(&[DType::I32, DType::I64])
    }

    /// An index tensor of `shape` whose values along `axis` are `0..shape[axis]` (in range of anything at
    /// least that long), or, for a static `bound >= shape[axis]`, sometimes reversed: `bound-1 - iota`.
    fn iota_index(&mut self, shape: Shape, axis: usize, bound: Option<usize>) -> Option<NodeId> {
        let dtype = self.index_dtype();
        let ty = TensorType::new(dtype, shape.clone());
        let iota = self.push(Op::Iota { axis, ty }, &[])?;
        match bound {
            Some(n) if n > 0 && self.rng.one_in(2) => {
                let top = self.push(Op::Const { value: (n - 1) as f64, dtype }, &[])?;
                let top = self.push(Op::Expand { shape }, &[top])?;
                self.push(Op::Binary { op: BinaryOp::Sub }, &[top, iota])
            }
            _ => Some(iota),
        }
    }

    /// A static-shaped literal index with values in `0..bound` (`bound > 0`).
    fn literal_index(&mut self, shape: Shape, bound: usize) -> Option<NodeId> {
        let n = shape.numel()?;
        let data = (0..n).map(|_| self.rng.below(bound) as f64).collect();
        let dtype = self.index_dtype();
        self.push(Op::Literal { ty: TensorType::new(dtype, shape), data }, &[])
    }

    /// `take_along_axis(data, index, axis)` with every index value in range of `data.shape[axis]`.
    fn gather(&mut self) -> Option<NodeId> {
        let data = self.operand(1, |_| true)?;
        let td = self.g.ty(data).clone();
        let axis = self.rng.below(td.rank());
        let mut shape = td.shape.clone();
        let index = match &td.shape.0[axis] {
            Dim::Static(0) => {
                if !self.cfg.zero_size {
                    return None;
                }
                self.iota_index(shape, axis, None)?
            }
            &Dim::Static(n) => {
                let m = if self.cfg.zero_size && self.rng.one_in(6) { 0 } else { self.rng.range(1, MAX_STATIC) };
                shape.0[axis] = Dim::Static(m);
                if shape.is_static() && self.rng.one_in(3) {
                    self.literal_index(shape, n)?
                } else {
                    shape.0[axis] = Dim::Static(m.min(n));
                    self.iota_index(shape, axis, Some(n))?
                }
            }
            sym @ Dim::Sym { offset, .. } => {
                if self.rng.one_in(2) {
                    shape.0[axis] = sym.clone();
                } else {
                    shape.0[axis] = Dim::Static(self.rng.range(1, smallest_size(*offset).min(MAX_STATIC)));
                }
                self.iota_index(shape, axis, None)?
            }
        };
        self.push(Op::Gather { axis }, &[data, index])
    }

    /// `scatter_add(src, index, axis, size)` with every index value in `0..size`.
    fn scatter_add(&mut self) -> Option<NodeId> {
        let src = self.operand(1, numeric)?;
        let ts = self.g.ty(src).clone();
        let axis = self.rng.below(ts.rank());
        let shape = ts.shape.clone();
        let (index, size) = match &ts.shape.0[axis] {
            &Dim::Static(m) => {
                let size = (m + self.rng.range(0, 2)).max(1);
                let index = if shape.is_static() && self.rng.one_in(3) {
                    self.literal_index(shape, size)?
                } else {
                    self.iota_index(shape, axis, Some(size))?
                };
                (index, Dim::Static(size))
            }
            sym => {
                let size = if self.rng.one_in(2) { sym.clone() } else { sym.offset_by(1)? };
                (self.iota_index(shape, axis, None)?, size)
            }
        };
        self.push(Op::ScatterAdd { axis, size }, &[src, index])
    }

    /// Outputs: the newest unused computed nodes (up to four), sometimes one more node, else the last node.
    fn mark_outputs(&mut self) {
        let uses = self.g.use_counts();
        let mut outs: Vec<NodeId> = (0..self.g.len())
            .rev()
            .map(NodeId)
            .filter(|&i| uses[i.0] == 0 && !self.g.node(i).op.is_leaf())
            .take(4)
            .collect();
        let last = NodeId(self.g.len() - 1);
        if outs.is_empty() {
            outs.push(last);
        }
        if self.rng.one_in(2) {
            let extra = NodeId(self.rng.below(self.g.len()));
            if !outs.contains(&extra) {
                outs.push(extra);
            }
        }
        outs.sort();
        for (k, id) in outs.into_iter().enumerate() {
            self.g.add_output(format!("y{k}"), id).expect("outputs are existing nodes with distinct names");
        }
    }
}
