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

/// Graphs the optimizer rewrites into forms no pattern above has, each with the op that shows the
/// rewrite happened: causal linear attention at a static `T = 128` in chunked form (batched 5-d
/// matmuls, a `cumsum` over chunks, a `pad`). Static shapes; no symbols to bind.
pub fn optimized_patterns() -> Vec<(&'static str, Graph)> {
    let b = ModelBuilder::new("chunked");
    let input = |name: &str| b.input(name, DType::F32, [2usize, 2, 128, 8]);
    let (q, k, v) = (input("q"), input("k"), input("v"));
    let y = nn::causal_linear_attention(&nn::elu_plus_one(&q), &nn::elu_plus_one(&k), &v);
    let g = b.finish(&[("y", &y)]).expect("the pattern is a valid graph");
    let (h, _) = irc_passes::opt::optimize(&g, &irc_passes::opt::OptOptions::default())
        .expect("the optimizer accepts the chunked pattern");
    assert!(
        h.nodes().iter().any(|n| n.op.name() == "cumsum"),
        "causal linear attention at T = 128 is no longer chunked:\n{}",
        irc_ir::print(&h)
    );
    vec![("chunked_linear_attention", h)]
}
