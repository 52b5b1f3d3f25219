//! Symbol bindings and random data for running test graphs.

use std::collections::HashMap;

use irc_ir::Graph;
use irc_runtime::{Tensor, init_params, random_inputs};

/// Symbol bindings from `(name, value)` pairs.
pub fn sizes(pairs: &[(&str, usize)]) -> HashMap<String, usize> {
    pairs.iter().map(|(k, v)| (k.to_string(), *v)).collect()
}

/// Random inputs (in-range indices) and random params: normal values scaled by 0.5, never the init's
/// zeros and ones.
pub fn data(
    g: &Graph,
    sizes: &HashMap<String, usize>,
    seed: u64,
) -> (HashMap<String, Tensor>, HashMap<String, Tensor>) {
    let inputs = random_inputs(g, sizes, seed).expect("inputs");
    let mut params = init_params(g, seed).expect("static params");
    let mut rng = irc_ir::Rng::new(seed ^ 0x5eed);
    for t in params.values_mut() {
        let data = t.data.iter().map(|_| 0.5 * rng.normal()).collect();
        *t = Tensor::new(t.dtype, t.shape.clone(), data);
    }
    (inputs, params)
}
