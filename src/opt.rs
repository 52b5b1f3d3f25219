//! The e-graph optimizer as the compile, run and bench commands use it: on unless `--no-opt`, with
//! the default rule groups (exact simplification and matmul reassociation, see docs/OPTIMIZER.md).

use std::collections::HashMap;

use irc_ir::Graph;
use irc_passes::opt::{OptOptions, OptReport, optimize};

use crate::error::Result;

/// `g` optimized (with its report), or `g` itself when `enabled` is false. `sizes` are the symbol
/// sizes the cost model assumes.
pub fn maybe_optimize(g: &Graph, enabled: bool, sizes: &HashMap<String, usize>) -> Result<(Graph, Option<OptReport>)> {
    if !enabled {
        return Ok((g.clone(), None));
    }
    let opts = OptOptions { sizes: sizes.clone(), ..OptOptions::default() };
    let (h, report) = optimize(g, &opts)?;
    Ok((h, Some(report)))
}
