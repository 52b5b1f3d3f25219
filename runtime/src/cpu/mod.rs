//! The CPU backend: kernels JIT-compiled by Cranelift (`irc_codegen::cranelift`), launched over threads.
//!
//! A launch splits the flattened grid `0..total` into contiguous, nearly equal chunks of whole grid rows
//! (the innermost dimension), one per thread (worker threads started once, `pool.rs`; the calling thread
//! takes the first). Launches whose estimated work is small
//! run on the calling thread alone: spawning a thread costs more than it saves below
//! [`MIN_WORK_PER_THREAD`] (see docs/CPU.md for the measurement). Chunking never changes results: every
//! grid index computes the same way whichever thread runs it.

mod cost;
mod pool;

use std::ops::Range;

use irc_codegen::LowerOptions;
use irc_codegen::cranelift::{CodegenError, CompileOptions, CompiledKernel, compile_kernel_with};
use irc_codegen::kir::Kernel;

use crate::RunError;
use crate::backend::{BufView, HostBackend};

/// Estimated work units (see `cost.rs`; about 0.05 ns each) a thread must get for spawning it to pay.
/// Measured on the 2-core development VM: a scoped spawn and join costs about 50 µs, and a second thread
/// starts to win at about 300k elements of a vectorized f32 add (7 units each) or 16k-20k of an f32
/// `exp` (157 units each), both near 2.5M units.
pub const MIN_WORK_PER_THREAD: f64 = 2_000_000.0;

/// Runs kernels on this machine's cores.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CpuBackend {
    /// The most threads one launch uses (at least 1).
    pub threads: usize,
    /// Code generation switches (default: SIMD, with reassociated f32 reductions).
    pub options: CompileOptions,
}

impl Default for CpuBackend {
    fn default() -> Self {
        CpuBackend::new(std::thread::available_parallelism().map_or(1, |n| n.get()))
    }
}

impl CpuBackend {
    pub fn new(threads: usize) -> CpuBackend {
        CpuBackend { threads: threads.max(1), options: CompileOptions::default() }
    }

    /// The same backend without reassociated reductions or fused multiply-adds: every f32 result equals
    /// the kernel-IR evaluator's bit for bit (up to the inline transcendentals' 1 ulp), for exact
    /// comparisons.
    pub fn exact(self) -> CpuBackend {
        CpuBackend { options: CompileOptions { reassociate: false, contract: false, ..self.options }, ..self }
    }

    /// JIT-compiles `kernel`.
    pub fn compile_kernel(&self, kernel: &Kernel) -> Result<CompiledKernel, CodegenError> {
        compile_kernel_with(kernel, self.options)
    }

    /// How many threads a launch of `kernel` over `total` grid indices gets.
    pub fn threads_for(&self, kernel: &Kernel, sizes: &[i64], total: i64) -> usize {
        let work = total as f64 * cost::work_per_index(kernel, sizes);
        let wanted = (work / MIN_WORK_PER_THREAD).floor().max(1.0);
        (wanted as usize).min(self.threads).min(total.max(1) as usize).max(1)
    }

    /// Runs the whole grid of `compiled` (compiled from `kernel`) on buffer addresses `args`.
    ///
    /// # Safety
    /// As [`CompiledKernel::run`]: `args[i]` must hold every element of kernel buffer `i`'s dtype that
    /// the kernel touches at these sizes, written buffers must not be accessed by anyone else during the
    /// launch, and distinct arguments must not overlap.
    pub unsafe fn launch_raw(
        &self,
        compiled: &CompiledKernel,
        kernel: &Kernel,
        args: &[*mut u8],
        sizes: &[i64],
    ) -> Result<(), CodegenError> {
        let total = compiled.grid_total(sizes)?;
        let threads = self.threads_for(kernel, sizes, total);
        if threads <= 1 {
            // SAFETY: forwarded from this function's contract.
            return unsafe { compiled.run(args, sizes, 0..total) };
        }
        let row = kernel.grid.last().and_then(|(_, e)| e.eval_size(sizes)).unwrap_or(1);
        let chunks = row_chunks(total, threads, row);
        compiled.check_call(args, sizes)?;
        // SAFETY: the arguments are checked above and the rest forwarded from this function's contract;
        // chunks are disjoint.
        unsafe { pool::run(compiled.entry(), args, sizes, &chunks) };
        Ok(())
    }
}

impl HostBackend for CpuBackend {
    type Compiled = CompiledKernel;

    fn compile(&self, kernel: &Kernel) -> Result<CompiledKernel, RunError> {
        compile_kernel_with(kernel, self.options).map_err(|e| RunError::Backend(e.to_string()))
    }

    /// Matmul tiles of the host's wide tile function, where it has one (`LowerOptions::cpu`).
    fn lower_options(&self) -> LowerOptions {
        LowerOptions::cpu(self.options)
    }

    /// Checks the views against the kernel's buffers (count and dtypes), then launches.
    unsafe fn launch_views(
        &self,
        compiled: &CompiledKernel,
        kernel: &Kernel,
        args: &[BufView],
        sizes: &[i64],
    ) -> Result<(), RunError> {
        let bad = |msg: String| RunError::Backend(format!("kernel `{}`: {msg}", kernel.name));
        if args.len() != kernel.buffers.len() {
            return Err(bad(format!("expected {} buffer arguments, got {}", kernel.buffers.len(), args.len())));
        }
        for (view, arg) in args.iter().zip(&kernel.buffers) {
            if view.dtype != arg.dtype {
                return Err(bad(format!("buffer `{}` is {}, expected {}", arg.name, view.dtype, arg.dtype)));
            }
        }
        let ptrs: Vec<*mut u8> = args.iter().map(|v| v.ptr).collect();
        // SAFETY: the trait's contract (valid, unaliased views for the whole call) is `launch_raw`'s.
        unsafe { self.launch_raw(compiled, kernel, &ptrs, sizes) }.map_err(|e| RunError::Backend(e.to_string()))
    }
}

/// `0..total` (whole rows of `row` indices) in `n` contiguous ranges of whole rows whose row counts
/// differ by at most one, so that each thread runs its own rows from start to end (a matmul thread then
/// walks its rows in column blocks); [`chunks`] when there are fewer rows than threads.
fn row_chunks(total: i64, n: usize, row: i64) -> Vec<Range<i64>> {
    if row <= 1 || total % row != 0 || total / row < n as i64 {
        return chunks(total, n);
    }
    chunks(total / row, n).into_iter().map(|r| r.start * row..r.end * row).collect()
}

/// `0..total` in `n` contiguous ranges whose lengths differ by at most one.
fn chunks(total: i64, n: usize) -> Vec<Range<i64>> {
    let at = |t: usize| (total as i128 * t as i128 / n as i128) as i64;
    (0..n).map(|t| at(t)..at(t + 1)).collect()
}

#[cfg(test)]
mod tests;
