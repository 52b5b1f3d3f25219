//! Register tiling of matmul kernels: each grid point computes `ROWS` rows of the output instead of one
//! (4 by default; 6 for matmuls the CPU backend runs through a wide tile function, `rows_for`).
//!
//! A matmul kernel as built computes one output element per grid point: a `for k` loop accumulates a dot
//! product, then the epilogue stores it. Loading an element of `A` and of `B` per multiply-add makes it
//! load-bound. Tiling replaces the grid axis before the innermost one (`m` for a plain matmul) by a tile
//! index `t` over `ceil(M / ROWS)` and gives each grid point rows `ROWS * t + j`: one `k` loop carries
//! `ROWS` accumulators, so a `B[k, n]` value (bound to a `let` shared by the rows) is reused `ROWS`
//! times, and the rows' epilogues follow. Rows past the end of a partial tile compute on the clamped
//! last row (loads stay in bounds) and are not stored: their epilogue sits in a loop of extent
//! `min(1, M - row)`, which runs once or not at all.
//!
//! This is loop structure only, so every code generator reads it as it is; a backend that vectorizes the
//! innermost axis (Cranelift's f32x4 loops) then holds a `ROWS x lanes` tile of accumulators in
//! registers. Each output element is computed exactly as before (same `k` order, same rounding), so
//! tiling does not change results.

use std::collections::{HashMap, HashSet};

use irc_ir::{DType, UnaryOp};

use super::index::{self as ix, c};
use crate::kir::{BinOp, Expr, Kernel, Stmt, VarId, stride};

/// Output rows per grid point by default. Four rows times two f32x4 groups of columns keeps eight
/// vector accumulators, two `B` vectors and an `A` splat within x86-64's sixteen vector registers.
pub const ROWS: u32 = 4;

/// Moves to the innermost grid position an axis along which every load of the `k` loop is contiguous or
/// invariant, when the innermost axis makes some of them gathers (a product written transposed, such as
/// attention's `K^T` as `[B, H, D, T]`, has the rows of `A` innermost). Grid points are independent, so
/// the order is free; the CPU backend vectorizes the innermost axis, and the stores that become strided
/// go lane by lane once per tile instead of gathering `A` at every step of `k`.
pub(super) fn contiguous_innermost(k: &mut Kernel) {
    let Some((inner, _)) = k.grid.last() else { return };
    let Some(Stmt::Loop { body, .. }) = k.body.iter().rev().find(|s| matches!(s, Stmt::Loop { .. })) else {
        return;
    };
    let mut loads = Vec::new();
    Stmt::visit_exprs(body, &mut |e| {
        if let Expr::Load { index, .. } = e {
            loads.push((**index).clone());
        }
    });
    let contiguous = |v: VarId| {
        let strides: Vec<Option<i64>> = loads.iter().map(|i| stride(v, &|_| false, i)).collect();
        strides.iter().all(|s| matches!(s, Some(0 | 1))) && strides.contains(&Some(1))
    };
    if loads.is_empty() || contiguous(*inner) {
        return;
    }
    if let Some(at) = (0..k.grid.len() - 1).rev().find(|&a| contiguous(k.grid[a].0)) {
        let axis = k.grid.remove(at);
        k.grid.push(axis);
    }
}

/// The rows per tile of matmul kernel `k`: the wide tile's when there is one and `k` has at least its
/// columns (static innermost extent) or a symbolic number of them; narrower ones stay in f32x4 code,
/// which runs four rows best.
pub(super) fn rows_for(k: &Kernel, wide: Option<super::WideTile>) -> u32 {
    let columns = k.grid.last().and_then(|(_, e)| ix::as_const(e));
    match wide {
        Some(w) if columns.is_none_or(|n| n >= i64::from(w.cols)) => w.rows,
        _ => ROWS,
    }
}

/// Tiles `k` (a matmul kernel) in place when its body has the expected form: computations without
/// stores ending in the `k` loop(s), then the epilogue. Leaves other kernels unchanged.
pub(super) fn tile_rows(k: &mut Kernel, rows: u32) {
    let n_rows = i64::from(rows);
    let Some(axis) = k.grid.len().checked_sub(2) else { return };
    let (row_var, extent) = k.grid[axis].clone();
    let exact = match ix::as_const(&extent) {
        Some(m) if m < n_rows => return,
        Some(m) => m % n_rows == 0,
        None => false,
    };
    let Some(last_loop) = k.body.iter().rposition(|s| matches!(s, Stmt::Loop { .. })) else { return };
    let old = std::mem::take(&mut k.body);
    let (pre, post) = old.split_at(last_loop + 1);
    let defined = defined_vars(&old);
    let pre_ok = pre.iter().all(|s| match s {
        Stmt::Let { .. } | Stmt::Assign { .. } => true,
        Stmt::Loop { extent, body, .. } => {
            !mentions_any(extent, &defined) && *extent != Expr::Var(row_var) && !has_store(body)
        }
        Stmt::Store { .. } | Stmt::If { .. } | Stmt::SharedStore { .. } | Stmt::Barrier => false,
    });
    if !pre_ok || mentions_any(&extent, &defined) {
        k.body = old;
        return;
    }

    let tile = k.var(format!("t{axis}"), DType::I64);
    let rows: Vec<Expr> = (0..n_rows)
        .map(|j| {
            let row = ix::add(ix::mul(Expr::Var(tile), c(n_rows)), c(j));
            if exact { row } else { ix::min(row, ix::sub(extent.clone(), c(1))) }
        })
        .collect();
    let mut copies: Vec<HashMap<VarId, Expr>> = rows.iter().map(|r| HashMap::from([(row_var, r.clone())])).collect();
    // Copy 0 keeps the kernel's variables; the others get renamed ones.
    for (j, map) in copies.iter_mut().enumerate().skip(1) {
        for &v in &defined {
            let decl = &k.vars[v.0 as usize];
            let (name, dtype) = (format!("{}_{j}", decl.name), decl.dtype);
            map.insert(v, Expr::Var(k.var(name, dtype)));
        }
    }
    // The shared loops' variables are the same in every row.
    for s in pre {
        if let Stmt::Loop { var, .. } = s {
            copies.iter_mut().for_each(|m| drop(m.remove(var)));
        }
    }
    let assigned = assigned_vars(&old);
    let mut jam = Jam { k, copies, assigned };
    let mut body = Vec::new();
    for s in pre {
        match s {
            // The loop itself is shared; its body holds every row's statements.
            Stmt::Loop { var, extent, body: inner } => {
                let inner = jam.jammed(inner);
                body.push(Stmt::Loop { var: *var, extent: extent.clone(), body: inner });
            }
            _ => jam.each_row(s, &mut body),
        }
    }
    let rows: Vec<Vec<Stmt>> = (0..n_rows as usize).map(|j| post.iter().map(|s| jam.rename(s, j)).collect()).collect();
    let accs: Vec<VarId> =
        jam.assigned.iter().copied().filter(|&v| Stmt::any_expr(post, |e| *e == Expr::Var(v))).collect();
    // Only whole tiles: the guarded rows of a partial one index through `min`, so their stores are not
    // visibly apart and the CPU would not vectorize the staged loop.
    let phases = match accs.as_slice() {
        [acc] if exact && heavy(post) => staged(&jam, &rows, *acc),
        _ => None,
    };
    let phases = phases.unwrap_or_else(|| vec![rows]);
    for phase in phases {
        for (j, stmts) in phase.into_iter().enumerate() {
            if exact || j == 0 {
                body.extend(stmts);
            } else {
                // Runs once when row `j` of the tile exists (`rows[j]` is unclamped there), else not at all.
                let row = ix::add(ix::mul(Expr::Var(tile), c(n_rows)), c(j as i64));
                let guard = jam.k.var(format!("g{j}"), DType::I64);
                let extent = ix::min(c(1), ix::sub(extent.clone(), row));
                body.push(Stmt::Loop { var: guard, extent, body: stmts });
            }
        }
    }
    let k = jam.k;
    k.grid[axis] = (tile, ix::div(ix::add(extent, c(n_rows - 1)), c(n_rows)));
    k.body = body;
}

/// Whether an epilogue computes a transcendental (or a power): enough work per element that holding
/// every row's accumulator through it costs more than a store and a reload.
fn heavy(post: &[Stmt]) -> bool {
    Stmt::any_expr(post, |e| {
        matches!(
            e,
            Expr::Unary { op: UnaryOp::Exp | UnaryOp::Log | UnaryOp::Tanh | UnaryOp::Sin | UnaryOp::Cos, .. }
                | Expr::Binary { op: BinOp::Pow, .. }
        )
    })
}

/// A heavy epilogue in two phases: first every row stores its accumulator `acc` where its result goes,
/// then each row reloads it and computes the epilogue. The accumulators die at the first phase, so the
/// epilogue's many temporaries and constants do not compete with them for registers (which made the
/// `k` loop spill them). Needs one store per row, of the accumulator's type (the reload is exact), at
/// an index computed before the epilogue's own `let`s. `None` when the rows do not have that form.
/// Only for whole tiles (see the caller).
fn staged(jam: &Jam, rows: &[Vec<Stmt>], acc: VarId) -> Option<Vec<Vec<Vec<Stmt>>>> {
    let dtype = jam.k.vars[acc.0 as usize].dtype;
    let (mut spill, mut finish) = (Vec::new(), Vec::new());
    for (j, stmts) in rows.iter().enumerate() {
        let acc_j = match jam.copies[j].get(&acc) {
            Some(Expr::Var(u)) => *u,
            _ => acc,
        };
        let lets: HashSet<VarId> =
            stmts.iter().filter_map(|s| if let Stmt::Let { var, .. } = s { Some(*var) } else { None }).collect();
        let mut store = None;
        for s in stmts {
            match s {
                Stmt::Let { .. } => {}
                Stmt::Store { buf, index, .. } if store.is_none() => store = Some((*buf, index.clone())),
                _ => return None,
            }
        }
        let (buf, index) = store?;
        if jam.k.buffers[buf].dtype != dtype || mentions_any(&index, &lets) {
            return None;
        }
        spill.push(vec![Stmt::Store { buf, index: index.clone(), value: Expr::Var(acc_j) }]);
        let reload = HashMap::from([(acc_j, Expr::load(buf, index))]);
        finish.push(stmts.iter().map(|s| substituted(jam.k, s, &reload)).collect());
    }
    Some(vec![spill, finish])
}

/// Statement `s` (a `let` or a store) with variables replaced by `map`.
fn substituted(k: &Kernel, s: &Stmt, map: &HashMap<VarId, Expr>) -> Stmt {
    match s {
        Stmt::Let { var, value } => Stmt::Let { var: *var, value: subst(k, value, map) },
        Stmt::Store { buf, index, value } => {
            Stmt::Store { buf: *buf, index: subst(k, index, map), value: subst(k, value, map) }
        }
        other => other.clone(),
    }
}

/// The statement copies of a tile: one variable map per row.
struct Jam<'k> {
    k: &'k mut Kernel,
    copies: Vec<HashMap<VarId, Expr>>,
    /// Variables assigned after their `let` (accumulators): never shared between rows.
    assigned: HashSet<VarId>,
}

impl Jam<'_> {
    /// Statement `s` of row `j`.
    fn rename(&self, s: &Stmt, j: usize) -> Stmt {
        let map = &self.copies[j];
        let var = |v: &VarId| match map.get(v) {
            Some(Expr::Var(u)) => *u,
            _ => *v,
        };
        match s {
            Stmt::Let { var: v, value } => Stmt::Let { var: var(v), value: subst(self.k, value, map) },
            Stmt::Assign { var: v, value } => Stmt::Assign { var: var(v), value: subst(self.k, value, map) },
            Stmt::Store { buf, index, value } => {
                Stmt::Store { buf: *buf, index: subst(self.k, index, map), value: subst(self.k, value, map) }
            }
            Stmt::Loop { var: v, extent, body } => Stmt::Loop {
                var: var(v),
                extent: subst(self.k, extent, map),
                body: body.iter().map(|s| self.rename(s, j)).collect(),
            },
            Stmt::If { cond, body } => {
                Stmt::If { cond: subst(self.k, cond, map), body: body.iter().map(|s| self.rename(s, j)).collect() }
            }
            Stmt::SharedStore { arr, index, value } => {
                Stmt::SharedStore { arr: *arr, index: subst(self.k, index, map), value: subst(self.k, value, map) }
            }
            Stmt::Barrier => Stmt::Barrier,
        }
    }

    /// Emits `s` once per row.
    fn each_row(&mut self, s: &Stmt, out: &mut Vec<Stmt>) {
        for j in 0..self.copies.len() {
            out.push(self.rename(s, j));
        }
    }

    /// The body of a shared loop, statement by statement for every row. A `let` that computes the same
    /// value in every row is computed once; so is a float operand of an accumulation that is the same in
    /// every row (the `B[k, n]` of a matmul).
    fn jammed(&mut self, body: &[Stmt]) -> Vec<Stmt> {
        let mut out = Vec::new();
        for s in body {
            match s {
                Stmt::Let { var, value } if !self.assigned.contains(var) => {
                    let values: Vec<Expr> = self.copies.iter().map(|m| subst(self.k, value, m)).collect();
                    if values.iter().all(|v| *v == values[0]) {
                        for map in &mut self.copies[1..] {
                            map.insert(*var, Expr::Var(*var));
                        }
                        out.push(Stmt::Let { var: *var, value: values[0].clone() });
                    } else {
                        self.each_row(s, &mut out);
                    }
                }
                Stmt::Assign { var, value } => {
                    let mut values: Vec<Expr> = self.copies.iter().map(|m| subst(self.k, value, m)).collect();
                    let dtype = self.k.vars[var.0 as usize].dtype;
                    let mut refs: Vec<&mut Expr> = values.iter_mut().collect();
                    self.hoist_common(&mut refs, dtype, &mut out);
                    for (j, value) in values.into_iter().enumerate() {
                        let target = match self.copies[j].get(var) {
                            Some(Expr::Var(u)) => *u,
                            _ => *var,
                        };
                        out.push(Stmt::Assign { var: target, value });
                    }
                }
                _ => self.each_row(s, &mut out),
            }
        }
        out
    }

    /// Replaces the largest subexpressions of `dtype` that are equal in all rows (and more than a variable
    /// or constant) by a `let` emitted to `out`.
    fn hoist_common(&mut self, es: &mut [&mut Expr], dtype: DType, out: &mut Vec<Stmt>) {
        let first = es[0].clone();
        if es.iter().all(|e| **e == first) {
            if !matches!(first, Expr::Var(_) | Expr::Const { .. } | Expr::Size(_)) && self.k.dtype_of(&first) == dtype {
                let v = self.k.var(format!("b{}", self.k.vars.len()), dtype);
                out.push(Stmt::Let { var: v, value: first });
                for e in es.iter_mut() {
                    **e = Expr::Var(v);
                }
            }
            return;
        }
        // Recurse into operands when every row has the same operator here.
        match first {
            Expr::Binary { op, .. } => {
                let (mut lhs, mut rhs) = (Vec::new(), Vec::new());
                for e in es.iter_mut() {
                    match &mut **e {
                        Expr::Binary { op: o, lhs: l, rhs: r } if *o == op => {
                            lhs.push(&mut **l);
                            rhs.push(&mut **r);
                        }
                        _ => return,
                    }
                }
                self.hoist_common(&mut lhs, dtype, out);
                self.hoist_common(&mut rhs, dtype, out);
            }
            Expr::Unary { op, .. } => {
                let mut args = Vec::new();
                for e in es.iter_mut() {
                    match &mut **e {
                        Expr::Unary { op: o, arg } if *o == op => args.push(&mut **arg),
                        _ => return,
                    }
                }
                self.hoist_common(&mut args, dtype, out);
            }
            _ => {}
        }
    }
}

/// `e` with variables replaced by `map`. Index arithmetic is folded again with constant offsets moved
/// outward (`((t * 4) + 1) * K + k` becomes `((t * 4K) + k) + K`), so the rows' indices share everything
/// but a constant, which a backend folds into the address.
fn subst(k: &Kernel, e: &Expr, map: &HashMap<VarId, Expr>) -> Expr {
    let s = |x: &Expr| subst(k, x, map);
    match e {
        Expr::Var(v) => map.get(v).cloned().unwrap_or_else(|| e.clone()),
        Expr::Const { .. } | Expr::Size(_) => e.clone(),
        Expr::Load { buf, index } => Expr::load(*buf, s(index)),
        Expr::SharedLoad { arr, index } => Expr::shared_load(*arr, s(index)),
        Expr::Unary { op, arg } => Expr::unary(*op, s(arg)),
        Expr::Cast { dtype, arg } => Expr::cast(*dtype, s(arg)),
        Expr::Binary { op, lhs, rhs } if k.dtype_of(e) == DType::I64 => match op {
            BinOp::Add => ix::add(s(lhs), s(rhs)),
            BinOp::Sub => ix::sub(s(lhs), s(rhs)),
            BinOp::Mul => mul_distributed(s(lhs), s(rhs)),
            _ => Expr::binary(*op, s(lhs), s(rhs)),
        },
        Expr::Binary { op, lhs, rhs } => Expr::binary(*op, s(lhs), s(rhs)),
        Expr::Select { cond, a, b } => Expr::select(s(cond), s(a), s(b)),
    }
}

/// `a * b`, with `(x + j) * c` written `x * c + j * c` for constants `j` and `c`.
fn mul_distributed(a: Expr, b: Expr) -> Expr {
    if let (Expr::Binary { op: BinOp::Add, lhs, rhs }, Some(y)) = (&a, ix::as_const(&b))
        && let Some(j) = ix::as_const(rhs)
    {
        return ix::add(ix::mul((**lhs).clone(), b.clone()), c(j.wrapping_mul(y)));
    }
    ix::mul(a, b)
}

fn mentions_any(e: &Expr, vars: &HashSet<VarId>) -> bool {
    match e {
        Expr::Var(v) => vars.contains(v),
        Expr::Const { .. } | Expr::Size(_) => false,
        Expr::Load { index: x, .. }
        | Expr::SharedLoad { index: x, .. }
        | Expr::Unary { arg: x, .. }
        | Expr::Cast { arg: x, .. } => mentions_any(x, vars),
        Expr::Binary { lhs, rhs, .. } => mentions_any(lhs, vars) || mentions_any(rhs, vars),
        Expr::Select { cond, a, b } => mentions_any(cond, vars) || mentions_any(a, vars) || mentions_any(b, vars),
    }
}

/// Variables the body defines (`let`s and loop variables), in order of appearance.
fn defined_vars(body: &[Stmt]) -> HashSet<VarId> {
    let mut out = HashSet::new();
    walk(body, &mut |s| match s {
        Stmt::Let { var, .. } | Stmt::Loop { var, .. } => {
            out.insert(*var);
        }
        _ => {}
    });
    out
}

fn assigned_vars(body: &[Stmt]) -> HashSet<VarId> {
    let mut out = HashSet::new();
    walk(body, &mut |s| {
        if let Stmt::Assign { var, .. } = s {
            out.insert(*var);
        }
    });
    out
}

fn has_store(body: &[Stmt]) -> bool {
    let mut found = false;
    walk(body, &mut |s| found |= matches!(s, Stmt::Store { .. }));
    found
}

/// Calls `f` on every statement of `body`, nested ones after their loop.
pub(super) fn walk(body: &[Stmt], f: &mut impl FnMut(&Stmt)) {
    for s in body {
        f(s);
        if let Stmt::Loop { body, .. } | Stmt::If { body, .. } = s {
            walk(body, f);
        }
    }
}
