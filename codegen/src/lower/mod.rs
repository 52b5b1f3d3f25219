//! Lowering: a verified tensor-IR graph becomes a [`Program`] of kernels.
//!
//! `partition` decides which nodes get buffers and which kernel computes each node; `build` turns node
//! values into expressions (movement ops become index arithmetic); `kernels` gives each kernel kind its
//! loops; `cost` names kernels and estimates their bytes and flops. docs/KERNELS.md describes the rules
//! and shows the kernels of common patterns.

mod block;
mod block_matmul;
mod build;
mod cost;
mod fused;
mod index;
mod kernels;
mod pack;
mod partition;
mod reuse;
mod split;
mod tidy;
mod tile;
mod vector;

use std::collections::{HashMap, HashSet};

use irc_ir::{Graph, IrError, NodeId, Op};
use thiserror::Error;

use crate::kir::{Buffer, BufferKind, KernelInfo, Launch, Program};
use build::{BuildError, Builder};
use partition::{Partition, Role, partition};

/// Why a graph could not be lowered.
#[derive(Debug, Error)]
pub enum LowerError {
    #[error("invalid graph: {0}")]
    InvalidGraph(#[from] IrError),
    /// A bug in the lowering: the message names the node or kernel.
    #[error("internal lowering error: {0}")]
    Internal(String),
}

/// Elements per vector loop in the GPU schedule: 16 bytes of f32.
const VECTOR_WIDTH: i64 = 4;

/// Lowering switches.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LowerOptions {
    /// Fuse reductions, per-row values and matmul epilogues into the kernels that read them (pass B of
    /// the partition). Off: every realized node is its own kernel.
    pub fuse: bool,
    /// The most lanes a block may have (a power of two). 1: the serial CPU schedule (one thread per grid
    /// point, matmul rows register-tiled). More: the GPU schedule, where row kernels (reductions and
    /// what fuses with them) run one block per row (`block.rs`), matmuls in tiles staged through
    /// shared memory (`block_matmul.rs`), and elementwise kernels in vector loops of 4 (`vector.rs`).
    pub lanes: u32,
    /// In the CPU schedule, the Cranelift backend's wide matmul tiles, where it has them: matmuls with
    /// at least `cols` columns (or a symbolic number) get register tiles of `rows` rows instead of the
    /// default 4 (`tile.rs`, `cranelift::microkernel`).
    pub wide_tile: Option<WideTile>,
}

/// The shape of the CPU backend's wide matmul tile (`LowerOptions::wide_tile`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WideTile {
    pub rows: u32,
    pub cols: u32,
}

impl Default for LowerOptions {
    fn default() -> LowerOptions {
        LowerOptions { fuse: true, lanes: 1, wide_tile: None }
    }
}

impl LowerOptions {
    /// The GPU schedule with blocks of up to `lanes` lanes, fusion on.
    pub fn gpu(lanes: u32) -> LowerOptions {
        LowerOptions { lanes, ..LowerOptions::default() }
    }

    /// The CPU schedule for the Cranelift backend compiling with `options`: matmul tiles of the host's
    /// tile function where it has one and `options` use it.
    pub fn cpu(options: crate::cranelift::CompileOptions) -> LowerOptions {
        use crate::cranelift::microkernel;
        let wide = options.wide && options.simd && options.contract;
        let narrowest = microkernel::host().iter().map(|m| m.cols as u32).min().filter(|_| wide);
        let wide_tile = narrowest.map(|cols| WideTile { rows: microkernel::ROWS as u32, cols });
        LowerOptions { wide_tile, ..LowerOptions::default() }
    }
}

/// Lowers `g` with fusion on.
pub fn lower(g: &Graph) -> Result<Program, LowerError> {
    lower_with(g, &LowerOptions::default())
}

/// Lowers `g`: verifies it, partitions it into kernels and builds them. A fused node that a kernel
/// cannot compute where it is read is realized instead, and the graph partitioned again.
pub fn lower_with(g: &Graph, opts: &LowerOptions) -> Result<Program, LowerError> {
    g.verify()?;
    let mut forced = HashSet::new();
    loop {
        let part = partition(g, opts.fuse, &forced);
        match assemble(g, &part, opts) {
            Ok(p) => return Ok(p),
            Err(BuildError::Unfusable(n)) if forced.insert(n) => {}
            Err(BuildError::Unfusable(n)) => {
                return Err(LowerError::Internal(format!("{n} cannot be computed even when realized")));
            }
            Err(BuildError::Internal(msg)) => return Err(LowerError::Internal(msg)),
        }
    }
}

/// Program buffers with their kernel-argument names and the buffer holding each node's value.
pub(crate) struct Buffers {
    pub list: Vec<Buffer>,
    pub names: Vec<String>,
    pub of_node: Vec<Option<usize>>,
}

impl Buffers {
    pub(super) fn add(&mut self, name: String, buffer: Buffer) -> usize {
        self.list.push(buffer);
        self.names.push(name);
        self.list.len() - 1
    }
}

fn assemble(g: &Graph, part: &Partition, opts: &LowerOptions) -> Result<Program, BuildError> {
    let mut bufs = Buffers { list: Vec::new(), names: Vec::new(), of_node: vec![None; g.len()] };
    for (id, node) in g.nodes().iter().enumerate() {
        let (name, kind) = match (&node.op, part.role[id]) {
            (Op::Input { name, .. }, Role::Leaf) => (name.clone(), BufferKind::Input(name.clone())),
            (Op::Param { name, .. }, Role::Leaf) => (name.clone(), BufferKind::Param(name.clone())),
            (Op::Literal { data, .. }, Role::Leaf) => (format!("c{id}"), BufferKind::Constant(data.clone())),
            (_, Role::Root) => (format!("t{id}"), BufferKind::Temp),
            _ => continue,
        };
        let b = bufs.add(name, Buffer { dtype: node.ty.dtype, shape: node.ty.shape.clone(), kind });
        bufs.of_node[id] = Some(b);
    }
    // Leaf outputs are copied into buffers of their own.
    let mut copies: HashMap<NodeId, usize> = HashMap::new();
    for plan in part.kernels.iter().filter(|p| p.copy) {
        let ty = g.ty(plan.root);
        let name = format!("{}_out", bufs.names[bufs.of_node[plan.root.0].expect("leaves have buffers")]);
        let b = bufs.add(name, Buffer { dtype: ty.dtype, shape: ty.shape.clone(), kind: BufferKind::Temp });
        copies.insert(plan.root, b);
    }

    let mut kernels = Vec::new();
    let mut launches = Vec::new();
    for (i, plan) in part.kernels.iter().enumerate() {
        let out = match plan.copy {
            true => copies[&plan.root],
            false => bufs.of_node[plan.root.0]
                .ok_or_else(|| BuildError::Internal(format!("root {} has no buffer", plan.root)))?,
        };
        let mut b = Builder::new(g, part, &bufs, plan.root, plan.copy, &plan.locals);
        kernels::build(&mut b, plan, out)?;
        let shapes: Vec<_> = b.args.iter().map(|&a| (bufs.list[a].shape.clone(), bufs.list[a].dtype)).collect();
        let sized: Vec<_> = shapes.iter().map(|(s, d)| (b.dims(s), *d)).collect();
        let mut nodes: Vec<NodeId> = b.nodes.iter().copied().filter(|n| part.role[n.0] != Role::Leaf).collect();
        if plan.copy {
            nodes.push(plan.root);
        }
        let mut k = std::mem::replace(&mut b.k, crate::kir::Kernel::new(""));
        let mut args = std::mem::take(&mut b.args);
        drop(b);
        k.name = cost::name(i, g, plan.root, plan.copy, &plan.locals, &nodes);
        k.info = KernelInfo { nodes, bytes: Some(cost::bytes(&sized)), flops: None };
        k.info.flops = Some(cost::flops(&k));
        match plan.kind {
            partition::Kind::Matmul if opts.lanes <= 1 => {
                split::split_matmul_axes(&mut k);
                tile::contiguous_innermost(&mut k);
                let rows = tile::rows_for(&k, opts.wide_tile);
                tile::tile_rows(&mut k, rows);
                if let Some((pack, pack_args)) = pack::pack_b(&mut k, &mut args, &mut bufs) {
                    launches.push(Launch { kernel: kernels.len(), args: pack_args });
                    kernels.push(pack);
                }
            }
            partition::Kind::Matmul => block_matmul::tile_matmul(&mut k, opts.lanes),
            partition::Kind::Row { .. } if opts.lanes > 1 => block::cooperate(&mut k, opts.lanes),
            partition::Kind::Elementwise if opts.lanes > 1 => vector::vectorize(&mut k, VECTOR_WIDTH),
            _ => {}
        }
        launches.push(Launch { kernel: kernels.len(), args });
        kernels.push(k);
    }
    let outputs = g
        .outputs()
        .iter()
        .map(|o| {
            let b = copies.get(&o.node).copied().or(bufs.of_node[o.node.0]);
            b.map(|b| (o.name.clone(), b))
                .ok_or_else(|| BuildError::Internal(format!("output `{}` has no buffer", o.name)))
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Program { name: g.name.clone(), buffers: bufs.list, kernels, launches, outputs })
}
