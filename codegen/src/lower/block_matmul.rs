//! The GPU schedule of matmul kernels: a block of `s x s` lanes computes a `TM x TN` tile of the output
//! (`TM = TN = s * R`), each lane an `R x R` patch of it in registers. The `k` loop runs over tiles of
//! `TK`: the lanes copy an `A` tile (`TM x TK`) and a `B` tile (`TK x TN`) into shared arrays together,
//! meet at a barrier, accumulate from the shared tiles, and meet again before the next copy. Each output
//! then runs the kernel's epilogue (bias, activation, residual) where it is in range.
//!
//! Operands are expressions, so a transposed or broadcast operand, or an elementwise prologue, is copied
//! into the tile as it is computed. Elements past `K` are stored as zero in both tiles, so they add
//! exactly `0 * 0` to every sum; rows past `M` and columns past `N` read clamped (in-bounds) elements
//! and are never stored. Each output's sum runs over `k` in order, as in the serial kernel.
//!
//! The serial kernel must have the shape `kernels::matmul_point` builds: `let acc = 0`, one loop
//! `for k { acc = acc + x * y }` with `x` reading only the row, `k` and batch indices and `y` only `k`,
//! the column and batch indices, and `let`s before it. Anything else keeps its serial form.

use irc_ir::DType;

use super::index::{self as ix, c};
use crate::kir::{BinOp, Expr, Kernel, Lanes, SharedArray, Stmt, VarId};

/// The serial kernel's parts.
struct Parts {
    m: (VarId, Expr),
    n: (VarId, Expr),
    batch: Vec<(VarId, Expr)>,
    acc: VarId,
    k: (VarId, Expr),
    x: Expr,
    y: Expr,
    pre: Vec<Stmt>,
    post: Vec<Stmt>,
}

/// Rewrites matmul kernel `k` to tiles in blocks of at most `max_lanes` lanes; leaves it unchanged when
/// it does not have the serial shape above or the blocks would have fewer than 4 lanes.
pub(super) fn tile_matmul(k: &mut Kernel, max_lanes: u32) {
    if k.lanes.is_some() {
        return;
    }
    // The largest square power of two of lanes.
    let mut side = 1i64;
    while (side * 2) * (side * 2) <= i64::from(max_lanes) {
        side *= 2;
    }
    if side < 2 {
        return;
    }
    let Some(p) = parts(k) else { return };
    let r = if side >= 8 { 4 } else { 2 };
    let (tm, tn) = (side * r, side * r);
    let tk = tm.min(16);
    let lanes = side * side;
    if (tm * tk) % lanes != 0 || (tk * tn) % lanes != 0 {
        return;
    }
    let cd = k.vars[p.acc.0 as usize].dtype;
    let a = k.shared.len();
    k.shared.push(SharedArray { name: "tile_a".into(), dtype: cd, len: (tm * tk) as u32 });
    k.shared.push(SharedArray { name: "tile_b".into(), dtype: cd, len: (tk * tn) as u32 });
    let b = a + 1;

    let lane = k.var("lane", DType::I64);
    k.lanes = Some(Lanes { var: lane, count: lanes as u32 });
    let (mt, nt) = (k.var("mt", DType::I64), k.var("nt", DType::I64));
    k.grid = p.batch.clone();
    k.grid.push((mt, ceil_div(p.m.1.clone(), tm)));
    k.grid.push((nt, ceil_div(p.n.1.clone(), tn)));

    let l = Expr::Var(lane);
    let (lr, lc) = (k.var("lr", DType::I64), k.var("lc", DType::I64));
    let mut body = vec![
        Stmt::Let { var: lr, value: Expr::binary(BinOp::Div, l.clone(), c(side)) },
        Stmt::Let { var: lc, value: Expr::binary(BinOp::Rem, l.clone(), c(side)) },
    ];
    let accs: Vec<VarId> = (0..r * r).map(|i| k.var(format!("acc_{}_{}", i / r, i % r), cd)).collect();
    for &acc in &accs {
        body.push(Stmt::Let { var: acc, value: Expr::constant(0.0, cd) });
    }

    // One k tile: copy both tiles, accumulate, and wait before the next copy overwrites them.
    let kt = k.var("kt", DType::I64);
    let k_at = |kk: Expr| ix::add(ix::mul(Expr::Var(kt), c(tk)), kk);
    let zero = Expr::constant(0.0, cd);
    let (kvar, kext) = p.k.clone();
    let (mvar, mext) = p.m.clone();
    let (nvar, next) = p.n.clone();
    let copy_a = copy_tile(k, lane, lanes, tm * tk, tk, |i, kk| {
        let kr = k_at(kk);
        let lets = vec![
            Stmt::Let { var: mvar, value: clamp(ix::add(ix::mul(Expr::Var(mt), c(tm)), i), &mext) },
            Stmt::Let { var: kvar, value: clamp(kr.clone(), &kext) },
        ];
        (lets, Expr::select(Expr::binary(BinOp::Lt, kr, kext.clone()), p.x.clone(), zero.clone()), a)
    });
    let copy_b = copy_tile(k, lane, lanes, tk * tn, tn, |kk, j| {
        let kr = k_at(kk);
        let lets = vec![
            Stmt::Let { var: kvar, value: clamp(kr.clone(), &kext) },
            Stmt::Let { var: nvar, value: clamp(ix::add(ix::mul(Expr::Var(nt), c(tn)), j), &next) },
        ];
        (lets, Expr::select(Expr::binary(BinOp::Lt, kr, kext.clone()), p.y.clone(), zero.clone()), b)
    });
    let kk = k.var("kk", DType::I64);
    let mut step = Vec::new();
    let a_vals: Vec<VarId> = (0..r).map(|i| k.var(format!("a{i}"), cd)).collect();
    let b_vals: Vec<VarId> = (0..r).map(|j| k.var(format!("b{j}"), cd)).collect();
    for (i, &v) in a_vals.iter().enumerate() {
        let row = ix::add(ix::mul(Expr::Var(lr), c(r)), c(i as i64));
        step.push(Stmt::Let { var: v, value: Expr::shared_load(a, ix::add(ix::mul(row, c(tk)), Expr::Var(kk))) });
    }
    for (j, &v) in b_vals.iter().enumerate() {
        let col = ix::add(ix::mul(Expr::Var(lc), c(r)), c(j as i64));
        step.push(Stmt::Let { var: v, value: Expr::shared_load(b, ix::add(ix::mul(Expr::Var(kk), c(tn)), col)) });
    }
    for (idx, &acc) in accs.iter().enumerate() {
        let prod = Expr::binary(BinOp::Mul, Expr::Var(a_vals[idx / r as usize]), Expr::Var(b_vals[idx % r as usize]));
        step.push(Stmt::Assign { var: acc, value: Expr::binary(BinOp::Add, Expr::Var(acc), prod) });
    }
    body.push(Stmt::Loop {
        var: kt,
        extent: ceil_div(kext.clone(), tk),
        body: vec![copy_a, copy_b, Stmt::Barrier, Stmt::Loop { var: kk, extent: c(tk), body: step }, Stmt::Barrier],
    });

    // Each output in range runs the epilogue with the serial kernel's names bound to it.
    for (idx, &acc) in accs.iter().enumerate() {
        let (i, j) = (idx as i64 / r, idx as i64 % r);
        let m = ix::add(ix::add(ix::mul(Expr::Var(mt), c(tm)), ix::mul(Expr::Var(lr), c(r))), c(i));
        let n = ix::add(ix::add(ix::mul(Expr::Var(nt), c(tn)), ix::mul(Expr::Var(lc), c(r))), c(j));
        let mut out = vec![
            Stmt::Let { var: mvar, value: m.clone() },
            Stmt::Let { var: nvar, value: n.clone() },
            Stmt::Let { var: p.acc, value: Expr::Var(acc) },
        ];
        out.extend(p.pre.iter().cloned());
        out.extend(p.post.iter().cloned());
        let inner = Stmt::If { cond: Expr::binary(BinOp::Lt, n, next.clone()), body: out };
        body.push(Stmt::If { cond: Expr::binary(BinOp::Lt, m, mext.clone()), body: vec![inner] });
    }
    k.body = body;
}

/// `for t in 0..len / lanes { e = t * lanes + lane; shared[e] = value(e / width, e % width) }`, where
/// `value` returns the `let`s binding the serial kernel's indices, the value, and the shared array.
fn copy_tile(
    k: &mut Kernel,
    lane: VarId,
    lanes: i64,
    len: i64,
    width: i64,
    value: impl FnOnce(Expr, Expr) -> (Vec<Stmt>, Expr, usize),
) -> Stmt {
    let (t, e) = (k.var("copy_t", DType::I64), k.var("copy_e", DType::I64));
    let ev = Expr::Var(e);
    let (lets, v, arr) =
        value(Expr::binary(BinOp::Div, ev.clone(), c(width)), Expr::binary(BinOp::Rem, ev.clone(), c(width)));
    let mut body = vec![Stmt::Let { var: e, value: ix::add(ix::mul(Expr::Var(t), c(lanes)), Expr::Var(lane)) }];
    body.extend(lets);
    body.push(Stmt::SharedStore { arr, index: ev, value: v });
    Stmt::Loop { var: t, extent: c(len / lanes), body }
}

fn ceil_div(n: Expr, d: i64) -> Expr {
    match ix::as_const(&n) {
        Some(n) => c((n + d - 1) / d),
        None => Expr::binary(BinOp::Div, ix::add(n, c(d - 1)), c(d)),
    }
}

/// `i` clamped to `0..extent` (reads past the edge stay in bounds; extent is at least 1 where read).
fn clamp(i: Expr, extent: &Expr) -> Expr {
    ix::min(i, ix::sub(extent.clone(), c(1)))
}

/// The parts of a serial matmul kernel, or `None` when it has another shape.
fn parts(k: &Kernel) -> Option<Parts> {
    let g = k.grid.len();
    if g < 2 {
        return None;
    }
    let (m, n, batch) = (k.grid[g - 2].clone(), k.grid[g - 1].clone(), k.grid[..g - 2].to_vec());
    let at = k.body.iter().position(|s| matches!(s, Stmt::Loop { .. }))?;
    let Stmt::Loop { var: kv, extent, body } = &k.body[at] else { return None };
    let [Stmt::Assign { var: acc, value: Expr::Binary { op: BinOp::Add, lhs, rhs } }] = body.as_slice() else {
        return None;
    };
    let prod = match (&**lhs, &**rhs) {
        (Expr::Var(v), p) | (p, Expr::Var(v)) if v == acc => p,
        _ => return None,
    };
    let Expr::Binary { op: BinOp::Mul, lhs: x, rhs: y } = prod else { return None };
    let batch_vars: Vec<VarId> = batch.iter().map(|(v, _)| *v).collect();
    let only = |e: &Expr, allowed: &[VarId]| {
        let mut ok = true;
        e.visit(&mut |s| {
            if let Expr::Var(v) = s {
                ok &= allowed.contains(v) || batch_vars.contains(v);
            }
        });
        ok
    };
    if !only(x, &[m.0, *kv]) || !only(y, &[*kv, n.0]) || !only(extent, &[]) {
        return None;
    }
    let mut pre = Vec::new();
    let mut init = false;
    for s in &k.body[..at] {
        match s {
            Stmt::Let { var, value } if var == acc => {
                init = *value == Expr::constant(0.0, k.vars[acc.0 as usize].dtype)
            }
            Stmt::Let { .. } => pre.push(s.clone()),
            _ => return None,
        }
    }
    let post = k.body[at + 1..].to_vec();
    init.then(|| Parts {
        m,
        n,
        batch,
        acc: *acc,
        k: (*kv, extent.clone()),
        x: (**x).clone(),
        y: (**y).clone(),
        pre,
        post,
    })
}
