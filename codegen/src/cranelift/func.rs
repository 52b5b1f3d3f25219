//! Function skeletons and statements: the grid walk of the kernel function, the grid-total function,
//! and loops.
//!
//! The kernel function walks its flattened range `start..end` one grid row at a time: it unravels the
//! row's first index into the grid variables, then runs the innermost grid variable as an ordinary
//! loop over the part of the row inside the range, so rows get the same loop code (and SIMD) as loops.
//! A kernel with loops (matmul) walks segments instead: partial rows and whole rows in column blocks.

use std::collections::HashMap;

use cranelift_codegen::ir::condcodes::IntCC;
use cranelift_codegen::ir::{Function, InstBuilder, Value, types};
use cranelift_frontend::{FunctionBuilder, FunctionBuilderContext, Variable};
use cranelift_jit::JITModule;
use cranelift_module::{FuncId, Linkage, Module};

use super::expr::{Tx, helper_signature, iconst, reg_type};
use super::helpers::Helper;
use super::microkernel::Microkernel;
use super::{CompileOptions, simd, wide};
use crate::kir::{Kernel, Stmt, VarId};

/// Columns of the innermost grid dimension per block when a kernel walks its rows in column blocks
/// (`segments`): 64 f32 columns of a 1024-deep `B` are 256 KiB, which stays in a 512 KiB L2 (when
/// `B`'s rows do not all map to the same cache sets: `lower/pack.rs`).
const COL_BLOCK: i64 = 64;

/// The functions generated code may call.
pub(super) struct Imports {
    /// The transcendental helpers, by (helper, is f64).
    pub helpers: HashMap<(Helper, bool), FuncId>,
    /// The host's matmul tile functions (`wide.rs`), widest first, when the kernel may use them.
    pub tiles: Vec<(Microkernel, FuncId)>,
}

/// Declares every helper, and the host's tile function where `options` allow it, as imports; the
/// error is Cranelift's message.
pub(super) fn declare_imports(module: &mut JITModule, options: CompileOptions) -> Result<Imports, String> {
    let tiles = wide::declare(module, options.wide && options.simd && options.contract)?;
    let mut ids = HashMap::new();
    for &helper in Helper::ALL {
        let (f32_name, f64_name) = helper.names();
        for (name, ty, is_f64) in [(f32_name, types::F32, false), (f64_name, types::F64, true)] {
            let sig = helper_signature(module, helper, ty);
            let id = module.declare_function(name, Linkage::Import, &sig).map_err(|e| e.to_string())?;
            ids.insert((helper, is_f64), id);
        }
    }
    Ok(Imports { helpers: ids, tiles })
}

/// Per-function setup: the entry block, the kernel's variables, buffer addresses and sizes.
fn begin<'a, 'f>(
    module: &'a mut JITModule,
    func: &'f mut Function,
    fctx: &'f mut FunctionBuilderContext,
    k: &'a Kernel,
    imports: &'a Imports,
    options: CompileOptions,
) -> (Tx<'a, 'f>, Vec<Value>) {
    let ptr = module.target_config().pointer_type();
    let mut b = FunctionBuilder::new(func, fctx);
    let entry = b.create_block();
    b.append_block_params_for_function_params(entry);
    b.switch_to_block(entry);
    b.seal_block(entry);
    let params = b.block_params(entry).to_vec();
    let vars = k.vars.iter().map(|v| b.declare_var(reg_type(v.dtype))).collect();
    let mut tx = Tx {
        k,
        b,
        module,
        options,
        vars,
        bufs: Vec::new(),
        sizes: Vec::new(),
        imports,
        simd_loops: 0,
        calls_tile: false,
        touches: if options.simd { super::touch::plan(k) } else { HashMap::new() },
        innermost: None,
        bases: Vec::new(),
        carried: Vec::new(),
        recips: Vec::new(),
    };
    // The kernel function's parameters are (args, sizes, start, end); the total function's (sizes).
    let (args, sizes) = if params.len() == 4 { (Some(params[0]), params[1]) } else { (None, params[0]) };
    tx.sizes = tx.load_table(sizes, types::I64, k.sizes.len());
    if let Some(args) = args {
        tx.bufs = tx.load_table(args, ptr, k.buffers.len());
    }
    (tx, params)
}

fn finish(tx: Tx) {
    let config = tx.module.target_config();
    let mut b = tx.b;
    b.seal_all_blocks();
    b.finalize(config);
}

/// Builds `kernel(args, sizes, start, end)`; returns the number of SIMD loops and whether it calls the
/// host's tile function.
pub(super) fn build_kernel(
    module: &mut JITModule,
    func: &mut Function,
    fctx: &mut FunctionBuilderContext,
    k: &Kernel,
    imports: &Imports,
    options: CompileOptions,
) -> (usize, bool) {
    let (mut tx, params) = begin(module, func, fctx, k, imports, options);
    let extents: Vec<Value> = k.grid.iter().map(|(_, e)| tx.expr(e)).collect();
    let total = tx.grid_total(&extents);
    let zero = iconst(&mut tx.b, types::I64, 0);
    let start = tx.b.ins().smax(params[2], zero);
    let end = tx.b.ins().smin(params[3], total);
    let nonempty = tx.b.ins().icmp(IntCC::SignedLessThan, start, end);
    let (work, done) = (tx.b.create_block(), tx.b.create_block());
    tx.b.ins().brif(nonempty, work, &[], done, &[]);
    tx.b.seal_block(work);
    tx.b.switch_to_block(work);
    match k.grid.split_last() {
        None => tx.stmts(&k.body),
        Some(((inner, _), outer)) => tx.grid_rows(outer, *inner, &extents, start, end),
    }
    tx.b.ins().jump(done, &[]);
    tx.b.switch_to_block(done);
    tx.b.ins().return_(&[]);
    let counts = (tx.simd_loops, tx.calls_tile);
    finish(tx);
    counts
}

/// Builds `grid_total(sizes) -> i64`.
pub(super) fn build_total(
    module: &mut JITModule,
    func: &mut Function,
    fctx: &mut FunctionBuilderContext,
    k: &Kernel,
    imports: &Imports,
) {
    let (mut tx, _) = begin(module, func, fctx, k, imports, CompileOptions::SCALAR);
    let extents: Vec<Value> = k.grid.iter().map(|(_, e)| tx.expr(e)).collect();
    let total = tx.grid_total(&extents);
    tx.b.ins().return_(&[total]);
    finish(tx);
}

impl Tx<'_, '_> {
    /// The product of the extents, or 0 when any extent is not positive (so that a non-empty range
    /// implies every extent is positive and the unravelling divisions are safe).
    fn grid_total(&mut self, extents: &[Value]) -> Value {
        let mut total = iconst(&mut self.b, types::I64, 1);
        let mut valid = iconst(&mut self.b, types::I8, 1);
        for &e in extents {
            total = self.b.ins().imul(total, e);
            let positive = self.b.ins().icmp_imm_s(IntCC::SignedGreaterThan, e, 0);
            valid = self.b.ins().band(valid, positive);
        }
        let zero = iconst(&mut self.b, types::I64, 0);
        self.b.ins().select(valid, total, zero)
    }

    /// Runs flattened indices `start..end` (see the module docs): row by row, or, for a body with nested
    /// loops (matmul), in segments (`segments`).
    fn grid_rows(
        &mut self,
        outer: &[(VarId, crate::kir::Expr)],
        inner: VarId,
        extents: &[Value],
        start: Value,
        end: Value,
    ) {
        let k = self.k;
        if outer.is_empty() || !k.body.iter().any(|s| matches!(s, Stmt::Loop { .. })) {
            return self.walk_rows(outer, inner, extents, start, end);
        }
        self.segments(outer, inner, extents, start, end);
    }

    /// Runs `start..end` as segments of one grid row each, with one copy of the row code: the partial row
    /// where the range starts, then the whole rows `first..last` in column blocks of `COL_BLOCK` (every
    /// row's part of a block, then the next block: a matmul's grid points in one block read the same
    /// columns of `B`, which then stay in cache across rows), then the partial row where it ends. Grid
    /// points are independent, so any order computes the same values.
    fn segments(
        &mut self,
        outer: &[(VarId, crate::kir::Expr)],
        inner: VarId,
        extents: &[Value],
        start: Value,
        end: Value,
    ) {
        let width = extents[extents.len() - 1];
        let zero = iconst(&mut self.b, types::I64, 0);
        let w_minus_1 = self.b.ins().iadd_imm_s(width, -1);
        let up = self.b.ins().iadd(start, w_minus_1);
        let first = self.b.ins().udiv(up, width);
        let last = self.b.ins().udiv(end, width);
        let first_at = self.b.ins().imul(first, width);
        let head_end = self.b.ins().smin(first_at, end);
        let last_at = self.b.ins().imul(last, width);
        let tail_start = self.b.ins().smax(last_at, head_end);
        let rows = self.b.ins().isub(last, first);
        let rows = self.b.ins().smax(rows, zero);
        let one = iconst(&mut self.b, types::I64, 1);
        let some_rows = self.b.ins().smax(rows, one);
        let up = self.b.ins().iadd_imm_s(width, COL_BLOCK - 1);
        let blocks = self.b.ins().udiv_imm_u(up, COL_BLOCK);
        let whole = self.b.ins().imul(blocks, rows);
        let count = self.b.ins().iadd_imm_s(whole, 2);
        let segment = self.b.declare_var(types::I64);
        let k = self.k;
        self.counted_loop(segment, zero, count, 1, |tx| {
            let s = tx.b.use_var(segment);
            // Segment 0 is the head, `count - 1` the tail (flat ranges within one row, maybe empty).
            let is_head = tx.b.ins().icmp_imm_s(IntCC::Equal, s, 0);
            let past = tx.b.ins().iadd_imm_s(whole, 1);
            let is_tail = tx.b.ins().icmp(IntCC::Equal, s, past);
            let flat_lo = tx.b.ins().select(is_head, start, tail_start);
            let flat_hi = tx.b.ins().select(is_head, head_end, end);
            let flat_q = tx.b.ins().udiv(flat_lo, width);
            let flat_row_at = tx.b.ins().imul(flat_q, width);
            let flat_col_lo = tx.b.ins().isub(flat_lo, flat_row_at);
            let flat_len = tx.b.ins().isub(flat_hi, flat_lo);
            let flat_len = tx.b.ins().smax(flat_len, zero);
            let flat_col_hi = tx.b.ins().iadd(flat_col_lo, flat_len);
            // Whole-row segment `s - 1`: block `(s - 1) / rows`, row `first + (s - 1) % rows`.
            let j = tx.b.ins().iadd_imm_s(s, -1);
            let j = tx.b.ins().smax(j, zero);
            let block = tx.b.ins().udiv(j, some_rows);
            let within = tx.b.ins().urem(j, some_rows);
            let q = tx.b.ins().iadd(first, within);
            let lo = tx.b.ins().imul_imm_u(block, COL_BLOCK);
            let hi = tx.b.ins().iadd_imm_s(lo, COL_BLOCK);
            let hi = tx.b.ins().smin(hi, width);
            let flat = tx.b.ins().bor(is_head, is_tail);
            let q = tx.b.ins().select(flat, flat_q, q);
            let lo = tx.b.ins().select(flat, flat_col_lo, lo);
            let hi = tx.b.ins().select(flat, flat_col_hi, hi);
            tx.set_outer(outer, extents, q);
            tx.range_loop(inner, lo, hi, &k.body);
        });
    }

    /// Sets the outer grid variables to row `q` (the flattened index over the outer dimensions).
    fn set_outer(&mut self, outer: &[(VarId, crate::kir::Expr)], extents: &[Value], q: Value) {
        let mut q = q;
        for (d, (var, _)) in outer.iter().enumerate().rev() {
            let value = if d == 0 {
                q
            } else {
                let v = self.b.ins().urem(q, extents[d]);
                q = self.b.ins().udiv(q, extents[d]);
                v
            };
            self.b.def_var(self.vars[var.0 as usize], value);
        }
    }

    /// Runs flattened indices `start..end` row by row.
    fn walk_rows(
        &mut self,
        outer: &[(VarId, crate::kir::Expr)],
        inner: VarId,
        extents: &[Value],
        start: Value,
        end: Value,
    ) {
        let width = extents[extents.len() - 1];
        let idx = self.b.declare_var(types::I64);
        self.b.def_var(idx, start);
        let (header, row, exit) = (self.b.create_block(), self.b.create_block(), self.b.create_block());
        self.b.ins().jump(header, &[]);

        self.b.switch_to_block(header);
        let i = self.b.use_var(idx);
        let more = self.b.ins().icmp(IntCC::SignedLessThan, i, end);
        self.b.ins().brif(more, row, &[], exit, &[]);
        self.b.seal_block(row);
        self.b.seal_block(exit);

        self.b.switch_to_block(row);
        // Extents are positive here and indices non-negative: unsigned division is exact and cheaper.
        let q = self.b.ins().udiv(i, width);
        let row_start = self.b.ins().imul(q, width);
        let col = self.b.ins().isub(i, row_start);
        self.set_outer(outer, extents, q);
        let in_row = self.b.ins().isub(width, col);
        let in_range = self.b.ins().isub(end, i);
        let len = self.b.ins().smin(in_row, in_range);
        let col_end = self.b.ins().iadd(col, len);
        let k = self.k;
        self.range_loop(inner, col, col_end, &k.body);
        let next = self.b.ins().iadd(i, len);
        self.b.def_var(idx, next);
        self.b.ins().jump(header, &[]);
        self.b.seal_block(header);

        self.b.switch_to_block(exit);
    }

    pub fn stmts(&mut self, body: &[Stmt]) {
        for s in body {
            match s {
                Stmt::Let { var, value } | Stmt::Assign { var, value } => {
                    let v = self.expr(value);
                    self.b.def_var(self.vars[var.0 as usize], v);
                }
                Stmt::Store { buf, index, value } => {
                    let value = self.expr(value);
                    self.store(*buf, index, value);
                }
                Stmt::Loop { var, extent, body } => {
                    let zero = iconst(&mut self.b, types::I64, 0);
                    let extent = self.expr(extent);
                    self.range_loop(*var, zero, extent, body);
                }
                Stmt::If { cond, body } => {
                    let c = self.expr(cond);
                    let (then, merge) = (self.b.create_block(), self.b.create_block());
                    self.b.ins().brif(c, then, &[], merge, &[]);
                    self.b.seal_block(then);
                    self.b.switch_to_block(then);
                    self.stmts(body);
                    self.b.ins().jump(merge, &[]);
                    self.b.seal_block(merge);
                    self.b.switch_to_block(merge);
                }
                Stmt::SharedStore { .. } | Stmt::Barrier => unreachable!("rejected by check_kernel"),
            }
        }
    }

    /// `for var in lo..hi { body }`: when the body qualifies, vector parts of several and then one f32x4
    /// group (of iterations, or of terms of a reduction), then the scalar tail.
    fn range_loop(&mut self, var: VarId, lo: Value, hi: Value, body: &[Stmt]) {
        let outer = self.innermost.replace(var);
        self.hoist_bases(var, Some(lo), body, &|_| false);
        self.range_parts(var, lo, hi, body);
        self.close_bases();
        self.innermost = outer;
    }

    fn range_parts(&mut self, var: VarId, lo: Value, hi: Value, body: &[Stmt]) {
        let mut lo = lo;
        if self.options.simd
            && self.options.reassociate
            && let Some(r) = simd::reduction(self.k, var, body)
        {
            lo = self.reduce_loop(var, lo, hi, &r);
            self.simd_loops += 1;
            self.scalar_loop(var, lo, hi, body);
            return;
        }
        let eligible = self.options.simd && simd::eligible(self.k, var, body, self.options.reassociate);
        // A matmul tile through the host's tile functions: its epilogue may store f16 or bf16 lane by
        // lane (a half-precision model), which the f32x4 loop does not.
        let tile = self.options.simd.then(|| wide::tile(self.k, var, body)).flatten();
        let tile = tile.filter(|t| eligible || wide::epilogue_vectorizes(self.k, var, t));
        let mut tiled = false;
        if let Some(t) = tile {
            for m in self.wide_kernels(var, &t) {
                lo = self.wide_loop(var, lo, hi, &t, m);
                tiled = true;
            }
        }
        self.calls_tile |= tiled;
        if eligible {
            let groups = simd::groups(body);
            lo = self.simd_loop(var, lo, hi, body, groups);
            lo = self.simd_loop(var, lo, hi, body, 1);
            self.simd_loops += 1;
        }
        // Vector lanes and tile functions run nested reductions sequentially, so the tail must too:
        // which iterations fall in the tail depends on where the range (a thread's chunk) starts.
        let options = self.options;
        if eligible || tiled {
            self.options.reassociate = false;
        }
        self.scalar_loop(var, lo, hi, body);
        self.options = options;
    }

    pub fn scalar_loop(&mut self, var: VarId, lo: Value, hi: Value, body: &[Stmt]) {
        let v = self.vars[var.0 as usize];
        self.counted_loop(v, lo, hi, 1, |tx| tx.stmts(body));
    }

    /// `v = lo; while v + step <= hi { body; v += step }`; leaves `v` at the first index not run.
    /// Tested at the top: the loop variables pass to the test block by plain jumps, which suits
    /// loops that carry accumulators and address bases (the matmul `k` loop); see `bottom_tested_loop`.
    pub fn counted_loop(&mut self, v: Variable, lo: Value, hi: Value, step: i64, body: impl FnOnce(&mut Self)) {
        self.loop_tested(v, lo, hi, step, false, body)
    }

    /// `counted_loop` tested at the bottom, with the first test before the loop: one compare and
    /// branch per iteration instead of a branch, a compare and a jump. For vector loops over a body
    /// without inner loops (silu 7.5 -> 7.3 ms, softmax 11.0 -> 10.3 ms); a loop carrying many values
    /// moves them between registers on the back edge instead (matmul 34 -> 47 ms).
    pub fn bottom_tested_loop(&mut self, v: Variable, lo: Value, hi: Value, step: i64, body: impl FnOnce(&mut Self)) {
        self.loop_tested(v, lo, hi, step, true, body)
    }

    fn loop_tested(
        &mut self,
        v: Variable,
        lo: Value,
        hi: Value,
        step: i64,
        bottom: bool,
        body: impl FnOnce(&mut Self),
    ) {
        self.b.def_var(v, lo);
        let (header, block, exit) = (self.b.create_block(), self.b.create_block(), self.b.create_block());
        if bottom {
            let more = self.more(lo, hi, step);
            self.b.ins().brif(more, header, &[], exit, &[]);
        } else {
            self.b.ins().jump(header, &[]);
        }

        // Tested at the bottom, `header` holds no instruction, only the loop's variables, and its jump
        // folds away.
        self.b.switch_to_block(header);
        let i = self.b.use_var(v);
        if bottom {
            self.b.ins().jump(block, &[]);
        } else {
            let more = self.more(i, hi, step);
            self.b.ins().brif(more, block, &[], exit, &[]);
            self.b.seal_block(exit);
        }
        // Sealing each block once its predecessors are known lets the SSA builder resolve variables that
        // the loop does not change to their outer value instead of threading them through block
        // parameters, so address arithmetic on them is visibly loop-invariant (and hoisted).
        self.b.seal_block(block);

        self.b.switch_to_block(block);
        body(self);
        self.carry_bases(step);
        let next = self.b.ins().iadd_imm_s(i, step);
        self.b.def_var(v, next);
        if bottom {
            let more = self.more(next, hi, step);
            self.b.ins().brif(more, header, &[], exit, &[]);
            self.b.seal_block(exit);
        } else {
            self.b.ins().jump(header, &[]);
        }
        self.b.seal_block(header);

        self.b.switch_to_block(exit);
    }

    /// Whether a step of `step` iterations starting at `i` stays below `hi`.
    fn more(&mut self, i: Value, hi: Value, step: i64) -> Value {
        let last = if step == 1 { i } else { self.b.ins().iadd_imm_s(i, step - 1) };
        self.b.ins().icmp(IntCC::SignedLessThan, last, hi)
    }
}
