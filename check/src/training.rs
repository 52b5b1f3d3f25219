//! A small language model and its batches, for training tests on every backend.

use std::collections::HashMap;

use irc_ir::{DType, Graph};
use irc_runtime::{Rng, Tensor};

/// A one-block `gpt-tiny` with its loss, small enough to train in a test.
pub fn tiny_gpt() -> Graph {
    let kv = |k: &str, v: &str| (k.to_string(), v.to_string());
    let config = [
        kv("loss", "true"),
        kv("d", "16"),
        kv("heads", "2"),
        kv("layers", "1"),
        kv("vocab", "32"),
        kv("max_seq", "16"),
    ];
    irc_frontends::build("gpt-tiny", &config).expect("a valid gpt-tiny configuration")
}

/// Step `step`'s batch: 2 random sequences of 8 tokens below 32 and their next tokens.
pub fn batch(step: u64) -> HashMap<String, Tensor> {
    let mut rng = Rng::new(1000 + step);
    let tokens: Vec<f64> = (0..2 * 9).map(|_| rng.below(32) as f64).collect();
    let cut = |off: usize| -> Vec<f64> { (0..2).flat_map(|b| tokens[b * 9 + off..b * 9 + off + 8].to_vec()).collect() };
    HashMap::from([
        ("tokens".to_string(), Tensor::new(DType::I32, vec![2, 8], cut(0))),
        ("targets".to_string(), Tensor::new(DType::I32, vec![2, 8], cut(1))),
    ])
}
