//! A reference evaluator of kernels over host memory: the semantics every backend must match, and the
//! way lowering is tested without a JIT. Written to be obviously correct, not fast.
//!
//! Semantics (docs/KERNELS.md has the full list):
//! - Every value has its expression's dtype. Float ops are computed in f64 and rounded to the dtype after
//!   each op, so f32 math behaves like f32 hardware. Integer ops are exact in i64 with two's-complement
//!   wrapping, then wrapped to the dtype; `x / 0` and `x % 0` are 0, `MIN / -1` wraps. `max`/`min`
//!   propagate NaN. Comparisons give `bool`.
//! - Casts: float to integer truncates toward zero and saturates (NaN gives 0); integer to narrower
//!   integer wraps; anything to `bool` is `!= 0`; to a float rounds to nearest.
//! - Both arms of a `select` are evaluated (so both must load in bounds).
//! - Grid points run in row-major order here, but a kernel must not depend on it: the evaluator reports a
//!   grid point that writes, or reads, an element another grid point wrote, and a read of an element of
//!   a written buffer before anything wrote it.
//! - Every load and store is bounds-checked against the memory passed in; errors name the kernel, the
//!   buffer and the index.

use irc_ir::{DType, UnaryOp};
use thiserror::Error;

use super::vector::{VectorTrace, check_shape};
use super::{Access, BinOp, Expr, Kernel, Stmt, VarId};

/// Why a kernel could not be evaluated: always a bug in the kernel (or in how it was called).
#[derive(Debug, Error, Clone, PartialEq)]
pub enum EvalError {
    #[error("kernel `{kernel}`: expected {want_bufs} buffers and {want_sizes} sizes, got {bufs} and {sizes}")]
    Arity { kernel: String, want_bufs: usize, want_sizes: usize, bufs: usize, sizes: usize },
    #[error("kernel `{kernel}`: {access} of `{buffer}` at index {index} is out of bounds (length {len})")]
    OutOfBounds { kernel: String, access: &'static str, buffer: String, index: i64, len: usize },
    #[error("kernel `{kernel}`: grid point {point} {access} element {index} of `{buffer}`, which {other}")]
    Race { kernel: String, point: u64, access: &'static str, buffer: String, index: i64, other: String },
    #[error(
        "kernel `{kernel}`: grid point {point} lane {lane} {access} element {index} of shared `{array}`, which {other}"
    )]
    SharedRace { kernel: String, point: u64, lane: u32, access: &'static str, array: String, index: i64, other: String },
    #[error("kernel `{kernel}`: {msg}")]
    Invalid { kernel: String, msg: String },
}

/// One element value: floats as f64 (already rounded to their dtype), integers and bools as i64.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Scalar {
    F(f64),
    I(i64),
}

impl Scalar {
    /// `v` as an element of `dtype` (rounded, truncated and wrapped like a store of `v`).
    pub fn of(dtype: DType, v: f64) -> Scalar {
        match dtype {
            DType::I32 | DType::I64 | DType::Bool => Scalar::I(round_to(dtype, v) as i64),
            _ => Scalar::F(round_to(dtype, v)),
        }
    }

    pub fn to_f64(self) -> f64 {
        match self {
            Scalar::F(v) => v,
            Scalar::I(i) => i as f64,
        }
    }

    fn to_i64(self) -> i64 {
        match self {
            Scalar::F(v) => v as i64,
            Scalar::I(i) => i,
        }
    }
}

pub use irc_ir::round_to;

/// `v` (a value of `from`) converted to `to` with the cast semantics above.
pub fn cast_value(from: DType, to: DType, v: f64) -> f64 {
    cast(to, Scalar::of(from, v)).to_f64()
}

fn wrap(dtype: DType, i: i64) -> Scalar {
    Scalar::I(match dtype {
        DType::I32 => i as i32 as i64,
        DType::Bool => (i != 0) as i64,
        _ => i,
    })
}

fn cast(to: DType, s: Scalar) -> Scalar {
    match (s, to) {
        (Scalar::F(v), DType::Bool) => Scalar::I((v != 0.0) as i64),
        (Scalar::F(v), DType::I32) => Scalar::I(v as i32 as i64),
        (Scalar::F(v), DType::I64) => Scalar::I(v as i64),
        (Scalar::F(v), _) => Scalar::F(round_to(to, v)),
        (Scalar::I(i), DType::I32 | DType::I64 | DType::Bool) => wrap(to, i),
        (Scalar::I(i), _) => Scalar::F(round_to(to, i as f64)),
    }
}

/// Reads element `i` of little-endian `bytes` holding `dtype` values (`i` must be in bounds).
pub fn read_scalar(dtype: DType, bytes: &[u8], i: usize) -> Scalar {
    let n = dtype.size_bytes();
    let b = &bytes[i * n..(i + 1) * n];
    match dtype {
        DType::F32 => Scalar::F(f32::from_le_bytes(b.try_into().expect("4 bytes")) as f64),
        DType::F64 => Scalar::F(f64::from_le_bytes(b.try_into().expect("8 bytes"))),
        DType::F16 => Scalar::F(half::f16::from_le_bytes(b.try_into().expect("2 bytes")).to_f64()),
        DType::BF16 => Scalar::F(half::bf16::from_le_bytes(b.try_into().expect("2 bytes")).to_f64()),
        DType::I32 => Scalar::I(i32::from_le_bytes(b.try_into().expect("4 bytes")) as i64),
        DType::I64 => Scalar::I(i64::from_le_bytes(b.try_into().expect("8 bytes"))),
        DType::Bool => Scalar::I((b[0] != 0) as i64),
    }
}

/// Writes `s` as element `i` of `bytes` (rounding or wrapping it to `dtype`).
pub fn write_scalar(dtype: DType, bytes: &mut [u8], i: usize, s: Scalar) {
    let n = dtype.size_bytes();
    let b = &mut bytes[i * n..(i + 1) * n];
    let (f, int) = (s.to_f64(), s.to_i64());
    match dtype {
        DType::F32 => b.copy_from_slice(&(f as f32).to_le_bytes()),
        DType::F64 => b.copy_from_slice(&f.to_le_bytes()),
        DType::F16 => b.copy_from_slice(&half::f16::from_f64(f).to_le_bytes()),
        DType::BF16 => b.copy_from_slice(&half::bf16::from_f64(f).to_le_bytes()),
        DType::I32 => b.copy_from_slice(&(int as i32).to_le_bytes()),
        DType::I64 => b.copy_from_slice(&int.to_le_bytes()),
        DType::Bool => b[0] = (int != 0) as u8,
    }
}

const NOBODY: u64 = u64::MAX;

/// Who last wrote and read one shared-array element, by lane and barrier epoch (the number of barriers the
/// block has passed), to report two lanes touching it between the same two barriers.
#[derive(Clone, Copy)]
struct SharedCell {
    value: Option<Scalar>,
    writer: (u32, u64),
    reader: (u32, u64),
}

/// A reader mark for "more than one lane".
const MANY: u32 = u32::MAX;
const EMPTY_CELL: SharedCell = SharedCell { value: None, writer: (MANY, u64::MAX), reader: (MANY, u64::MAX) };

struct Eval<'k, 'b, 'm> {
    k: &'k Kernel,
    bufs: &'b mut [&'m mut [u8]],
    sizes: &'k [i64],
    /// Variables of each lane.
    env: Vec<Vec<Option<Scalar>>>,
    /// The lane evaluating now.
    lane: usize,
    /// For each written buffer, the thread (grid point * lanes + lane) that last wrote each element.
    writer: Vec<Vec<u64>>,
    point: u64,
    shared: Vec<Vec<SharedCell>>,
    epoch: u64,
    /// The accesses of the vector loop running now, if any.
    trace: Option<VectorTrace>,
}

/// Runs every grid point of `k`, each as a block of `k.lanes` lanes. `bufs[i]` is the memory of buffer
/// argument `i` (its length in elements is the bounds every access is checked against); `sizes[j]` is the
/// value of `k.sizes[j]`.
///
/// Lanes run in lockstep, statement by statement: one of the interleavings a GPU may choose. The
/// evaluator reports the kernels whose result could depend on the interleaving: two lanes touching one
/// shared element between the same two barriers (unless both only read), a lane reading a global element
/// another lane wrote, and a barrier that not every lane reaches.
pub fn eval_kernel(k: &Kernel, bufs: &mut [&mut [u8]], sizes: &[i64]) -> Result<(), EvalError> {
    if bufs.len() != k.buffers.len() || sizes.len() != k.sizes.len() {
        return Err(EvalError::Arity {
            kernel: k.name.clone(),
            want_bufs: k.buffers.len(),
            want_sizes: k.sizes.len(),
            bufs: bufs.len(),
            sizes: sizes.len(),
        });
    }
    let writer = k
        .buffers
        .iter()
        .zip(bufs.iter())
        .map(|(b, m)| if b.access == Access::Write { vec![NOBODY; m.len() / b.dtype.size_bytes()] } else { vec![] })
        .collect();
    let lanes = k.lane_count() as usize;
    let mut e = Eval {
        k,
        bufs,
        sizes,
        env: vec![vec![None; k.vars.len()]; lanes],
        lane: 0,
        writer,
        point: 0,
        shared: k.shared.iter().map(|a| vec![EMPTY_CELL; a.len as usize]).collect(),
        epoch: 0,
        trace: None,
    };
    if lanes == 0 {
        return Err(e.invalid("a block of 0 lanes".into()));
    }
    let extents = k.grid.iter().map(|(_, x)| e.int(x)).collect::<Result<Vec<i64>, _>>()?;
    if extents.iter().any(|&n| n <= 0) {
        return Ok(());
    }
    let all: Vec<usize> = (0..lanes).collect();
    let mut idx = vec![0i64; extents.len()];
    loop {
        for lane in 0..lanes {
            e.lane = lane;
            for ((v, _), &i) in k.grid.iter().zip(&idx) {
                e.set(*v, Scalar::I(i))?;
            }
            if let Some(l) = k.lanes {
                e.set(l.var, Scalar::I(lane as i64))?;
            }
        }
        for arr in &mut e.shared {
            arr.fill(EMPTY_CELL);
        }
        e.stmts(&k.body, &all)?;
        e.point += 1;
        // Next grid point, row-major.
        let mut d = idx.len();
        loop {
            if d == 0 {
                return Ok(());
            }
            d -= 1;
            idx[d] += 1;
            if idx[d] < extents[d] {
                break;
            }
            idx[d] = 0;
        }
    }
}

impl Eval<'_, '_, '_> {
    fn invalid(&self, msg: String) -> EvalError {
        EvalError::Invalid { kernel: self.k.name.clone(), msg }
    }

    fn set(&mut self, v: VarId, s: Scalar) -> Result<(), EvalError> {
        let slot = self.env[self.lane].get_mut(v.0 as usize).ok_or_else(|| EvalError::Invalid {
            kernel: self.k.name.clone(),
            msg: format!("undeclared variable #{}", v.0),
        })?;
        *slot = Some(s);
        Ok(())
    }

    fn int(&mut self, e: &Expr) -> Result<i64, EvalError> {
        Ok(self.eval(e)?.0.to_i64())
    }

    /// `int(e)` in each of `lanes`.
    fn ints(&mut self, e: &Expr, lanes: &[usize]) -> Result<Vec<i64>, EvalError> {
        lanes
            .iter()
            .map(|&l| {
                self.lane = l;
                self.int(e)
            })
            .collect()
    }

    /// Runs `body` in the `active` lanes, statement by statement.
    fn stmts(&mut self, body: &[Stmt], active: &[usize]) -> Result<(), EvalError> {
        for s in body {
            match s {
                Stmt::Loop { var, extent, body } if self.k.vector_width(*var).is_some() => {
                    let width = self.k.vector_width(*var).unwrap_or(1);
                    let n = self.int(extent)?;
                    check_shape(self.k, *var, n, width, body).map_err(|m| self.invalid(m))?;
                    self.trace = Some(VectorTrace::default());
                    for i in 0..n {
                        self.trace.as_mut().expect("set above").iteration = i;
                        self.set(*var, Scalar::I(i))?;
                        self.stmts(body, active)?;
                    }
                    let trace = self.trace.take().expect("set above");
                    trace.verify(self.k, n).map_err(|m| self.invalid(format!("vector loop: {m}")))?;
                }
                Stmt::Loop { var, extent, body } => {
                    let n = self.ints(extent, active)?;
                    let uniform = n.iter().all(|&x| x == n[0]);
                    self.uniform(uniform, active, body, "a loop whose extent differs between lanes")?;
                    for i in 0..n.iter().copied().max().unwrap_or(0).max(0) {
                        let sub: Vec<usize>;
                        let lanes = if uniform {
                            active
                        } else {
                            sub = active.iter().zip(&n).filter(|&(_, &x)| i < x).map(|(&l, _)| l).collect();
                            &sub
                        };
                        for &l in lanes {
                            self.lane = l;
                            self.set(*var, Scalar::I(i))?;
                        }
                        self.stmts(body, lanes)?;
                    }
                }
                Stmt::If { cond, body } => {
                    let c = self.ints(cond, active)?;
                    let sub: Vec<usize> = active.iter().zip(&c).filter(|&(_, &x)| x != 0).map(|(&l, _)| l).collect();
                    let uniform = sub.is_empty() || sub.len() == active.len();
                    self.uniform(uniform, active, body, "a condition that differs between lanes")?;
                    if !sub.is_empty() {
                        self.stmts(body, &sub)?;
                    }
                }
                Stmt::Barrier => {
                    if active.len() != self.k.lane_count() as usize {
                        return Err(self.invalid("a barrier that not every lane reaches".into()));
                    }
                    self.epoch += 1;
                }
                _ => {
                    for &l in active {
                        self.lane = l;
                        self.simple(s)?;
                    }
                }
            }
        }
        Ok(())
    }

    /// A barrier may sit only under control flow that every lane of the block takes alike.
    fn uniform(&self, uniform: bool, active: &[usize], body: &[Stmt], what: &str) -> Result<(), EvalError> {
        if Stmt::any_barrier(body) && (!uniform || active.len() != self.k.lane_count() as usize) {
            return Err(self.invalid(format!("a barrier under {what}")));
        }
        Ok(())
    }

    /// A statement without a body, in the current lane.
    fn simple(&mut self, s: &Stmt) -> Result<(), EvalError> {
        match s {
            Stmt::Let { var, value } => {
                let (v, _) = self.eval(value)?;
                self.set(*var, v)?;
            }
            Stmt::Assign { var, value } => {
                if self.env[self.lane].get(var.0 as usize).copied().flatten().is_none() {
                    return Err(self.invalid(format!("variable #{} assigned before it is defined", var.0)));
                }
                let (v, _) = self.eval(value)?;
                self.set(*var, v)?;
            }
            Stmt::Store { buf, index, value } => {
                let i = self.int(index)?;
                let (v, _) = self.eval(value)?;
                self.traced(index, *buf, i, true)?;
                let at = self.check(*buf, i, "store")?;
                let dtype = self.k.buffers[*buf].dtype;
                write_scalar(dtype, self.bufs[*buf], at, v);
            }
            Stmt::SharedStore { arr, index, value } => {
                let i = self.int(index)?;
                let (v, _) = self.eval(value)?;
                let dtype = self.shared_dtype(*arr)?;
                let cell = self.shared_cell(*arr, i, "store")?;
                cell.value = Some(cast(dtype, v));
            }
            Stmt::Loop { .. } | Stmt::If { .. } | Stmt::Barrier => unreachable!("handled by stmts"),
        }
        Ok(())
    }

    fn shared_dtype(&self, arr: usize) -> Result<DType, EvalError> {
        self.k
            .shared
            .get(arr)
            .map(|a| a.dtype)
            .ok_or_else(|| self.invalid(format!("shared array {arr} does not exist")))
    }

    /// Bounds- and race-checks an access to element `i` of shared array `arr` by the current lane.
    fn shared_cell(&mut self, arr: usize, i: i64, access: &'static str) -> Result<&mut SharedCell, EvalError> {
        let (lane, epoch, name) = (self.lane as u32, self.epoch, &self.k.shared[arr].name);
        let len = self.shared[arr].len();
        let Some(at) = usize::try_from(i).ok().filter(|&a| a < len) else {
            return Err(EvalError::OutOfBounds {
                kernel: self.k.name.clone(),
                access,
                buffer: name.clone(),
                index: i,
                len,
            });
        };
        let cell = self.shared[arr][at];
        let clash = |(who, when): (u32, u64)| when == epoch && who != lane;
        let other = if access == "load" {
            if cell.value.is_none() {
                Some("nothing in this block wrote".to_string())
            } else {
                clash(cell.writer).then(|| format!("lane {} wrote since the last barrier", cell.writer.0))
            }
        } else if clash(cell.writer) {
            Some(format!("lane {} wrote since the last barrier", cell.writer.0))
        } else {
            clash(cell.reader).then(|| "another lane read since the last barrier".to_string())
        };
        if let Some(other) = other {
            return Err(EvalError::SharedRace {
                kernel: self.k.name.clone(),
                point: self.point,
                lane,
                access: if access == "load" { "reads" } else { "writes" },
                array: name.clone(),
                index: i,
                other,
            });
        }
        let cell = &mut self.shared[arr][at];
        if access == "load" {
            cell.reader = if cell.reader.1 == epoch && cell.reader.0 != lane { (MANY, epoch) } else { (lane, epoch) };
        } else {
            cell.writer = (lane, epoch);
        }
        Ok(cell)
    }

    /// Records an access in the running vector loop's trace (the site is the index expression).
    fn traced(&mut self, site: &Expr, buf: usize, i: i64, store: bool) -> Result<(), EvalError> {
        if let Some(t) = &mut self.trace {
            let r = t.record(site as *const Expr as usize, buf, i, store);
            r.map_err(|m| self.invalid(format!("vector loop: {m}")))?;
        }
        Ok(())
    }

    /// Bounds- and race-checks an access to element `i` of buffer `buf`; returns it as an offset.
    fn check(&mut self, buf: usize, i: i64, access: &'static str) -> Result<usize, EvalError> {
        let arg = self.k.buffers.get(buf).ok_or_else(|| EvalError::Invalid {
            kernel: self.k.name.clone(),
            msg: format!("buffer argument {buf} does not exist"),
        })?;
        let len = self.bufs[buf].len() / arg.dtype.size_bytes();
        let at = usize::try_from(i).ok().filter(|&a| a < len).ok_or_else(|| EvalError::OutOfBounds {
            kernel: self.k.name.clone(),
            access,
            buffer: arg.name.clone(),
            index: i,
            len,
        })?;
        if arg.access == Access::Write {
            let thread = self.point * self.k.lane_count() as u64 + self.lane as u64;
            let name = |p: u64| match self.k.lane_count() as u64 {
                1 => format!("grid point {p} wrote"),
                n => format!("grid point {} lane {} wrote", p / n, p % n),
            };
            let w = &mut self.writer[buf][at];
            let other = match (*w, access) {
                (NOBODY, "load") => Some("nothing wrote yet".to_string()),
                (p, _) if p != NOBODY && p != thread => Some(name(p)),
                _ => None,
            };
            if let Some(other) = other {
                return Err(EvalError::Race {
                    kernel: self.k.name.clone(),
                    point: self.point,
                    access: if access == "load" { "reads" } else { "writes" },
                    buffer: arg.name.clone(),
                    index: i,
                    other,
                });
            }
            if access == "store" {
                *w = thread;
            }
        }
        Ok(at)
    }

    /// The value of `e` and its dtype.
    fn eval(&mut self, e: &Expr) -> Result<(Scalar, DType), EvalError> {
        Ok(match e {
            Expr::Const { value, dtype } => (Scalar::of(*dtype, *value), *dtype),
            Expr::Var(v) => {
                let decl = self
                    .k
                    .vars
                    .get(v.0 as usize)
                    .ok_or_else(|| self.invalid(format!("undeclared variable #{}", v.0)))?;
                let val = self.env[self.lane][v.0 as usize]
                    .ok_or_else(|| self.invalid(format!("variable `{}` used before it is defined", decl.name)))?;
                (val, decl.dtype)
            }
            Expr::Size(i) => {
                let s = self.sizes.get(*i).ok_or_else(|| self.invalid(format!("size {i} does not exist")))?;
                (Scalar::I(*s), DType::I64)
            }
            Expr::Load { buf, index } => {
                let i = self.int(index)?;
                self.traced(index, *buf, i, false)?;
                let at = self.check(*buf, i, "load")?;
                let dtype = self.k.buffers[*buf].dtype;
                (read_scalar(dtype, self.bufs[*buf], at), dtype)
            }
            Expr::SharedLoad { arr, index } => {
                let i = self.int(index)?;
                let dtype = self.shared_dtype(*arr)?;
                let cell = self.shared_cell(*arr, i, "load")?;
                (cell.value.expect("checked: written"), dtype)
            }
            Expr::Unary { op, arg } => {
                let (x, t) = self.eval(arg)?;
                (self.unary(*op, x, t)?, t)
            }
            Expr::Binary { op, lhs, rhs } => {
                let (a, t) = self.eval(lhs)?;
                let (b, u) = self.eval(rhs)?;
                if t != u {
                    return Err(self.invalid(format!("{} of {t} and {u}", op.name())));
                }
                self.binary(*op, a, b, t)?
            }
            Expr::Select { cond, a, b } => {
                let (c, _) = self.eval(cond)?;
                let (x, t) = self.eval(a)?;
                let (y, _) = self.eval(b)?;
                (if c.to_f64() != 0.0 { x } else { y }, t)
            }
            Expr::Cast { dtype, arg } => {
                let (x, _) = self.eval(arg)?;
                (cast(*dtype, x), *dtype)
            }
        })
    }

    fn unary(&self, op: UnaryOp, x: Scalar, t: DType) -> Result<Scalar, EvalError> {
        Ok(match x {
            Scalar::F(v) => {
                let r = match op {
                    UnaryOp::Neg => -v,
                    UnaryOp::Exp => v.exp(),
                    UnaryOp::Log => v.ln(),
                    UnaryOp::Sqrt => v.sqrt(),
                    UnaryOp::Recip => 1.0 / v,
                    UnaryOp::Sin => v.sin(),
                    UnaryOp::Cos => v.cos(),
                    UnaryOp::Tanh => v.tanh(),
                    UnaryOp::Abs => v.abs(),
                };
                Scalar::F(round_to(t, r))
            }
            Scalar::I(i) => match op {
                UnaryOp::Neg if t != DType::Bool => wrap(t, i.wrapping_neg()),
                UnaryOp::Abs if t != DType::Bool => wrap(t, i.wrapping_abs()),
                _ => return Err(self.invalid(format!("{} on {t}", op.name()))),
            },
        })
    }

    fn binary(&self, op: BinOp, a: Scalar, b: Scalar, t: DType) -> Result<(Scalar, DType), EvalError> {
        if op.is_comparison() {
            let r = match (a, b) {
                (Scalar::I(x), Scalar::I(y)) => compare(op, Some(x.cmp(&y)), x == y),
                _ => {
                    let (x, y) = (a.to_f64(), b.to_f64());
                    compare(op, x.partial_cmp(&y), x == y)
                }
            };
            return Ok((Scalar::I(r as i64), DType::Bool));
        }
        let r = match (a, b) {
            (Scalar::F(x), Scalar::F(y)) => {
                let r = match op {
                    BinOp::Add => x + y,
                    BinOp::Sub => x - y,
                    BinOp::Mul => x * y,
                    BinOp::Div => x / y,
                    BinOp::Rem => x % y,
                    BinOp::Max => irc_ir::fmax(x, y),
                    BinOp::Min => irc_ir::fmin(x, y),
                    BinOp::Pow => x.powf(y),
                    _ => unreachable!("comparisons are handled above"),
                };
                Scalar::F(round_to(t, r))
            }
            (Scalar::I(x), Scalar::I(y)) if t != DType::Bool || matches!(op, BinOp::Max | BinOp::Min) => {
                let r = match op {
                    BinOp::Add => x.wrapping_add(y),
                    BinOp::Sub => x.wrapping_sub(y),
                    BinOp::Mul => x.wrapping_mul(y),
                    BinOp::Div if y == 0 => 0,
                    BinOp::Rem if y == 0 => 0,
                    BinOp::Div => x.wrapping_div(y),
                    BinOp::Rem => x.wrapping_rem(y),
                    BinOp::Max => x.max(y),
                    BinOp::Min => x.min(y),
                    _ => return Err(self.invalid(format!("{} on {t}", op.name()))),
                };
                wrap(t, r)
            }
            _ => return Err(self.invalid(format!("{} on {t}", op.name()))),
        };
        Ok((r, t))
    }
}

/// A comparison from the ordering of its operands (`None`: unordered, a NaN is involved).
fn compare(op: BinOp, ord: Option<std::cmp::Ordering>, eq: bool) -> bool {
    use std::cmp::Ordering::*;
    match op {
        BinOp::Lt => ord == Some(Less),
        BinOp::Le => matches!(ord, Some(Less | Equal)),
        BinOp::Eq => eq,
        BinOp::Ne => !eq,
        _ => unreachable!("not a comparison"),
    }
}
