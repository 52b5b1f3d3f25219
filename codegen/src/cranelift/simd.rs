//! f32x4 loops. A loop qualifies when its body is straight-line f32 work that is the same for every
//! iteration up to the element it touches:
//! - only `Let`s of f32 variables (not used earlier in the body) and `Store`s to f32 buffers at an
//!   index contiguous in the loop variable (`base + var`, `base` invariant);
//! - every value is f32 arithmetic, an f32 select on an f32 comparison, a constant, a variable, or a
//!   load whose index reads no variable defined in the body: a vector load when the index is
//!   contiguous in the loop variable, a splat when it is invariant, four scalar loads otherwise;
//! - a buffer the body stores to is stored and loaded at one index only, so no iteration reads what
//!   another writes.
//!
//! The loop then runs four iterations at a time while four remain, and the scalar loop does the tail.
//! Transcendentals call the scalar helper once per lane.

use std::collections::{HashMap, HashSet};

use cranelift_codegen::ir::condcodes::IntCC;
use cranelift_codegen::ir::{Endianness, InstBuilder, MemFlagsData, Value, types};
use cranelift_frontend::Variable;
use irc_ir::{DType, UnaryOp};

use super::expr::{Tx, float_cc, mem_flags};
use super::helpers::{binary_helper, unary_helper};
use crate::kir::{BinOp, Expr, Kernel, Stmt, VarId};

const LANES: u8 = 4;

/// Whether `for var { body }` gets an f32x4 main part (see the module docs).
pub(super) fn eligible(k: &Kernel, var: VarId, body: &[Stmt]) -> bool {
    let mut locals = HashSet::new();
    let mut used = HashSet::new();
    let mut loads = Vec::new();
    let mut stores: HashMap<usize, &Expr> = HashMap::new();
    for s in body {
        let ok = match s {
            Stmt::Let { var: v, value } => {
                let ok = k.vars[v.0 as usize].dtype == DType::F32
                    && !used.contains(v)
                    && vector_ok(k, &locals, value, &mut loads, &mut used);
                locals.insert(*v);
                ok
            }
            Stmt::Store { buf, index, value } => {
                k.buffers[*buf].dtype == DType::F32
                    && stride(var, &|u| locals.contains(&u), index) == Some(1)
                    && vector_ok(k, &locals, value, &mut loads, &mut used)
                    && *stores.entry(*buf).or_insert(index) == index
            }
            Stmt::Assign { .. } | Stmt::Loop { .. } => false,
        };
        if !ok {
            return false;
        }
    }
    !stores.is_empty() && loads.iter().all(|(buf, index)| stores.get(buf).is_none_or(|s| s == index))
}

/// Whether `e` can be computed four lanes at a time; records loads and variables used.
fn vector_ok<'e>(
    k: &Kernel,
    locals: &HashSet<VarId>,
    e: &'e Expr,
    loads: &mut Vec<(usize, &'e Expr)>,
    used: &mut HashSet<VarId>,
) -> bool {
    let ok = |e: &'e Expr, loads: &mut Vec<_>, used: &mut HashSet<_>| vector_ok(k, locals, e, loads, used);
    match e {
        Expr::Const { dtype, .. } => *dtype == DType::F32,
        Expr::Var(u) => {
            used.insert(*u);
            k.vars[u.0 as usize].dtype == DType::F32
        }
        Expr::Load { buf, index } => {
            loads.push((*buf, index));
            k.buffers[*buf].dtype == DType::F32 && !mentions(index, locals)
        }
        Expr::Unary { arg, .. } => k.dtype_of(arg) == DType::F32 && ok(arg, loads, used),
        Expr::Binary { op, lhs, rhs } => {
            !op.is_comparison() && k.dtype_of(lhs) == DType::F32 && ok(lhs, loads, used) && ok(rhs, loads, used)
        }
        Expr::Select { cond, a, b } => match &**cond {
            Expr::Binary { op, lhs, rhs } if op.is_comparison() && k.dtype_of(lhs) == DType::F32 => {
                ok(lhs, loads, used) && ok(rhs, loads, used) && ok(a, loads, used) && ok(b, loads, used)
            }
            _ => false,
        },
        Expr::Cast { dtype, arg } => *dtype == DType::F32 && k.dtype_of(arg) == DType::F32 && ok(arg, loads, used),
        Expr::Size(_) => false,
    }
}

/// The coefficient of `var` in the i64 expression `e` when `e` is `var * c + (invariant)`; `None` when
/// it is not of that form. Variables local to the loop body are not invariant.
fn stride(var: VarId, is_local: &dyn Fn(VarId) -> bool, e: &Expr) -> Option<i64> {
    let s = |e: &Expr| stride(var, is_local, e);
    let invariant = |parts: &[&Expr]| parts.iter().all(|p| s(p) == Some(0)).then_some(0);
    match e {
        Expr::Var(u) if *u == var => Some(1),
        Expr::Var(u) if is_local(*u) => None,
        Expr::Var(_) | Expr::Const { .. } | Expr::Size(_) => Some(0),
        Expr::Load { index, .. } => invariant(&[index]),
        Expr::Binary { op: BinOp::Add, lhs, rhs } => s(lhs)?.checked_add(s(rhs)?),
        Expr::Binary { op: BinOp::Sub, lhs, rhs } => s(lhs)?.checked_sub(s(rhs)?),
        Expr::Binary { op: BinOp::Mul, lhs, rhs } => match (s(lhs)?, s(rhs)?, constant(lhs), constant(rhs)) {
            (0, 0, _, _) => Some(0),
            (a, 0, _, Some(c)) => a.checked_mul(c),
            (0, b, Some(c), _) => b.checked_mul(c),
            _ => None,
        },
        Expr::Binary { lhs, rhs, .. } => invariant(&[lhs, rhs]),
        Expr::Unary { op: UnaryOp::Neg, arg } => s(arg)?.checked_neg(),
        Expr::Unary { arg, .. } | Expr::Cast { arg, .. } => invariant(&[arg]),
        Expr::Select { cond, a, b } => invariant(&[cond, a, b]),
    }
}

/// Whether `e` reads any of `vars`.
fn mentions(e: &Expr, vars: &HashSet<VarId>) -> bool {
    match e {
        Expr::Var(u) => vars.contains(u),
        Expr::Const { .. } | Expr::Size(_) => false,
        Expr::Load { index: x, .. } | Expr::Unary { arg: x, .. } | Expr::Cast { arg: x, .. } => mentions(x, vars),
        Expr::Binary { lhs, rhs, .. } => mentions(lhs, vars) || mentions(rhs, vars),
        Expr::Select { cond, a, b } => mentions(cond, vars) || mentions(a, vars) || mentions(b, vars),
    }
}

fn constant(e: &Expr) -> Option<i64> {
    match e {
        Expr::Const { value, dtype: DType::I64 } => Some(*value as i64),
        _ => None,
    }
}

impl Tx<'_, '_> {
    /// The f32x4 main part of `for var in lo..hi { body }` (`body` is `eligible`): runs while four
    /// iterations remain and returns the first index left for the scalar tail.
    pub(super) fn simd_loop(&mut self, var: VarId, lo: Value, hi: Value, body: &[Stmt]) -> Value {
        let v = self.vars[var.0 as usize];
        self.b.def_var(v, lo);
        let (header, block, exit) = (self.b.create_block(), self.b.create_block(), self.b.create_block());
        self.b.ins().jump(header, &[]);

        self.b.switch_to_block(header);
        let i = self.b.use_var(v);
        let next = self.b.ins().iadd_imm_s(i, LANES as i64);
        let fits = self.b.ins().icmp(IntCC::SignedLessThanOrEqual, next, hi);
        self.b.ins().brif(fits, block, &[], exit, &[]);

        self.b.switch_to_block(block);
        let mut locals = HashMap::new();
        for s in body {
            match s {
                Stmt::Let { var: u, value } => {
                    let x = self.vector(var, &locals, value);
                    // The scalar variable holds the last lane, as after the same scalar iterations.
                    let last = self.b.ins().extractlane(x, LANES - 1);
                    self.b.def_var(self.vars[u.0 as usize], last);
                    locals.insert(*u, x);
                }
                Stmt::Store { buf, index, value } => {
                    let x = self.vector(var, &locals, value);
                    let index = self.expr(index);
                    let addr = self.address(*buf, index);
                    self.b.ins().store(mem_flags(), x, addr, 0);
                }
                // Not eligible, so never here.
                Stmt::Assign { .. } | Stmt::Loop { .. } => {}
            }
        }
        self.b.def_var(v, next);
        self.b.ins().jump(header, &[]);

        self.b.switch_to_block(exit);
        self.b.use_var(v)
    }

    fn splat(&mut self, scalar: Value) -> Value {
        self.b.ins().splat(types::F32X4, scalar)
    }

    /// `e` for four consecutive values of `var` (its current value and the next three).
    fn vector(&mut self, var: VarId, locals: &HashMap<VarId, Value>, e: &Expr) -> Value {
        match e {
            Expr::Var(u) if locals.contains_key(u) => locals[u],
            Expr::Load { buf, index } => match stride(var, &|u| locals.contains_key(&u), index) {
                Some(1) => {
                    let index = self.expr(index);
                    let addr = self.address(*buf, index);
                    self.b.ins().load(types::F32X4, mem_flags(), addr, 0)
                }
                Some(0) => {
                    let s = self.expr(e);
                    self.splat(s)
                }
                _ => self.gather(var, *buf, index),
            },
            Expr::Unary { op, arg } => {
                let x = self.vector(var, locals, arg);
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
            Expr::Binary { op, lhs, rhs } => {
                let x = self.vector(var, locals, lhs);
                let y = self.vector(var, locals, rhs);
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
            Expr::Select { cond, a, b } if matches!(&**cond, Expr::Binary { .. }) => {
                self.vector_select(var, locals, cond, a, b)
            }
            Expr::Cast { arg, .. } => self.vector(var, locals, arg),
            // Constants, outer variables and invariant loads: the same in every lane.
            _ => {
                let s = self.expr(e);
                self.splat(s)
            }
        }
    }

    /// `cond ? a : b` lane by lane, `cond` being an f32 comparison.
    fn vector_select(&mut self, var: VarId, locals: &HashMap<VarId, Value>, cond: &Expr, a: &Expr, b: &Expr) -> Value {
        let (op, l, r) = match cond {
            Expr::Binary { op, lhs, rhs } => (*op, self.vector(var, locals, lhs), self.vector(var, locals, rhs)),
            // Callers pass comparisons only.
            other => (BinOp::Ne, self.vector(var, locals, other), self.vector(var, locals, other)),
        };
        let mask = self.b.ins().fcmp(float_cc(op), l, r);
        let little = MemFlagsData::new().with_endianness(Endianness::Little);
        let mask = self.b.ins().bitcast(types::F32X4, little, mask);
        let x = self.vector(var, locals, a);
        let y = self.vector(var, locals, b);
        self.b.ins().bitselect(mask, x, y)
    }

    /// Loads `buf[index]` for each lane's value of `var` (any index that reads no body-local variable).
    fn gather(&mut self, var: VarId, buf: usize, index: &Expr) -> Value {
        let v = self.vars[var.0 as usize];
        let i = self.b.use_var(v);
        let first = self.load_at_lane(v, i, 0, buf, index);
        let mut out = self.splat(first);
        for lane in 1..LANES {
            let x = self.load_at_lane(v, i, lane, buf, index);
            out = self.b.ins().insertlane(out, x, lane);
        }
        self.b.def_var(v, i);
        out
    }

    /// `buf[index]` with the loop variable `v` set to `i + lane`.
    fn load_at_lane(&mut self, v: Variable, i: Value, lane: u8, buf: usize, index: &Expr) -> Value {
        let at = self.b.ins().iadd_imm_s(i, lane as i64);
        self.b.def_var(v, at);
        let index = self.expr(index);
        self.load(buf, index)
    }

    /// Calls a scalar helper on each lane.
    fn per_lane(&mut self, helper: super::helpers::Helper, args: &[Value]) -> Value {
        let mut out = args[0];
        for lane in 0..LANES {
            let xs: Vec<Value> = args.iter().map(|&a| self.b.ins().extractlane(a, lane)).collect();
            let r = self.call(helper, &xs);
            out = self.b.ins().insertlane(out, r, lane);
        }
        out
    }
}
