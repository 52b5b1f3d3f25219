//! The GPU schedule of elementwise kernels: when the innermost dimension is a constant multiple of
//! `width`, each grid point handles `width` consecutive elements in a vector loop (`Kernel::vector`), so
//! a GPU backend may move them with one aligned vector load or store (16 bytes of f32). Applies only
//! when every access reads one element for all `width` or `width` consecutive elements from a multiple
//! of `width`; otherwise the kernel is left as it is.

use irc_ir::DType;

use super::index::{self as ix, c};
use super::tidy::subst;
use crate::kir::{Expr, Kernel, Stmt, VarId, multiple_of, stride};

pub(super) fn vectorize(k: &mut Kernel, width: i64) {
    if k.lanes.is_some() || !k.vector.is_empty() {
        return;
    }
    let Some((v, n)) = k.grid.last().cloned() else { return };
    if !ix::as_const(&n).is_some_and(|n| n >= width && n % width == 0) || !simple(&k.body) {
        return;
    }
    let locals: Vec<VarId> =
        k.body.iter().filter_map(|s| if let Stmt::Let { var, .. } = s { Some(*var) } else { None }).collect();
    if !indices(&k.body).iter().all(|i| fits(i, v, &locals, width)) {
        return;
    }
    let name = k.vars[v.0 as usize].name.clone();
    let (q, j) = (k.var(format!("{name}_q"), DType::I64), k.var(format!("{name}_v"), DType::I64));
    let last = k.grid.len() - 1;
    k.grid[last] = (q, c(ix::as_const(&n).unwrap_or(0) / width));
    let mut body = vec![Stmt::Let { var: v, value: ix::add(ix::mul(Expr::Var(q), c(width)), Expr::Var(j)) }];
    body.append(&mut k.body);
    k.body = vec![Stmt::Loop { var: j, extent: c(width), body }];
    k.vector.push((j, width as u32));
}

/// Straight-line bodies only: `let`s and stores.
fn simple(body: &[Stmt]) -> bool {
    body.iter().all(|s| matches!(s, Stmt::Let { .. } | Stmt::Store { .. }))
}

/// Every load and store index in `body`.
fn indices(body: &[Stmt]) -> Vec<Expr> {
    let mut out = Vec::new();
    let mut loads = |e: &Expr| {
        e.visit(&mut |x| {
            if let Expr::Load { index, .. } = x {
                out.push((**index).clone());
            }
        })
    };
    let mut stores = Vec::new();
    for s in body {
        match s {
            Stmt::Let { value, .. } => loads(value),
            Stmt::Store { index, value, .. } => {
                loads(index);
                loads(value);
                stores.push(index.clone());
            }
            _ => {}
        }
    }
    out.extend(stores);
    out
}

/// Whether `index` reads one element for all values of `v` in a group, or consecutive elements from a
/// multiple of `width` (with `v` itself stepping by `width` between groups).
fn fits(index: &Expr, v: VarId, locals: &[VarId], width: i64) -> bool {
    match stride(v, &|u| locals.contains(&u), index) {
        Some(0) => true,
        Some(1) => {
            let mut base = index.clone();
            subst(&mut base, v, &c(0));
            multiple_of(&base, width)
        }
        _ => false,
    }
}
