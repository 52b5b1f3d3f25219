//! The Cranelift CPU backend: JIT-compiles one [`Kernel`] to native code.
//!
//! The generated function has the C ABI
//! `extern "C" fn(args: *const *mut u8, sizes: *const i64, start: i64, end: i64)` and runs the flattened
//! grid indices `start..end` (row-major over the grid extents, clamped to `0..total`). Buffer argument
//! `i`'s element `e` lives at `args[i] + e * dtype_size`. A second function computes the grid's total
//! (`0` when any extent is not positive), so callers never evaluate extent expressions themselves.
//! See docs/CPU.md for the code shapes, the SIMD rule and the accuracy of transcendental functions.

mod addr;
mod check;
mod expr;
mod func;
mod half;
mod helpers;
mod math;
pub mod microkernel;
mod simd;
mod touch;
mod wide;

use std::sync::Mutex;

use cranelift_codegen::ir::{AbiParam, Function, UserFuncName, types};
use cranelift_codegen::settings::{self, Configurable};
use cranelift_codegen::{Context, ir};
use cranelift_frontend::FunctionBuilderContext;
use cranelift_jit::{JITBuilder, JITModule};
use cranelift_module::{FuncId, Linkage, Module, default_libcall_names};
use thiserror::Error;

use crate::kir::Kernel;

/// Why a kernel could not be compiled or called. Every variant names the kernel.
#[derive(Debug, Error)]
pub enum CodegenError {
    /// The kernel is malformed (an index out of range, mismatched dtypes, a variable used before it is
    /// defined).
    #[error("kernel `{kernel}`: invalid: {msg}")]
    Invalid { kernel: String, msg: String },
    /// The kernel is well formed but uses a construct this backend does not compile.
    #[error("kernel `{kernel}`: not supported by the Cranelift backend: {msg}")]
    Unsupported { kernel: String, msg: String },
    /// Cranelift rejected the generated code or the host (a bug in this backend, or an unsupported CPU).
    #[error("kernel `{kernel}`: cranelift: {msg}")]
    Cranelift { kernel: String, msg: String },
    /// A call passed the wrong number of buffer pointers or sizes.
    #[error("kernel `{kernel}`: expected {expected} {what}, got {got}")]
    Arity { kernel: String, what: &'static str, expected: usize, got: usize },
}

/// Code generation switches.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CompileOptions {
    /// Emit `f32x4` versions of eligible innermost loops (see docs/CPU.md). Off: scalar code only.
    pub simd: bool,
    /// With `simd`, vectorize f32 sum and max reductions (`simd::reduction`) over eight partial
    /// accumulators. Max is exact; a sum is reassociated (docs/CPU.md gives the order and the error
    /// bound), so bit-exact comparisons with the evaluator turn this off.
    pub reassociate: bool,
    /// Compute f32 `a * b + c` (either operand order, scalar and vector alike) as one fused multiply-add
    /// with a single rounding, where the host has FMA (ignored elsewhere); likewise an f32 division by a
    /// variable a loop reads but does not assign becomes a multiplication by its reciprocal, computed
    /// once before the loop (two roundings instead of one). Results then differ from the evaluator's
    /// round-after-every-op ones within f32 tolerance, so bit-exact comparisons turn this off.
    pub contract: bool,
    /// With `simd` and `contract`, run the `k` loops of register-tiled matmuls through the host's
    /// tile function in its widest vectors (AVX-512 or AVX2, `microkernel.rs`) where it has one; the
    /// same bits as the f32x4 code. Off: Cranelift's f32x4 code only.
    pub wide: bool,
}

impl CompileOptions {
    /// Vector code whose every result equals the evaluator's bit for bit (up to the inline
    /// transcendentals' 1 ulp): no reassociation, no contraction.
    pub const EXACT: CompileOptions = CompileOptions { simd: true, reassociate: false, contract: false, wide: false };
    /// Scalar code only, exact.
    pub const SCALAR: CompileOptions = CompileOptions { simd: false, reassociate: false, contract: false, wide: false };
}

impl Default for CompileOptions {
    fn default() -> Self {
        CompileOptions { simd: true, reassociate: true, contract: true, wide: true }
    }
}

/// The entry point of a compiled kernel.
pub type KernelFn = unsafe extern "C" fn(args: *const *mut u8, sizes: *const i64, start: i64, end: i64);
type TotalFn = unsafe extern "C" fn(sizes: *const i64) -> i64;

/// A JIT-compiled kernel: owns the executable memory, so its functions live exactly as long as it does.
/// `Send + Sync`: calls only read the code, so threads may share one.
pub struct CompiledKernel {
    name: String,
    num_buffers: usize,
    num_sizes: usize,
    entry: KernelFn,
    total: TotalFn,
    clif: String,
    /// The machine code as Cranelift prints it after register allocation, when asked for.
    disasm: Option<String>,
    simd_loops: usize,
    calls_tile: bool,
    /// Held (behind a mutex only to make the handle `Sync`) until drop frees the code.
    module: Option<Mutex<JITModule>>,
}

impl std::fmt::Debug for CompiledKernel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CompiledKernel").field("name", &self.name).field("simd_loops", &self.simd_loops).finish()
    }
}

impl CompiledKernel {
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The Cranelift IR of the kernel function and of its grid-total function, as handed to the compiler.
    pub fn clif_text(&self) -> &str {
        &self.clif
    }

    /// The kernel function's machine code after register allocation (instructions with registers, one
    /// per line), when compiled by `compile_kernel_listing`.
    pub fn disasm(&self) -> Option<&str> {
        self.disasm.as_deref()
    }

    /// How many loops were given an `f32x4` main part (vectorized reductions included).
    pub fn simd_loops(&self) -> usize {
        self.simd_loops
    }

    /// Whether a matmul loop of the kernel runs through the host's wide tile function
    /// (`CompileOptions::wide`).
    pub fn calls_tile(&self) -> bool {
        self.calls_tile
    }

    /// The number of flattened grid indices for these sizes (`0` when an extent is not positive).
    pub fn grid_total(&self, sizes: &[i64]) -> Result<i64, CodegenError> {
        self.check_sizes(sizes)?;
        // SAFETY: the function only reads `sizes[0..num_sizes]`, which `check_sizes` guarantees exist, and
        // the code lives while `self` does.
        Ok(unsafe { (self.total)(sizes.as_ptr()) })
    }

    /// Runs the flattened grid indices `range` (clamped to `0..grid_total`).
    ///
    /// # Safety
    /// `args[i]` must point to a buffer of the kernel's buffer `i` dtype that holds every element the
    /// kernel reads or writes for these sizes and grid indices, buffers written here must not be accessed
    /// by anyone else meanwhile, and distinct arguments must not overlap.
    pub unsafe fn run(&self, args: &[*mut u8], sizes: &[i64], range: std::ops::Range<i64>) -> Result<(), CodegenError> {
        self.check_call(args, sizes)?;
        // SAFETY: argument counts are checked above; the caller guarantees the buffers (see above).
        unsafe { (self.entry)(args.as_ptr(), sizes.as_ptr(), range.start, range.end) };
        Ok(())
    }

    /// Checks a call's argument counts as `run` does, for callers of `entry`.
    pub fn check_call(&self, args: &[*mut u8], sizes: &[i64]) -> Result<(), CodegenError> {
        if args.len() != self.num_buffers {
            return Err(self.arity("buffer arguments", self.num_buffers, args.len()));
        }
        self.check_sizes(sizes)
    }

    /// The raw entry point, for callers that check arguments themselves (`check_call`). Valid while
    /// `self` lives.
    pub fn entry(&self) -> KernelFn {
        self.entry
    }

    fn check_sizes(&self, sizes: &[i64]) -> Result<(), CodegenError> {
        if sizes.len() < self.num_sizes {
            return Err(self.arity("sizes", self.num_sizes, sizes.len()));
        }
        Ok(())
    }

    fn arity(&self, what: &'static str, expected: usize, got: usize) -> CodegenError {
        CodegenError::Arity { kernel: self.name.clone(), what, expected, got }
    }
}

impl Drop for CompiledKernel {
    fn drop(&mut self) {
        if let Some(module) = self.module.take() {
            let module = module.into_inner().unwrap_or_else(|poisoned| poisoned.into_inner());
            // SAFETY: the function pointers are private to `self` (`entry` documents that its result dies
            // with `self`), and `&mut self` means no call is running.
            unsafe { module.free_memory() };
        }
    }
}

/// Compiles `kernel` with the default options (SIMD on).
pub fn compile_kernel(kernel: &Kernel) -> Result<CompiledKernel, CodegenError> {
    compile_kernel_with(kernel, CompileOptions::default())
}

/// Compiles `kernel`. If Cranelift rejects the vectorized code (an ISA without the needed SIMD), the
/// kernel is compiled again without SIMD.
pub fn compile_kernel_with(kernel: &Kernel, options: CompileOptions) -> Result<CompiledKernel, CodegenError> {
    build_checked(kernel, options, false)
}

/// Compiles `kernel` with the default options and keeps its machine code listing (`disasm`), which
/// costs compile time: for reading the generated code (`irc compile --dump-kernels`).
pub fn compile_kernel_listing(kernel: &Kernel) -> Result<CompiledKernel, CodegenError> {
    build_checked(kernel, CompileOptions::default(), true)
}

fn build_checked(kernel: &Kernel, options: CompileOptions, disasm: bool) -> Result<CompiledKernel, CodegenError> {
    check::check_kernel(kernel)?;
    match Jit::build(kernel, options, disasm) {
        Err(CodegenError::Cranelift { .. }) if options.simd => {
            Jit::build(kernel, CompileOptions { simd: false, ..options }, disasm)
        }
        other => other,
    }
}

struct Jit {
    module: JITModule,
    ctx: Context,
    fctx: FunctionBuilderContext,
    kernel_name: String,
}

impl Jit {
    fn build(kernel: &Kernel, options: CompileOptions, want_disasm: bool) -> Result<CompiledKernel, CodegenError> {
        let mut jit = Jit::new(kernel)?;
        let ptr = jit.module.target_config().pointer_type();
        let host_fma = jit.module.isa().isa_flags().iter().any(|f| f.name == "has_fma" && f.as_bool() == Some(true));
        let options = CompileOptions { contract: options.contract && host_fma, ..options };

        let mut sig = jit.module.make_signature();
        sig.params.extend([
            AbiParam::new(ptr),
            AbiParam::new(ptr),
            AbiParam::new(types::I64),
            AbiParam::new(types::I64),
        ]);
        let entry_id = jit.declare("kernel", &sig)?;
        jit.ctx.func = Function::with_name_signature(UserFuncName::user(0, entry_id.as_u32()), sig);
        let imports = func::declare_imports(&mut jit.module, options).map_err(|e| jit.err(e))?;
        let (simd_loops, calls_tile) =
            func::build_kernel(&mut jit.module, &mut jit.ctx.func, &mut jit.fctx, kernel, &imports, options);
        let mut clif = jit.ctx.func.display().to_string();
        jit.ctx.set_disasm(want_disasm);
        let disasm = jit.define(entry_id)?;

        let mut sig = jit.module.make_signature();
        sig.params.push(AbiParam::new(ptr));
        sig.returns.push(AbiParam::new(types::I64));
        let total_id = jit.declare("grid_total", &sig)?;
        jit.ctx.func = Function::with_name_signature(UserFuncName::user(0, total_id.as_u32()), sig);
        func::build_total(&mut jit.module, &mut jit.ctx.func, &mut jit.fctx, kernel, &imports);
        clif.push('\n');
        clif.push_str(&jit.ctx.func.display().to_string());
        jit.define(total_id)?;

        jit.module.finalize_definitions().map_err(|e| jit.err(e))?;
        let entry = jit.module.get_finalized_function(entry_id);
        let total = jit.module.get_finalized_function(total_id);
        // SAFETY: both were defined above with exactly these signatures (pointer-sized params are
        // `*const _`, i64 params and returns are `i64`) and the C calling convention of the host ISA.
        let (entry, total) = unsafe {
            (std::mem::transmute::<*const u8, KernelFn>(entry), std::mem::transmute::<*const u8, TotalFn>(total))
        };
        Ok(CompiledKernel {
            name: kernel.name.clone(),
            num_buffers: kernel.buffers.len(),
            num_sizes: kernel.sizes.len(),
            entry,
            total,
            clif,
            disasm,
            simd_loops,
            calls_tile,
            module: Some(Mutex::new(jit.module)),
        })
    }

    fn new(kernel: &Kernel) -> Result<Jit, CodegenError> {
        let cl_err = |msg: String| CodegenError::Cranelift { kernel: kernel.name.clone(), msg };
        let mut flags = settings::builder();
        for (name, value) in [("opt_level", "speed"), ("use_colocated_libcalls", "false"), ("is_pic", "false")] {
            flags.set(name, value).map_err(|e| cl_err(format!("setting {name}: {e}")))?;
        }
        let isa = cranelift_native::builder()
            .map_err(|e| cl_err(format!("host not supported: {e}")))?
            .finish(settings::Flags::new(flags))
            .map_err(|e| cl_err(format!("host ISA: {e}")))?;
        let mut builder = JITBuilder::with_isa(isa, default_libcall_names());
        for (name, ptr) in helpers::symbols() {
            builder.symbol(name, ptr);
        }
        for m in microkernel::all() {
            builder.symbol(m.name, m.func as *const u8);
        }
        let module = JITModule::new(builder);
        let ctx = module.make_context();
        Ok(Jit { module, ctx, fctx: FunctionBuilderContext::new(), kernel_name: kernel.name.clone() })
    }

    fn declare(&mut self, name: &str, sig: &ir::Signature) -> Result<FuncId, CodegenError> {
        self.module.declare_function(name, Linkage::Local, sig).map_err(|e| self.err(e))
    }

    /// Compiles the function in the context; returns its listing when `set_disasm` asked for one.
    fn define(&mut self, id: FuncId) -> Result<Option<String>, CodegenError> {
        let res = self.module.define_function(id, &mut self.ctx);
        let disasm = self.ctx.compiled_code().and_then(|c| c.vcode.clone());
        let res = res.map_err(|e| match e {
            cranelift_module::ModuleError::Compilation(ce) => {
                cranelift_codegen::print_errors::pretty_error(&self.ctx.func, ce)
            }
            other => other.to_string(),
        });
        self.module.clear_context(&mut self.ctx);
        res.map(|()| disasm).map_err(|msg| CodegenError::Cranelift { kernel: self.kernel_name.clone(), msg })
    }

    fn err(&self, e: impl std::fmt::Display) -> CodegenError {
        CodegenError::Cranelift { kernel: self.kernel_name.clone(), msg: e.to_string() }
    }
}
