//! Packing a matmul's `B` operand: a kernel before the matmul writes `B[k, n]` (whatever expression the
//! matmul reads it through: a transposed weight, a cast) into a temp buffer of row stride `P`, and the
//! matmul loads it from there.
//!
//! A register-tiled matmul (`tile.rs`) reads, per `k`, a few vectors of row `k` of `B`. With `N` a
//! multiple of 256 f32 (1 KiB), consecutive rows of `B` map to the same few cache sets, so the column
//! block that should stay in L2 across row tiles (docs/CPU.md) is evicted by its own rows; a `B` read
//! through another layout (transposed) is a gather per vector. The packed copy is contiguous in `n` with
//! `P = N` rounded up to 16 elements, plus 16 when that is a multiple of 256. Each element is computed
//! by the same expression as before, so results do not change; the pack costs one pass over `K x N`.

use irc_ir::{DType, Dim};

use super::Buffers;
use super::index::{self as ix, c};
use crate::kir::{Access, Buffer, BufferArg, BufferKind, Expr, Kernel, KernelInfo, Stmt, VarId};

/// Where a tiled matmul reads `B`: the `let` at the top of its shared `k` loop.
struct Operand {
    /// Top-level statement index of the `k` loop.
    at: usize,
    k: VarId,
    extent: i64,
    value: Expr,
}

/// If `k` is a tiled matmul whose `B` operand is worth packing (static `K` and `N`, read at `(k, n)`
/// only), adds the packed buffer to `bufs`, points `k` at it (`args` are its launch arguments) and returns
/// the packing kernel with its launch arguments, to run before `k`.
pub(super) fn pack_b(k: &mut Kernel, args: &mut Vec<usize>, bufs: &mut Buffers) -> Option<(Kernel, Vec<usize>)> {
    let &(n, ref n_extent) = k.grid.last()?;
    let width = ix::as_const(n_extent)?;
    let op = operand(k, n)?;
    let padded = (width + 15) / 16 * 16;
    let stride = if padded % 256 == 0 { padded + 16 } else { padded };
    // A half-precision operand widened where it is read (`f32(B[..])`) is packed as stored: half the
    // bytes, and the matmul widens it from the packed copy (exactly, as before).
    let (stored, dtype) = match &op.value {
        Expr::Cast { dtype: DType::F32, arg } if matches!(k.dtype_of(arg), DType::F16 | DType::BF16) => {
            ((**arg).clone(), k.dtype_of(arg))
        }
        value => (value.clone(), DType::F32),
    };
    let contiguous = matches!(&stored, Expr::Load { index, .. }
        if matches!(&**index, Expr::Binary { op: crate::kir::BinOp::Add, rhs, lhs } if **rhs == Expr::Var(n) && !lhs.mentions(n)));
    if width < 8 || (contiguous && width % 256 != 0) {
        return None;
    }

    // The packing kernel: the matmul's buffers that the operand reads, then the packed buffer. It runs
    // even when the matmul has no rows, so it reads only buffers of static shape (at `k < K`, `n < N`,
    // in range whatever the sizes).
    let mut used: Vec<usize> = Vec::new();
    visit_loads(&stored, &mut |b| {
        if !used.contains(&b) {
            used.push(b);
        }
    });
    if used.iter().any(|&b| bufs.list[args[b]].shape.as_static().is_none()) {
        return None;
    }
    let mut value = stored;
    remap_loads(&mut value, &|b| used.iter().position(|&u| u == b).unwrap_or(b));
    let name = format!("{}_pack", k.name);
    let packed = bufs.add(
        format!("{name}ed"),
        Buffer {
            dtype,
            shape: vec![Dim::from(op.extent as usize), Dim::from(stride as usize)].into(),
            kind: BufferKind::Temp,
        },
    );
    let mut pack = Kernel::new(name);
    pack.buffers = used.iter().map(|&b| k.buffers[b].clone()).collect();
    pack.buffers.push(BufferArg { name: bufs.names[packed].clone(), dtype, access: Access::Write });
    pack.sizes = k.sizes.clone();
    pack.vars = k.vars.clone();
    pack.grid = vec![(op.k, c(op.extent)), (n, c(width))];
    let at = ix::add(ix::mul(Expr::Var(op.k), c(stride)), Expr::Var(n));
    pack.body = vec![Stmt::Store { buf: used.len(), index: at.clone(), value }];
    let bytes = op.extent * width * 2 * dtype.size_bytes() as i64;
    pack.info = KernelInfo { nodes: Vec::new(), bytes: Some(c(bytes)), flops: Some(c(0)) };
    let mut pack_args: Vec<usize> = used.iter().map(|&b| args[b]).collect();
    pack_args.push(packed);

    // The matmul reads the packed copy.
    k.buffers.push(BufferArg { name: bufs.names[packed].clone(), dtype, access: Access::Read });
    args.push(packed);
    if let Stmt::Loop { body, .. } = &mut k.body[op.at]
        && let Some(Stmt::Let { value, .. }) = body.first_mut()
    {
        let load = Expr::load(k.buffers.len() - 1, at);
        *value = if dtype == DType::F32 { load } else { Expr::cast(DType::F32, load) };
    }
    Some((pack, pack_args))
}

/// The `B` operand of a tiled matmul: the first statement of a top-level loop of static extent is a `let`
/// of an f32 value that reads only the loop variable and the innermost grid variable `n` (no sizes), and
/// the loop body also accumulates (`tile.rs` hoists `B[k, n]` this way).
fn operand(k: &Kernel, n: VarId) -> Option<Operand> {
    k.body.iter().enumerate().find_map(|(at, s)| {
        let Stmt::Loop { var, extent, body } = s else { return None };
        let (Some(Stmt::Let { value, .. }), true) =
            (body.first(), body.iter().any(|s| matches!(s, Stmt::Assign { .. })))
        else {
            return None;
        };
        let mut only_k_n = true;
        value.visit(&mut |e| {
            only_k_n &= !matches!(e, Expr::Var(v) if *v != *var && *v != n) && !matches!(e, Expr::Size(_));
        });
        let ok = only_k_n && k.dtype_of(value) == DType::F32 && value.mentions(*var) && value.mentions(n);
        ok.then(|| Some(Operand { at, k: *var, extent: ix::as_const(extent)?, value: value.clone() })).flatten()
    })
}

fn visit_loads(e: &Expr, f: &mut impl FnMut(usize)) {
    e.visit(&mut |x| {
        if let Expr::Load { buf, .. } = x {
            f(*buf);
        }
    });
}

/// Renumbers the buffers of every load in `e`.
fn remap_loads(e: &mut Expr, map: &impl Fn(usize) -> usize) {
    if let Expr::Load { buf, .. } = e {
        *buf = map(*buf);
    }
    e.for_each_child_mut(|x| remap_loads(x, map));
}
