//! The closed set of primitive ops. Everything else (softmax, layer norm, attention, ...) is built from
//! these in the DSL. `docs/IR.md` justifies each op.

use serde::{Deserialize, Serialize};

use crate::{DType, Dim, Shape, TensorType};

/// Elementwise ops of one input; the output type equals the input type.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum UnaryOp {
    Neg,
    Exp,
    Log,
    Sqrt,
    Recip,
    Sin,
    Cos,
    Tanh,
    Abs,
}

/// Elementwise ops of two inputs of identical type. Comparisons produce `bool`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BinaryOp {
    Add,
    Sub,
    Mul,
    Div,
    Max,
    Min,
    Pow,
    Lt,
    Le,
    Eq,
    Ne,
}

/// The combining function of a reduction.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ReduceOp {
    Sum,
    Max,
}

/// How a parameter is initialized when no weights are given.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "dist", rename_all = "lowercase")]
pub enum Init {
    Zeros,
    Ones,
    /// Normal with mean 0.
    Normal {
        #[serde(with = "crate::json_float")]
        std: f64,
    },
    /// Uniform on `[-bound, bound]`.
    Uniform {
        #[serde(with = "crate::json_float")]
        bound: f64,
    },
}

impl Default for Init {
    fn default() -> Init {
        Init::Normal { std: 0.02 }
    }
}

/// Mnemonics, as data: the text format, DOT and error messages all read these tables.
pub const UNARY_NAMES: [(UnaryOp, &str); 9] = [
    (UnaryOp::Neg, "neg"),
    (UnaryOp::Exp, "exp"),
    (UnaryOp::Log, "log"),
    (UnaryOp::Sqrt, "sqrt"),
    (UnaryOp::Recip, "recip"),
    (UnaryOp::Sin, "sin"),
    (UnaryOp::Cos, "cos"),
    (UnaryOp::Tanh, "tanh"),
    (UnaryOp::Abs, "abs"),
];

pub const BINARY_NAMES: [(BinaryOp, &str); 11] = [
    (BinaryOp::Add, "add"),
    (BinaryOp::Sub, "sub"),
    (BinaryOp::Mul, "mul"),
    (BinaryOp::Div, "div"),
    (BinaryOp::Max, "max"),
    (BinaryOp::Min, "min"),
    (BinaryOp::Pow, "pow"),
    (BinaryOp::Lt, "lt"),
    (BinaryOp::Le, "le"),
    (BinaryOp::Eq, "eq"),
    (BinaryOp::Ne, "ne"),
];

pub const REDUCE_NAMES: [(ReduceOp, &str); 2] = [(ReduceOp::Sum, "reduce_sum"), (ReduceOp::Max, "reduce_max")];

fn lookup<T: Copy + PartialEq>(table: &[(T, &'static str)], key: T) -> &'static str {
    table.iter().find(|(k, _)| *k == key).map(|(_, n)| *n).expect("every variant is in its table")
}

fn find<T: Copy>(table: &[(T, &'static str)], name: &str) -> Option<T> {
    table.iter().find(|(_, n)| *n == name).map(|(k, _)| *k)
}

impl UnaryOp {
    /// `neg` and `abs` apply to integers too; the rest need floats.
    pub fn is_sign_op(self) -> bool {
        matches!(self, UnaryOp::Neg | UnaryOp::Abs)
    }
    pub fn name(self) -> &'static str {
        lookup(&UNARY_NAMES, self)
    }
    pub fn from_name(name: &str) -> Option<UnaryOp> {
        find(&UNARY_NAMES, name)
    }
}

impl BinaryOp {
    pub fn name(self) -> &'static str {
        lookup(&BINARY_NAMES, self)
    }
    pub fn from_name(name: &str) -> Option<BinaryOp> {
        find(&BINARY_NAMES, name)
    }
    pub fn is_comparison(self) -> bool {
        matches!(self, BinaryOp::Lt | BinaryOp::Le | BinaryOp::Eq | BinaryOp::Ne)
    }
}

impl ReduceOp {
    pub fn name(self) -> &'static str {
        lookup(&REDUCE_NAMES, self)
    }
    pub fn from_name(name: &str) -> Option<ReduceOp> {
        find(&REDUCE_NAMES, name)
    }
}

/// A primitive op. Leaves carry their own type; every other op's output type follows from its inputs
/// (see [`crate::infer_type`]).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Op {
    /// A value fed in at run time.
    Input {
        name: String,
        ty: TensorType,
    },
    /// A trainable weight, identified by its hierarchical name (`blocks.0.attn.q.weight`), with the
    /// distribution it starts from when no weights are loaded.
    Param {
        name: String,
        ty: TensorType,
        #[serde(default)]
        init: Init,
    },
    /// A 0-d scalar constant; broadcast it with `Expand`.
    Const {
        #[serde(with = "crate::json_float")]
        value: f64,
        dtype: DType,
    },
    /// A constant tensor of static shape, row-major.
    Literal {
        ty: TensorType,
        #[serde(with = "crate::json_float::vec")]
        data: Vec<f64>,
    },
    /// `out[i_0, .., i_n] = i_axis`: positions along one axis (masks, positions, one-hot).
    Iota {
        axis: usize,
        ty: TensorType,
    },
    Unary {
        op: UnaryOp,
    },
    /// Convert element type (floats to ints truncate toward zero; nonzero to bool is true).
    Cast {
        dtype: DType,
    },
    Binary {
        op: BinaryOp,
    },
    /// `select(cond, a, b)`: `a` where `cond` is true, else `b`. All three have one shape.
    Select,
    /// Reduce over `axes` (sorted, distinct); reduced axes stay as size 1.
    Reduce {
        op: ReduceOp,
        axes: Vec<usize>,
    },
    /// Inclusive prefix sum along `axis`; `reverse` sums from the end.
    Cumsum {
        axis: usize,
        reverse: bool,
    },
    /// Same elements, row-major, new shape.
    Reshape {
        shape: Shape,
    },
    /// `out.shape[i] = in.shape[perm[i]]`.
    Permute {
        perm: Vec<usize>,
    },
    /// numpy `broadcast_to`: dims align from the right; size-1 or missing dims repeat.
    Expand {
        shape: Shape,
    },
    /// Elements `start..end` along `axis`.
    Slice {
        axis: usize,
        start: usize,
        end: Dim,
    },
    /// Zeros added before and after along `axis`.
    Pad {
        axis: usize,
        before: usize,
        after: usize,
    },
    /// Inputs joined along `axis`; all other dims equal.
    Concat {
        axis: usize,
    },
    /// `[.., M, K] x [.., K, N] -> [.., M, N]`; batch dims broadcast like numpy's matmul.
    MatMul,
    /// `out[p] = data[p with p[axis] := index[p]]` (numpy `take_along_axis`); `out` has the index's shape.
    Gather {
        axis: usize,
    },
    /// Adjoint of gather: `out[p with p[axis] := index[p]] += src[p]`, `out.shape[axis] = size`.
    ScatterAdd {
        axis: usize,
        size: Dim,
    },
    /// Fused: `softmax(mask(scale * q kt)) v` over the last axis, with `q: [.., T, D]`,
    /// `kt: [.., D, S]`, `v: [.., S, E]` (equal batch dims); with `causal`, key `j > i` of query `i`
    /// has its score replaced by `fill`. Defined by [`crate::fused::expand_attention`].
    Attention {
        #[serde(with = "crate::json_float")]
        scale: f64,
        causal: bool,
        #[serde(with = "crate::json_float")]
        fill: f64,
    },
    /// Fused: a Monarch product `x: [.., m1*a]`, `r: [m1, a, m2]`, `l: [m2, m1, c]` -> `[.., c*m2]`
    /// (block-diagonal `r`, a stride permutation, block-diagonal `l`, a stride permutation).
    /// Defined by [`crate::fused::expand_monarch`].
    Monarch,
}

impl Op {
    /// The mnemonic used by the text format, DOT and error messages.
    pub fn name(&self) -> &'static str {
        match self {
            Op::Input { .. } => "input",
            Op::Param { .. } => "param",
            Op::Const { .. } => "const",
            Op::Literal { .. } => "literal",
            Op::Iota { .. } => "iota",
            Op::Unary { op } => op.name(),
            Op::Cast { .. } => "cast",
            Op::Binary { op } => op.name(),
            Op::Select => "select",
            Op::Reduce { op, .. } => op.name(),
            Op::Cumsum { .. } => "cumsum",
            Op::Reshape { .. } => "reshape",
            Op::Permute { .. } => "permute",
            Op::Expand { .. } => "expand",
            Op::Slice { .. } => "slice",
            Op::Pad { .. } => "pad",
            Op::Concat { .. } => "concat",
            Op::MatMul => "matmul",
            Op::Gather { .. } => "gather",
            Op::ScatterAdd { .. } => "scatter_add",
            Op::Attention { .. } => "attention",
            Op::Monarch => "monarch",
        }
    }

    /// Number of inputs the op takes; `None` for variadic (`concat`, at least one).
    pub fn arity(&self) -> Option<usize> {
        Some(match self {
            Op::Input { .. } | Op::Param { .. } | Op::Const { .. } | Op::Literal { .. } | Op::Iota { .. } => 0,
            Op::Unary { .. }
            | Op::Cast { .. }
            | Op::Reduce { .. }
            | Op::Cumsum { .. }
            | Op::Reshape { .. }
            | Op::Permute { .. }
            | Op::Expand { .. }
            | Op::Slice { .. }
            | Op::Pad { .. } => 1,
            Op::Binary { .. } | Op::MatMul | Op::Gather { .. } | Op::ScatterAdd { .. } => 2,
            Op::Select | Op::Attention { .. } | Op::Monarch => 3,
            Op::Concat { .. } => return None,
        })
    }

    pub fn is_leaf(&self) -> bool {
        self.arity() == Some(0)
    }

    /// The type a leaf declares (inputs, params, constants, iota); `None` for computed ops.
    pub fn leaf_type(&self) -> Option<TensorType> {
        match self {
            Op::Input { ty, .. } | Op::Param { ty, .. } | Op::Literal { ty, .. } | Op::Iota { ty, .. } => {
                Some(ty.clone())
            }
            Op::Const { dtype, .. } => Some(TensorType::new(*dtype, Shape::scalar())),
            _ => None,
        }
    }

    pub fn is_elementwise(&self) -> bool {
        matches!(self, Op::Unary { .. } | Op::Cast { .. } | Op::Binary { .. } | Op::Select)
    }

    /// A fused op: its meaning is its expansion into primitives ([`crate::fused::expand`]).
    pub fn is_fused(&self) -> bool {
        matches!(self, Op::Attention { .. } | Op::Monarch)
    }

    pub fn is_movement(&self) -> bool {
        matches!(
            self,
            Op::Reshape { .. }
                | Op::Permute { .. }
                | Op::Expand { .. }
                | Op::Slice { .. }
                | Op::Pad { .. }
                | Op::Concat { .. }
        )
    }
}

impl Op {
    /// One op per mnemonic, with placeholder fields: the complete list of primitives.
    pub fn prototypes() -> Vec<Op> {
        let ty = TensorType::new(DType::F32, Shape::scalar());
        let (shape, d0) = (Shape::scalar(), Dim::Static(0));
        let structural = [
            Op::Input { name: String::new(), ty: ty.clone() },
            Op::Param { name: String::new(), ty: ty.clone(), init: Init::default() },
            Op::Const { value: 0.0, dtype: DType::F32 },
            Op::Literal { ty: ty.clone(), data: vec![] },
            Op::Iota { axis: 0, ty },
            Op::Cast { dtype: DType::F32 },
            Op::Select,
            Op::Cumsum { axis: 0, reverse: false },
            Op::Reshape { shape: shape.clone() },
            Op::Permute { perm: vec![] },
            Op::Expand { shape },
            Op::Slice { axis: 0, start: 0, end: d0.clone() },
            Op::Pad { axis: 0, before: 0, after: 0 },
            Op::Concat { axis: 0 },
            Op::MatMul,
            Op::Gather { axis: 0 },
            Op::ScatterAdd { axis: 0, size: d0 },
        ];
        UNARY_NAMES
            .iter()
            .map(|&(op, _)| Op::Unary { op })
            .chain(BINARY_NAMES.iter().map(|&(op, _)| Op::Binary { op }))
            .chain(REDUCE_NAMES.iter().map(|&(op, _)| Op::Reduce { op, axes: vec![] }))
            .chain(structural)
            .collect()
    }

    /// One op per fused mnemonic, with placeholder fields.
    pub fn fused_prototypes() -> Vec<Op> {
        vec![Op::Attention { scale: 1.0, causal: false, fill: 0.0 }, Op::Monarch]
    }

    /// The prototype of the op (primitive or fused) called `mnemonic`, if there is one.
    pub fn prototype(mnemonic: &str) -> Option<Op> {
        Op::prototypes().into_iter().chain(Op::fused_prototypes()).find(|op| op.name() == mnemonic)
    }
}
