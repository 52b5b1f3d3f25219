//! The kernel builder: the value of a tensor-IR node at a multi-index, as a kernel-IR expression.
//!
//! Realized nodes are loads, fused nodes are variables, and everything else is its op applied to its
//! operands' values, with movement ops turned into index arithmetic. The builder also owns the
//! kernel's statement blocks (so expressions can bind `let`s ahead of the statement that uses them),
//! its buffer and size arguments, and the record of which nodes the kernel computes.

use std::collections::{BTreeSet, HashMap};

use irc_ir::{DType, Dim, Graph, NodeId, Op, Shape};

use super::Buffers;
use super::index::{self as ix, c};
use super::partition::{Partition, Role, broadcasts};
use crate::kir::{Access, BufferArg, Expr, Kernel, Stmt, VarId};

/// Why a kernel could not be built as planned.
#[derive(Debug)]
pub(super) enum BuildError {
    /// A fused node is read where the kernel cannot provide it (another row, another point, inside a
    /// loop): it must be realized instead.
    Unfusable(NodeId),
    /// A planning bug.
    Internal(String),
}

pub(super) type Built<T> = Result<T, BuildError>;

/// The dtype a kernel computes a value of `dtype` in: f16 and bf16 compute in f32.
pub(super) fn compute_dtype(dtype: DType) -> DType {
    match dtype {
        DType::F16 | DType::BF16 => DType::F32,
        d => d,
    }
}

/// How a fused node is available in the kernel.
#[derive(Clone, Debug)]
enum LocalState {
    /// Not computed yet (row locals are computed in order before any use).
    Pending,
    /// Computed once per grid point: valid where the index agrees with the grid on the kept axes.
    Row(VarId),
    /// A matmul computed on first use at a fixed index per grid point.
    Point(Option<(VarId, Vec<Expr>)>),
}

/// Flags of the current position in an expression.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct Ctx {
    /// Inside a pad or concat part whose axis may be empty at run time: loads clamp their offset to the
    /// buffer's last element, so the (discarded) reads of an empty buffer read its one guaranteed element.
    guard: bool,
    /// Below a broadcasting expand: a point value read here would be recomputed per repeat.
    broadcast: bool,
}

/// A node read at an index (under a guard or not) whose value a `let` holds.
type Shared = (NodeId, bool, Vec<Expr>, Expr);

pub(super) struct Builder<'a> {
    pub g: &'a Graph,
    part: &'a Partition,
    bufs: &'a Buffers,
    pub k: Kernel,
    /// Program buffer of each kernel buffer argument.
    pub args: Vec<usize>,
    /// Statement blocks being built: the kernel body, then one per open loop.
    blocks: Vec<Vec<Stmt>>,
    /// Shared reads, one scope per block.
    memo: Vec<Vec<Shared>>,
    root: NodeId,
    copy: bool,
    locals: HashMap<NodeId, LocalState>,
    /// For row kernels: the grid variable of each kept axis of the row shape (`None` on reduced axes).
    pub row_grid: Option<Vec<Option<Expr>>>,
    ctx: Ctx,
    /// The nodes whose values the kernel computes.
    pub nodes: BTreeSet<NodeId>,
    lets: usize,
}

impl<'a> Builder<'a> {
    pub fn new(
        g: &'a Graph,
        part: &'a Partition,
        bufs: &'a Buffers,
        root: NodeId,
        copy: bool,
        locals: &[NodeId],
    ) -> Builder<'a> {
        let locals = locals.iter().map(|&n| (n, LocalState::Pending)).collect();
        Builder {
            g,
            part,
            bufs,
            k: Kernel::new(""),
            args: Vec::new(),
            blocks: vec![Vec::new()],
            memo: vec![Vec::new()],
            root,
            copy,
            locals,
            row_grid: None,
            ctx: Ctx::default(),
            nodes: BTreeSet::new(),
            lets: 0,
        }
    }

    pub fn var(&mut self, name: impl Into<String>, dtype: DType) -> VarId {
        self.k.var(name, dtype)
    }

    pub fn emit(&mut self, s: Stmt) {
        self.blocks.last_mut().expect("the body block is never closed").push(s);
    }

    /// Emits `for var in 0..extent { f }`.
    pub fn for_loop(&mut self, var: VarId, extent: Expr, f: impl FnOnce(&mut Self) -> Built<()>) -> Built<()> {
        let body = self.nested(f)?;
        self.emit(Stmt::Loop { var, extent, body });
        Ok(())
    }

    /// Emits `if cond { f }`.
    pub fn if_then(&mut self, cond: Expr, f: impl FnOnce(&mut Self) -> Built<()>) -> Built<()> {
        let body = self.nested(f)?;
        self.emit(Stmt::If { cond, body });
        Ok(())
    }

    /// The statements `f` emits, as a nested block with its own memo of computed values.
    fn nested(&mut self, f: impl FnOnce(&mut Self) -> Built<()>) -> Built<Vec<Stmt>> {
        self.blocks.push(Vec::new());
        self.memo.push(Vec::new());
        let r = f(self);
        self.memo.pop();
        let body = self.blocks.pop().expect("pushed above");
        r?;
        Ok(body)
    }

    /// Nested loops over `axes` of `dims` with fresh variables named `prefix{axis}`; `f` gets the
    /// variables (one per axis, in order).
    pub fn for_axes(
        &mut self,
        axes: &[usize],
        dims: &[Expr],
        prefix: &str,
        f: impl FnOnce(&mut Self, &[Expr]) -> Built<()>,
    ) -> Built<()> {
        let vars: Vec<VarId> = axes.iter().map(|a| self.var(format!("{prefix}{a}"), DType::I64)).collect();
        let exprs: Vec<Expr> = vars.iter().map(|v| Expr::Var(*v)).collect();
        self.nest(&vars, axes, dims, &exprs, f)
    }

    fn nest(
        &mut self,
        vars: &[VarId],
        axes: &[usize],
        dims: &[Expr],
        exprs: &[Expr],
        f: impl FnOnce(&mut Self, &[Expr]) -> Built<()>,
    ) -> Built<()> {
        match vars.split_first() {
            None => f(self, exprs),
            Some((&v, rest)) => {
                let extent = dims[axes[0]].clone();
                self.for_loop(v, extent, |b| b.nest(rest, &axes[1..], dims, exprs, f))
            }
        }
    }

    /// Finishes the kernel body.
    pub fn take_body(&mut self) -> Vec<Stmt> {
        std::mem::take(&mut self.blocks[0])
    }

    /// The kernel argument for program buffer `buf`, added on first use; `Write` wins over `Read`.
    pub fn arg(&mut self, buf: usize, access: Access) -> usize {
        if let Some(i) = self.args.iter().position(|&b| b == buf) {
            if access == Access::Write {
                self.k.buffers[i].access = Access::Write;
            }
            return i;
        }
        let b = &self.bufs.list[buf];
        self.k.buffers.push(BufferArg { name: self.bufs.names[buf].clone(), dtype: b.dtype, access });
        self.args.push(buf);
        self.args.len() - 1
    }

    /// A dim as an `i64` expression (symbols become size arguments).
    pub fn dim(&mut self, d: &Dim) -> Expr {
        match d {
            Dim::Static(n) => c(*n as i64),
            Dim::Sym { name, offset } => {
                let i = match self.k.sizes.iter().position(|s| s == name) {
                    Some(i) => i,
                    None => {
                        self.k.sizes.push(name.clone());
                        self.k.sizes.len() - 1
                    }
                };
                ix::add(Expr::Size(i), c(*offset))
            }
        }
    }

    pub fn dims(&mut self, s: &Shape) -> Vec<Expr> {
        s.dims().iter().map(|d| self.dim(d)).collect()
    }

    pub fn shape(&self, n: NodeId) -> &'a Shape {
        &self.g.ty(n).shape
    }

    /// The buffer node `n` is stored in.
    fn buffer_of(&self, n: NodeId) -> Built<usize> {
        self.bufs.of_node[n.0].ok_or_else(|| BuildError::Internal(format!("{n} has no buffer")))
    }

    /// Stores `value` (computed in `compute_dtype`) at `index` of program buffer `buf`.
    pub fn store(&mut self, buf: usize, index: Expr, value: Expr) {
        let dtype = self.bufs.list[buf].dtype;
        let value = if compute_dtype(dtype) != dtype { Expr::cast(dtype, value) } else { value };
        let a = self.arg(buf, Access::Write);
        self.emit(Stmt::Store { buf: a, index, value });
    }

    /// The element of program buffer `buf` (of `shape`) at `idx`, in the compute dtype.
    pub fn load_buffer(&mut self, buf: usize, shape: &Shape, idx: &[Expr], access: Access) -> Expr {
        let dims = self.dims(shape);
        let mut flat = ix::ravel(idx, &dims);
        if self.ctx.guard {
            // Out of range only when the buffer is empty (and the value is discarded): read element 0.
            flat = ix::clamp(flat, ix::product(&dims), true, true);
        }
        let a = self.arg(buf, access);
        let load = Expr::load(a, flat);
        let dtype = self.bufs.list[buf].dtype;
        if compute_dtype(dtype) != dtype { Expr::cast(compute_dtype(dtype), load) } else { load }
    }

    /// Binds an index expression to a `let` (named `{prefix}{n}`) when it is not already a variable or a
    /// constant, so index arithmetic that uses it several times does not grow.
    pub fn bind(&mut self, e: Expr, prefix: &str) -> Expr {
        if matches!(e, Expr::Var(_) | Expr::Const { .. } | Expr::Size(_)) {
            return e;
        }
        self.lets += 1;
        let v = self.var(format!("{prefix}{}", self.lets), DType::I64);
        self.emit(Stmt::Let { var: v, value: e });
        Expr::Var(v)
    }

    /// Evaluates `f` with the context flags changed, restoring them afterwards.
    fn with_ctx<T>(&mut self, ctx: Ctx, f: impl FnOnce(&mut Self) -> T) -> T {
        let saved = std::mem::replace(&mut self.ctx, ctx);
        let r = f(self);
        self.ctx = saved;
        r
    }

    /// The value of node `n` at `idx` (one `i64` expression per dim of `n`), in its compute dtype.
    pub fn value(&mut self, n: NodeId, idx: &[Expr]) -> Built<Expr> {
        if self.locals.contains_key(&n) {
            self.nodes.insert(n);
            return self.local_ref(n, idx);
        }
        if n == self.root && !self.copy {
            self.nodes.insert(n);
            return self.value_op(n, idx);
        }
        match self.part.role[n.0] {
            Role::Leaf | Role::Root => {
                let buf = self.buffer_of(n)?;
                Ok(self.load_buffer(buf, self.shape(n), idx, Access::Read))
            }
            Role::Inline => {
                self.nodes.insert(n);
                self.shared(n, idx)
            }
            r => Err(BuildError::Internal(format!("{n} ({r:?}) read outside its kernel"))),
        }
    }

    /// An inlined node's value, shared through a `let` when the node has several readers and is read
    /// at the same index again in this block (or an enclosing one).
    fn shared(&mut self, n: NodeId, idx: &[Expr]) -> Built<Expr> {
        let op = &self.g.node(n).op;
        if self.part.reads[n.0] < 2 || !op.is_elementwise() {
            return self.value_op(n, idx);
        }
        let guard = self.ctx.guard;
        let hit = self.memo.iter().rev().flatten().find(|(m, gd, i, _)| *m == n && *gd == guard && i == idx);
        if let Some((_, _, _, e)) = hit {
            return Ok(e.clone());
        }
        let value = self.value_op(n, idx)?;
        let v = self.var(format!("v{}", n.0), compute_dtype(self.g.ty(n).dtype));
        self.emit(Stmt::Let { var: v, value });
        self.memo.last_mut().expect("a memo scope per block").push((n, guard, idx.to_vec(), Expr::Var(v)));
        Ok(Expr::Var(v))
    }

    /// Records that local `n` now lives in `var`.
    pub fn set_local(&mut self, n: NodeId, var: VarId) {
        self.locals.insert(n, LocalState::Row(var));
    }

    /// A read of fused node `n` at `idx`.
    fn local_ref(&mut self, n: NodeId, idx: &[Expr]) -> Built<Expr> {
        match self.locals[&n].clone() {
            LocalState::Pending => Err(BuildError::Internal(format!("{n} read before it is computed"))),
            LocalState::Row(v) => {
                let grid =
                    self.row_grid.as_ref().ok_or_else(|| BuildError::Internal("row local outside a row".into()))?;
                let same_row = grid.iter().zip(idx).all(|(g, i)| g.as_ref().is_none_or(|g| g == i));
                if same_row { Ok(Expr::Var(v)) } else { Err(BuildError::Unfusable(n)) }
            }
            LocalState::Point(Some((v, at))) if at == idx && !self.ctx.broadcast => Ok(Expr::Var(v)),
            LocalState::Point(None) if !self.ctx.broadcast && self.blocks.len() == 1 => {
                let v = super::kernels::matmul_point(self, n, idx)?;
                self.locals.insert(n, LocalState::Point(Some((v, idx.to_vec()))));
                Ok(Expr::Var(v))
            }
            LocalState::Point(_) => Err(BuildError::Unfusable(n)),
        }
    }

    /// Marks matmul `n` as computed on first use.
    pub fn set_point(&mut self, n: NodeId) {
        self.locals.insert(n, LocalState::Point(None));
    }

    /// The value of `n` at `idx` computed by its op.
    pub fn value_op(&mut self, n: NodeId, idx: &[Expr]) -> Built<Expr> {
        let node = self.g.node(n);
        let ins = &node.inputs;
        let cd = compute_dtype(node.ty.dtype);
        Ok(match &node.op {
            Op::Const { value, dtype } => Expr::constant(crate::kir::round_to(*dtype, *value), cd),
            Op::Iota { axis, .. } => self.cast(cd, idx[*axis].clone()),
            Op::Unary { op } => Expr::unary(*op, self.value(ins[0], idx)?),
            Op::Cast { dtype } => {
                let x = self.value(ins[0], idx)?;
                if *dtype == cd {
                    self.cast(cd, x)
                } else {
                    // Round to the narrow dtype, then compute on in f32.
                    Expr::cast(cd, Expr::cast(*dtype, x))
                }
            }
            Op::Binary { op } => {
                let a = self.value(ins[0], idx)?;
                Expr::binary((*op).into(), a, self.value(ins[1], idx)?)
            }
            Op::Select => {
                let cond = self.value(ins[0], idx)?;
                let a = self.value(ins[1], idx)?;
                Expr::select(cond, a, self.value(ins[2], idx)?)
            }
            Op::Reshape { .. } => {
                let i = self.reshape_index(self.shape(ins[0]), &node.ty.shape, idx);
                self.value(ins[0], &i)?
            }
            Op::Permute { perm } => {
                let mut i = vec![c(0); idx.len()];
                for (o, &p) in perm.iter().enumerate() {
                    i[p] = idx[o].clone();
                }
                self.value(ins[0], &i)?
            }
            Op::Expand { shape } => {
                let from = self.shape(ins[0]);
                let pad = shape.rank() - from.rank();
                let i: Vec<Expr> = from
                    .dims()
                    .iter()
                    .enumerate()
                    .map(|(j, d)| if d.is_one() { c(0) } else { idx[j + pad].clone() })
                    .collect();
                let ctx = Ctx { broadcast: self.ctx.broadcast || broadcasts(from, shape), ..self.ctx };
                self.with_ctx(ctx, |b| b.value(ins[0], &i))?
            }
            Op::Slice { axis, start, .. } => {
                let mut i = idx.to_vec();
                i[*axis] = ix::add(i[*axis].clone(), c(*start as i64));
                self.value(ins[0], &i)?
            }
            Op::Pad { axis, before, after } => self.pad(ins[0], idx, *axis, *before, *after, cd)?,
            Op::Concat { axis } => self.concat(ins, idx, *axis, cd)?,
            op => return Err(BuildError::Internal(format!("{n} ({}) must be realized or fused", op.name()))),
        })
    }

    /// The input index of a reshape, group by group (see [`ix::reshape_groups`]).
    fn reshape_index(&mut self, from: &Shape, to: &Shape, idx: &[Expr]) -> Vec<Expr> {
        let mut out = vec![c(0); from.rank()];
        for (gi, go) in ix::reshape_groups(from.dims(), to.dims()) {
            if let ([a], [o]) = (gi.as_slice(), go.as_slice()) {
                out[*a] = idx[*o].clone();
                continue;
            }
            let odims: Vec<Expr> = go.iter().map(|&o| self.dim(&to.dims()[o])).collect();
            let oidx: Vec<Expr> = go.iter().map(|&o| idx[o].clone()).collect();
            let mut flat = ix::ravel(&oidx, &odims);
            if gi.len() > 1 {
                flat = self.bind(flat, "f");
            }
            let idims: Vec<Expr> = gi.iter().map(|&a| self.dim(&from.dims()[a])).collect();
            for (p, &a) in gi.iter().enumerate() {
                let x = ix::div(flat.clone(), ix::product(&idims[p + 1..]));
                out[a] = if p > 0 { ix::rem(x, idims[p].clone()) } else { x };
            }
        }
        out
    }

    /// `select(in range, child at the clamped index, 0)` along `axis`.
    fn pad(&mut self, child: NodeId, idx: &[Expr], axis: usize, before: usize, after: usize, cd: DType) -> Built<Expr> {
        let zero = Expr::constant(0.0, cd);
        let d = &self.shape(child).dims()[axis];
        if d.as_static() == Some(0) {
            return Ok(zero);
        }
        let n = self.dim(d);
        let i = idx[axis].clone();
        let mut ci = idx.to_vec();
        ci[axis] = ix::clamp(ix::sub(i.clone(), c(before as i64)), n.clone(), before > 0, after > 0);
        let ctx = Ctx { guard: self.ctx.guard || may_be_empty(d), ..self.ctx };
        let mut e = self.with_ctx(ctx, |b| b.value(child, &ci))?;
        if after > 0 {
            e = Expr::select(ix::lt(i.clone(), ix::add(c(before as i64), n)), e, zero.clone());
        }
        if before > 0 {
            e = Expr::select(ix::lt(i, c(before as i64)), zero, e);
        }
        Ok(e)
    }

    /// Nested selects over the parts along `axis`, each read at its clamped position.
    fn concat(&mut self, parts: &[NodeId], idx: &[Expr], axis: usize, cd: DType) -> Built<Expr> {
        let parts: Vec<NodeId> =
            parts.iter().copied().filter(|&p| self.shape(p).dims()[axis].as_static() != Some(0)).collect();
        let Some(last) = parts.len().checked_sub(1) else {
            return Ok(Expr::constant(0.0, cd)); // an empty axis: never read
        };
        let mut offsets = vec![c(0)];
        for &p in &parts {
            let d = self.dim(&self.shape(p).dims()[axis]);
            offsets.push(ix::add(offsets.last().expect("non-empty").clone(), d));
        }
        let i = idx[axis].clone();
        let mut result: Option<Expr> = None;
        for j in (0..=last).rev() {
            let d = &self.shape(parts[j]).dims()[axis];
            let n = self.dim(d);
            let mut pi = idx.to_vec();
            pi[axis] = ix::clamp(ix::sub(i.clone(), offsets[j].clone()), n, j > 0, j < last);
            let ctx = Ctx { guard: self.ctx.guard || may_be_empty(d), ..self.ctx };
            let v = self.with_ctx(ctx, |b| b.value(parts[j], &pi))?;
            result = Some(match result {
                None => v,
                Some(rest) => Expr::select(ix::lt(i.clone(), offsets[j + 1].clone()), v, rest),
            });
        }
        Ok(result.expect("at least one part"))
    }

    /// `x` converted to `dtype` (no cast when it already has it; constants are converted in place).
    pub fn cast(&self, dtype: DType, x: Expr) -> Expr {
        let from = self.k.dtype_of(&x);
        match x {
            _ if from == dtype => x,
            Expr::Const { value, .. } => Expr::constant(crate::kir::cast_value(from, dtype, value), dtype),
            x => Expr::cast(dtype, x),
        }
    }

    /// Runs `f` with loads guarded (see [`Ctx::guard`]) when `guard` is set.
    pub fn guarded<T>(&mut self, guard: bool, f: impl FnOnce(&mut Self) -> T) -> T {
        let ctx = Ctx { guard: self.ctx.guard || guard, ..self.ctx };
        self.with_ctx(ctx, f)
    }
}

/// Whether a dim can be 0 at run time although it is not statically 0 (`T`, `T-1`; not `T+1`).
pub(super) fn may_be_empty(d: &Dim) -> bool {
    matches!(d, Dim::Sym { offset, .. } if *offset <= 0)
}
