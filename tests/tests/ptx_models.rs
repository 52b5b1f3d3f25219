//! Fusion patterns, every zoo model and random graphs, lowered in both schedules, assemble with ptxas for
//! sm_80 and sm_90, in every float dtype the models take.

mod lower_common;
mod ptx_common;

use irc_frontends::dsl::{ModelBuilder, Var};
use irc_frontends::nn::{self, Activation};
use irc_frontends::zoo::zoo_models;
use irc_ir::{DType, Dim, Graph};
use irc_tests::GenConfig;
use irc_tests::fixtures::small_zoo_config;
use lower_common::random_graphs;
use ptx_common::{assemble, kernels, ptxas_or_skip};

const FLOATS: [DType; 4] = [DType::F32, DType::F64, DType::F16, DType::BF16];

/// The fusion patterns of `lower_fusion.rs` on an input `x: dtype[B, T, 16]`.
fn patterns(dtype: DType) -> Vec<Graph> {
    let build = |f: &dyn Fn(&Var) -> Var| {
        let b = ModelBuilder::new("t");
        let x = b.input("x", dtype, vec![Dim::from("B"), Dim::from("T"), Dim::Static(16)]);
        let y = f(&x);
        b.finish(&[("y", &y)]).expect("valid graph")
    };
    vec![
        build(&|x| ((x.exp() * 2.0 + 1.0).tanh() - 0.5).abs()),
        build(&|x| nn::linear("fc", x, 8).relu()),
        build(&|x| nn::mlp("mlp", x, 32, 8, Activation::Gelu)),
        build(&|x| nn::softmax(x, -1)),
        build(&|x| nn::log_softmax(x, -1)),
        build(&|x| nn::layer_norm("ln", x, 1e-5)),
        build(&|x| nn::rms_norm("rms", x, 1e-5)),
        build(&|x| nn::softmax(x, 1)),
        build(&|x| nn::causal_softmax_attention("attn", x, 2)),
    ]
}

#[test]
fn fusion_patterns_in_every_float_dtype() {
    if !ptxas_or_skip("fusion_patterns_in_every_float_dtype") {
        return;
    }
    let ks: Vec<_> = FLOATS.iter().flat_map(|&d| patterns(d)).flat_map(|g| kernels(&g)).collect();
    assemble(&ks, 0);
}

#[test]
fn zoo_models_in_every_float_dtype() {
    if !ptxas_or_skip("zoo_models_in_every_float_dtype") {
        return;
    }
    let mut ks = Vec::new();
    for m in zoo_models() {
        for dtype in FLOATS {
            let g = irc_frontends::build(m.name, &small_zoo_config(m.name, dtype.name()))
                .unwrap_or_else(|e| panic!("{} in {dtype}: {e}", m.name));
            ks.extend(kernels(&g));
        }
    }
    assemble(&ks, 0);
}

#[test]
fn random_graphs_in_both_schedules() {
    if !ptxas_or_skip("random_graphs_in_both_schedules") {
        return;
    }
    let mut ks = Vec::new();
    for cfg in [GenConfig::symbolic(12), GenConfig::static_dims(12)] {
        for (g, _, _) in random_graphs(&cfg, 40) {
            ks.extend(kernels(&g));
        }
    }
    assemble(&ks, 0);
}
