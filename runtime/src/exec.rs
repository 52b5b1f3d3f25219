//! Running lowered programs: [`Executable`], a graph lowered and compiled once by a [`KernelBackend`]
//! (`backend.rs`), run many times: binding sizes, placing buffers (the arena), launching, checking.

use std::collections::HashMap;
use std::sync::Arc;

use irc_codegen::kir::{Access, BufferKind, Program};
use irc_codegen::plan::lifetimes;
use irc_codegen::{LowerError, LowerOptions, MemoryPlan, lower_with};
use irc_ir::{DType, Dim, Graph, NodeId, Op};

use crate::arena::{Layout, LayoutCache};
use crate::backend::{Arg, HostBuffer, KernelBackend};
use crate::interp::bind::{Bindings, Meta, bind_with, resolve, resolve_shape};
use crate::{RunError, Tensor};

/// Where the values of an index come from, when the executor can check their range before a run (kernels
/// clamp indices to stay in bounds, so an out-of-range index would otherwise go unnoticed).
#[derive(Debug)]
enum IndexSource {
    /// A graph input, checked value by value.
    Input(String),
    /// An `iota` along an axis of this size: values `0..size`.
    Iota(Dim),
}

/// An integer input whose values are used directly (through reshape, permute, expand) as the indices of
/// a gather or scatter: checked before launching, as the interpreter would, since kernels clamp indices.
struct IndexCheck {
    source: IndexSource,
    size: Dim,
    axis: usize,
    at: String,
}

impl<M> Resident<M> {
    fn upload<B: KernelBackend<Buffer = M>>(backend: &B, h: HostBuffer) -> Result<Resident<M>, RunError> {
        let meta = h.meta();
        Ok(Resident { meta, mem: backend.upload(h)? })
    }
}

/// How an [`Executable`] allocates the intermediates (temp buffers) of a run.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Allocation {
    /// One arena per run, laid out by `irc_codegen::plan_memory` for the run's sizes.
    #[default]
    Arena,
    /// Each temp its own zeroed buffer, allocated at its first launch and freed after its last reader:
    /// the reference the arena is tested against.
    PerBuffer,
}

/// Where a program buffer's memory comes from during a run.
enum Slot<'a, M> {
    Unallocated,
    /// Memory of this run, holding a tensor of this shape.
    Owned(M, Vec<usize>),
    /// Memory of the executable (resident params, constants), read-only, of this many elements.
    Borrowed(&'a M, usize),
    /// A temp at this byte offset of the run's arena.
    Arena(usize),
    Freed,
}

/// A run's memory: the buffers' slots and, with [`Allocation::Arena`], the arena and its layout.
struct Memory<'a, M> {
    slots: Vec<Slot<'a, M>>,
    arena: Option<(Arc<Layout>, M)>,
}

/// A buffer the executable keeps in backend memory between runs.
struct Resident<M> {
    meta: Meta,
    mem: M,
}

/// A graph lowered to kernels and compiled by backend `B`, ready to run many times.
pub struct Executable<B: KernelBackend> {
    graph: Graph,
    program: Program,
    backend: B,
    compiled: Vec<B::Compiled>,
    /// Literal data, per program buffer.
    constants: Vec<Option<Resident<B::Buffer>>>,
    /// Params kept between runs (see [`Executable::set_params`]).
    resident: HashMap<String, Resident<B::Buffer>>,
    /// Temps to free after each launch (after their last reader), with [`Allocation::PerBuffer`].
    frees: Vec<Vec<usize>>,
    /// Each temp's inclusive launch interval (for the arena's debug check).
    lifetimes: Vec<Option<(usize, usize)>>,
    layouts: LayoutCache,
    allocation: Allocation,
    index_checks: Vec<IndexCheck>,
}

impl<B: KernelBackend> Executable<B> {
    /// Lowers `g` (with fusion, in the backend's schedule) and compiles each of its kernels once.
    pub fn compile(g: &Graph, backend: B) -> Result<Executable<B>, RunError> {
        let opts = backend.lower_options();
        Executable::compile_with(g, backend, &opts)
    }

    /// [`Executable::compile`] with lowering options.
    pub fn compile_with(g: &Graph, backend: B, opts: &LowerOptions) -> Result<Executable<B>, RunError> {
        let program = lower_with(g, opts).map_err(|e| match e {
            LowerError::InvalidGraph(e) => RunError::InvalidGraph(e),
            e => RunError::Lower(e.to_string()),
        })?;
        let compiled = program.kernels.iter().map(|k| backend.compile(k)).collect::<Result<Vec<_>, _>>()?;
        for l in &program.launches {
            let k = &program.kernels[l.kernel];
            for (arg, &b) in k.buffers.iter().zip(&l.args) {
                if arg.access == Access::Write && program.buffers[b].kind != BufferKind::Temp {
                    return Err(RunError::Lower(format!(
                        "kernel `{}` writes non-temporary buffer `{}`",
                        k.name, arg.name
                    )));
                }
            }
        }
        let constants = program
            .buffers
            .iter()
            .map(|b| match (&b.kind, b.shape.as_static()) {
                (BufferKind::Constant(data), Some(shape)) => {
                    Resident::upload(&backend, HostBuffer::from_tensor(&Tensor::new(b.dtype, shape, data.clone())))
                        .map(Some)
                }
                _ => Ok(None),
            })
            .collect::<Result<_, _>>()?;
        let frees = last_uses(&program);
        let lifetimes = lifetimes(&program);
        let index_checks = index_checks(g);
        Ok(Executable {
            graph: g.clone(),
            program,
            backend,
            compiled,
            constants,
            resident: HashMap::new(),
            frees,
            lifetimes,
            layouts: LayoutCache::default(),
            allocation: Allocation::Arena,
            index_checks,
        })
    }

    /// Chooses how later runs allocate intermediates.
    pub fn set_allocation(&mut self, allocation: Allocation) {
        self.allocation = allocation;
    }

    /// The arena layout of a run on these inputs and params (offsets, arena bytes and the live peak, the
    /// lower bound on any layout), whichever [`Allocation`] is set.
    pub fn memory_plan(
        &self,
        inputs: &HashMap<String, Tensor>,
        params: &HashMap<String, Tensor>,
    ) -> Result<MemoryPlan, RunError> {
        let b = self.bind(inputs, params)?;
        Ok(self.layout(&b)?.plan.clone())
    }

    pub fn program(&self) -> &Program {
        &self.program
    }

    pub fn backend(&self) -> &B {
        &self.backend
    }

    /// Keeps `params` resident for later runs, in backend memory (names the graph does not declare are
    /// ignored). A run uses a param passed to [`Executable::run`] if there is one, else the resident one.
    /// Fails only if the backend cannot hold a param (then no param is changed).
    pub fn try_set_params(&mut self, params: &HashMap<String, Tensor>) -> Result<(), RunError> {
        let mut uploaded = Vec::new();
        for (_, name, _) in self.graph.params() {
            if let Some(t) = params.get(name) {
                uploaded.push((name.to_string(), Resident::upload(&self.backend, HostBuffer::from_tensor(t))?));
            }
        }
        self.resident.extend(uploaded);
        Ok(())
    }

    /// [`Executable::try_set_params`] for backends whose memory holds any tensor (host backends); a param
    /// the backend rejects is left out, and the run that needs it reports it missing.
    pub fn set_params(&mut self, params: &HashMap<String, Tensor>) {
        for (_, name, _) in self.graph.params() {
            if let Some(t) = params.get(name) {
                match Resident::upload(&self.backend, HostBuffer::from_tensor(t)) {
                    Ok(r) => {
                        self.resident.insert(name.to_string(), r);
                    }
                    Err(_) => {
                        self.resident.remove(name);
                    }
                }
            }
        }
    }

    /// Runs the program on `inputs` and `params` (falling back to resident params) and returns the outputs
    /// in graph order. Bad inputs give the interpreter's errors.
    pub fn run(
        &self,
        inputs: &HashMap<String, Tensor>,
        params: &HashMap<String, Tensor>,
    ) -> Result<Vec<Tensor>, RunError> {
        let (b, mut mem) = self.prepare(inputs, params)?;
        self.launch_all(&mut mem, &b, true, None)?;
        // Outputs are copied out of their buffers (arena views included) before the memory is dropped.
        self.program.outputs.iter().map(|(name, buf)| self.output(&mem, name, *buf)).collect()
    }

    /// Runs on `inputs` with the resident params (see [`Executable::try_set_params`]) and makes each
    /// output named in `updates` (output name to param name) that param's resident value for later
    /// runs, without a round trip through the host: training keeps params and optimizer state in backend
    /// memory. Returns the other outputs by name, in graph order.
    pub fn run_updating(
        &mut self,
        inputs: &HashMap<String, Tensor>,
        updates: &HashMap<String, String>,
    ) -> Result<Vec<(String, Tensor)>, RunError> {
        // The new values get memory of their own, which outlives the run, and no arena bytes.
        let kept: Vec<(usize, String)> = self
            .program
            .outputs
            .iter()
            .filter_map(|(name, buf)| updates.get(name).map(|p| (*buf, p.clone())))
            .collect();
        let temps = kept.iter().map(|(b, _)| *b).filter(|&b| self.program.buffers[b].kind == BufferKind::Temp);
        self.layouts.set_outside(temps.collect());
        let (b, mut mem) = self.prepare(inputs, &HashMap::new())?;
        self.launch_all(&mut mem, &b, true, None)?;
        let mut outputs = Vec::new();
        for (name, buf) in &self.program.outputs {
            if !updates.contains_key(name) {
                outputs.push((name.clone(), self.output(&mem, name, *buf)?));
            }
        }
        let mut new = Vec::with_capacity(kept.len());
        for (buf, param) in &kept {
            let (buf, param) = (*buf, param);
            let dtype = self.program.buffers[buf].dtype;
            let value = match std::mem::replace(&mut mem.slots[buf], Slot::Unallocated) {
                Slot::Owned(m, shape) => Resident { meta: Meta { dtype, len: shape.iter().product(), shape }, mem: m },
                // An update that is not a buffer of its own (a param passed through unchanged, or one output
                // feeding two params) goes through the host.
                other => {
                    mem.slots[buf] = other;
                    Resident::upload(&self.backend, HostBuffer::from_tensor(&self.output(&mem, param, buf)?))?
                }
            };
            new.push((param.clone(), value));
        }
        drop(mem);
        self.resident.extend(new);
        Ok(outputs)
    }

    /// The bytes of the arena a run on `inputs` (and `params`, else the resident ones) allocates for its
    /// intermediates; 0 with [`Allocation::PerBuffer`].
    pub fn arena_bytes(
        &self,
        inputs: &HashMap<String, Tensor>,
        params: &HashMap<String, Tensor>,
    ) -> Result<usize, RunError> {
        if self.allocation != Allocation::Arena {
            return Ok(0);
        }
        Ok(self.layout(&self.bind(inputs, params)?)?.plan.arena_bytes)
    }

    /// The resident value of param `name`, if it has one.
    pub fn resident_param(&self, name: &str) -> Option<Result<Tensor, RunError>> {
        let r = self.resident.get(name)?;
        Some(self.backend.download(&r.mem, 0, r.meta.dtype, &r.meta.shape))
    }

    /// Program buffer `buf`, which holds output `name`, copied to the host.
    fn output(&self, mem: &Memory<B::Buffer>, name: &str, buf: usize) -> Result<Tensor, RunError> {
        let dtype = self.program.buffers[buf].dtype;
        match (&mem.slots[buf], &mem.arena) {
            (Slot::Owned(m, shape), _) => self.backend.download(m, 0, dtype, shape),
            (Slot::Borrowed(m, _), _) if let Some(shape) = self.program.buffers[buf].shape.as_static() => {
                self.backend.download(m, 0, dtype, &shape)
            }
            (Slot::Arena(offset), Some((layout, arena))) => {
                self.backend.download(arena, *offset, dtype, &layout.shapes[buf])
            }
            _ => Err(RunError::Lower(format!("output `{name}` was never written"))),
        }
    }

    /// Seconds each of `runs` passes over the kernels takes, after `warmup` untimed passes, with inputs
    /// and params already in place and temps kept allocated: the compiled program's own time, without the
    /// host-side conversions of [`Executable::run`].
    pub fn time_kernels(
        &self,
        inputs: &HashMap<String, Tensor>,
        params: &HashMap<String, Tensor>,
        warmup: usize,
        runs: usize,
    ) -> Result<Vec<f64>, RunError> {
        let (b, mut mem) = self.prepare(inputs, params)?;
        let mut times = Vec::with_capacity(runs);
        for i in 0..warmup + runs {
            let start = std::time::Instant::now();
            self.launch_all(&mut mem, &b, false, None)?;
            self.backend.sync()?;
            if i >= warmup {
                times.push(start.elapsed().as_secs_f64());
            }
        }
        Ok(times)
    }

    /// Per launch, in program order: the median time of `runs` runs after `warmup`, the backend
    /// synchronized after every launch (so the times add up to a little more than a whole run's).
    pub fn profile_launches(
        &self,
        inputs: &HashMap<String, Tensor>,
        params: &HashMap<String, Tensor>,
        warmup: usize,
        runs: usize,
    ) -> Result<Vec<f64>, RunError> {
        let (b, mut mem) = self.prepare(inputs, params)?;
        let n = self.program.launches.len();
        let mut samples = vec![Vec::with_capacity(runs); n];
        let mut times = vec![0.0; n];
        for i in 0..warmup + runs {
            self.launch_all(&mut mem, &b, false, Some(&mut times))?;
            if i >= warmup {
                for (s, &t) in samples.iter_mut().zip(&times) {
                    s.push(t);
                }
            }
        }
        Ok(samples.into_iter().map(median).collect())
    }

    /// Binds sizes and checks inputs and params.
    fn bind(&self, inputs: &HashMap<String, Tensor>, params: &HashMap<String, Tensor>) -> Result<Bindings, RunError> {
        let meta =
            |name: &str| params.get(name).map(Meta::from).or_else(|| self.resident.get(name).map(|r| r.meta.clone()));
        let b = bind_with(&self.graph, inputs, meta)?;
        check_shapes(&self.graph, &b)?;
        self.check_indices(inputs, &b)?;
        Ok(b)
    }

    /// Binds sizes, checks inputs, places inputs, params and constants in their slots, and with
    /// [`Allocation::Arena`] allocates the arena and places the temps in it.
    fn prepare<'a>(
        &'a self,
        inputs: &HashMap<String, Tensor>,
        params: &HashMap<String, Tensor>,
    ) -> Result<(Bindings, Memory<'a, B::Buffer>), RunError> {
        let b = self.bind(inputs, params)?;
        let layout = match self.allocation {
            Allocation::Arena => Some(self.layout(&b)?),
            Allocation::PerBuffer => None,
        };
        let upload = |t: &Tensor| -> Result<Slot<'a, B::Buffer>, RunError> {
            Ok(Slot::Owned(self.backend.upload(HostBuffer::from_tensor(t))?, t.shape.clone()))
        };
        let borrow = |r: &'a Resident<B::Buffer>| Slot::Borrowed(&r.mem, r.meta.len);
        let slots = self
            .program
            .buffers
            .iter()
            .enumerate()
            .map(|(i, buf)| match &buf.kind {
                BufferKind::Input(n) => upload(&inputs[n]),
                BufferKind::Param(n) => match params.get(n) {
                    Some(t) => upload(t),
                    None => Ok(borrow(&self.resident[n])),
                },
                BufferKind::Constant(_) => Ok(self.constants[i].as_ref().map_or(Slot::Unallocated, borrow)),
                BufferKind::Temp => Ok(match layout.as_ref().and_then(|l| l.plan.offsets[i]) {
                    Some(offset) => Slot::Arena(offset),
                    None => Slot::Unallocated,
                }),
            })
            .collect::<Result<_, _>>()?;
        let arena = match layout {
            Some(l) => {
                let arena = self.backend.alloc_arena(l.plan.arena_bytes)?;
                Some((l, arena))
            }
            None => None,
        };
        Ok((b, Memory { slots, arena }))
    }

    /// The arena layout for bindings `b`, in the backend's element sizes.
    fn layout(&self, b: &Bindings) -> Result<Arc<Layout>, RunError> {
        self.layouts.get(&self.program, b, |d| self.backend.in_arena(d).then(|| self.backend.elem_bytes(d)))
    }

    /// Launches every kernel in order, allocating temps outside the arena on first use; with `free`, each
    /// such temp is dropped after its last reader. With `times`, synchronizes after each launch and
    /// records its wall time.
    fn launch_all(
        &self,
        mem: &mut Memory<B::Buffer>,
        b: &Bindings,
        free: bool,
        mut times: Option<&mut [f64]>,
    ) -> Result<(), RunError> {
        let slots = &mut mem.slots;
        for (li, launch) in self.program.launches.iter().enumerate() {
            let start = std::time::Instant::now();
            let kernel = &self.program.kernels[launch.kernel];
            if let (true, Some((layout, _))) = (cfg!(debug_assertions), &mem.arena) {
                layout.check_launch(li, &launch.args, &self.lifetimes);
            }
            for &a in &launch.args {
                if matches!(slots[a], Slot::Unallocated) {
                    let buf = &self.program.buffers[a];
                    let shape = resolve_shape(&buf.shape, b, &format!("buffer of kernel `{}`", kernel.name))?;
                    let mem = self.backend.alloc(buf.dtype, shape.iter().product())?;
                    slots[a] = Slot::Owned(mem, shape);
                }
            }
            let mut args = Vec::with_capacity(launch.args.len());
            for &a in &launch.args {
                let dtype = self.program.buffers[a].dtype;
                args.push(match &slots[a] {
                    Slot::Owned(m, shape) => Arg { mem: m, offset: 0, len: shape.iter().product(), dtype },
                    // Borrowed buffers are inputs of the program, which kernels only read (checked in `compile`).
                    Slot::Borrowed(m, len) => Arg { mem: *m, offset: 0, len: *len, dtype },
                    // The layout placed `max(len, 1)` elements of this buffer at `offset`, inside the arena's
                    // `arena_bytes` and 64-byte aligned. Temps share bytes only if their lifetimes (inclusive
                    // launch intervals) do not intersect, so during this launch the argument overlaps no other
                    // live buffer (checked above in debug builds), and what it holds was written by its
                    // producer after every earlier user of those bytes had run.
                    Slot::Arena(offset) => {
                        let (layout, arena) = mem.arena.as_ref().expect("arena slot");
                        Arg { mem: arena, offset: *offset, len: layout.shapes[a].iter().product(), dtype }
                    }
                    _ => return Err(RunError::Lower(format!("kernel `{}` reads a freed buffer", kernel.name))),
                });
            }
            let sizes: Vec<i64> = kernel.sizes.iter().map(|s| b.get(s).map_or(0, |&v| v as i64)).collect();
            // SAFETY: each view points into a distinct live buffer (or disjoint arena range, see above) of its
            // program buffer's dtype and bound shape; the kernel writes only temps, which nothing else
            // references during the launch.
            unsafe { self.backend.launch(&self.compiled[launch.kernel], kernel, &args, &sizes)? };
            if let Some(times) = times.as_deref_mut() {
                self.backend.sync()?;
                times[li] = start.elapsed().as_secs_f64();
            }
            if free {
                for &f in &self.frees[li] {
                    slots[f] = Slot::Freed;
                }
            }
        }
        Ok(())
    }

    /// The interpreter's index check, for index inputs the kernels read directly.
    fn check_indices(&self, inputs: &HashMap<String, Tensor>, b: &Bindings) -> Result<(), RunError> {
        for c in &self.index_checks {
            let size = resolve(&c.size, b, &c.at)?;
            let bad = match &c.source {
                IndexSource::Input(name) => {
                    inputs[name].data.iter().find(|&&v| !(v >= 0.0 && v < size as f64)).map(|&v| v as i64)
                }
                IndexSource::Iota(d) => {
                    let n = resolve(d, b, &c.at)?;
                    (n > size).then_some(n as i64 - 1)
                }
            };
            if let Some(index) = bad {
                return Err(RunError::IndexOutOfRange { at: c.at.clone(), index, axis: c.axis, size });
            }
        }
        Ok(())
    }
}

/// The middle value of `samples` (the upper one of an even count); 0 for none.
pub fn median(mut samples: Vec<f64>) -> f64 {
    samples.sort_by(f64::total_cmp);
    samples.get(samples.len() / 2).copied().unwrap_or(0.0)
}

/// For each launch, the temps whose last use it is (graph outputs are kept).
fn last_uses(p: &Program) -> Vec<Vec<usize>> {
    let mut last: Vec<Option<usize>> = vec![None; p.buffers.len()];
    for (li, l) in p.launches.iter().enumerate() {
        for &a in &l.args {
            last[a] = Some(li);
        }
    }
    let mut frees = vec![Vec::new(); p.launches.len()];
    for (buf, li) in last.into_iter().enumerate() {
        let is_output = p.outputs.iter().any(|(_, b)| *b == buf);
        if let (Some(li), BufferKind::Temp, false) = (li, &p.buffers[buf].kind, is_output) {
            frees[li].push(buf);
        }
    }
    frees
}

/// What the interpreter checks of every node's shape at run time: every dim resolves (no unbound symbol,
/// no negative size) and every slice lies within its input.
fn check_shapes(g: &Graph, b: &Bindings) -> Result<(), RunError> {
    for (id, node) in g.nodes().iter().enumerate() {
        let at = format!("node %{id} ({})", node.op.name());
        resolve_shape(&node.ty.shape, b, &at)?;
        if let Op::Slice { axis, start, end } = &node.op {
            let size = resolve(&g.ty(node.inputs[0]).shape.dims()[*axis], b, &at)?;
            let end = resolve(end, b, &at)?;
            if *start > end || end > size {
                return Err(RunError::SliceOutOfRange { at, start: *start, end, axis: *axis, size });
            }
        }
    }
    Ok(())
}

/// The gathers and scatters whose index is an integer input read through value-preserving movement ops.
fn index_checks(g: &Graph) -> Vec<IndexCheck> {
    let source = |mut n: NodeId| loop {
        let node = g.node(n);
        match &node.op {
            Op::Input { name, .. } => return Some(IndexSource::Input(name.clone())),
            Op::Iota { axis, ty } => return Some(IndexSource::Iota(ty.shape.dims()[*axis].clone())),
            Op::Reshape { .. } | Op::Permute { .. } | Op::Expand { .. } => n = node.inputs[0],
            Op::Cast { dtype }
                if g.ty(node.inputs[0]).dtype.is_int()
                    && (*dtype == DType::I64 || dtype == &g.ty(node.inputs[0]).dtype) =>
            {
                n = node.inputs[0]
            }
            _ => return None,
        }
    };
    let mut checks = Vec::new();
    for (id, node) in g.nodes().iter().enumerate() {
        let (axis, size) = match &node.op {
            Op::Gather { axis } => (*axis, g.ty(node.inputs[0]).shape.dims()[*axis].clone()),
            Op::ScatterAdd { axis, size } => (*axis, size.clone()),
            _ => continue,
        };
        if let Some(source) = source(node.inputs[1]) {
            checks.push(IndexCheck { source, size, axis, at: format!("node %{id} ({})", node.op.name()) });
        }
    }
    checks
}
