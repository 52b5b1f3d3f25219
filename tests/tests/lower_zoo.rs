//! Every zoo model lowered to kernels and run by the kernel-IR evaluator, against the interpreter: small
//! configurations in f32, f64 and bf16, and each model's default configuration in f32.

mod lower_common;

use irc_frontends::zoo::zoo_models;
use irc_tests::fixtures::small_zoo_config as small_config;
use lower_common::{check, sizes};

#[test]
fn small_zoo_models_in_every_float_dtype() {
    for (k, m) in zoo_models().iter().enumerate() {
        for dtype in ["f32", "f64", "bf16"] {
            let g = irc_frontends::build(m.name, &small_config(m.name, dtype)).unwrap();
            for (b, t) in [(1, 1), (2, 5)] {
                check(&g, &sizes(&[("B", b), ("T", t)]), k as u64);
            }
        }
    }
}

#[test]
fn zoo_models_at_their_default_sizes() {
    for (k, m) in zoo_models().iter().enumerate() {
        let g = irc_frontends::build(m.name, &[]).unwrap();
        check(&g, &sizes(&[("B", 2), ("T", 4)]), 100 + k as u64);
    }
    let loss = [("loss".to_string(), "true".to_string())];
    check(&irc_frontends::build("gpt-tiny", &loss).unwrap(), &sizes(&[("B", 2), ("T", 3)]), 5);
}
