//! Scalar expressions: one kernel-IR expression tree to Cranelift values. Runs after `check`, so every
//! index is in range and every op is valid for its dtype; nothing here can fail.

use cranelift_codegen::ir::condcodes::{FloatCC, IntCC};
use cranelift_codegen::ir::{AbiParam, InstBuilder, MemFlagsData, Type, Value, types};
use cranelift_frontend::{FunctionBuilder, Variable};
use cranelift_jit::JITModule;
use cranelift_module::Module;
use irc_ir::{DType, UnaryOp};

use super::CompileOptions;
use super::half;
use super::helpers::{Helper, binary_helper, unary_helper};
use super::math;
use crate::kir::{Access, BinOp, Expr, Kernel, VarId};

/// The type a value of `dtype` has in registers: f16 and bf16 compute in f32, bool is an i8 0/1.
pub(super) fn reg_type(dtype: DType) -> Type {
    match dtype {
        DType::F32 | DType::F16 | DType::BF16 => types::F32,
        DType::F64 => types::F64,
        DType::I32 => types::I32,
        DType::I64 => types::I64,
        DType::Bool => types::I8,
    }
}

/// The type a value of `dtype` has in memory.
fn mem_type(dtype: DType) -> Type {
    match dtype {
        DType::F16 | DType::BF16 => types::I16,
        other => reg_type(other),
    }
}

/// Flags for buffer accesses: the caller guarantees they are in bounds, so they cannot trap. Not
/// `aligned`: vector accesses start at any element.
pub(super) fn mem_flags() -> MemFlagsData {
    MemFlagsData::new().with_notrap()
}

/// An integer constant of type `ty` (Cranelift wants narrow immediates zero-extended).
pub(super) fn iconst(b: &mut FunctionBuilder, ty: Type, v: i64) -> Value {
    let bits = ty.bits();
    let v = if bits < 64 { v & ((1i64 << bits) - 1) } else { v };
    b.ins().iconst(ty, v)
}

/// Comparison condition codes: (float, signed int, bool).
fn condition(op: BinOp) -> (FloatCC, IntCC, IntCC) {
    match op {
        BinOp::Lt => (FloatCC::LessThan, IntCC::SignedLessThan, IntCC::UnsignedLessThan),
        BinOp::Le => (FloatCC::LessThanOrEqual, IntCC::SignedLessThanOrEqual, IntCC::UnsignedLessThanOrEqual),
        BinOp::Eq => (FloatCC::Equal, IntCC::Equal, IntCC::Equal),
        _ => (FloatCC::NotEqual, IntCC::NotEqual, IntCC::NotEqual),
    }
}

pub(super) fn float_cc(op: BinOp) -> FloatCC {
    condition(op).0
}

/// The signed integer condition of comparison `op`.
pub(super) fn int_cc(op: BinOp) -> IntCC {
    condition(op).1
}

/// The per-function translation state shared by statements, scalar expressions and SIMD loops.
pub(super) struct Tx<'a, 'f> {
    pub k: &'a Kernel,
    pub b: FunctionBuilder<'f>,
    pub module: &'a mut JITModule,
    pub options: CompileOptions,
    /// Kernel variable `i` is `vars[i]`.
    pub vars: Vec<Variable>,
    /// Base address of buffer argument `i`, loaded once in the entry block.
    pub bufs: Vec<Value>,
    /// Symbolic size `i`, loaded once in the entry block.
    pub sizes: Vec<Value>,
    pub imports: &'a super::func::Imports,
    pub simd_loops: usize,
    /// Whether some loop calls the host's tile function (`wide.rs`).
    pub calls_tile: bool,
    /// Loads of the next grid row that vector loops touch, by loop variable (`touch.rs`).
    pub touches: std::collections::HashMap<VarId, Vec<super::touch::Touch>>,
    /// The variable of the innermost loop being emitted (see `load_flags`).
    pub innermost: Option<VarId>,
    /// Address bases hoisted out of the enclosing loops, innermost last (`addr.rs`).
    pub bases: Vec<Vec<super::addr::Base>>,
    /// Float kernel variables each enclosing loop reads but does not assign, innermost last: carried
    /// through the loop so that what computed them stays before it (`addr.rs`).
    pub carried: Vec<Vec<Variable>>,
    /// With `contract`, the reciprocals of f32 variables that enclosing loops divide by, innermost
    /// last: computed before the loop, so each division in it is a multiplication (`addr.rs`).
    pub recips: Vec<Vec<(VarId, Variable)>>,
}

impl Tx<'_, '_> {
    /// Loads `count` consecutive i64 or pointer values from `base`.
    pub fn load_table(&mut self, base: Value, ty: Type, count: usize) -> Vec<Value> {
        let step = ty.bytes() as i32;
        (0..count).map(|i| self.b.ins().load(ty, MemFlagsData::trusted(), base, step * i as i32)).collect()
    }

    pub fn expr(&mut self, e: &Expr) -> Value {
        match e {
            Expr::Const { value, dtype } => self.constant(*value, *dtype),
            Expr::Var(v) => self.b.use_var(self.vars[v.0 as usize]),
            Expr::Size(i) => self.sizes[*i],
            Expr::Load { buf, index } => {
                let flags = self.load_flags(*buf, index);
                self.load(*buf, index, flags)
            }
            Expr::SharedLoad { .. } => unreachable!("rejected by check_kernel"),
            Expr::Unary { op, arg }
                if let Some(x) = math::negated_exp_arg(*op, arg, self.contracts_f32())
                    && self.k.dtype_of(x) == DType::F32 =>
            {
                let x = self.expr(x);
                math::exp_of_neg(&mut self.b, x)
            }
            Expr::Unary { op, arg } => {
                let dtype = self.k.dtype_of(arg);
                let x = self.expr(arg);
                let r = self.unary(*op, dtype, x);
                self.round_half(dtype, r)
            }
            Expr::Binary { .. } if let Some((a, b, c)) = self.contracted(e) => {
                let (x, y, z) = (self.expr(a), self.expr(b), self.expr(c));
                self.b.ins().fma(x, y, z)
            }
            Expr::Binary { op: BinOp::Div, lhs, rhs } if let Some(r) = self.recip_of(rhs) => {
                let x = self.expr(lhs);
                let r = self.b.use_var(r);
                self.b.ins().fmul(x, r)
            }
            Expr::Binary { op, lhs, rhs } => {
                let dtype = self.k.dtype_of(lhs);
                let x = self.expr(lhs);
                let y = self.expr(rhs);
                let known_divisor = matches!(**rhs, Expr::Const { value, .. } if value != 0.0 && value != -1.0);
                let r = self.binary(*op, dtype, x, y, known_divisor);
                if op.is_comparison() { r } else { self.round_half(dtype, r) }
            }
            Expr::Select { cond, a, b } => {
                let c = self.expr(cond);
                let x = self.expr(a);
                let y = self.expr(b);
                self.b.ins().select(c, x, y)
            }
            Expr::Cast { dtype, arg } => {
                let from = self.k.dtype_of(arg);
                let x = self.expr(arg);
                self.cast(from, *dtype, x)
            }
        }
    }

    /// The carried reciprocal of divisor `e`, if it is a variable an enclosing loop divides by.
    pub fn recip_of(&self, e: &Expr) -> Option<Variable> {
        let Expr::Var(u) = e else { return None };
        self.recips.iter().rev().flatten().find(|(v, _)| v == u).map(|&(_, r)| r)
    }

    /// `e` as the operands `(a, b, c)` of a fused `a * b + c`, when `CompileOptions::contract` is on (and
    /// the host has FMA) and `e` is an f32 sum with a product operand. Scalar and vector code contract
    /// the same expressions, so lanes still compute what their scalar iterations would.
    pub fn contracted<'e>(&self, e: &'e Expr) -> Option<(&'e Expr, &'e Expr, &'e Expr)> {
        let Expr::Binary { op: BinOp::Add, lhs, rhs } = e else { return None };
        if !self.contracts_f32() || self.k.dtype_of(lhs) != DType::F32 {
            return None;
        }
        match (&**lhs, &**rhs) {
            (Expr::Binary { op: BinOp::Mul, lhs: a, rhs: b }, c)
            | (c, Expr::Binary { op: BinOp::Mul, lhs: a, rhs: b }) => Some((a, b, c)),
            _ => None,
        }
    }

    /// Whether f32 multiply-adds are fused (`contracted`).
    pub fn contracts_f32(&self) -> bool {
        self.options.contract
    }

    pub fn constant(&mut self, value: f64, dtype: DType) -> Value {
        match dtype {
            DType::F32 => self.b.ins().f32const(value as f32),
            DType::F16 => self.b.ins().f32const(::half::f16::from_f64(value).to_f32()),
            DType::BF16 => self.b.ins().f32const(::half::bf16::from_f64(value).to_f32()),
            DType::F64 => self.b.ins().f64const(value),
            DType::I32 => iconst(&mut self.b, types::I32, value as i64 as i32 as i64),
            DType::I64 => iconst(&mut self.b, types::I64, value as i64),
            DType::Bool => iconst(&mut self.b, types::I8, (value != 0.0) as i64),
        }
    }

    /// Flags for a load of `buf` at `index`. A load of a buffer the kernel only reads, at an index that
    /// reads the innermost loop's variable, is marked movable: Cranelift may then merge it into its use
    /// (`vbroadcastss` from memory) or share it, but cannot hoist it out of that loop, where the index
    /// might be out of range (an empty loop, a guarded partial tile row).
    pub fn load_flags(&self, buf: usize, index: &Expr) -> MemFlagsData {
        let movable = self.k.buffers[buf].access == Access::Read && self.innermost.is_some_and(|v| index.mentions(v));
        if movable { mem_flags().with_readonly().with_can_move() } else { mem_flags() }
    }

    pub fn load(&mut self, buf: usize, index: &Expr, flags: MemFlagsData) -> Value {
        let dtype = self.k.buffers[buf].dtype;
        let (addr, offset) = self.address_of(buf, index);
        let raw = self.b.ins().load(mem_type(dtype), flags, addr, offset);
        match dtype {
            DType::F16 => half::f16_to_f32(&mut self.b, raw),
            DType::BF16 => half::bf16_to_f32(&mut self.b, raw),
            _ => raw,
        }
    }

    /// Stores `value` (already computed) at `index` of `buf`.
    pub fn store(&mut self, buf: usize, index: &Expr, value: Value) {
        let dtype = self.k.buffers[buf].dtype;
        let value = match dtype {
            DType::F16 => half::f32_to_f16(&mut self.b, value),
            DType::BF16 => half::f32_to_bf16(&mut self.b, value),
            _ => value,
        };
        let (addr, offset) = self.address_of(buf, index);
        self.b.ins().store(mem_flags(), value, addr, offset);
    }

    /// Calls the f32 (or, for f64 operands, the f64) version of `helper`.
    pub fn call(&mut self, helper: Helper, args: &[Value]) -> Value {
        let is_f64 = self.b.func.dfg.value_type(args[0]) == types::F64;
        let id = self.imports.helpers[&(helper, is_f64)];
        let func_ref = self.module.declare_func_in_func(id, self.b.func);
        let inst = self.b.ins().call(func_ref, args);
        self.b.inst_results(inst)[0]
    }

    fn unary(&mut self, op: UnaryOp, dtype: DType, x: Value) -> Value {
        if dtype.is_int() {
            return match op {
                UnaryOp::Neg => self.b.ins().ineg(x),
                _ => self.b.ins().iabs(x),
            };
        }
        // f32 exp, log and tanh are inline; f16/bf16 keep the exact helpers, since they round again.
        let fma = self.contracts_f32();
        if dtype == DType::F32
            && let Some(r) = math::unary(&mut self.b, op, x, fma)
        {
            return r;
        }
        if let Some(helper) = unary_helper(op) {
            return self.call(helper, &[x]);
        }
        match op {
            UnaryOp::Neg => self.b.ins().fneg(x),
            UnaryOp::Abs => self.b.ins().fabs(x),
            UnaryOp::Sqrt => self.b.ins().sqrt(x),
            _ => {
                let one = self.constant(1.0, dtype);
                self.b.ins().fdiv(one, x)
            }
        }
    }

    fn binary(&mut self, op: BinOp, dtype: DType, x: Value, y: Value, known_divisor: bool) -> Value {
        if op.is_comparison() {
            let (fcc, icc, ucc) = condition(op);
            return match dtype {
                d if d.is_float() => self.b.ins().fcmp(fcc, x, y),
                DType::Bool => self.b.ins().icmp(ucc, x, y),
                _ => self.b.ins().icmp(icc, x, y),
            };
        }
        let ins = self.b.ins();
        match dtype {
            DType::Bool => match op {
                BinOp::Max => ins.umax(x, y),
                _ => ins.umin(x, y),
            },
            DType::I32 | DType::I64 => match op {
                BinOp::Add => ins.iadd(x, y),
                BinOp::Sub => ins.isub(x, y),
                BinOp::Mul => ins.imul(x, y),
                BinOp::Max => ins.smax(x, y),
                BinOp::Min => ins.smin(x, y),
                BinOp::Div | BinOp::Rem if known_divisor => {
                    if op == BinOp::Div {
                        ins.sdiv(x, y)
                    } else {
                        ins.srem(x, y)
                    }
                }
                _ => self.guarded_division(op, x, y),
            },
            _ => match op {
                BinOp::Add => ins.fadd(x, y),
                BinOp::Sub => ins.fsub(x, y),
                BinOp::Mul => ins.fmul(x, y),
                BinOp::Div => ins.fdiv(x, y),
                BinOp::Max => ins.fmax(x, y),
                BinOp::Min => ins.fmin(x, y),
                _ => {
                    let helper = binary_helper(op).unwrap_or(Helper::Pow);
                    self.call(helper, &[x, y])
                }
            },
        }
    }

    /// Integer division that cannot trap: `x / 0` and `x % 0` give 0, `MIN / -1` wraps to `MIN`.
    fn guarded_division(&mut self, op: BinOp, x: Value, y: Value) -> Value {
        let ty = self.b.func.dfg.value_type(y);
        let is_zero = self.b.ins().icmp_imm_s(IntCC::Equal, y, 0);
        let is_neg1 = self.b.ins().icmp_imm_s(IntCC::Equal, y, -1);
        let bad = self.b.ins().bor(is_zero, is_neg1);
        let one = iconst(&mut self.b, ty, 1);
        let safe = self.b.ins().select(bad, one, y);
        if op == BinOp::Rem {
            // x % 1 == 0, which is also the answer for -1 and our answer for 0.
            return self.b.ins().srem(x, safe);
        }
        let q = self.b.ins().sdiv(x, safe);
        let neg = self.b.ins().ineg(x);
        let q = self.b.ins().select(is_neg1, neg, q);
        let zero = iconst(&mut self.b, ty, 0);
        self.b.ins().select(is_zero, zero, q)
    }

    /// An f16/bf16 op result (computed in f32) rounded to its dtype, as if computed in that dtype: for
    /// the basic ops, rounding the f32 result again is exact (f32 has more than twice the bits).
    fn round_half(&mut self, dtype: DType, v: Value) -> Value {
        match dtype {
            DType::F16 | DType::BF16 => half::round_through(&mut self.b, v, dtype == DType::BF16),
            _ => v,
        }
    }

    pub fn cast(&mut self, from: DType, to: DType, x: Value) -> Value {
        if from == to {
            return x;
        }
        let (src, dst) = (reg_type(from), reg_type(to));
        if to == DType::Bool {
            return if from.is_float() {
                let zero = self.constant(0.0, from);
                self.b.ins().fcmp(FloatCC::NotEqual, x, zero)
            } else {
                self.b.ins().icmp_imm_s(IntCC::NotEqual, x, 0)
            };
        }
        if matches!(to, DType::F16 | DType::BF16) {
            return self.cast_to_half(from, to, x);
        }
        let ins = self.b.ins();
        match (from, to) {
            (f, t) if f.is_float() && t.is_int() => ins.fcvt_to_sint_sat(dst, x),
            (DType::Bool, t) if t.is_int() => ins.uextend(dst, x),
            (DType::Bool, _) => {
                let w = ins.uextend(types::I32, x);
                self.b.ins().fcvt_from_sint(dst, w)
            }
            (f, _) if f.is_int() && to.is_int() => {
                if dst.bits() > src.bits() {
                    ins.sextend(dst, x)
                } else {
                    ins.ireduce(dst, x)
                }
            }
            (f, _) if f.is_int() => ins.fcvt_from_sint(dst, x),
            // float -> float
            _ if src == dst => x,
            _ if dst.bits() > src.bits() => ins.fpromote(dst, x),
            _ => ins.fdemote(dst, x),
        }
    }

    /// A cast to f16/bf16: to f32 first (exactly, or rounding to odd so that the second rounding is
    /// still correct), then round to the target; the value stays in an f32 register.
    fn cast_to_half(&mut self, from: DType, to: DType, x: Value) -> Value {
        let f = match from {
            DType::Bool => {
                // 0 or 1: exact in every float type.
                let w = self.b.ins().uextend(types::I32, x);
                return self.b.ins().fcvt_from_sint(types::F32, w);
            }
            DType::F64 => half::demote_to_odd(&mut self.b, x),
            DType::I32 | DType::I64 => {
                let d = self.b.ins().fcvt_from_sint(types::F64, x);
                half::demote_to_odd(&mut self.b, d)
            }
            _ => x,
        };
        half::round_through(&mut self.b, f, to == DType::BF16)
    }
}

/// The register type of a helper's operands.
pub(super) fn helper_signature(module: &JITModule, helper: Helper, ty: Type) -> cranelift_codegen::ir::Signature {
    let mut sig = module.make_signature();
    sig.params.extend(std::iter::repeat_n(AbiParam::new(ty), helper.arity()));
    sig.returns.push(AbiParam::new(ty));
    sig
}
