//! The executor's memory for intermediates: one 64-byte-aligned allocation per run, in which every temp
//! buffer is a view at the offset `irc_codegen::plan_memory` gives it under the run's bindings.
//!
//! Invariant: two temps share bytes only if their lifetimes (inclusive launch intervals, see
//! `irc_codegen::plan::lifetimes`) do not intersect. The planner guarantees it; [`Layout::check_launch`]
//! asserts it in debug builds. Kernels never depend on a temp starting as zeros: every kernel stores each
//! element of the buffers it writes before loading it (`scatter_add` zeroes its rows itself), which the
//! evaluator checks, and consumers read only what producers wrote. Debug builds fill a fresh arena with
//! `0xff` bytes (NaN, -1) so that a kernel reading bytes it did not write shows up in the tests that
//! compare against per-buffer zeroed allocation.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use irc_codegen::kir::{BufferKind, Program};
use irc_codegen::plan::ALIGN;
use irc_codegen::{MemoryPlan, plan_memory};
use irc_ir::DType;

use crate::RunError;
use crate::interp::bind::{Bindings, resolve_shape};

/// One cache line of the arena; a `Vec` of these is 64-byte aligned.
#[derive(Clone, Copy)]
#[repr(C, align(64))]
struct Line([u8; ALIGN]);

const _: () = assert!(std::mem::size_of::<Line>() == ALIGN && std::mem::align_of::<Line>() == ALIGN);

/// The bytes of one run's intermediates.
pub(crate) struct Arena {
    lines: Vec<Line>,
}

impl Arena {
    pub(crate) fn new(bytes: usize) -> Arena {
        let fill = if cfg!(debug_assertions) { 0xff } else { 0 };
        Arena { lines: vec![Line([fill; ALIGN]); bytes.div_ceil(ALIGN)] }
    }

    /// The arena's first byte; views are offsets from it.
    pub(crate) fn base(&mut self) -> *mut u8 {
        self.lines.as_mut_ptr().cast()
    }

    pub(crate) fn bytes(&self) -> &[u8] {
        // SAFETY: `Line` is 64 initialized bytes without padding, so the lines are one initialized byte
        // slice of this length; u8 has no alignment requirement.
        unsafe { std::slice::from_raw_parts(self.lines.as_ptr().cast(), self.lines.len() * ALIGN) }
    }
}

/// Where the temps go under one binding of the symbolic sizes.
pub(crate) struct Layout {
    pub(crate) plan: MemoryPlan,
    /// The bound shape of each temp (empty for other buffers).
    pub(crate) shapes: Vec<Vec<usize>>,
    /// The bytes each buffer's views may touch: `max(numel, 1)` elements, as `BufView` promises.
    pub(crate) bytes: Vec<usize>,
}

impl Layout {
    /// Temps in `outside` get memory of their own (values that outlive the run, such as a training
    /// step's updated params): they take no arena bytes; so do temps whose dtype `elem_bytes` gives no
    /// arena size for.
    fn new(
        p: &Program,
        b: &Bindings,
        elem_bytes: impl Fn(DType) -> Option<usize>,
        outside: &[usize],
    ) -> Result<Layout, RunError> {
        let mut shapes = Vec::with_capacity(p.buffers.len());
        let mut bytes = Vec::with_capacity(p.buffers.len());
        for (i, buf) in p.buffers.iter().enumerate() {
            let shape = match buf.kind {
                BufferKind::Temp => resolve_shape(&buf.shape, b, &format!("temp buffer b{i}"))?,
                _ => Vec::new(),
            };
            // Empty temps get one element of their own too: a kernel may read element 0 of an empty buffer,
            // and that read must not touch bytes another thread writes.
            let size = elem_bytes(buf.dtype);
            let own = if outside.contains(&i) || size.is_none() { 0 } else { shape.iter().product::<usize>().max(1) };
            bytes.push(own * size.unwrap_or(0));
            shapes.push(shape);
        }
        let mut plan = plan_memory(p, |i| bytes[i]);
        for (i, buf) in p.buffers.iter().enumerate() {
            if outside.contains(&i) || elem_bytes(buf.dtype).is_none() {
                plan.offsets[i] = None;
            }
        }
        Ok(Layout { plan, shapes, bytes })
    }

    /// The arena byte range of buffer `b`, if it is placed.
    fn range(&self, b: usize) -> Option<(usize, usize)> {
        self.plan.offsets[b].map(|o| (o, o + self.bytes[b]))
    }

    /// Asserts the arena invariant for launch `li`: each temp argument overlaps no other temp live at `li`.
    pub(crate) fn check_launch(&self, li: usize, args: &[usize], lifetimes: &[Option<(usize, usize)>]) {
        for &a in args {
            let Some((lo, hi)) = self.range(a) else { continue };
            for (t, life) in lifetimes.iter().enumerate() {
                let live = life.is_some_and(|(first, last)| first <= li && li <= last);
                if t == a || !live {
                    continue;
                }
                if let Some((tlo, thi)) = self.range(t) {
                    assert!(hi <= tlo || thi <= lo, "launch {li}: temps b{a} and b{t} are live and share arena bytes");
                }
            }
        }
    }
}

/// The symbol bindings, sorted by name.
type Key = Vec<(String, usize)>;

/// Layouts by binding, so repeated runs at the same sizes plan once.
#[derive(Default)]
pub(crate) struct LayoutCache {
    layouts: Mutex<HashMap<Key, Arc<Layout>>>,
    /// Temps left out of the arena (see [`Layout::new`]), the same for every cached layout.
    outside: Vec<usize>,
}

/// Distinct bindings kept; a program run at ever new sizes starts over rather than grow without bound.
const CACHED_LAYOUTS: usize = 32;

impl LayoutCache {
    /// The layout for bindings `b`, elements taking `elem_bytes` bytes, `None` for dtypes outside the
    /// arena (fixed per cache: it belongs to one executable and its backend).
    pub(crate) fn get(
        &self,
        p: &Program,
        b: &Bindings,
        elem_bytes: impl Fn(DType) -> Option<usize>,
    ) -> Result<Arc<Layout>, RunError> {
        let mut key: Key = b.iter().map(|(k, v)| (k.clone(), *v)).collect();
        key.sort_unstable();
        let mut layouts = self.layouts.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(l) = layouts.get(&key) {
            return Ok(l.clone());
        }
        let layout = Arc::new(Layout::new(p, b, elem_bytes, &self.outside)?);
        if layouts.len() >= CACHED_LAYOUTS {
            layouts.clear();
        }
        layouts.insert(key, layout.clone());
        Ok(layout)
    }

    /// Leaves the temps `outside` out of every layout from now on (a change drops the cached ones).
    pub(crate) fn set_outside(&mut self, mut outside: Vec<usize>) {
        outside.sort_unstable();
        outside.dedup();
        if outside != self.outside {
            self.outside = outside;
            self.layouts.get_mut().unwrap_or_else(PoisonError::into_inner).clear();
        }
    }
}
