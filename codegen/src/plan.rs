//! Memory planning: intermediates share one arena, placed by liveness so buffers that are never live at
//! the same time reuse the same bytes.
//!
//! A temp buffer is live from the launch that first touches it to the launch that last reads it (graph
//! outputs stay live to the end). Placement is "greedy by size": largest buffers first, each at the lowest
//! offset that overlaps no already-placed buffer whose lifetime intersects its own. The lower bound on any
//! plan is the largest total size of the buffers live during one launch; [`MemoryPlan::live_peak`] reports
//! it next to the arena size so the gap is visible.

use crate::kir::{BufferKind, Program};

/// Offsets are multiples of this, so vector loads stay aligned.
pub const ALIGN: usize = 64;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MemoryPlan {
    /// Arena offset of each program buffer; `None` for inputs, params and constants (not in the arena).
    pub offsets: Vec<Option<usize>>,
    /// Bytes the arena needs.
    pub arena_bytes: usize,
    /// The most bytes of temps live during any single launch: no plan can use less.
    pub live_peak: usize,
}

/// The launch interval `[first, last]` (inclusive) in which each temp buffer is live; `None` for buffers
/// that are not temps or that no launch touches.
pub fn lifetimes(p: &Program) -> Vec<Option<(usize, usize)>> {
    let mut life: Vec<Option<(usize, usize)>> = vec![None; p.buffers.len()];
    for (t, launch) in p.launches.iter().enumerate() {
        for &b in &launch.args {
            if p.buffers[b].kind == BufferKind::Temp {
                let e = life[b].get_or_insert((t, t));
                e.1 = t;
            }
        }
    }
    let end = p.launches.len().saturating_sub(1);
    for (_, b) in &p.outputs {
        if let Some(e) = life[*b].as_mut() {
            e.1 = end;
        }
    }
    life
}

/// Plans the arena for `p`, where `bytes(b)` is the size of buffer `b` under the current bindings.
pub fn plan_memory(p: &Program, bytes: impl Fn(usize) -> usize) -> MemoryPlan {
    let life = lifetimes(p);
    let size: Vec<usize> = (0..p.buffers.len()).map(|b| bytes(b).div_ceil(ALIGN) * ALIGN).collect();
    let mut order: Vec<usize> = (0..p.buffers.len()).filter(|&b| life[b].is_some()).collect();
    order.sort_by_key(|&b| (std::cmp::Reverse(size[b]), b));

    let mut offsets = vec![None; p.buffers.len()];
    let mut placed: Vec<(usize, usize, (usize, usize))> = Vec::new(); // (offset, size, lifetime)
    let mut arena = 0;
    for b in order {
        let (lo, hi) = life[b].expect("filtered");
        // Blocks of overlapping lifetime, by offset; take the first gap that fits.
        let mut busy: Vec<(usize, usize)> =
            placed.iter().filter(|(_, _, (l, h))| *l <= hi && lo <= *h).map(|(o, s, _)| (*o, *s)).collect();
        busy.sort_unstable();
        let mut offset = 0;
        for (o, s) in busy {
            if offset + size[b] <= o {
                break;
            }
            offset = offset.max(o + s);
        }
        placed.push((offset, size[b], (lo, hi)));
        offsets[b] = Some(offset);
        arena = arena.max(offset + size[b]);
    }

    let live_peak = (0..p.launches.len())
        .map(|t| {
            (0..p.buffers.len()).filter(|&b| life[b].is_some_and(|(l, h)| l <= t && t <= h)).map(|b| size[b]).sum()
        })
        .max()
        .unwrap_or(0);
    MemoryPlan { offsets, arena_bytes: arena, live_peak }
}

/// [`plan_memory`] with buffer sizes taken from the program's shapes under `bindings`.
pub fn plan_program(p: &Program, bindings: &std::collections::HashMap<String, usize>) -> MemoryPlan {
    plan_memory(p, |b| p.buffers[b].bytes(bindings).unwrap_or(0))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kir::{Buffer, Launch};
    use irc_ir::{DType, Shape};

    fn program(temps: usize, launches: Vec<Vec<usize>>, outputs: Vec<usize>) -> Program {
        Program {
            name: "p".into(),
            buffers: (0..temps)
                .map(|_| Buffer { dtype: DType::F32, shape: Shape::scalar(), kind: BufferKind::Temp })
                .collect(),
            kernels: vec![],
            launches: launches.into_iter().map(|args| Launch { kernel: 0, args }).collect(),
            outputs: outputs.into_iter().map(|b| (format!("o{b}"), b)).collect(),
        }
    }

    /// No two buffers whose lifetimes intersect may overlap in the arena.
    fn assert_disjoint(p: &Program, plan: &MemoryPlan, bytes: &[usize]) {
        let life = lifetimes(p);
        for a in 0..p.buffers.len() {
            for b in a + 1..p.buffers.len() {
                let (Some((la, ha)), Some((lb, hb))) = (life[a], life[b]) else { continue };
                if la <= hb && lb <= ha {
                    let (oa, ob) = (plan.offsets[a].unwrap(), plan.offsets[b].unwrap());
                    assert!(oa + bytes[a] <= ob || ob + bytes[b] <= oa, "buffers {a} and {b} overlap");
                }
            }
        }
    }

    #[test]
    fn a_chain_reuses_memory() {
        // b0 -> b1 -> b2 -> b3: at most two are live at once.
        let p = program(4, vec![vec![0], vec![0, 1], vec![1, 2], vec![2, 3]], vec![3]);
        let plan = plan_memory(&p, |_| 1000);
        assert_disjoint(&p, &plan, &[1024; 4]);
        assert_eq!(plan.live_peak, 2 * 1024);
        assert_eq!(plan.arena_bytes, 2 * 1024);
    }

    #[test]
    fn mixed_sizes_stay_disjoint_and_near_the_bound() {
        let sizes = [4096, 64, 2048, 2048, 512, 4096, 128];
        let launches = vec![vec![0], vec![0, 1], vec![1, 2], vec![0, 2, 3], vec![3, 4], vec![4, 5], vec![5, 6]];
        let p = program(sizes.len(), launches, vec![6, 2]);
        let plan = plan_memory(&p, |b| sizes[b]);
        assert_disjoint(&p, &plan, &sizes);
        assert!(plan.arena_bytes >= plan.live_peak);
        assert!(plan.arena_bytes as f64 <= 1.25 * plan.live_peak as f64, "{plan:?}");
    }
}
