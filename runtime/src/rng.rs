//! Random tensors and initial parameter values from the shared seeded generator ([`irc_ir::Rng`]).

use std::collections::HashMap;

use irc_ir::{DType, Graph, Init, Op, Rng};

use crate::{RunError, Tensor};

/// A random tensor for tests: standard normal floats, integers in `-9..=9`, fair-coin bools.
pub fn random_tensor(dtype: DType, shape: impl Into<Vec<usize>>, rng: &mut Rng) -> Tensor {
    let shape = shape.into();
    let n = shape.iter().product();
    let data = (0..n)
        .map(|_| match dtype {
            d if d.is_float() => rng.normal(),
            DType::Bool => (rng.next_u64() >> 63) as f64,
            _ => rng.int_in(-9, 9) as f64,
        })
        .collect();
    Tensor::new(dtype, shape, data)
}

/// FNV-1a, to give every parameter its own stream: a param's initial value then depends only on the
/// seed and its name, not on which other params the graph has.
fn name_hash(name: &str) -> u64 {
    name.bytes().fold(0xCBF2_9CE4_8422_2325, |h, b| (h ^ b as u64).wrapping_mul(0x0000_0100_0000_01B3))
}

/// Initial values for every param of `g`, drawn from its [`Init`]; deterministic for a seed.
pub fn init_params(g: &Graph, seed: u64) -> Result<HashMap<String, Tensor>, RunError> {
    let mut out = HashMap::new();
    for node in g.nodes() {
        let Op::Param { name, ty, init } = &node.op else { continue };
        let shape =
            ty.shape.as_static().ok_or_else(|| RunError::SymbolicParam { name: name.clone(), ty: ty.to_string() })?;
        let mut rng = Rng::new(seed ^ name_hash(name));
        let n: usize = shape.iter().product();
        let data = (0..n)
            .map(|_| match *init {
                Init::Zeros => 0.0,
                Init::Ones => 1.0,
                Init::Normal { std } => std * rng.normal(),
                Init::Uniform { bound } => bound * (2.0 * rng.uniform() - 1.0),
            })
            .collect();
        out.insert(name.clone(), Tensor::new(ty.dtype, shape, data));
    }
    Ok(out)
}
