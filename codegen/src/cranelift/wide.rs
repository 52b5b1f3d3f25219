//! A register-tiled matmul's `k` loop through the host's tile function (`microkernel.rs`), in vectors
//! wider than Cranelift's.
//!
//! The vector loop over a tiled matmul's columns (`simd.rs`) computes eight columns of each row per
//! step with f32x4 code. Where the host has a tile function and contraction is on, the columns run
//! `cols` at a time through it instead: the generated code stores the rows' `A` addresses, calls the
//! function with `B`'s address and both `k` strides, then reads the accumulators back from the stack
//! as f32x4 groups and runs the epilogue (bias, activation, the stores) as vector code, as the f32x4
//! loop would. The columns left over go to the f32x4 loop. Each accumulator is the same chain of fused
//! multiply-adds in `k` order either way, so results do not change.

use cranelift_codegen::ir::{AbiParam, InstBuilder, StackSlotData, StackSlotKind, Value, types};
use cranelift_module::{FuncId, Linkage, Module};
use irc_ir::DType;

use super::expr::{Tx, iconst, mem_flags};
use std::mem::{offset_of, size_of};

use super::microkernel::{self, Microkernel, ROWS, TileArgs};
use super::simd::{LANES, Lanes, Locals};
use crate::kir::{BinOp, Expr, Kernel, Stmt, VarId, divisors_of, split_var, stride, stride_expr};

/// A tiled matmul body in the shape the tile function computes (see `tile`).
pub(super) struct Tile<'k> {
    /// The accumulators, one per row, in the order of their `let`s.
    accs: Vec<VarId>,
    init: f32,
    k: VarId,
    extent: &'k Expr,
    /// `k` as `c` outer steps of `extent / c` (`k / c` and `k % c` in the operands; static extent), or
    /// one step of `extent`.
    split: Option<i64>,
    /// Each row's `A` load (buffer and index), in the order of `accs`.
    a: Vec<(usize, &'k Expr)>,
    /// Element strides per (outer, inner) step, as expressions of sizes and outer variables.
    a_step: [Expr; 2],
    b: (usize, &'k Expr),
    b_step: [Expr; 2],
    /// The operands' dtype: the tile function reads them as it (f32, f16 or bf16).
    pub dtype: DType,
    /// What follows the `k` loop, after the `let`s before it that are not accumulators (values the
    /// loop does not change: a residual read before it).
    epilogue: Vec<Stmt>,
}

/// Declares the host's tile functions as imports when `wanted`; the error is Cranelift's message.
pub(super) fn declare(
    module: &mut cranelift_jit::JITModule,
    wanted: bool,
) -> Result<Vec<(Microkernel, FuncId)>, String> {
    if !wanted {
        return Ok(Vec::new());
    }
    let ptr = module.target_config().pointer_type();
    let mut sig = module.make_signature();
    sig.params.extend([AbiParam::new(ptr), AbiParam::new(ptr)]);
    let mut declared = Vec::new();
    for m in microkernel::host() {
        let id = module.declare_function(m.name, Linkage::Import, &sig).map_err(|e| e.to_string())?;
        declared.push((m, id));
    }
    Ok(declared)
}

/// `body` of a loop over `var` as a tile: `let acc_r = c` for each row (one f32 constant; other `let`s
/// may come first, and join the epilogue), a loop
/// `for k { let x = B[..]; acc_r = acc_r + A_r[..] * x ... }` (operands in either order) and an
/// epilogue that reads neither `k` nor `x`; `B` contiguous in `var`, `A` invariant in it, both affine in
/// `k` (or in `k / c` and `k % c`, for one constant `c` dividing the loop's static extent) with strides
/// that sizes and outer variables give, and more than half of `ROWS` rows (a tile of fewer rows repeats
/// its last).
pub(super) fn tile<'k>(k: &'k Kernel, var: VarId, body: &'k [Stmt]) -> Option<Tile<'k>> {
    let at = body.iter().position(|s| matches!(s, Stmt::Loop { .. }))?;
    let (lets, rest) = body.split_at(at);
    let (Stmt::Loop { var: kv, extent, body: inner }, after) = rest.split_first()? else { return None };
    let assigned: Vec<VarId> =
        inner.iter().filter_map(|s| if let Stmt::Assign { var, .. } = s { Some(*var) } else { None }).collect();
    let mut accs = Vec::new();
    let mut init = None;
    let mut epilogue = Vec::new();
    for s in lets {
        let Stmt::Let { var, value } = s else { return None };
        if !assigned.contains(var) {
            // After the loop it reads what it read before (the loop stores nothing), unless it reads an
            // accumulator.
            if value.any(|e| matches!(e, Expr::Var(u) if assigned.contains(u))) {
                return None;
            }
            epilogue.push(s.clone());
            continue;
        }
        let Expr::Const { value, dtype: DType::F32 } = value else { return None };
        if init.is_some_and(|i: f64| i.to_bits() != value.to_bits()) || k.dtype_of(&Expr::Var(*var)) != DType::F32 {
            return None;
        }
        init = Some(*value);
        accs.push(*var);
    }
    epilogue.extend(after.iter().cloned());
    if accs.len() * 2 <= ROWS || accs.len() > ROWS {
        return None;
    }
    let (Stmt::Let { var: x, value: b_value }, updates) = inner.split_first()? else { return None };
    let (b_buf, b_index) = operand(k, b_value)?;
    let mut a: Vec<Option<(usize, &Expr)>> = vec![None; accs.len()];
    for s in updates {
        let Stmt::Assign { var: acc, value } = s else { return None };
        let row = accs.iter().position(|u| u == acc)?;
        let (buf, index) = product_term(k, value, *acc, *x)?;
        if a[row].replace((buf, index)).is_some() {
            return None;
        }
    }
    let a: Vec<(usize, &Expr)> = a.into_iter().collect::<Option<_>>()?;
    let locals = |u: VarId| u == *x || accs.contains(&u);
    let split = split_of(*kv, extent, inner)?;
    let steps = |index: &Expr| k_steps(*kv, var, split, &locals, index);
    let (a_step, b_step) = (steps(a[0].1)?, steps(b_index)?);
    let dtype = k.buffers[b_buf].dtype;
    let ok = k.dtype_of(&Expr::Var(*x)) == DType::F32
        && stride(var, &locals, b_index) == Some(1)
        && stride(var, &locals, extent) == Some(0)
        && !extent.mentions(*kv)
        && a.iter().all(|&(buf, index)| {
            k.buffers[buf].dtype == dtype
                && stride(var, &locals, index) == Some(0)
                && steps(index).as_ref() == Some(&a_step)
        })
        && !Stmt::any_expr(&epilogue, |e| matches!(e, Expr::Var(u) if u == kv || u == x));
    ok.then(|| Tile {
        accs,
        init: init.unwrap_or(0.0) as f32,
        k: *kv,
        extent,
        split,
        a,
        a_step,
        b: (b_buf, b_index),
        dtype,
        b_step,
        epilogue,
    })
}

/// How the operands of a `k` loop read `k`: `Some(Some(c))` when some index divides it or takes its
/// remainder by one constant `c` that divides the loop's static extent, `Some(None)` when none does,
/// `None` otherwise.
fn split_of(kv: VarId, extent: &Expr, body: &[Stmt]) -> Option<Option<i64>> {
    let total = extent.eval_size(&[]);
    match divisors_of(kv, body)[..] {
        [] => Some(None),
        [Some(c)] if c > 0 && total.is_some_and(|t| t % c == 0) => Some(Some(c)),
        _ => None,
    }
}

/// The element strides of `index` per outer and inner step of the `k` loop over `kv` (see `Tile::split`):
/// expressions that read neither `kv`, the column variable `var` nor the body's variables.
fn k_steps(
    kv: VarId,
    var: VarId,
    split: Option<i64>,
    locals: &dyn Fn(VarId) -> bool,
    index: &Expr,
) -> Option<[Expr; 2]> {
    let steps = match split {
        None => [Expr::index(0), stride_expr(kv, locals, index)?],
        Some(c) => {
            // Fresh variables for `k / c` and `k % c`: strides only compare variables.
            let (hi, lo) = (VarId(u32::MAX - 1), VarId(u32::MAX));
            let mut split = index.clone();
            split_var(&mut split, kv, c, hi, lo);
            let mentions = |e: &Expr| e.mentions(kv) || e.mentions(hi) || e.mentions(lo);
            if split.mentions(kv) {
                return None;
            }
            let steps = [stride_expr(hi, locals, &split)?, stride_expr(lo, locals, &split)?];
            if steps.iter().any(mentions) {
                return None;
            }
            steps
        }
    };
    let reads_body = |e: &Expr| e.any(|x| matches!(x, Expr::Var(u) if *u == var || *u == kv || locals(*u)));
    (!steps.iter().any(reads_body)).then_some(steps)
}

/// Whether `t`'s epilogue runs as vector code (`simd::epilogue_eligible`).
pub(super) fn epilogue_vectorizes(k: &Kernel, var: VarId, t: &Tile) -> bool {
    super::simd::epilogue_eligible(k, var, &t.accs, &t.epilogue)
}

/// `acc + A[i] * x` (either operand order of both operations, `A[i]` as `operand` reads it): `A`'s
/// buffer and index.
fn product_term<'k>(k: &Kernel, value: &'k Expr, acc: VarId, x: VarId) -> Option<(usize, &'k Expr)> {
    let Expr::Binary { op: BinOp::Add, lhs, rhs } = value else { return None };
    let product = match (&**lhs, &**rhs) {
        (Expr::Var(u), p) | (p, Expr::Var(u)) if *u == acc => p,
        _ => return None,
    };
    let Expr::Binary { op: BinOp::Mul, lhs, rhs } = product else { return None };
    match (&**lhs, &**rhs) {
        (Expr::Var(u), a) | (a, Expr::Var(u)) if *u == x => operand(k, a),
        _ => None,
    }
}

/// An operand element as the tile functions read it: an f32 load, or an f16 or bf16 load widened to f32
/// (exactly). Its buffer and index.
fn operand<'k>(k: &Kernel, e: &'k Expr) -> Option<(usize, &'k Expr)> {
    match e {
        Expr::Load { buf, index } if k.buffers[*buf].dtype == DType::F32 => Some((*buf, &**index)),
        Expr::Cast { dtype: DType::F32, arg } => match &**arg {
            Expr::Load { buf, index } if matches!(k.buffers[*buf].dtype, DType::F16 | DType::BF16) => {
                Some((*buf, &**index))
            }
            _ => None,
        },
        _ => None,
    }
}

impl Tx<'_, '_> {
    /// The host's tile functions for `t` in a loop over `var`, widest first: those for its operands'
    /// dtype, the widest always, a narrower one unless `var` is the grid's last axis with a static
    /// number of columns that the widest divides; none unless the kernel may call them
    /// (`CompileOptions::wide`).
    pub(super) fn wide_kernels(&self, var: VarId, t: &Tile) -> Vec<(Microkernel, FuncId)> {
        let tiles: Vec<(Microkernel, FuncId)> =
            self.imports.tiles.iter().copied().filter(|(m, _)| m.dtype == t.dtype).collect();
        let widest = tiles.first().map_or(1, |(m, _)| m.cols as i64);
        let columns = match self.k.grid.last() {
            Some((v, extent)) if *v == var => extent.eval_size(&[]),
            _ => None,
        };
        let needed = |m: &Microkernel| m.cols as i64 == widest || columns.is_none_or(|n| n % widest != 0);
        tiles.into_iter().filter(|(m, _)| needed(m)).collect()
    }

    /// The part of `for var in lo..hi { tile's body }` that runs through the tile function, `cols`
    /// columns per call; returns the first column left for the f32x4 loop.
    pub(super) fn wide_loop(
        &mut self,
        var: VarId,
        lo: Value,
        hi: Value,
        t: &Tile,
        (m, id): (Microkernel, FuncId),
    ) -> Value {
        let ptr = self.module.target_config().pointer_type();
        let out_bytes = (ROWS * m.cols * 4) as u32;
        let out = self.b.create_sized_stack_slot(StackSlotData::new(StackSlotKind::ExplicitSlot, out_bytes, 6));
        let args_bytes = size_of::<TileArgs>() as u32;
        let args = self.b.create_sized_stack_slot(StackSlotData::new(StackSlotKind::ExplicitSlot, args_bytes, 3));
        let func = self.module.declare_func_in_func(id, self.b.func);
        let v = self.vars[var.0 as usize];
        let groups = m.cols / LANES as usize;
        self.counted_loop(v, lo, hi, m.cols as i64, |tx| {
            let base = tx.b.use_var(v);
            let args_at = tx.b.ins().stack_addr(ptr, args, 0);
            let out_at = tx.b.ins().stack_addr(ptr, out, 0);
            // The operands' addresses at `k = 0`, the strides and the step counts.
            let zero = iconst(&mut tx.b, types::I64, 0);
            tx.b.def_var(tx.vars[t.k.0 as usize], zero);
            let mut row = zero;
            for r in 0..ROWS {
                if let Some(&(buf, index)) = t.a.get(r) {
                    row = tx.pointer_to(buf, index);
                }
                tx.b.ins().store(mem_flags(), row, args_at, (offset_of!(TileArgs, rows) + 8 * r) as i32);
            }
            let b = tx.pointer_to(t.b.0, t.b.1);
            tx.b.ins().store(mem_flags(), b, args_at, offset_of!(TileArgs, b) as i32);
            let extent = tx.expr(t.extent);
            let counts = match t.split {
                Some(c) => [tx.b.ins().udiv_imm_u(extent, c), iconst(&mut tx.b, types::I64, c)],
                None => [iconst(&mut tx.b, types::I64, 1), extent],
            };
            let a_step = [tx.expr(&t.a_step[0]), tx.expr(&t.a_step[1])];
            let b_step = [tx.expr(&t.b_step[0]), tx.expr(&t.b_step[1])];
            let fields = [
                (offset_of!(TileArgs, a_step), a_step),
                (offset_of!(TileArgs, b_step), b_step),
                (offset_of!(TileArgs, k), counts),
            ];
            for (at, pair) in fields {
                for (i, x) in pair.into_iter().enumerate() {
                    tx.b.ins().store(mem_flags(), x, args_at, (at + 8 * i) as i32);
                }
            }
            let init = tx.b.ins().f32const(t.init);
            tx.b.ins().store(mem_flags(), init, args_at, offset_of!(TileArgs, init) as i32);
            tx.b.ins().call(func, &[args_at, out_at]);

            // Accumulator `(r, c)` is at `out[r * cols + c]`: f32x4 group `g` of row `r` starts at `4g`.
            let mut locals = Locals::new();
            for (r, &acc) in t.accs.iter().enumerate() {
                let slots = (0..groups)
                    .map(|g| {
                        let offset = 4 * (r * m.cols + g * LANES as usize) as i32;
                        let x = tx.b.ins().load(types::F32X4, mem_flags(), out_at, offset);
                        let slot = tx.b.declare_var(types::F32X4);
                        tx.b.def_var(slot, x);
                        slot
                    })
                    .collect();
                locals.insert(acc, slots);
            }
            let lanes = Lanes { var, base, groups };
            tx.vector_stmts(&lanes, &mut locals, &t.epilogue);
            tx.last_lanes(locals, groups);
        });
        self.b.use_var(v)
    }

    /// The address of element `index` of `buf` as one value.
    fn pointer_to(&mut self, buf: usize, index: &Expr) -> Value {
        let (addr, offset) = self.address_of(buf, index);
        if offset == 0 { addr } else { self.b.ins().iadd_imm_s(addr, offset as i64) }
    }
}
