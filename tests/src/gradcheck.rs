//! Gradient checking: autodiff against central finite differences.

use std::collections::HashMap;

use irc_ir::Graph;
use irc_passes::{differentiate, grad_output_name};
use irc_runtime::{Rng, Tensor, interpret};

/// How to compare: step `h`, relative tolerance `tol` (on `max(1, |grad|)`), and at most `max_entries`
/// entries checked per param (chosen at random with `seed`; all of them when the param is smaller).
#[derive(Clone, Copy, Debug)]
pub struct GradCheck {
    pub h: f64,
    pub tol: f64,
    pub max_entries: usize,
    pub seed: u64,
}

impl Default for GradCheck {
    /// Settings for f64 graphs: the central difference's truncation error is about `h^2 |L'''|` (~1e-10)
    /// and its rounding error about `1e-16 |L| / h` (~1e-11), so 1e-6 separates a wrong rule from noise.
    fn default() -> GradCheck {
        GradCheck { h: 1e-5, tol: 1e-6, max_entries: usize::MAX, seed: 0 }
    }
}

/// Checks d `loss` / d p for every param of `g` at the given point; `Err` describes the first mismatch.
pub fn check_gradients(
    g: &Graph,
    loss: &str,
    inputs: &HashMap<String, Tensor>,
    params: &HashMap<String, Tensor>,
    cfg: GradCheck,
) -> Result<(), String> {
    let names: Vec<String> = g.params().map(|(_, n, _)| n.to_string()).collect();
    let wrt: Vec<&str> = names.iter().map(String::as_str).collect();
    let dg = differentiate(g, loss, &wrt).map_err(|e| e.to_string())?;
    dg.verify().map_err(|e| format!("gradient graph does not verify: {e}"))?;
    let outs = interpret(&dg, inputs, params).map_err(|e| e.to_string())?;
    let out_of = |name: &str| &outs[dg.outputs().iter().position(|o| o.name == name).expect("output exists")];
    let loss_index = g.outputs().iter().position(|o| o.name == loss).expect("differentiate found it");
    let eval = |p: &HashMap<String, Tensor>| interpret(g, inputs, p).map(|o| o[loss_index].data[0]);

    let mut rng = Rng::new(cfg.seed);
    for name in &names {
        let analytic = out_of(&grad_output_name(name));
        let n = params[name].numel();
        if analytic.shape != params[name].shape {
            return Err(format!("gradient of {name} has shape {:?}, param {:?}", analytic.shape, params[name].shape));
        }
        let entries: Vec<usize> =
            if n <= cfg.max_entries { (0..n).collect() } else { (0..cfg.max_entries).map(|_| rng.below(n)).collect() };
        for i in entries {
            let mut p = params.clone();
            let x = p[name].data[i];
            p.get_mut(name).expect("param exists").data[i] = x + cfg.h;
            let up = eval(&p).map_err(|e| e.to_string())?;
            p.get_mut(name).expect("param exists").data[i] = x - cfg.h;
            let down = eval(&p).map_err(|e| e.to_string())?;
            let numeric = (up - down) / (2.0 * cfg.h);
            let a = analytic.data[i];
            if (a - numeric).abs() > cfg.tol * a.abs().max(1.0) || !a.is_finite() {
                return Err(format!("d {loss} / d {name}[{i}]: autodiff {a} vs finite difference {numeric}"));
            }
        }
    }
    Ok(())
}
