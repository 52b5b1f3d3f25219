//! The contract between the executor and a kernel backend ([`KernelBackend`], [`Arg`]), tensors in host
//! memory as kernels see them ([`HostBuffer`], [`BufView`]), host backends ([`HostBackend`], whose buffers
//! are [`HostMemory`]), and the reference backend, the kernel-IR evaluator ([`EvalBackend`]).

use irc_codegen::LowerOptions;
use irc_codegen::kir::{Kernel, Scalar, eval_kernel, read_scalar, write_scalar};
use irc_ir::DType;

use crate::arena::Arena;
use crate::interp::bind::Meta;
use crate::{RunError, Tensor};

/// A tensor in host memory as kernels see it: little-endian elements, row-major, 16-byte aligned. It
/// always owns room for at least one element, so a kernel's clamped (and discarded) read of an empty
/// tensor stays inside memory.
#[derive(Clone, Debug, PartialEq)]
pub struct HostBuffer {
    pub dtype: DType,
    pub shape: Vec<usize>,
    words: Vec<u128>,
}

impl HostBuffer {
    pub fn zeros(dtype: DType, shape: Vec<usize>) -> HostBuffer {
        let n: usize = shape.iter().product();
        let bytes = n.max(1) * dtype.size_bytes();
        HostBuffer { dtype, shape, words: vec![0; bytes.div_ceil(16)] }
    }

    /// The tensor's values (a malformed tensor's data is cut or zero-filled to its shape).
    pub fn from_tensor(t: &Tensor) -> HostBuffer {
        let mut b = HostBuffer::zeros(t.dtype, t.shape.clone());
        let n = b.numel();
        let bytes = b.bytes_mut();
        for (i, &v) in t.data.iter().take(n).enumerate() {
            write_scalar(t.dtype, bytes, i, Scalar::of(t.dtype, v));
        }
        b
    }

    pub fn to_tensor(&self) -> Tensor {
        tensor_of(self.dtype, &self.shape, self.bytes())
    }

    pub fn numel(&self) -> usize {
        self.shape.iter().product()
    }

    /// The elements' bytes (`numel * dtype size`).
    pub fn bytes(&self) -> &[u8] {
        let n = self.numel() * self.dtype.size_bytes();
        // SAFETY: `words` holds at least `n` initialized bytes, and u8 has no alignment requirement.
        unsafe { std::slice::from_raw_parts(self.words.as_ptr().cast::<u8>(), n) }
    }

    pub fn bytes_mut(&mut self) -> &mut [u8] {
        let n = self.numel() * self.dtype.size_bytes();
        // SAFETY: as in `bytes`, and `&mut self` makes the borrow unique.
        unsafe { std::slice::from_raw_parts_mut(self.words.as_mut_ptr().cast::<u8>(), n) }
    }

    /// A view for a kernel launch. Valid while `self` is neither moved nor dropped.
    pub fn view(&mut self) -> BufView {
        BufView { ptr: self.words.as_mut_ptr().cast(), len: self.numel(), dtype: self.dtype }
    }

    pub(crate) fn meta(&self) -> Meta {
        Meta { dtype: self.dtype, shape: self.shape.clone(), len: self.numel() }
    }
}

/// A view of one buffer argument: pointer to element 0, element count, dtype. `ptr` is 16-byte aligned
/// and valid for `max(len, 1)` elements (kernels may read element 0 of an empty buffer; see
/// docs/KERNELS.md).
#[derive(Clone, Copy, Debug)]
pub struct BufView {
    pub ptr: *mut u8,
    pub len: usize,
    pub dtype: DType,
}

/// Compiles and runs kernels on the backend's own memory. [`Executable`] compiles every kernel of a program
/// once, moves inputs and params into backend buffers, then launches the kernels in order for each run.
/// Host backends implement [`HostBackend`] instead and get this trait with [`HostMemory`] buffers, which
/// take over host buffers without copying.
pub trait KernelBackend {
    type Compiled;
    /// One allocation of backend memory.
    type Buffer;
    fn compile(&self, kernel: &Kernel) -> Result<Self::Compiled, RunError>;
    /// How [`Executable::compile`] lowers graphs for this backend (the serial CPU schedule unless the
    /// backend runs blocks of lanes).
    fn lower_options(&self) -> LowerOptions {
        LowerOptions::default()
    }
    /// Bytes an element of `dtype` occupies in backend memory (the arena is laid out with it).
    fn elem_bytes(&self, dtype: DType) -> usize {
        dtype.size_bytes()
    }
    /// Whether temps of `dtype` share the run's arena; the others get buffers of their own, allocated at
    /// their first launch (the wgpu backend's native f16 temps, which its word arena cannot hold).
    fn in_arena(&self, _dtype: DType) -> bool {
        true
    }
    /// Moves a host buffer's elements into backend memory.
    fn upload(&self, host: HostBuffer) -> Result<Self::Buffer, RunError>;
    /// Zeroed memory for `max(numel, 1)` elements of `dtype`.
    fn alloc(&self, dtype: DType, numel: usize) -> Result<Self::Buffer, RunError>;
    /// Memory for an arena of `bytes` bytes; its contents are unspecified.
    fn alloc_arena(&self, bytes: usize) -> Result<Self::Buffer, RunError>;
    /// The elements of `dtype` at byte `offset` of `buf`, as a tensor of `shape`, once every launch so far
    /// has finished.
    fn download(&self, buf: &Self::Buffer, offset: usize, dtype: DType, shape: &[usize]) -> Result<Tensor, RunError>;
    /// Runs every grid point of `kernel`. `args[i]` is kernel.buffers[i]; `sizes[j]` is the value of
    /// kernel.sizes[j]. A backend may queue the work: later launches, downloads and [`sync`] see its results.
    ///
    /// # Safety
    /// Every argument holds `max(len, 1)` elements of its dtype at its offset for the whole call (and until
    /// the work finishes), arguments the kernel writes overlap no other argument, and `compiled` came from
    /// `compile(kernel)`.
    ///
    /// [`sync`]: KernelBackend::sync
    unsafe fn launch(
        &self,
        compiled: &Self::Compiled,
        kernel: &Kernel,
        args: &[Arg<'_, Self::Buffer>],
        sizes: &[i64],
    ) -> Result<(), RunError>;
    /// Waits until every queued launch has finished.
    fn sync(&self) -> Result<(), RunError> {
        Ok(())
    }
}

/// One buffer argument of a launch: `len` elements of `dtype` starting at byte `offset` of `mem`.
#[derive(Debug)]
pub struct Arg<'a, M> {
    pub mem: &'a M,
    pub offset: usize,
    pub len: usize,
    pub dtype: DType,
}

impl<M> Clone for Arg<'_, M> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<M> Copy for Arg<'_, M> {}

/// A backend whose kernels run on host memory through raw views: the evaluator and the CPU backend.
pub trait HostBackend {
    type Compiled;
    fn compile(&self, kernel: &Kernel) -> Result<Self::Compiled, RunError>;
    /// As [`KernelBackend::lower_options`].
    fn lower_options(&self) -> LowerOptions {
        LowerOptions::default()
    }
    /// Runs every grid point of `kernel` on `args` (as [`KernelBackend::launch`]).
    ///
    /// # Safety
    /// Every view is valid for its `max(len, 1)` elements of its dtype for the whole call, views of
    /// buffers the kernel writes alias nothing else, and `compiled` came from `compile(kernel)`.
    unsafe fn launch_views(
        &self,
        compiled: &Self::Compiled,
        kernel: &Kernel,
        args: &[BufView],
        sizes: &[i64],
    ) -> Result<(), RunError>;
}

/// Host memory as a backend buffer: a host buffer taken over as is, or an arena.
pub struct HostMemory {
    /// The first byte, taken when the owner was uniquely borrowed; the owner's heap data never moves.
    ptr: *mut u8,
    bytes: usize,
    _owner: HostOwner,
}

/// Held only to keep the memory alive: it is accessed through `HostMemory::ptr`.
#[allow(dead_code)]
enum HostOwner {
    Buffer(HostBuffer),
    Arena(Arena),
}

// SAFETY: `HostMemory` owns its allocation like the `Vec` inside it; the raw pointer is only written
// through by launches, whose contract excludes concurrent access to written buffers.
unsafe impl Send for HostMemory {}
// SAFETY: as above: shared references only read, except launches under their contract.
unsafe impl Sync for HostMemory {}

impl HostMemory {
    pub fn from_buffer(mut h: HostBuffer) -> HostMemory {
        let (ptr, bytes) = (h.words.as_mut_ptr().cast(), h.words.len() * 16);
        HostMemory { ptr, bytes, _owner: HostOwner::Buffer(h) }
    }

    fn arena(bytes: usize) -> HostMemory {
        let mut arena = Arena::new(bytes);
        let (ptr, bytes) = (arena.base(), arena.bytes().len());
        HostMemory { ptr, bytes, _owner: HostOwner::Arena(arena) }
    }

    /// The memory's bytes from `offset` on.
    fn bytes_from(&self, offset: usize) -> &[u8] {
        // SAFETY: `ptr` points to `bytes` initialized bytes owned by `self`; no launch runs while a
        // download borrows them (launches finish before `launch` returns).
        unsafe { std::slice::from_raw_parts(self.ptr.add(offset.min(self.bytes)), self.bytes.saturating_sub(offset)) }
    }
}

impl<H: HostBackend> KernelBackend for H {
    type Compiled = H::Compiled;
    type Buffer = HostMemory;

    fn compile(&self, kernel: &Kernel) -> Result<H::Compiled, RunError> {
        HostBackend::compile(self, kernel)
    }

    fn lower_options(&self) -> LowerOptions {
        HostBackend::lower_options(self)
    }

    fn upload(&self, host: HostBuffer) -> Result<HostMemory, RunError> {
        Ok(HostMemory::from_buffer(host))
    }

    fn alloc(&self, dtype: DType, numel: usize) -> Result<HostMemory, RunError> {
        Ok(HostMemory::from_buffer(HostBuffer::zeros(dtype, vec![numel])))
    }

    fn alloc_arena(&self, bytes: usize) -> Result<HostMemory, RunError> {
        Ok(HostMemory::arena(bytes))
    }

    fn download(&self, buf: &HostMemory, offset: usize, dtype: DType, shape: &[usize]) -> Result<Tensor, RunError> {
        Ok(tensor_of(dtype, shape, buf.bytes_from(offset)))
    }

    unsafe fn launch(
        &self,
        compiled: &H::Compiled,
        kernel: &Kernel,
        args: &[Arg<'_, HostMemory>],
        sizes: &[i64],
    ) -> Result<(), RunError> {
        // SAFETY: the caller guarantees each argument lies inside its memory.
        let views: Vec<BufView> = args
            .iter()
            .map(|a| BufView { ptr: unsafe { a.mem.ptr.add(a.offset) }, len: a.len, dtype: a.dtype })
            .collect();
        // SAFETY: forwarded from this function's contract.
        unsafe { self.launch_views(compiled, kernel, &views, sizes) }
    }
}

/// Runs kernels with the kernel-IR evaluator (`irc_codegen::kir::eval_kernel`): slow, bounds- and
/// race-checked, the reference for every other backend.
#[derive(Clone, Copy, Debug, Default)]
pub struct EvalBackend;

impl HostBackend for EvalBackend {
    type Compiled = ();

    fn compile(&self, _: &Kernel) -> Result<(), RunError> {
        Ok(())
    }

    unsafe fn launch_views(&self, _: &(), kernel: &Kernel, args: &[BufView], sizes: &[i64]) -> Result<(), RunError> {
        let mut mem: Vec<&mut [u8]> = args
            .iter()
            .map(|v| {
                let n = v.len.max(1) * v.dtype.size_bytes();
                // SAFETY: the caller guarantees each view is valid and unaliased for max(len, 1) elements.
                unsafe { std::slice::from_raw_parts_mut(v.ptr, n) }
            })
            .collect();
        eval_kernel(kernel, &mut mem, sizes).map_err(|e| RunError::Backend(e.to_string()))
    }
}

/// The elements in `bytes` as a tensor of `shape`.
pub(crate) fn tensor_of(dtype: DType, shape: &[usize], bytes: &[u8]) -> Tensor {
    let n: usize = shape.iter().product();
    Tensor::new(dtype, shape.to_vec(), (0..n).map(|i| read_scalar(dtype, bytes, i).to_f64()).collect())
}
