//! Partitioning a graph into kernels: which nodes get a buffer, which are recomputed where they are used,
//! and which are computed once per grid point inside another node's kernel. docs/KERNELS.md states the
//! rules; this file implements them in two passes.
//!
//! **Pass A (realization).** Leaves with data (inputs, params, literals) are buffers. Outputs and the
//! heavy ops (`reduce_*`, `cumsum`, `matmul`, `gather`, `scatter_add`) are realized. Any other node is
//! inlined unless it is read more than once and is not cheap: read by two or more uses and costing more
//! than [`CHEAP`], or read *many* times per element (through a broadcasting `expand`, as a `matmul`
//! operand, as `gather` data) and costing more than one load or op.
//!
//! **Pass B (fusion).** In reverse topological order, a realized node whose every use lies inside one
//! kernel `K` joins `K` instead of getting a buffer, when the shapes say it can be computed there:
//! a reduction over the row `K` already iterates (or defines `K`'s row), a per-row value (the reduced
//! shape of the row) as a `let`, a `matmul` as the point value an elementwise epilogue reads, or a
//! full-row elementwise node instantiated at most twice (recomputed: the `exp` of softmax).
//! The kernel builder verifies every read of a fused value (see `build.rs`); a read it cannot serve makes
//! the caller force that node to stay realized and partition again.

use std::collections::{BTreeMap, HashSet};

use irc_ir::{Dim, Graph, NodeId, Op, Shape, UnaryOp};

/// Largest recompute cost (loads + ops, transcendental ops count [`TRANSCENDENTAL`]) of a node that is
/// inlined although it is read by several uses.
pub(super) const CHEAP: usize = 4;
/// Cost of `exp`, `log`, `sin`, `cos`, `tanh` and `pow` relative to an add.
pub(super) const TRANSCENDENTAL: usize = 4;
/// Most textual copies of a fused full-row node inside its kernel.
const MAX_COPIES: usize = 2;

/// How a live node is computed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Role {
    /// Not needed by any output.
    Dead,
    /// Input, param or literal: a buffer no kernel writes.
    Leaf,
    /// Computed by its own kernel into its own buffer.
    Root,
    /// Computed once per grid point of the kernel rooted at the given node, into a variable.
    Local(NodeId),
    /// Recomputed wherever it is read.
    Inline,
}

/// The loop structure of a kernel.
#[derive(Clone, Debug, PartialEq)]
pub(super) enum Kind {
    /// Grid over the root's shape, one element per grid point.
    Elementwise,
    /// Grid over the dims of `shape` not in `axes`; reductions loop over `axes`, and the root is written
    /// either in a loop over `axes` (the root has the row's shape) or once per grid point (the root has
    /// the reduced shape, up to size-1 dims: a mean reshaped to a scalar).
    Row { shape: Shape, axes: Vec<usize> },
    /// Elementwise over the root's shape, with one `matmul` computed per grid point.
    Matmul,
    /// `cumsum`, `gather`, `scatter_add`: their own loop structure, nothing fused.
    Special,
}

#[derive(Clone, Debug)]
pub(super) struct KernelPlan {
    pub root: NodeId,
    /// The root is a leaf that is also an output: the kernel copies it into the output's own buffer.
    pub copy: bool,
    pub kind: Kind,
    /// Nodes computed into variables, in topological order (the root itself when it is a reduction or a
    /// matmul).
    pub locals: Vec<NodeId>,
}

#[derive(Debug)]
pub(super) struct Partition {
    pub role: Vec<Role>,
    /// Kernels by root, in launch (topological) order.
    pub kernels: Vec<KernelPlan>,
    /// Number of reads of each node by live nodes (outputs not counted): lets the builder share repeated
    /// reads of a node with a `let`.
    pub reads: Vec<usize>,
}

fn is_heavy(op: &Op) -> bool {
    op.is_fused()
        || matches!(op, Op::Reduce { .. } | Op::Cumsum { .. } | Op::MatMul | Op::Gather { .. } | Op::ScatterAdd { .. })
}

/// Whether an `expand` from `from` to `to` repeats elements (rather than only adding size-1 dims).
pub(super) fn broadcasts(from: &Shape, to: &Shape) -> bool {
    let pad = to.rank() - from.rank();
    to.dims().iter().enumerate().any(|(i, d)| !d.is_one() && (i < pad || from.dims()[i - pad].is_one()))
}

/// The shape of `shape` reduced over `axes` (kept as size 1).
pub(super) fn reduced(shape: &Shape, axes: &[usize]) -> Shape {
    Shape(
        shape
            .dims()
            .iter()
            .enumerate()
            .map(|(i, d)| if axes.contains(&i) { Dim::Static(1) } else { d.clone() })
            .collect(),
    )
}

/// Recompute cost of one application of `op`, not counting its operands.
fn op_cost(op: &Op, arity: usize) -> usize {
    match op {
        Op::Unary { op: UnaryOp::Exp | UnaryOp::Log | UnaryOp::Sin | UnaryOp::Cos | UnaryOp::Tanh } => TRANSCENDENTAL,
        Op::Binary { op: irc_ir::BinaryOp::Pow } => TRANSCENDENTAL,
        Op::Unary { .. } | Op::Binary { .. } | Op::Select | Op::Cast { .. } | Op::Pad { .. } => 1,
        Op::Concat { .. } => arity.saturating_sub(1),
        _ => 0,
    }
}

struct Kstate {
    kind: Kind,
    locals: Vec<NodeId>,
}

/// Partitions the live part of `g`. `fuse: false` stops after pass A (every realized node is its own
/// kernel); nodes in `forced` are never fused.
pub(super) fn partition(g: &Graph, fuse: bool, forced: &HashSet<NodeId>) -> Partition {
    let n = g.len();
    let mut live = vec![false; n];
    let mut is_output = vec![false; n];
    for o in g.outputs() {
        live[o.node.0] = true;
        is_output[o.node.0] = true;
    }
    for id in (0..n).rev() {
        if live[id] {
            for i in &g.nodes()[id].inputs {
                live[i.0] = true;
            }
        }
    }
    // Uses by live consumers: (consumer, operand position); `many`: some use reads each element many times.
    // An elementwise consumer reads all its operands at one index, so a node it reads twice counts once
    // (the builder shares the value); `reads` counts every read.
    let mut uses: Vec<Vec<(usize, usize)>> = vec![Vec::new(); n];
    let mut reads = vec![0; n];
    let mut many = vec![false; n];
    for (id, node) in g.nodes().iter().enumerate().filter(|(id, _)| live[*id]) {
        for (pos, i) in node.inputs.iter().enumerate() {
            reads[i.0] += 1;
            let again = node.op.is_elementwise() && uses[i.0].last().is_some_and(|&(c, _)| c == id);
            if !again {
                uses[i.0].push((id, pos));
            }
            many[i.0] |= match &node.op {
                Op::Expand { .. } => broadcasts(&g.ty(*i).shape, &node.ty.shape),
                Op::MatMul | Op::Attention { .. } | Op::Monarch => true,
                Op::Gather { .. } => pos == 0,
                _ => false,
            };
        }
    }

    // Pass A.
    let mut role = vec![Role::Dead; n];
    let mut cost = vec![0usize; n];
    for (id, node) in g.nodes().iter().enumerate().filter(|(id, _)| live[*id]) {
        let inline_cost = op_cost(&node.op, node.inputs.len()) + node.inputs.iter().map(|i| cost[i.0]).sum::<usize>();
        role[id] = match &node.op {
            Op::Input { .. } | Op::Param { .. } | Op::Literal { .. } => Role::Leaf,
            op if is_heavy(op) || is_output[id] => Role::Root,
            Op::Const { .. } | Op::Iota { .. } => Role::Inline,
            _ => {
                let limit = if many[id] { 1 } else { CHEAP };
                let shared = many[id] || uses[id].len() >= 2;
                if shared && inline_cost > limit { Role::Root } else { Role::Inline }
            }
        };
        cost[id] = if matches!(role[id], Role::Leaf | Role::Root) { 1 } else { inline_cost };
    }

    // Pass B: `owner[id]` is the kernel whose expressions read node `id`, `None` when several do.
    let mut kernels: BTreeMap<usize, Kstate> = BTreeMap::new();
    let mut owner: Vec<Option<usize>> = vec![None; n];
    let mut copies = vec![0usize; n];
    for id in (0..n).rev() {
        if !live[id] || role[id] == Role::Leaf {
            continue;
        }
        // The kernel of each use, and how many textual copies of this node its expressions hold.
        let mut kernel_of_uses: Option<Option<usize>> = None;
        let mut count = 0;
        for &(c, _) in &uses[id] {
            let (k, copies_c) = match role[c] {
                Role::Root => (Some(c), 1),
                Role::Local(k) => (Some(k.0), 1),
                _ => (owner[c], copies[c]),
            };
            count += copies_c;
            kernel_of_uses = match kernel_of_uses {
                None => Some(k),
                Some(prev) if prev == k => Some(k),
                Some(_) => Some(None),
            };
        }
        let single = kernel_of_uses.flatten();
        if role[id] == Role::Inline {
            owner[id] = single;
            copies[id] = count;
            continue;
        }
        let merged = match single {
            Some(k) if fuse && !is_output[id] && !forced.contains(&NodeId(id)) => {
                let root_shape = &g.ty(NodeId(k)).shape;
                let ks = kernels.get_mut(&k).expect("kernels of later nodes exist");
                try_merge(g, NodeId(id), NodeId(k), root_shape, ks, many[id], count)
            }
            _ => None,
        };
        match merged {
            Some(r) => {
                role[id] = r;
                owner[id] = single;
                copies[id] = if r == Role::Inline { count } else { 1 };
                if let (Role::Local(_), Some(k)) = (r, single) {
                    kernels.get_mut(&k).expect("exists").locals.push(NodeId(id));
                }
            }
            None => {
                owner[id] = Some(id);
                copies[id] = 1;
                let node = g.node(NodeId(id));
                let (kind, locals) = match &node.op {
                    Op::Reduce { axes, .. } => {
                        (Kind::Row { shape: g.ty(node.inputs[0]).shape.clone(), axes: axes.clone() }, vec![NodeId(id)])
                    }
                    Op::MatMul => (Kind::Matmul, vec![NodeId(id)]),
                    op if is_heavy(op) => (Kind::Special, vec![]),
                    _ => (Kind::Elementwise, vec![]),
                };
                kernels.insert(id, Kstate { kind, locals });
            }
        }
    }

    let mut plans: Vec<KernelPlan> = kernels
        .into_iter()
        .map(|(root, mut ks)| {
            ks.locals.reverse();
            KernelPlan { root: NodeId(root), copy: false, kind: ks.kind, locals: ks.locals }
        })
        .collect();
    // Outputs that are leaves get a copy: an output owns its buffer.
    let mut copied = HashSet::new();
    for o in g.outputs() {
        if role[o.node.0] == Role::Leaf && copied.insert(o.node) {
            plans.push(KernelPlan { root: o.node, copy: true, kind: Kind::Elementwise, locals: vec![] });
        }
    }
    plans.sort_by_key(|p| p.root);
    Partition { role, kernels: plans, reads }
}

/// The role node `id` takes inside kernel `ks` (rooted at a node of `root_shape`), if it can join it.
/// `count` is the number of textual copies the kernel would hold if it were recomputed there.
fn try_merge(
    g: &Graph,
    id: NodeId,
    k: NodeId,
    root_shape: &Shape,
    ks: &mut Kstate,
    many: bool,
    count: usize,
) -> Option<Role> {
    let node = g.node(id);
    let shape = &node.ty.shape;
    let local = Some(Role::Local(k));
    let kind = ks.kind.clone();
    match (&node.op, &kind) {
        (Op::Reduce { axes, .. }, kind) => {
            let input = &g.ty(node.inputs[0]).shape;
            match kind {
                Kind::Elementwise if root_shape == input || squeezed(root_shape) == squeezed(shape) => {
                    ks.kind = Kind::Row { shape: input.clone(), axes: axes.clone() };
                    local
                }
                Kind::Row { shape: s, axes: a } if s == input && a == axes => local,
                _ => None,
            }
        }
        (Op::MatMul, Kind::Elementwise) if !many => {
            ks.kind = Kind::Matmul;
            local
        }
        (op, kind) if !is_heavy(op) => match kind {
            // A per-row value: computed once per grid point.
            Kind::Row { shape: s, axes } if *shape == reduced(s, axes) && shape != s => local,
            Kind::Elementwise if row_axes(shape, root_shape).is_some() => {
                let axes = row_axes(shape, root_shape)?;
                ks.kind = Kind::Row { shape: root_shape.clone(), axes };
                local
            }
            // A full-row value: recomputed at each (at most MAX_COPIES) place it is read.
            Kind::Row { shape: s, .. } if !many && count <= MAX_COPIES && shape == s => Some(Role::Inline),
            Kind::Elementwise | Kind::Matmul if !many && count <= MAX_COPIES && shape == root_shape => {
                Some(Role::Inline)
            }
            _ => None,
        },
        _ => None,
    }
}

/// The dims of `shape` other than static 1s.
pub(super) fn squeezed(shape: &Shape) -> Vec<&Dim> {
    shape.dims().iter().filter(|d| !d.is_one()).collect()
}

/// The axes along which `shape` is `root`'s row reduced to size 1, if `shape` is `root` with some
/// non-unit dims replaced by 1.
fn row_axes(shape: &Shape, root: &Shape) -> Option<Vec<usize>> {
    if shape.rank() != root.rank() {
        return None;
    }
    let mut axes = Vec::new();
    for (i, (a, b)) in shape.dims().iter().zip(root.dims()).enumerate() {
        if a.is_one() && !b.is_one() {
            axes.push(i);
        } else if a != b {
            return None;
        }
    }
    (!axes.is_empty()).then_some(axes)
}
