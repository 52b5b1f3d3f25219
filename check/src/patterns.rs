//! The fusion patterns (elementwise chains, matmul epilogues, softmax, norms, attention) as small graphs,
//! for checks of the kernels each backend runs for them.

use irc_frontends::dsl::{ModelBuilder, Var};
use irc_frontends::nn::{self, Activation};
use irc_ir::{DType, Dim, Graph};

/// Each pattern's name and graph on an input `x: dtype[B, T, 16]` with output `y`.
pub fn fusion_patterns(dtype: DType) -> Vec<(&'static str, Graph)> {
    let build = |f: &dyn Fn(&Var) -> Var| {
        let b = ModelBuilder::new("t");
        let x = b.input("x", dtype, vec![Dim::from("B"), Dim::from("T"), Dim::Static(16)]);
        let y = f(&x);
        b.finish(&[("y", &y)]).expect("the patterns are valid graphs")
    };
    vec![
        ("elementwise", build(&|x| ((x.exp() * 2.0 + 1.0).tanh() - 0.5).abs())),
        ("linear_relu", build(&|x| nn::linear("fc", x, 8).relu())),
        ("mlp_gelu", build(&|x| nn::mlp("mlp", x, 32, 8, Activation::Gelu))),
        ("softmax", build(&|x| nn::softmax(x, -1))),
        ("log_softmax", build(&|x| nn::log_softmax(x, -1))),
        ("layer_norm", build(&|x| nn::layer_norm("ln", x, 1e-5))),
        ("rms_norm", build(&|x| nn::rms_norm("rms", x, 1e-5))),
        ("softmax_axis1", build(&|x| nn::softmax(x, 1))),
        ("causal_attention", build(&|x| nn::causal_softmax_attention("attn", x, 2))),
    ]
}
