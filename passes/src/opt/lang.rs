//! The e-graph language: one e-node per IR primitive. Attributes (a permutation, a shape, axes, ...)
//! are separate leaf e-nodes in the first child slot, so rewrite patterns bind them to variables
//! (`(permute ?p (permute ?q ?x))`) and appliers read their values from the e-class analysis.

use std::fmt;

use egg::{FromOp, Id, Language};
use irc_ir::{BINARY_NAMES, BinaryOp, DType, Dim, Op, REDUCE_NAMES, ReduceOp, Shape, UNARY_NAMES, UnaryOp};

/// A dim with a total order (the IR's `Dim` has none, and e-nodes must be ordered).
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum D {
    S(usize),
    Y(String, i64),
}

impl From<&Dim> for D {
    fn from(d: &Dim) -> D {
        match d {
            Dim::Static(n) => D::S(*n),
            Dim::Sym { name, offset } => D::Y(name.clone(), *offset),
        }
    }
}

impl From<&D> for Dim {
    fn from(d: &D) -> Dim {
        match d {
            D::S(n) => Dim::Static(*n),
            D::Y(name, offset) => Dim::Sym { name: name.clone(), offset: *offset },
        }
    }
}

pub fn dims_of(s: &Shape) -> Vec<D> {
    s.0.iter().map(D::from).collect()
}

pub fn shape_of(d: &[D]) -> Shape {
    Shape(d.iter().map(Dim::from).collect())
}

/// Position of `d` in `DType::ALL`: a small ordered code for a dtype.
pub fn dtype_code(d: DType) -> u8 {
    DType::ALL.iter().position(|&x| x == d).unwrap_or(0) as u8
}

pub fn dtype_of(code: u8) -> DType {
    DType::ALL[usize::from(code).min(DType::ALL.len() - 1)]
}

/// An op's attributes, as an attribute leaf.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Attr {
    Axes(Vec<usize>),
    Perm(Vec<usize>),
    Shape(Vec<D>),
    Axis(usize),
    Dtype(u8),
    Cumsum {
        axis: usize,
        reverse: bool,
    },
    Slice {
        axis: usize,
        start: usize,
        end: D,
    },
    Pad {
        axis: usize,
        before: usize,
        after: usize,
    },
    Scatter {
        axis: usize,
        size: D,
    },
    /// A fused attention's scale and fill (`f64` bits) and causal flag.
    Attention {
        scale: u64,
        causal: bool,
        fill: u64,
    },
}

/// The operator of a computed e-node. Unary, binary and reduce ops are indices into the IR's name
/// tables, so the order is total. `Attention` and `Monarch` are the fused ops (group 3).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Prim {
    Unary(u8),
    Binary(u8),
    Reduce(u8),
    Cast,
    Select,
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
    Attention,
    Monarch,
}

fn index_of<T: Copy + PartialEq>(table: &[(T, &str)], key: T) -> u8 {
    table.iter().position(|(k, _)| *k == key).unwrap_or(0) as u8
}

impl Prim {
    pub fn unary(op: UnaryOp) -> Prim {
        Prim::Unary(index_of(&UNARY_NAMES, op))
    }
    pub fn binary(op: BinaryOp) -> Prim {
        Prim::Binary(index_of(&BINARY_NAMES, op))
    }
    pub fn reduce(op: ReduceOp) -> Prim {
        Prim::Reduce(index_of(&REDUCE_NAMES, op))
    }
    pub fn unary_op(self) -> Option<UnaryOp> {
        match self {
            Prim::Unary(i) => UNARY_NAMES.get(usize::from(i)).map(|p| p.0),
            _ => None,
        }
    }
    pub fn binary_op(self) -> Option<BinaryOp> {
        match self {
            Prim::Binary(i) => BINARY_NAMES.get(usize::from(i)).map(|p| p.0),
            _ => None,
        }
    }
    pub fn reduce_op(self) -> Option<ReduceOp> {
        match self {
            Prim::Reduce(i) => REDUCE_NAMES.get(usize::from(i)).map(|p| p.0),
            _ => None,
        }
    }

    /// Whether the first child is an attribute leaf.
    pub fn has_attr(self) -> bool {
        !matches!(self, Prim::Unary(_) | Prim::Binary(_) | Prim::Select | Prim::MatMul | Prim::Monarch)
    }

    pub fn name(self) -> &'static str {
        match self {
            Prim::Unary(_) => self.unary_op().map_or("?", UnaryOp::name),
            Prim::Binary(_) => self.binary_op().map_or("?", BinaryOp::name),
            Prim::Reduce(_) => self.reduce_op().map_or("?", ReduceOp::name),
            Prim::Cast => "cast",
            Prim::Select => "select",
            Prim::Cumsum => "cumsum",
            Prim::Reshape => "reshape",
            Prim::Permute => "permute",
            Prim::Expand => "expand",
            Prim::Slice => "slice",
            Prim::Pad => "pad",
            Prim::Concat => "concat",
            Prim::MatMul => "matmul",
            Prim::Gather => "gather",
            Prim::ScatterAdd => "scatter_add",
            Prim::Attention => "attention",
            Prim::Monarch => "monarch",
        }
    }

    fn from_name(s: &str) -> Option<Prim> {
        const STRUCTURAL: [Prim; 14] = [
            Prim::Cast,
            Prim::Select,
            Prim::Cumsum,
            Prim::Reshape,
            Prim::Permute,
            Prim::Expand,
            Prim::Slice,
            Prim::Pad,
            Prim::Concat,
            Prim::MatMul,
            Prim::Gather,
            Prim::ScatterAdd,
            Prim::Attention,
            Prim::Monarch,
        ];
        UnaryOp::from_name(s)
            .map(Prim::unary)
            .or_else(|| BinaryOp::from_name(s).map(Prim::binary))
            .or_else(|| ReduceOp::from_name(s).map(Prim::reduce))
            .or_else(|| STRUCTURAL.into_iter().find(|p| p.name() == s))
    }

    /// The operator and attribute of an IR op; `None` for leaves.
    pub fn of_op(op: &Op) -> Option<(Prim, Option<Attr>)> {
        Some(match op {
            Op::Unary { op } => (Prim::unary(*op), None),
            Op::Binary { op } => (Prim::binary(*op), None),
            Op::Reduce { op, axes } => (Prim::reduce(*op), Some(Attr::Axes(axes.clone()))),
            Op::Cast { dtype } => (Prim::Cast, Some(Attr::Dtype(dtype_code(*dtype)))),
            Op::Select => (Prim::Select, None),
            Op::Cumsum { axis, reverse } => (Prim::Cumsum, Some(Attr::Cumsum { axis: *axis, reverse: *reverse })),
            Op::Reshape { shape } => (Prim::Reshape, Some(Attr::Shape(dims_of(shape)))),
            Op::Permute { perm } => (Prim::Permute, Some(Attr::Perm(perm.clone()))),
            Op::Expand { shape } => (Prim::Expand, Some(Attr::Shape(dims_of(shape)))),
            Op::Slice { axis, start, end } => {
                (Prim::Slice, Some(Attr::Slice { axis: *axis, start: *start, end: D::from(end) }))
            }
            Op::Pad { axis, before, after } => {
                (Prim::Pad, Some(Attr::Pad { axis: *axis, before: *before, after: *after }))
            }
            Op::Concat { axis } => (Prim::Concat, Some(Attr::Axis(*axis))),
            Op::MatMul => (Prim::MatMul, None),
            Op::Gather { axis } => (Prim::Gather, Some(Attr::Axis(*axis))),
            Op::ScatterAdd { axis, size } => {
                (Prim::ScatterAdd, Some(Attr::Scatter { axis: *axis, size: D::from(size) }))
            }
            Op::Attention { scale, causal, fill } => (
                Prim::Attention,
                Some(Attr::Attention { scale: scale.to_bits(), causal: *causal, fill: fill.to_bits() }),
            ),
            Op::Monarch => (Prim::Monarch, None),
            _ => return None,
        })
    }

    /// The IR op for this operator and attribute; `None` if the attribute does not fit the operator.
    pub fn to_op(self, attr: Option<&Attr>) -> Option<Op> {
        Some(match (self, attr) {
            (Prim::Unary(_), None) => Op::Unary { op: self.unary_op()? },
            (Prim::Binary(_), None) => Op::Binary { op: self.binary_op()? },
            (Prim::Reduce(_), Some(Attr::Axes(a))) => Op::Reduce { op: self.reduce_op()?, axes: a.clone() },
            (Prim::Cast, Some(Attr::Dtype(d))) => Op::Cast { dtype: dtype_of(*d) },
            (Prim::Select, None) => Op::Select,
            (Prim::Cumsum, Some(Attr::Cumsum { axis, reverse })) => Op::Cumsum { axis: *axis, reverse: *reverse },
            (Prim::Reshape, Some(Attr::Shape(s))) => Op::Reshape { shape: shape_of(s) },
            (Prim::Permute, Some(Attr::Perm(p))) => Op::Permute { perm: p.clone() },
            (Prim::Expand, Some(Attr::Shape(s))) => Op::Expand { shape: shape_of(s) },
            (Prim::Slice, Some(Attr::Slice { axis, start, end })) => {
                Op::Slice { axis: *axis, start: *start, end: Dim::from(end) }
            }
            (Prim::Pad, Some(Attr::Pad { axis, before, after })) => {
                Op::Pad { axis: *axis, before: *before, after: *after }
            }
            (Prim::Concat, Some(Attr::Axis(a))) => Op::Concat { axis: *a },
            (Prim::MatMul, None) => Op::MatMul,
            (Prim::Gather, Some(Attr::Axis(a))) => Op::Gather { axis: *a },
            (Prim::ScatterAdd, Some(Attr::Scatter { axis, size })) => {
                Op::ScatterAdd { axis: *axis, size: Dim::from(size) }
            }
            (Prim::Attention, Some(Attr::Attention { scale, causal, fill })) => {
                Op::Attention { scale: f64::from_bits(*scale), causal: *causal, fill: f64::from_bits(*fill) }
            }
            (Prim::Monarch, None) => Op::Monarch,
            _ => return None,
        })
    }
}

/// An e-node.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum TNode {
    /// An attribute value; its class has no tensor type.
    Attr(Attr),
    /// A leaf of the region: an input, param, literal, iota, or a value computed outside the region.
    /// Indexes the analysis' leaf table.
    Leaf(u32),
    /// A scalar constant (`f64` bits, dtype code).
    Const(u64, u8),
    /// A computed op; with an attribute, the attribute leaf is child 0.
    Op(Prim, Vec<Id>),
}

impl TNode {
    pub fn constant(value: f64, dtype: DType) -> TNode {
        TNode::Const(value.to_bits(), dtype_code(dtype))
    }

    /// The operator and tensor operands (children after the attribute), for computed nodes.
    pub fn op_parts(&self) -> Option<(Prim, &[Id])> {
        match self {
            TNode::Op(p, ch) if p.has_attr() => Some((*p, ch.get(1..).unwrap_or(&[]))),
            TNode::Op(p, ch) => Some((*p, ch)),
            _ => None,
        }
    }
}

impl Language for TNode {
    type Discriminant = std::mem::Discriminant<TNode>;

    fn discriminant(&self) -> Self::Discriminant {
        std::mem::discriminant(self)
    }

    fn matches(&self, other: &Self) -> bool {
        match (self, other) {
            (TNode::Op(a, x), TNode::Op(b, y)) => a == b && x.len() == y.len(),
            _ => self == other,
        }
    }

    fn children(&self) -> &[Id] {
        match self {
            TNode::Op(_, ch) => ch,
            _ => &[],
        }
    }

    fn children_mut(&mut self) -> &mut [Id] {
        match self {
            TNode::Op(_, ch) => ch,
            _ => &mut [],
        }
    }
}

impl fmt::Display for TNode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TNode::Attr(a) => write!(f, "{a:?}"),
            TNode::Leaf(i) => write!(f, "leaf{i}"),
            TNode::Const(bits, d) => write!(f, "{}:{}", f64::from_bits(*bits), dtype_of(*d)),
            TNode::Op(p, _) => f.write_str(p.name()),
        }
    }
}

/// Parses rule patterns: operators by their IR mnemonic; attributes are always pattern variables.
impl FromOp for TNode {
    type Error = String;

    fn from_op(op: &str, children: Vec<Id>) -> Result<TNode, String> {
        match Prim::from_name(op) {
            Some(p) if !children.is_empty() => Ok(TNode::Op(p, children)),
            _ => Err(format!("unknown pattern operator `{op}` with {} children", children.len())),
        }
    }
}
