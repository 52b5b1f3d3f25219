//! The evaluator's check of a vector loop's claims (see `Kernel::vector`): its extent is its width, no
//! element is touched by two iterations if either stores it, and each load or store site reads one
//! element in every iteration or `width` consecutive elements from a multiple of `width`.

use std::collections::HashMap;

use super::{Kernel, VarId};

/// Accesses of one run of a vector loop.
#[derive(Default)]
pub(super) struct VectorTrace {
    pub iteration: i64,
    /// For each access site (the address of its index expression): the buffer and the index per
    /// iteration.
    sites: HashMap<usize, (usize, Vec<i64>)>,
    /// Elements touched, by `(buffer, index)`: the iteration and whether it stored.
    touched: HashMap<(usize, i64), (i64, bool)>,
}

impl VectorTrace {
    /// Records an access; `Err` names the conflict when another iteration touched the element and one of
    /// the two stores.
    pub fn record(&mut self, site: usize, buf: usize, index: i64, store: bool) -> Result<(), String> {
        self.sites.entry(site).or_insert((buf, Vec::new())).1.push(index);
        let it = self.iteration;
        match self.touched.get_mut(&(buf, index)) {
            Some((other, stored)) if *other != it && (*stored || store) => {
                return Err(format!("iterations {other} and {it} both touch element {index}, and one stores it"));
            }
            Some((_, stored)) => *stored |= store,
            None => {
                self.touched.insert((buf, index), (it, store));
            }
        }
        Ok(())
    }

    /// Checks every site's pattern once all `width` iterations ran.
    pub fn verify(&self, k: &Kernel, width: i64) -> Result<(), String> {
        for (buf, idx) in self.sites.values() {
            let same = idx.iter().all(|&i| i == idx[0]);
            let consecutive = idx.len() as i64 == width
                && idx[0].rem_euclid(width) == 0
                && idx.iter().enumerate().all(|(j, &i)| i == idx[0] + j as i64);
            if !same && !consecutive {
                return Err(format!(
                    "accesses to `{}` at {idx:?} are neither one element nor {width} aligned consecutive elements",
                    k.buffers[*buf].name
                ));
            }
        }
        Ok(())
    }
}

/// Why a kernel's vector loop is malformed before it runs, if it is.
pub(super) fn check_shape(k: &Kernel, var: VarId, extent: i64, width: u32, body: &[super::Stmt]) -> Result<(), String> {
    let name = &k.vars[var.0 as usize].name;
    if k.lanes.is_some() {
        return Err(format!("vector loop over `{name}` in a kernel with lanes"));
    }
    if extent != i64::from(width) {
        return Err(format!("vector loop over `{name}` has extent {extent}, not its width {width}"));
    }
    if body.iter().any(|s| matches!(s, super::Stmt::Loop { .. } | super::Stmt::If { .. } | super::Stmt::Barrier)) {
        return Err(format!("vector loop over `{name}` contains a loop, an `if` or a barrier"));
    }
    Ok(())
}
