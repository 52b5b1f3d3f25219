//! f32x4 loops: four consecutive iterations of a loop run as one, lane `l` doing iteration `i + l`, while
//! four remain; the scalar loop does the tail. Each lane computes exactly what its scalar iteration
//! would, in the same order, so results are bit-identical to scalar code (up to NaN payloads).
//!
//! A loop over `var` qualifies when its body keeps every lane to its own iteration:
//! - statements are `Let`s of f32 variables (not read earlier in the body), `Assign`s to such
//!   variables, `Store`s to f32 buffers at an index that moves with `var` (contiguous, `base + var`, is
//!   a vector store; another stride, constant or symbolic, stores lane by lane), and nested loops whose extent is the same in all lanes, whose bodies qualify too
//!   (so a dot product per output element, as in matmul, runs four outputs at a time);
//! - f32 arithmetic, selects, constants, variables and loads (whose index reads no f32 body variable)
//!   are vector instructions: a load is a vector load when its index is contiguous in `var`, a splat
//!   when it is the same in all lanes, and four scalar loads otherwise; any other f32 value (a cast from
//!   an integer, say) or select condition (an integer comparison) that reads no f32 body variable is
//!   computed by scalar code once per lane;
//! - a buffer the body loads is stored at the index it is loaded at only, so no iteration reads what
//!   another writes (a buffer that is not loaded may be stored at several indices).
//!
//! f32 exp, log and tanh are inline vector code (`math.rs`); other transcendentals call the scalar
//! helper once per lane.
//!
//! The exception to lane-per-iteration: with `CompileOptions::reassociate`, a loop that only folds terms
//! into an outer f32 accumulator by `+` or `max` (`reduction`) keeps eight partial accumulators (sixteen
//! for a max) and combines them at the end (`reduce_loop`), which reorders a sum (docs/CPU.md gives the
//! bound).

use std::collections::{BTreeMap, HashMap, HashSet};

use cranelift_codegen::ir::condcodes::FloatCC;
use cranelift_codegen::ir::{Endianness, InstBuilder, MemFlagsData, Type, Value, types};
use cranelift_frontend::Variable;
use irc_ir::{DType, UnaryOp};

use super::expr::{Tx, float_cc, iconst, mem_flags};
use super::helpers::{Helper, binary_helper, unary_helper};
use super::math;
use crate::kir::{BinOp, Expr, Kernel, Stmt, VarId, constant_difference, stride, stride_expr};

pub(super) const LANES: u8 = 4;

/// Whether `for var { body }` gets an f32x4 main part (see the module docs); `reassociate` says whether
/// reductions vectorize (`reduction`).
pub(super) fn eligible(k: &Kernel, var: VarId, body: &[Stmt], reassociate: bool) -> bool {
    let mut scan = Scan::new(k, var, reassociate);
    scan.stmts(body) && scan.accepts()
}

/// Whether the epilogue of a wide matmul tile (`wide.rs`: the statements after its `k` loop, reading the
/// accumulators `accs` as f32x4 values) is vector code as in `eligible`, stores to f16 and bf16 buffers
/// included (lane by lane, each rounded as scalar code rounds it).
pub(super) fn epilogue_eligible(k: &Kernel, var: VarId, accs: &[VarId], epilogue: &[Stmt]) -> bool {
    let mut scan = Scan::new(k, var, false);
    scan.half_stores = true;
    scan.locals.extend(accs);
    scan.stmts(epilogue) && scan.accepts()
}

/// Whether the distinct store indices differ pairwise by constants of at least a vector step
/// (`LANES` times the most groups): then no lane of one store writes an element another store writes,
/// and a load at one of these indices reads what its own lane stored (the rows of a tiled matmul's
/// staged epilogue).
fn apart(indices: &[&Expr]) -> bool {
    const STEP: i64 = LANES as i64 * 4;
    let mut distinct: Vec<&Expr> = Vec::new();
    for &e in indices {
        if !distinct.contains(&e) {
            distinct.push(e);
        }
    }
    distinct.iter().enumerate().all(|(i, a)| {
        distinct[i + 1..].iter().all(|b| constant_difference(a, b).is_some_and(|d| d.unsigned_abs() >= STEP as u64))
    })
}

/// A reduction loop `for var { lets and stores; acc = acc op term }` (see `reduction`).
pub(super) struct Reduction<'k> {
    lets: &'k [Stmt],
    acc: VarId,
    op: BinOp,
    term: &'k Expr,
}

/// The body of a loop over `var` as a reduction that may be vectorized by reassociating it: `Let`s of f32
/// values and `Store`s of them (contiguous in `var`, to buffers the body does not load: softmax keeps its
/// exponentials in the output row) followed by one `acc = acc + term` or `acc = max(acc, term)` (either operand order) into an
/// f32 variable of the enclosing scope that nothing else in the body reads, where the lets and `term`
/// are vector code (as in `eligible`) whose loads are contiguous in `var` or the same in every lane
/// (gathers would cost more than the scalar loop).
pub(super) fn reduction<'k>(k: &'k Kernel, var: VarId, body: &'k [Stmt]) -> Option<Reduction<'k>> {
    let (Stmt::Assign { var: acc, value: Expr::Binary { op, lhs, rhs } }, lets) = body.split_last()? else {
        return None;
    };
    if !matches!(op, BinOp::Add | BinOp::Max) || k.vars[acc.0 as usize].dtype != DType::F32 {
        return None;
    }
    let term = match (&**lhs, &**rhs) {
        (Expr::Var(a), t) if a == acc => t,
        (t, Expr::Var(a)) if a == acc => t,
        _ => return None,
    };
    let mut scan = Scan::new(k, var, false);
    let ok = lets.iter().all(|s| matches!(s, Stmt::Let { .. } | Stmt::Store { .. }))
        && scan.stmts(lets)
        && scan.stores.values().flatten().all(|index| scan.stride(index) == Some(1))
        && native(k, term)
        && scan.value(term)
        && !scan.locals.contains(acc)
        && !scan.used.contains(acc)
        && scan
            .loads
            .iter()
            .all(|(buf, index)| !scan.stores.contains_key(buf) && matches!(scan.stride(index), Some(0 | 1)));
    ok.then_some(Reduction { lets, acc: *acc, op: *op, term })
}

/// The eligibility walk: f32 variables defined in the body, variables read, loads and store indices.
struct Scan<'k> {
    k: &'k Kernel,
    var: VarId,
    reassociate: bool,
    locals: HashSet<VarId>,
    used: HashSet<VarId>,
    loads: Vec<(usize, &'k Expr)>,
    /// Store indices by buffer. A buffer stored at several indices (the rows of a register-tiled matmul)
    /// must not be loaded: grid points never write the same element, so only reads could see the order.
    stores: HashMap<usize, Vec<&'k Expr>>,
    /// Whether stores to f16 and bf16 buffers qualify (lane by lane, `epilogue_eligible`).
    half_stores: bool,
}

impl<'k> Scan<'k> {
    fn new(k: &'k Kernel, var: VarId, reassociate: bool) -> Scan<'k> {
        let (locals, used, loads, stores) = (HashSet::new(), HashSet::new(), Vec::new(), HashMap::new());
        Scan { k, var, reassociate, locals, used, loads, stores, half_stores: false }
    }

    /// After `stmts`: whether what it recorded keeps every lane to its own iteration. The body stores
    /// something; a buffer it loads is stored at the loaded index only (or at indices `apart`); and
    /// strided stores (lane by lane) come with loads that do not gather: a row kernel with a strided
    /// output keeps its rows scalar and vectorizes its own contiguous loops instead.
    fn accepts(&self) -> bool {
        let ok = !self.stores.is_empty()
            && self.loads.iter().all(|(buf, index)| {
                self.stores.get(buf).is_none_or(|s| s.iter().all(|s| s == index) || (s.contains(index) && apart(s)))
            });
        let strided = self.stores.values().flatten().any(|index| self.stride(index) != Some(1));
        ok && (!strided || self.loads.iter().all(|(_, index)| matches!(self.stride(index), Some(0 | 1))))
    }

    /// Whether the nested loop `for inner { body }` vectorizes on its own.
    fn vectorizes(&self, inner: VarId, body: &[Stmt]) -> bool {
        (self.reassociate && reduction(self.k, inner, body).is_some())
            || eligible(self.k, inner, body, self.reassociate)
    }

    fn stride(&self, e: &Expr) -> Option<i64> {
        stride(self.var, &|u| self.locals.contains(&u), e)
    }

    fn stmts(&mut self, body: &'k [Stmt]) -> bool {
        body.iter().all(|s| match s {
            Stmt::Let { var, value } => {
                let ok =
                    self.k.vars[var.0 as usize].dtype == DType::F32 && !self.used.contains(var) && self.value(value);
                self.locals.insert(*var);
                ok
            }
            Stmt::Assign { var, value } => self.locals.contains(var) && self.value(value),
            // A store with a stride other than 1 (a matmul tile written transposed, by a constant or a
            // size: `[B, H, D, T]` with `T` bound at run time) goes lane by lane.
            Stmt::Store { buf, index, value } => {
                self.stores.entry(*buf).or_default().push(index);
                let moves = match self.stride(index) {
                    Some(s) => s != 0,
                    None => stride_expr(self.var, &|u| self.locals.contains(&u), index)
                        .is_some_and(|s| !matches!(s, Expr::Const { value, .. } if value == 0.0)),
                };
                let dtype = self.k.buffers[*buf].dtype;
                let value = match half_store(dtype, value) {
                    Some(inner) if self.half_stores => inner,
                    _ if dtype == DType::F32 => value,
                    _ => return false,
                };
                moves && self.value(value)
            }
            // Inside a nested loop a strided store would run at every step (a row kernel vectorized
            // across rows gathers its loads too): only contiguous ones, unless the loop runs at most
            // once (a partial matmul tile's row guard). A load that gathers across
            // `var` but walks the nested loop's variable contiguously (a row reduction) leaves the
            // nested loop to vectorize on its own, where it does: four contiguous elements per load
            // instead of four scalar loads per step.
            Stmt::Loop { var: inner, extent, body } => {
                let before = self.loads.len();
                let ok = self.stride(extent) == Some(0)
                    && self.stmts(body)
                    && (at_most_once(extent) || self.contiguous_stores(body));
                let locals = &self.locals;
                let walks_a_row = self.loads[before..].iter().any(|(_, index)| {
                    !matches!(self.stride(index), Some(0 | 1))
                        && stride(*inner, &|u| locals.contains(&u), index) == Some(1)
                });
                ok && !(walks_a_row && self.vectorizes(*inner, body))
            }
            Stmt::If { .. } | Stmt::SharedStore { .. } | Stmt::Barrier => false,
        })
    }

    fn contiguous_stores(&self, body: &[Stmt]) -> bool {
        body.iter().all(|s| match s {
            Stmt::Store { index, .. } => self.stride(index) == Some(1),
            Stmt::Loop { body, .. } => self.contiguous_stores(body),
            _ => true,
        })
    }

    /// Whether `e` can be computed four lanes at a time.
    fn value(&mut self, e: &'k Expr) -> bool {
        if !native(self.k, e) {
            return self.k.dtype_of(e) == DType::F32 && self.lanewise(e);
        }
        match e {
            Expr::Var(u) => {
                self.used.insert(*u);
                true
            }
            Expr::Load { buf, index } => {
                self.loads.push((*buf, index));
                !mentions(index, &self.locals)
            }
            Expr::SharedLoad { .. } => false,
            Expr::Unary { arg, .. } | Expr::Cast { arg, .. } => self.value(arg),
            Expr::Binary { lhs, rhs, .. } => self.value(lhs) && self.value(rhs),
            Expr::Select { cond, a, b } => {
                let cond_ok = match &**cond {
                    Expr::Binary { op, lhs, rhs } if op.is_comparison() && self.k.dtype_of(lhs) == DType::F32 => {
                        self.value(lhs) && self.value(rhs)
                    }
                    other => self.lanewise(other),
                };
                cond_ok && self.value(a) && self.value(b)
            }
            Expr::Const { .. } | Expr::Size(_) => true,
        }
    }

    /// Whether `e` can be computed by scalar code once per lane: it reads no f32 body variable. Records
    /// its loads and variables like `value`.
    fn lanewise(&mut self, e: &'k Expr) -> bool {
        match e {
            Expr::Var(u) => {
                self.used.insert(*u);
            }
            Expr::Load { buf, index } => {
                self.loads.push((*buf, index));
                self.lanewise(index);
            }
            Expr::SharedLoad { index, .. } => {
                self.lanewise(index);
            }
            Expr::Unary { arg: x, .. } | Expr::Cast { arg: x, .. } => {
                self.lanewise(x);
            }
            Expr::Binary { lhs, rhs, .. } => {
                self.lanewise(lhs);
                self.lanewise(rhs);
            }
            Expr::Select { cond, a, b } => {
                self.lanewise(cond);
                self.lanewise(a);
                self.lanewise(b);
            }
            Expr::Const { .. } | Expr::Size(_) => {}
        }
        !mentions(e, &self.locals)
    }
}

/// The f32 value under a store of `value` to a buffer of `dtype` f16 or bf16 when `value` is its
/// rounding to that dtype (`f16(x)`): storing `x` rounds it the same way, once.
fn half_store(dtype: DType, value: &Expr) -> Option<&Expr> {
    match value {
        Expr::Cast { dtype: d, arg } if *d == dtype && matches!(dtype, DType::F16 | DType::BF16) => Some(arg),
        _ => None,
    }
}

/// Whether a loop of extent `e` runs at most once (`min(1, n)`: the guard of a partial matmul tile's row),
/// so a strided store in it costs no more than outside it.
fn at_most_once(e: &Expr) -> bool {
    let one = |x: &Expr| matches!(x, Expr::Const { value, .. } if *value <= 1.0);
    matches!(e, Expr::Binary { op: BinOp::Min, lhs, rhs } if one(lhs) || one(rhs)) || one(e)
}

/// Whether the root of `e` is computed with f32x4 instructions (its operands being f32 values too);
/// other f32 values in a vector loop are computed lane by lane with scalar code.
fn native(k: &Kernel, e: &Expr) -> bool {
    match e {
        Expr::Const { dtype, .. } => *dtype == DType::F32,
        Expr::Var(u) => k.vars[u.0 as usize].dtype == DType::F32,
        Expr::Load { buf, .. } => k.buffers[*buf].dtype == DType::F32,
        Expr::Unary { arg, .. } => k.dtype_of(arg) == DType::F32,
        Expr::Binary { op, lhs, .. } => !op.is_comparison() && k.dtype_of(lhs) == DType::F32,
        Expr::Select { a, .. } => k.dtype_of(a) == DType::F32,
        Expr::Cast { dtype, arg } => *dtype == DType::F32 && k.dtype_of(arg) == DType::F32,
        Expr::Size(_) | Expr::SharedLoad { .. } => false,
    }
}

/// Whether `e` reads any of `vars`.
fn mentions(e: &Expr, vars: &HashSet<VarId>) -> bool {
    match e {
        Expr::Var(u) => vars.contains(u),
        Expr::Const { .. } | Expr::Size(_) => false,
        Expr::Load { index: x, .. }
        | Expr::SharedLoad { index: x, .. }
        | Expr::Unary { arg: x, .. }
        | Expr::Cast { arg: x, .. } => mentions(x, vars),
        Expr::Binary { lhs, rhs, .. } => mentions(lhs, vars) || mentions(rhs, vars),
        Expr::Select { cond, a, b } => mentions(cond, vars) || mentions(a, vars) || mentions(b, vars),
    }
}

/// The f32x4 variables of one vector loop, by kernel variable, one per group (ordered, so that the
/// code after the loop, and the dumps, are the same from run to run).
pub(super) type Locals = BTreeMap<VarId, Vec<Variable>>;

/// One iteration of a vector loop: groups of four iterations of `var` starting at `base`.
pub(super) struct Lanes {
    pub var: VarId,
    pub base: Value,
    pub groups: usize,
}

impl Tx<'_, '_> {
    /// A vector part of `for var in lo..hi { body }` (`body` is `eligible`): runs `groups` f32x4 groups
    /// of iterations at a time (unrolled and jammed, so nested loops carry independent chains) while
    /// enough remain, and returns the first index it left.
    pub(super) fn simd_loop(&mut self, var: VarId, lo: Value, hi: Value, body: &[Stmt], groups: usize) -> Value {
        let v = self.vars[var.0 as usize];
        let flat = !body.iter().any(|s| matches!(s, Stmt::Loop { .. }));
        let run = |tx: &mut Self| {
            let base = tx.b.use_var(v);
            let mut locals = Locals::new();
            tx.vector_stmts(&Lanes { var, base, groups }, &mut locals, body);
            tx.last_lanes(locals, groups);
            tx.touch_next_row(var);
        };
        let step = LANES as i64 * groups as i64;
        if flat {
            self.bottom_tested_loop(v, lo, hi, step, run)
        } else {
            self.counted_loop(v, lo, hi, step, run)
        }
        self.b.use_var(v)
    }

    /// The vector part of a `reduction` over `lo..hi`: eight partial accumulators (two f32x4, lane `j`
    /// of accumulator `g` takes the terms `i` with `i - lo = 4g + j` mod 8) while eight terms remain,
    /// then the first vector alone while four remain (only that one, four partials, when the body
    /// computes a transcendental); then the partials are combined as
    /// `((p0 op p4) op (p2 op p6)) op ((p1 op p5) op (p3 op p7))` and `acc = acc op that`. Returns the
    /// first index left for the scalar tail. Max is exact in any order; a sum is reassociated. A max
    /// without a transcendental runs four vectors (sixteen partials) while sixteen terms remain first.
    pub(super) fn reduce_loop(&mut self, var: VarId, lo: Value, hi: Value, r: &Reduction) -> Value {
        // Identities: -0.0 + x == x for every x (including -0.0), and max(-inf, x) == x (NaN propagates).
        let identity = if r.op == BinOp::Add { -0.0 } else { f32::NEG_INFINITY };
        let identity = self.b.ins().f32const(identity);
        let identity = self.splat(identity);
        // A max is exact in any order, so it can run four chains (its step is a 5-cycle chain: two
        // `maxps` then an `and`); a sum keeps the documented eight partials.
        let transcendental = transcendental(r.lets) || r.term.any(is_transcendental);
        let count = if r.op == BinOp::Max && !transcendental { 4 } else { 2 };
        let parts: Vec<Variable> = (0..count).map(|_| self.b.declare_var(types::F32X4)).collect();
        for &p in &parts {
            self.b.def_var(p, identity);
        }
        // Max tracks NaN lanes apart (see `max_step`), all bits set where a term was NaN.
        let nans = self.b.declare_var(types::F32X4);
        let zero = self.b.ins().f32const(0.0);
        let zero = self.splat(zero);
        self.b.def_var(nans, zero);
        let v = self.vars[var.0 as usize];
        let mut lo = lo;
        // A transcendental term keeps one group: two share its dozen constants, which then spill.
        let most = if transcendental { 1 } else { count };
        for groups in [4, 2, 1].into_iter().filter(|&g| g <= most) {
            self.bottom_tested_loop(v, lo, hi, LANES as i64 * groups as i64, |tx| {
                let lanes = Lanes { var, base: tx.b.use_var(v), groups };
                let mut locals = Locals::new();
                tx.vector_stmts(&lanes, &mut locals, r.lets);
                for (g, &p) in parts.iter().enumerate().take(groups) {
                    tx.enter_group(&lanes, g);
                    let sum = tx.b.use_var(p);
                    let sum = match r.term {
                        // `acc + x * y` contracts in the scalar tail, so the partial sums fuse too.
                        Expr::Binary { op: BinOp::Mul, lhs, rhs } if r.op == BinOp::Add && tx.contracts_f32() => {
                            let x = tx.vector(var, &locals, g, lhs);
                            let y = tx.vector(var, &locals, g, rhs);
                            tx.b.ins().fma(x, y, sum)
                        }
                        term if r.op == BinOp::Max => {
                            let t = tx.vector(var, &locals, g, term);
                            tx.max_step(sum, t, nans)
                        }
                        term => {
                            let t = tx.vector(var, &locals, g, term);
                            tx.reduce_op(r.op, sum, t)
                        }
                    };
                    tx.b.def_var(p, sum);
                }
                tx.last_lanes(locals, groups);
                tx.touch_next_row(var);
            });
            lo = self.b.use_var(v);
        }
        let parts: Vec<Value> = parts.iter().map(|&p| self.b.use_var(p)).collect();
        let mut pq = self.reduce_op(r.op, parts[0], parts[1]);
        if count == 4 {
            let rs = self.reduce_op(r.op, parts[2], parts[3]);
            pq = self.reduce_op(r.op, pq, rs);
        }
        if r.op == BinOp::Max {
            let nans = self.b.use_var(nans);
            pq = self.b.ins().bor(pq, nans);
        }
        let lane: Vec<Value> = (0..LANES).map(|l| self.b.ins().extractlane(pq, l)).collect();
        let even = self.reduce_op(r.op, lane[0], lane[2]);
        let odd = self.reduce_op(r.op, lane[1], lane[3]);
        let all = self.reduce_op(r.op, even, odd);
        let acc = self.vars[r.acc.0 as usize];
        let old = self.b.use_var(acc);
        let new = self.reduce_op(r.op, old, all);
        self.b.def_var(acc, new);
        lo
    }

    /// After a vector step: a body variable visible after the loop holds the last iteration's value, as
    /// in scalar code.
    pub(super) fn last_lanes(&mut self, locals: Locals, groups: usize) {
        for (u, slots) in locals {
            let x = self.b.use_var(slots[groups - 1]);
            let last = self.b.ins().extractlane(x, LANES - 1);
            self.b.def_var(self.vars[u.0 as usize], last);
        }
    }

    /// `max(acc, t)` in the loop of a max reduction, short of Cranelift's `fmax` (eight instructions
    /// with a nine-cycle chain through `acc`): the two x86 `maxps` orders agree unless the operands are
    /// zeros of both signs (their `and` is then +0) or one is NaN; NaN terms are recorded in `nans`
    /// instead, off the chain, and put back when the lanes are combined.
    fn max_step(&mut self, acc: Value, t: Value, nans: Variable) -> Value {
        // `a < b ? b : a` is one `maxps`.
        let lt = self.b.ins().fcmp(FloatCC::LessThan, acc, t);
        let lt = self.float_mask(lt);
        let m1 = self.b.ins().bitselect(lt, t, acc);
        let gt = self.b.ins().fcmp(FloatCC::LessThan, t, acc);
        let gt = self.float_mask(gt);
        let m2 = self.b.ins().bitselect(gt, acc, t);
        let nan = self.b.ins().fcmp(FloatCC::Unordered, t, t);
        let nan = self.float_mask(nan);
        let seen = self.b.use_var(nans);
        let seen = self.b.ins().bor(seen, nan);
        self.b.def_var(nans, seen);
        self.b.ins().band(m1, m2)
    }

    fn float_mask(&mut self, mask: Value) -> Value {
        let little = MemFlagsData::new().with_endianness(Endianness::Little);
        self.b.ins().bitcast(types::F32X4, little, mask)
    }

    fn reduce_op(&mut self, op: BinOp, x: Value, y: Value) -> Value {
        if op == BinOp::Add { self.b.ins().fadd(x, y) } else { self.b.ins().fmax(x, y) }
    }

    /// Points the loop variable at group `g`'s first iteration.
    fn enter_group(&mut self, lanes: &Lanes, g: usize) {
        let at = if g == 0 { lanes.base } else { self.b.ins().iadd_imm_s(lanes.base, (g * LANES as usize) as i64) };
        self.b.def_var(self.vars[lanes.var.0 as usize], at);
    }

    pub(super) fn vector_stmts(&mut self, lanes: &Lanes, locals: &mut Locals, body: &[Stmt]) {
        let var = lanes.var;
        for s in body {
            match s {
                Stmt::Let { var: u, value } | Stmt::Assign { var: u, value } => {
                    for g in 0..lanes.groups {
                        self.enter_group(lanes, g);
                        let x = self.vector(var, locals, g, value);
                        let slots = locals
                            .entry(*u)
                            .or_insert_with(|| (0..lanes.groups).map(|_| self.b.declare_var(types::F32X4)).collect());
                        let slot = slots[g];
                        self.b.def_var(slot, x);
                    }
                }
                Stmt::Store { buf, index, value } => {
                    let dtype = self.k.buffers[*buf].dtype;
                    let contiguous = stride(var, &|u| locals.contains_key(&u), index) == Some(1) && dtype == DType::F32;
                    // An f16 or bf16 store: the f32 value, which the lane stores round once.
                    let value = half_store(dtype, value).unwrap_or(value);
                    for g in 0..lanes.groups {
                        self.enter_group(lanes, g);
                        let x = self.vector(var, locals, g, value);
                        if contiguous {
                            let (addr, offset) = self.address_of(*buf, index);
                            self.b.ins().store(mem_flags(), x, addr, offset);
                        } else {
                            self.store_lanes(var, *buf, index, x);
                        }
                    }
                }
                Stmt::Loop { var: u, extent, body } => {
                    let zero = iconst(&mut self.b, types::I64, 0);
                    let extent = self.expr(extent);
                    let outer = self.innermost.replace(*u);
                    // Hoisted bases hold the vector loop variable as the group's base (`addr.rs`).
                    self.enter_group(lanes, 0);
                    self.hoist_bases(*u, Some(zero), body, &|v| locals.contains_key(&v));
                    let u = self.vars[u.0 as usize];
                    // Two iterations per step (in order, so every lane computes as before) halve the
                    // loop overhead of a matmul tile's `k` loop; the second one's loads are the first's
                    // addresses plus immediate offsets. Then the odd last iteration.
                    let unroll = if body.iter().any(|s| matches!(s, Stmt::Assign { .. })) { 2 } else { 1 };
                    let mut lo = zero;
                    if unroll == 2 {
                        self.counted_loop(u, zero, extent, 2, |tx| {
                            let i = tx.b.use_var(u);
                            tx.vector_stmts(lanes, locals, body);
                            let next = tx.b.ins().iadd_imm_s(i, 1);
                            tx.b.def_var(u, next);
                            tx.vector_stmts(lanes, locals, body);
                        });
                        lo = self.b.use_var(u);
                    }
                    self.counted_loop(u, lo, extent, 1, |tx| tx.vector_stmts(lanes, locals, body));
                    self.close_bases();
                    self.innermost = outer;
                }
                Stmt::If { .. } | Stmt::SharedStore { .. } | Stmt::Barrier => unreachable!("not eligible"),
            }
        }
    }

    fn splat(&mut self, scalar: Value) -> Value {
        self.b.ins().splat(types::F32X4, scalar)
    }

    /// `e` for four consecutive values of `var` (its current value and the next three).
    fn vector(&mut self, var: VarId, locals: &Locals, g: usize, e: &Expr) -> Value {
        if !native(self.k, e) {
            return self.per_lane_scalar(var, e, types::F32X4);
        }
        match e {
            Expr::Var(u) if locals.contains_key(u) => self.b.use_var(locals[u][g]),
            Expr::Load { buf, index } => match stride(var, &|u| locals.contains_key(&u), index) {
                Some(1) => {
                    let flags = self.load_flags(*buf, index);
                    let (addr, offset) = self.address_of(*buf, index);
                    self.b.ins().load(types::F32X4, flags, addr, offset)
                }
                // An invariant f32 element, broadcast once per group from an address written
                // differently for each group (`addr + 16g` with offset `-16g`, the same location): the
                // egraph cannot merge the groups' loads and broadcasts, so each broadcast has one use
                // and x86 reads it straight from memory (`vbroadcastss`) into a register that the
                // multiply-add then overwrites, with no copy.
                Some(0) if g > 0 && self.k.buffers[*buf].dtype == DType::F32 => {
                    let flags = self.load_flags(*buf, index);
                    let (addr, offset) = self.address_of(*buf, index);
                    let shift = 16 * g as i64;
                    let addr = self.b.ins().iadd_imm_s(addr, shift);
                    let s = self.b.ins().load(types::F32, flags, addr, offset - shift as i32);
                    self.splat(s)
                }
                Some(0) => {
                    let s = self.expr(e);
                    self.splat(s)
                }
                _ => self.per_lane_scalar(var, e, types::F32X4),
            },
            Expr::Unary { op, arg } if let Some(x) = math::negated_exp_arg(*op, arg, self.contracts_f32()) => {
                let x = self.vector(var, locals, g, x);
                math::exp_of_neg(&mut self.b, x)
            }
            Expr::Unary { op, arg } => {
                let x = self.vector(var, locals, g, arg);
                let fma = self.contracts_f32();
                if let Some(r) = math::unary(&mut self.b, *op, x, fma) {
                    return r;
                }
                if let Some(helper) = unary_helper(*op) {
                    return self.per_lane(helper, &[x]);
                }
                match op {
                    UnaryOp::Neg => self.b.ins().fneg(x),
                    UnaryOp::Abs => self.b.ins().fabs(x),
                    UnaryOp::Sqrt => self.b.ins().sqrt(x),
                    _ => {
                        let one = self.b.ins().f32const(1.0);
                        let one = self.splat(one);
                        self.b.ins().fdiv(one, x)
                    }
                }
            }
            Expr::Binary { .. } if let Some((a, b, c)) = self.contracted(e) => {
                let x = self.vector(var, locals, g, a);
                let y = self.vector(var, locals, g, b);
                let z = self.vector(var, locals, g, c);
                self.b.ins().fma(x, y, z)
            }
            Expr::Binary { op: BinOp::Div, lhs, rhs } if let Some(r) = self.recip_of(rhs) => {
                let x = self.vector(var, locals, g, lhs);
                let r = self.b.use_var(r);
                let r = self.splat(r);
                self.b.ins().fmul(x, r)
            }
            Expr::Binary { op, lhs, rhs } => {
                let x = self.vector(var, locals, g, lhs);
                let y = self.vector(var, locals, g, rhs);
                if let Some(helper) = binary_helper(*op) {
                    return self.per_lane(helper, &[x, y]);
                }
                let ins = self.b.ins();
                match op {
                    BinOp::Add => ins.fadd(x, y),
                    BinOp::Sub => ins.fsub(x, y),
                    BinOp::Mul => ins.fmul(x, y),
                    BinOp::Div => ins.fdiv(x, y),
                    BinOp::Max => ins.fmax(x, y),
                    _ => ins.fmin(x, y),
                }
            }
            Expr::Select { cond, a, b } => self.vector_select(var, locals, g, cond, a, b),
            Expr::Cast { arg, .. } => self.vector(var, locals, g, arg),
            // Constants and outer variables: the same in every lane.
            _ => {
                let s = self.expr(e);
                self.splat(s)
            }
        }
    }

    /// `cond ? a : b` lane by lane: an f32 comparison compares vectors, any other condition is evaluated
    /// per lane into a mask.
    fn vector_select(&mut self, var: VarId, locals: &Locals, g: usize, cond: &Expr, a: &Expr, b: &Expr) -> Value {
        let mask = match cond {
            Expr::Binary { op, lhs, rhs } if op.is_comparison() && self.k.dtype_of(lhs) == DType::F32 => {
                let l = self.vector(var, locals, g, lhs);
                let r = self.vector(var, locals, g, rhs);
                self.b.ins().fcmp(float_cc(*op), l, r)
            }
            // An i32 comparison of positions (a causal mask, `i32(j) <= i32(i)`): both sides as i32x4.
            Expr::Binary { op, lhs, rhs }
                if op.is_comparison()
                    && self.k.dtype_of(lhs) == DType::I32
                    && self.int_stride(var, locals, lhs).is_some()
                    && self.int_stride(var, locals, rhs).is_some() =>
            {
                let l = self.int_lanes(var, locals, lhs);
                let r = self.int_lanes(var, locals, rhs);
                self.b.ins().icmp(super::expr::int_cc(*op), l, r)
            }
            other => self.per_lane_scalar(var, other, types::I32X4),
        };
        let little = MemFlagsData::new().with_endianness(Endianness::Little);
        let mask = self.b.ins().bitcast(types::F32X4, little, mask);
        let x = self.vector(var, locals, g, a);
        let y = self.vector(var, locals, g, b);
        self.b.ins().bitselect(mask, x, y)
    }

    /// How an i32 expression steps from lane to lane: `e` or `i32(e)` with `e` moving by a constant per
    /// iteration of `var` (a truncating cast commutes with the wrapping lane steps). `None` otherwise.
    fn int_stride(&self, var: VarId, locals: &Locals, e: &Expr) -> Option<i64> {
        let inner = match e {
            Expr::Cast { dtype: DType::I32, arg } if matches!(self.k.dtype_of(arg), DType::I64 | DType::I32) => arg,
            _ => e,
        };
        stride(var, &|u| locals.contains_key(&u), inner)
    }

    /// i32 expression `e` (see `int_stride`) in the four lanes: lane 0's value, then steps.
    fn int_lanes(&mut self, var: VarId, locals: &Locals, e: &Expr) -> Value {
        let step = self.int_stride(var, locals, e).unwrap_or(0);
        let first = self.expr(e);
        let first = self.b.ins().splat(types::I32X4, first);
        if step == 0 {
            return first;
        }
        let steps: Vec<u8> = (0..LANES as i64).flat_map(|l| ((l * step) as i32).to_le_bytes()).collect();
        let steps = self.b.func.dfg.constants.insert(steps.into());
        let steps = self.b.ins().vconst(types::I32X4, steps);
        self.b.ins().iadd(first, steps)
    }

    /// `e` computed by scalar code for each lane's value of `var` (it reads no f32 body variable): an
    /// f32x4 of f32 values (a gather, for a load), or an i32x4 mask of bool values.
    fn per_lane_scalar(&mut self, var: VarId, e: &Expr, ty: Type) -> Value {
        let v = self.vars[var.0 as usize];
        let i = self.b.use_var(v);
        let first = self.scalar_at_lane(v, i, 0, e, ty);
        let mut out = self.b.ins().splat(ty, first);
        for lane in 1..LANES {
            let x = self.scalar_at_lane(v, i, lane, e, ty);
            out = self.b.ins().insertlane(out, x, lane);
        }
        self.b.def_var(v, i);
        out
    }

    /// Stores each lane of `x` to element `index` of `buf` (f32, or rounded to f16 or bf16) with the loop
    /// variable at that lane's value.
    fn store_lanes(&mut self, var: VarId, buf: usize, index: &Expr, x: Value) {
        let v = self.vars[var.0 as usize];
        let i = self.b.use_var(v);
        for lane in 0..LANES {
            let at = self.b.ins().iadd_imm_s(i, lane as i64);
            self.b.def_var(v, at);
            let s = self.b.ins().extractlane(x, lane);
            // Rounded to the buffer's dtype as scalar code rounds it.
            self.store(buf, index, s);
        }
        self.b.def_var(v, i);
    }

    /// `e` with the loop variable `v` set to `i + lane`, as a lane of a `ty` vector.
    fn scalar_at_lane(&mut self, v: Variable, i: Value, lane: u8, e: &Expr, ty: Type) -> Value {
        let at = self.b.ins().iadd_imm_s(i, lane as i64);
        self.b.def_var(v, at);
        let x = self.expr(e);
        if ty == types::I32X4 { self.b.ins().bmask(types::I32, x) } else { x }
    }

    /// Calls a scalar helper on each lane.
    fn per_lane(&mut self, helper: Helper, args: &[Value]) -> Value {
        let mut out = args[0];
        for lane in 0..LANES {
            let xs: Vec<Value> = args.iter().map(|&a| self.b.ins().extractlane(a, lane)).collect();
            let r = self.call(helper, &xs);
            out = self.b.ins().insertlane(out, r, lane);
        }
        out
    }
}

/// How many f32x4 groups of iterations a vector loop over `body` runs at once (unrolled and jammed).
/// A body with nested loops accumulates in them (dot products): those are latency-bound, so groups
/// provide independent chains, about eight vector accumulators in all (4 groups of one matmul row, 2
/// groups of a 4-row tile), which with their operands fits sixteen vector registers (twelve spill:
/// Cranelift's register allocator then moves accumulators through the stack every step). Other bodies
/// take 2.
pub(super) fn groups(body: &[Stmt]) -> usize {
    fn accumulators(body: &[Stmt], nested: bool) -> usize {
        body.iter()
            .map(|s| match s {
                Stmt::Assign { .. } => nested as usize,
                Stmt::Loop { body, .. } => accumulators(body, true),
                _ => 0,
            })
            .sum()
    }
    match accumulators(body, false) {
        0 => 2,
        n => (8 / n).clamp(1, 4),
    }
}

/// Whether `body` computes an inline `exp`, `log` or `tanh`.
fn transcendental(body: &[Stmt]) -> bool {
    Stmt::any_expr(body, is_transcendental)
}

fn is_transcendental(e: &Expr) -> bool {
    matches!(e, Expr::Unary { op: UnaryOp::Exp | UnaryOp::Log | UnaryOp::Tanh, .. })
}
