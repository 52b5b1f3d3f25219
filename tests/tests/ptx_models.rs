//! Fusion patterns, every zoo model and random graphs, lowered in both schedules, assemble with ptxas for
//! sm_80 and sm_90, in every float dtype the models take.

mod lower_common;
mod ptx_common;

use irc_check::patterns::fusion_patterns;
use irc_frontends::zoo::zoo_models;
use irc_ir::{DType, Graph};
use irc_tests::GenConfig;
use irc_tests::fixtures::small_zoo_config;
use lower_common::random_graphs;
use ptx_common::{assemble, kernels, ptxas_or_skip};

const FLOATS: [DType; 4] = [DType::F32, DType::F64, DType::F16, DType::BF16];

fn patterns(dtype: DType) -> Vec<Graph> {
    fusion_patterns(dtype).into_iter().map(|(_, g)| g).collect()
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
