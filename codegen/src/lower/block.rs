//! The block schedule of row kernels for GPUs: one grid point (a workgroup) per row, its lanes sharing the
//! row's loops. A serial row kernel (`kernels::row`) is rewritten statement by statement:
//!
//! - a top-level reduction loop (its body only folds terms into accumulators declared before it, by `+` or
//!   `max`) runs strided over the lanes (lane `l` takes iterations `l, l + L, l + 2L, ...`), then the
//!   lanes' partial results are combined by a tree in a shared array, and every lane reads the total;
//! - a top-level loop that stores (the row's outputs) runs strided over the lanes: iterations write
//!   distinct elements;
//! - a top-level store (one value per row) is done by lane 0;
//! - `let`s and assignments outside loops run in every lane (per-row scalars, recomputed alike).
//!
//! Strided partial sums add in a different order than the serial loop, so a sum may differ from the CPU
//! result by reassociation (max is exact). A kernel that does not fit these shapes keeps its serial form.

use std::collections::HashMap;

use irc_ir::DType;

use super::index::{self as ix, c};
use crate::kir::{BinOp, Expr, Kernel, Lanes, SharedArray, Stmt, VarId};

/// The fewest lanes a block gets (one GPU warp).
const MIN_LANES: u32 = 32;

/// Rewrites row kernel `k` to blocks of at most `max_lanes` lanes (a power of two); leaves it unchanged
/// when its body does not fit the shapes above.
pub(super) fn cooperate(k: &mut Kernel, max_lanes: u32) {
    if max_lanes < 2 || !max_lanes.is_power_of_two() || k.lanes.is_some() {
        return;
    }
    let Some(plan) = classify(&k.body) else { return };
    let mut longest = k.body.iter().filter_map(|s| match s {
        Stmt::Loop { extent, .. } => Some(ix::as_const(extent)),
        _ => None,
    });
    let longest = longest.try_fold(0, |m, e| Some(m.max(e?)));
    let count = match longest {
        Some(n) => {
            (n.max(1) as u64).next_power_of_two().clamp(MIN_LANES.min(max_lanes) as u64, max_lanes as u64) as u32
        }
        None => max_lanes,
    };
    let lane = k.var("lane", DType::I64);
    k.lanes = Some(Lanes { var: lane, count });
    let old = std::mem::take(&mut k.body);
    let mut arrays: HashMap<DType, usize> = HashMap::new();
    for (s, role) in old.into_iter().zip(plan) {
        match (s, role) {
            (Stmt::Loop { var, extent, body }, Role::Reduce(accs)) => {
                let strided = strided(k, var, extent, body, lane, count);
                k.body.push(strided);
                for (acc, op) in accs {
                    let dtype = k.vars[acc.0 as usize].dtype;
                    let arr = *arrays.entry(dtype).or_insert_with(|| {
                        k.shared.push(SharedArray { name: format!("part_{dtype}"), dtype, len: count });
                        k.shared.len() - 1
                    });
                    combine(&mut k.body, arr, acc, op, lane, count);
                }
            }
            (Stmt::Loop { var, extent, body }, Role::Write) => {
                let strided = strided(k, var, extent, body, lane, count);
                k.body.push(strided);
            }
            (s @ Stmt::Store { .. }, _) => {
                k.body.push(Stmt::If { cond: Expr::binary(BinOp::Eq, Expr::Var(lane), c(0)), body: vec![s] })
            }
            (s, _) => k.body.push(s),
        }
    }
}

/// What a top-level statement becomes.
enum Role {
    /// A loop folding into these accumulators with these ops.
    Reduce(Vec<(VarId, BinOp)>),
    /// A loop whose iterations store distinct elements.
    Write,
    /// Runs in every lane (or, a store, in lane 0).
    Same,
}

/// The role of each top-level statement, or `None` when the body does not fit the block schedule.
fn classify(body: &[Stmt]) -> Option<Vec<Role>> {
    let mut defined_outside: Vec<VarId> = Vec::new();
    let mut roles = Vec::new();
    for s in body {
        let role = match s {
            Stmt::Let { var, .. } => {
                defined_outside.push(*var);
                Role::Same
            }
            Stmt::Assign { .. } | Stmt::Store { .. } => Role::Same,
            Stmt::Loop { body, .. } => {
                let mut folds = Vec::new();
                let mut stores = false;
                if !scan(body, &defined_outside, &mut folds, &mut stores) {
                    return None;
                }
                match (folds.is_empty(), stores) {
                    (false, false) => {
                        folds.sort_by_key(|(v, _)| *v);
                        folds.dedup();
                        // One op per accumulator.
                        if folds.windows(2).any(|w| w[0].0 == w[1].0) {
                            return None;
                        }
                        Role::Reduce(folds)
                    }
                    (true, _) => Role::Write,
                    (false, true) => return None,
                }
            }
            Stmt::If { .. } | Stmt::SharedStore { .. } | Stmt::Barrier => return None,
        };
        roles.push(role);
    }
    Some(roles)
}

/// Checks a loop body: assignments to variables from outside the loop must be folds `acc = acc op term`
/// (collected in `folds`); notes whether it stores.
fn scan(body: &[Stmt], outside: &[VarId], folds: &mut Vec<(VarId, BinOp)>, stores: &mut bool) -> bool {
    body.iter().all(|s| match s {
        Stmt::Let { .. } => true,
        Stmt::Assign { var, value } if outside.contains(var) => match fold_op(*var, value) {
            Some(op) => {
                folds.push((*var, op));
                true
            }
            None => false,
        },
        Stmt::Assign { .. } => true,
        Stmt::Store { .. } => {
            *stores = true;
            true
        }
        Stmt::Loop { body, .. } => scan(body, outside, folds, stores),
        Stmt::If { .. } | Stmt::SharedStore { .. } | Stmt::Barrier => false,
    })
}

/// `op` when `value` is `acc op term` or `term op acc` with `op` a `+` or `max` that `term` does not feed
/// back into.
fn fold_op(acc: VarId, value: &Expr) -> Option<BinOp> {
    let Expr::Binary { op, lhs, rhs } = value else { return None };
    if !matches!(op, BinOp::Add | BinOp::Max) {
        return None;
    }
    let term = match (&**lhs, &**rhs) {
        (Expr::Var(a), t) if *a == acc => t,
        (t, Expr::Var(a)) if *a == acc => t,
        _ => return None,
    };
    (!term.mentions(acc)).then_some(*op)
}

/// `for var in 0..extent { body }` as lane `lane`'s share: `for t in 0..ceil((extent - lane) / count)`
/// with `var = t * count + lane`.
fn strided(k: &mut Kernel, var: VarId, extent: Expr, body: Vec<Stmt>, lane: VarId, count: u32) -> Stmt {
    let n = i64::from(count);
    let t = k.var(format!("{}_t", k.vars[var.0 as usize].name), DType::I64);
    let trips = Expr::binary(BinOp::Div, ix::add(ix::sub(extent, Expr::Var(lane)), c(n - 1)), c(n));
    let mut inner = vec![Stmt::Let { var, value: ix::add(ix::mul(Expr::Var(t), c(n)), Expr::Var(lane)) }];
    inner.extend(body);
    Stmt::Loop { var: t, extent: trips, body: inner }
}

/// Combines every lane's `acc` by `op` through shared array `arr` (a tree of halving strides, a barrier
/// after each level), leaving the total in every lane's `acc`.
fn combine(out: &mut Vec<Stmt>, arr: usize, acc: VarId, op: BinOp, lane: VarId, count: u32) {
    let l = Expr::Var(lane);
    out.push(Stmt::SharedStore { arr, index: l.clone(), value: Expr::Var(acc) });
    out.push(Stmt::Barrier);
    let mut stride = count / 2;
    while stride > 0 {
        let s = c(i64::from(stride));
        let pair =
            Expr::binary(op, Expr::shared_load(arr, l.clone()), Expr::shared_load(arr, ix::add(l.clone(), s.clone())));
        out.push(Stmt::If {
            cond: Expr::binary(BinOp::Lt, l.clone(), s),
            body: vec![Stmt::SharedStore { arr, index: l.clone(), value: pair }],
        });
        out.push(Stmt::Barrier);
        stride /= 2;
    }
    out.push(Stmt::Assign { var: acc, value: Expr::shared_load(arr, c(0)) });
    // No lane may overwrite the array for the next combine before every lane has read the total.
    out.push(Stmt::Barrier);
}
