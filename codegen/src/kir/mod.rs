//! The kernel IR: loop-level programs that every code generator (Cranelift, WGSL, PTX) reads.
//!
//! A [`Kernel`] is a parallel index space (its `grid`: independent iterations, outermost first) around a
//! body of structured statements: loops, conditionals, local variables (accumulators are variables that
//! are reassigned), and stores. A kernel may also give each grid point a **block** of cooperating
//! [`Lanes`] (a GPU workgroup) that share scratch arrays ([`SharedArray`]) and synchronize at
//! [`Stmt::Barrier`]s; a kernel without lanes runs its body once per grid point (one thread). Values are expression trees over loads, constants, variables and the primitive elementwise
//! ops; index arithmetic is ordinary `i64` expressions, so movement ops of the tensor IR become index
//! expressions here instead of copies. A [`Program`] is the kernels of one graph with the buffers they
//! read and write and the order of their launches.

mod affine;
mod eval;
mod print;
mod vector;

use irc_ir::{DType, NodeId, Shape, UnaryOp};

pub use affine::{Affine, constant_difference, divisors_of, multiple_of, split_var, stride, stride_expr};
pub use eval::{EvalError, Scalar, cast_value, eval_kernel, read_scalar, round_to, write_scalar};
pub use print::{print_expr, print_kernel, print_program};

/// A local variable of a kernel: grid and loop indices, let-bound values, accumulators.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct VarId(pub u32);

/// Binary ops of the kernel IR: the tensor IR's, plus `Rem` for index arithmetic. Integer `Div` and
/// `Rem` truncate toward zero (indices are never negative where they are used); they never trap:
/// `x / 0` and `x % 0` are 0, `MIN / -1` wraps to `MIN` (see `eval.rs` for every op's semantics).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum BinOp {
    Add,
    Sub,
    Mul,
    Div,
    Rem,
    Max,
    Min,
    Pow,
    Lt,
    Le,
    Eq,
    Ne,
}

impl BinOp {
    pub fn is_comparison(self) -> bool {
        matches!(self, BinOp::Lt | BinOp::Le | BinOp::Eq | BinOp::Ne)
    }

    pub fn name(self) -> &'static str {
        match self {
            BinOp::Add => "add",
            BinOp::Sub => "sub",
            BinOp::Mul => "mul",
            BinOp::Div => "div",
            BinOp::Rem => "rem",
            BinOp::Max => "max",
            BinOp::Min => "min",
            BinOp::Pow => "pow",
            BinOp::Lt => "lt",
            BinOp::Le => "le",
            BinOp::Eq => "eq",
            BinOp::Ne => "ne",
        }
    }
}

impl From<irc_ir::BinaryOp> for BinOp {
    fn from(op: irc_ir::BinaryOp) -> BinOp {
        use irc_ir::BinaryOp as B;
        match op {
            B::Add => BinOp::Add,
            B::Sub => BinOp::Sub,
            B::Mul => BinOp::Mul,
            B::Div => BinOp::Div,
            B::Max => BinOp::Max,
            B::Min => BinOp::Min,
            B::Pow => BinOp::Pow,
            B::Lt => BinOp::Lt,
            B::Le => BinOp::Le,
            B::Eq => BinOp::Eq,
            B::Ne => BinOp::Ne,
        }
    }
}

/// A value. Every expression has a dtype (see [`Kernel::dtype_of`]); indices and sizes are `i64`.
#[derive(Clone, Debug, PartialEq)]
pub enum Expr {
    Const {
        value: f64,
        dtype: DType,
    },
    Var(VarId),
    /// The run-time value of the kernel's symbolic size `sizes[i]`, as `i64`.
    Size(usize),
    /// Element `index` (an `i64` element offset) of buffer argument `buf`.
    Load {
        buf: usize,
        index: Box<Expr>,
    },
    Unary {
        op: UnaryOp,
        arg: Box<Expr>,
    },
    Binary {
        op: BinOp,
        lhs: Box<Expr>,
        rhs: Box<Expr>,
    },
    /// `cond ? a : b`; both sides are evaluated, so loads under a select must be in bounds.
    Select {
        cond: Box<Expr>,
        a: Box<Expr>,
        b: Box<Expr>,
    },
    Cast {
        dtype: DType,
        arg: Box<Expr>,
    },
    /// Element `index` (`i64`) of the block-shared array `arr` ([`Kernel::shared`]).
    SharedLoad {
        arr: usize,
        index: Box<Expr>,
    },
}

impl Expr {
    pub fn index(v: i64) -> Expr {
        Expr::Const { value: v as f64, dtype: DType::I64 }
    }

    pub fn constant(value: f64, dtype: DType) -> Expr {
        Expr::Const { value, dtype }
    }

    pub fn load(buf: usize, index: Expr) -> Expr {
        Expr::Load { buf, index: Box::new(index) }
    }

    pub fn unary(op: UnaryOp, arg: Expr) -> Expr {
        Expr::Unary { op, arg: Box::new(arg) }
    }

    pub fn binary(op: BinOp, lhs: Expr, rhs: Expr) -> Expr {
        Expr::Binary { op, lhs: Box::new(lhs), rhs: Box::new(rhs) }
    }

    pub fn select(cond: Expr, a: Expr, b: Expr) -> Expr {
        Expr::Select { cond: Box::new(cond), a: Box::new(a), b: Box::new(b) }
    }

    pub fn cast(dtype: DType, arg: Expr) -> Expr {
        Expr::Cast { dtype, arg: Box::new(arg) }
    }

    pub fn shared_load(arr: usize, index: Expr) -> Expr {
        Expr::SharedLoad { arr, index: Box::new(index) }
    }

    /// Calls `f` on `self` and then on every subexpression, parents first.
    pub fn visit(&self, f: &mut impl FnMut(&Expr)) {
        f(self);
        match self {
            Expr::Const { .. } | Expr::Var(_) | Expr::Size(_) => {}
            Expr::Load { index: x, .. }
            | Expr::SharedLoad { index: x, .. }
            | Expr::Unary { arg: x, .. }
            | Expr::Cast { arg: x, .. } => x.visit(f),
            Expr::Binary { lhs, rhs, .. } => {
                lhs.visit(f);
                rhs.visit(f);
            }
            Expr::Select { cond, a, b } => {
                cond.visit(f);
                a.visit(f);
                b.visit(f);
            }
        }
    }

    /// Calls `f` on each direct subexpression, mutably (rewrites recurse through it).
    pub fn for_each_child_mut(&mut self, mut f: impl FnMut(&mut Expr)) {
        match self {
            Expr::Const { .. } | Expr::Var(_) | Expr::Size(_) => {}
            Expr::Load { index: x, .. }
            | Expr::SharedLoad { index: x, .. }
            | Expr::Unary { arg: x, .. }
            | Expr::Cast { arg: x, .. } => f(x),
            Expr::Binary { lhs, rhs, .. } => {
                f(lhs);
                f(rhs);
            }
            Expr::Select { cond, a, b } => {
                f(cond);
                f(a);
                f(b);
            }
        }
    }

    /// Whether `self` or a subexpression satisfies `pred`.
    pub fn any(&self, pred: impl Fn(&Expr) -> bool) -> bool {
        let mut found = false;
        self.visit(&mut |e| found |= pred(e));
        found
    }

    /// Whether `self` reads variable `v`.
    pub fn mentions(&self, v: VarId) -> bool {
        self.any(|e| *e == Expr::Var(v))
    }

    /// The value of an integer expression over sizes only (extents, bytes, flops), given the values of
    /// the kernel's sizes; `None` if it reads variables or buffers, or overflows.
    pub fn eval_size(&self, sizes: &[i64]) -> Option<i64> {
        match self {
            Expr::Const { value, .. } => Some(*value as i64),
            Expr::Size(i) => sizes.get(*i).copied(),
            Expr::Cast { arg, .. } => arg.eval_size(sizes),
            Expr::Binary { op, lhs, rhs } => {
                let (a, b) = (lhs.eval_size(sizes)?, rhs.eval_size(sizes)?);
                match op {
                    BinOp::Add => a.checked_add(b),
                    BinOp::Sub => a.checked_sub(b),
                    BinOp::Mul => a.checked_mul(b),
                    BinOp::Div => a.checked_div(b),
                    BinOp::Rem => a.checked_rem(b),
                    BinOp::Max => Some(a.max(b)),
                    BinOp::Min => Some(a.min(b)),
                    _ => None,
                }
            }
            _ => None,
        }
    }
}

/// A statement of a kernel body.
#[derive(Clone, Debug, PartialEq)]
pub enum Stmt {
    /// Defines `var` (declared in [`Kernel::vars`]) with an initial value.
    Let { var: VarId, value: Expr },
    /// Gives a defined variable a new value (accumulators).
    Assign { var: VarId, value: Expr },
    /// `for var in 0..extent { body }`, in order.
    Loop { var: VarId, extent: Expr, body: Vec<Stmt> },
    /// Writes `value` to element `index` of buffer argument `buf`.
    Store { buf: usize, index: Expr, value: Expr },
    /// `if cond { body }` (`cond` is `bool`).
    If { cond: Expr, body: Vec<Stmt> },
    /// Writes `value` to element `index` of the block-shared array `arr`.
    SharedStore { arr: usize, index: Expr, value: Expr },
    /// Waits until every lane of the block reaches this barrier; shared-array writes before it are visible
    /// to every lane after it. Every lane must reach the same barriers: a barrier may sit only under
    /// loops and conditionals whose extent or condition is the same in all lanes.
    Barrier,
}

impl Stmt {
    /// Calls `f` on every expression of `body` and their subexpressions, nested statements included.
    pub fn visit_exprs(body: &[Stmt], f: &mut impl FnMut(&Expr)) {
        for s in body {
            match s {
                Stmt::Let { value, .. } | Stmt::Assign { value, .. } => value.visit(f),
                Stmt::Store { index, value, .. } | Stmt::SharedStore { index, value, .. } => {
                    index.visit(f);
                    value.visit(f);
                }
                Stmt::Loop { extent, body, .. } => {
                    extent.visit(f);
                    Stmt::visit_exprs(body, f);
                }
                Stmt::If { cond, body } => {
                    cond.visit(f);
                    Stmt::visit_exprs(body, f);
                }
                Stmt::Barrier => {}
            }
        }
    }

    /// Whether an expression of `body` (or a subexpression, nested statements included) satisfies `pred`.
    pub fn any_expr(body: &[Stmt], pred: impl Fn(&Expr) -> bool) -> bool {
        let mut found = false;
        Stmt::visit_exprs(body, &mut |e| found |= pred(e));
        found
    }

    /// Whether `body` contains a barrier, at any depth.
    pub fn any_barrier(body: &[Stmt]) -> bool {
        body.iter().any(|s| match s {
            Stmt::Barrier => true,
            Stmt::Loop { body, .. } | Stmt::If { body, .. } => Stmt::any_barrier(body),
            _ => false,
        })
    }
}

/// The lanes of a block: every grid point runs the body on `count` lanes at once, lane `i` with
/// `var = i` (an `i64` variable), each with its own variables.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Lanes {
    pub var: VarId,
    pub count: u32,
}

/// A scratch array shared by the lanes of one block (GPU workgroup memory). Its contents are undefined
/// when a block starts and die with it.
#[derive(Clone, Debug, PartialEq)]
pub struct SharedArray {
    pub name: String,
    pub dtype: DType,
    pub len: u32,
}

/// Whether a kernel reads or writes a buffer argument. A grid point may also load elements of a `Write`
/// buffer that it stored itself earlier (`scatter_add` accumulates in its output row).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Access {
    Read,
    Write,
}

#[derive(Clone, Debug, PartialEq)]
pub struct BufferArg {
    pub name: String,
    pub dtype: DType,
    pub access: Access,
}

#[derive(Clone, Debug, PartialEq)]
pub struct VarDecl {
    pub name: String,
    pub dtype: DType,
}

/// Where a kernel came from and what it costs, for dumps and the cost model.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct KernelInfo {
    /// The tensor-IR nodes the kernel computes.
    pub nodes: Vec<NodeId>,
    /// Bytes read and written (an `i64` expression over the sizes).
    pub bytes: Option<Expr>,
    /// Floating-point operations (an `i64` expression over the sizes).
    pub flops: Option<Expr>,
}

/// One kernel: `for grid vars in parallel { body }`.
#[derive(Clone, Debug, PartialEq)]
pub struct Kernel {
    pub name: String,
    pub buffers: Vec<BufferArg>,
    /// Symbolic sizes the kernel reads with [`Expr::Size`], by name.
    pub sizes: Vec<String>,
    pub vars: Vec<VarDecl>,
    /// The parallel index space, outermost first: every combination of grid indices runs the body
    /// once, in any order and concurrently, so iterations must not write the same element.
    pub grid: Vec<(VarId, Expr)>,
    /// Cooperating lanes per grid point; `None`: one.
    pub lanes: Option<Lanes>,
    /// Block-shared scratch arrays (only meaningful with lanes).
    pub shared: Vec<SharedArray>,
    /// Vector loops: `(var, width)` says the loop over `var` has extent `width` and independent
    /// iterations, and that each load and store in it reads one element in every iteration or `width`
    /// consecutive elements starting at a multiple of `width`; a backend may run it as one `width`-wide
    /// vector operation with aligned vector loads and stores (16 bytes of f32 for width 4). Running it as
    /// a plain loop is always correct. The evaluator checks every claim.
    pub vector: Vec<(VarId, u32)>,
    pub body: Vec<Stmt>,
    pub info: KernelInfo,
}

impl Kernel {
    pub fn new(name: impl Into<String>) -> Kernel {
        Kernel {
            name: name.into(),
            buffers: Vec::new(),
            sizes: Vec::new(),
            vars: Vec::new(),
            grid: Vec::new(),
            lanes: None,
            shared: Vec::new(),
            vector: Vec::new(),
            body: Vec::new(),
            info: KernelInfo::default(),
        }
    }

    /// Declares a new variable.
    pub fn var(&mut self, name: impl Into<String>, dtype: DType) -> VarId {
        self.vars.push(VarDecl { name: name.into(), dtype });
        VarId(self.vars.len() as u32 - 1)
    }

    /// The dtype of `e` in this kernel.
    pub fn dtype_of(&self, e: &Expr) -> DType {
        match e {
            Expr::Const { dtype, .. } | Expr::Cast { dtype, .. } => *dtype,
            Expr::Var(v) => self.vars[v.0 as usize].dtype,
            Expr::Size(_) => DType::I64,
            Expr::Load { buf, .. } => self.buffers[*buf].dtype,
            Expr::Unary { arg, .. } => self.dtype_of(arg),
            Expr::Binary { op, lhs, .. } => {
                if op.is_comparison() {
                    DType::Bool
                } else {
                    self.dtype_of(lhs)
                }
            }
            Expr::Select { a, .. } => self.dtype_of(a),
            Expr::SharedLoad { arr, .. } => self.shared[*arr].dtype,
        }
    }

    /// The width of the vector loop over `var`, if it is one.
    pub fn vector_width(&self, var: VarId) -> Option<u32> {
        self.vector.iter().find(|(v, _)| *v == var).map(|(_, w)| *w)
    }

    /// The number of lanes per grid point (1 without lanes).
    pub fn lane_count(&self) -> u32 {
        self.lanes.map_or(1, |l| l.count)
    }
}

/// What a program-level buffer holds.
#[derive(Clone, Debug, PartialEq)]
pub enum BufferKind {
    Input(String),
    Param(String),
    /// A constant tensor (a literal of the graph), row-major.
    Constant(Vec<f64>),
    /// An intermediate, written by one kernel and read by later ones.
    Temp,
}

/// A program buffer. Executors allocate at least one element for every buffer, even an empty one, so a
/// kernel's clamped (and discarded) read of an empty tensor stays in memory.
#[derive(Clone, Debug, PartialEq)]
pub struct Buffer {
    pub dtype: DType,
    pub shape: Shape,
    pub kind: BufferKind,
}

impl Buffer {
    /// Bytes the buffer occupies under `bindings` (at least one element, as the executor allocates);
    /// `None` if a symbol is unbound.
    pub fn bytes(&self, bindings: &std::collections::HashMap<String, usize>) -> Option<usize> {
        let dims = self.shape.bind(bindings).ok()?;
        Some(dims.iter().product::<usize>().max(1) * self.dtype.size_bytes())
    }
}

/// A kernel launch: `args[i]` is the program buffer bound to the kernel's buffer argument `i`.
#[derive(Clone, Debug, PartialEq)]
pub struct Launch {
    pub kernel: usize,
    pub args: Vec<usize>,
}

/// The kernels of one graph, its buffers, and the order to launch them in.
#[derive(Clone, Debug, PartialEq)]
pub struct Program {
    pub name: String,
    pub buffers: Vec<Buffer>,
    pub kernels: Vec<Kernel>,
    pub launches: Vec<Launch>,
    /// Graph outputs: (name, buffer).
    pub outputs: Vec<(String, usize)>,
}
