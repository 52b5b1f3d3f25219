//! Group 2, causal linear attention: the quadratic masked form becomes the chunked form (intra-chunk
//! scores plus an exclusive prefix of `K^T V` chunk states) where `T` is static and a chunk size
//! divides it, and nowhere else: not on a symbolic `T`, a `T` no chunk size divides, another mask, a
//! nonzero fill, or softmax attention. Values: `opt_common::check` (reference interpreter).

mod opt_common;

use irc_frontends::dsl::{ModelBuilder, Var};
use irc_frontends::nn;
use irc_ir::{DType, Dim, Graph, Op};
use irc_passes::opt::{OptOptions, OptReport};
use opt_common::{REASSOC_F32, check, sizes};

const CHUNK_RULES: [&str; 6] = [
    "chunk-linear-attention-32",
    "chunk-linear-attention-64",
    "chunk-linear-attention-128",
    "chunk-normalizer-32",
    "chunk-normalizer-64",
    "chunk-normalizer-128",
];

fn chunk_rewrites(r: &OptReport) -> usize {
    CHUNK_RULES.iter().map(|n| r.applied(n)).sum()
}

/// Whether some float node of `h` is a `[.., t, t]` tensor: the quadratic scores. (The chunks' mask
/// is sliced from the `T x T` boolean mask, which stays index arithmetic.)
fn has_square(h: &Graph, t: usize) -> bool {
    h.nodes().iter().any(|n| {
        let d = n.ty.shape.dims();
        n.ty.dtype.is_float() && d.len() >= 2 && d[d.len() - 2..] == [Dim::Static(t), Dim::Static(t)]
    })
}

/// Causal linear attention (elu + 1 features) on `q, k: [2, 3, T, dk]`, `v: [2, 3, T, dv]`, as the
/// zoo writes it.
fn linear_attention(t: Dim, dk: usize, dv: usize) -> Graph {
    let b = ModelBuilder::new("cla");
    let input = |name: &str, d: usize| b.input(name, DType::F32, vec![2.into(), 3.into(), t.clone(), d.into()]);
    let (q, k, v) = (input("q", dk), input("k", dk), input("v", dv));
    let y = nn::causal_linear_attention(&nn::elu_plus_one(&q), &nn::elu_plus_one(&k), &v);
    b.finish(&[("y", &y)]).unwrap()
}

#[test]
fn causal_linear_attention_is_chunked_where_a_chunk_size_divides_t() {
    for (t, dk, dv) in [(128, 8, 8), (256, 16, 16), (384, 16, 4)] {
        let g = linear_attention(Dim::Static(t), dk, dv);
        assert!(has_square(&g, t));
        let (h, report) = check(&g, &OptOptions::default(), &sizes(&[]), 7, REASSOC_F32);
        assert!(chunk_rewrites(&report) >= 2, "T={t}: {report}");
        assert!(!has_square(&h, t), "T={t}: T x T scores remain:\n{}", irc_ir::print(&h));
        assert!(h.nodes().iter().any(|n| matches!(n.op, Op::Cumsum { .. })), "{}", irc_ir::print(&h));
        assert!(report.cost_after < report.cost_before, "T={t}: {report}");
    }
}

#[test]
fn the_chunked_form_matches_the_recurrent_form() {
    // Both linear forms against each other, through the optimizer: same values as the reference.
    let b = ModelBuilder::new("forms");
    let input = |name: &str| b.input(name, DType::F32, [2usize, 128, 8]);
    let (q, k, v) = (nn::elu_plus_one(&input("q")), nn::elu_plus_one(&input("k")), input("v"));
    let quadratic = nn::causal_linear_attention(&q, &k, &v);
    let recurrent = nn::causal_linear_attention_cumsum(&q, &k, &v);
    let g = b.finish(&[("d", &(quadratic - recurrent))]).unwrap();
    let (h, report) = check(&g, &OptOptions::default(), &sizes(&[]), 3, REASSOC_F32);
    assert!(chunk_rewrites(&report) >= 2, "{report}");
    let (inputs, params) = irc_check::compare::data(&h, &sizes(&[]), 11);
    let out = irc_runtime::interpret(&h, &inputs, &params).unwrap();
    let worst = out[0].data.iter().fold(0.0f64, |m, x| m.max(x.abs()));
    assert!(worst < 1e-4, "chunked and recurrent forms differ by {worst}");
}

#[test]
fn a_scaled_score_is_chunked_with_its_scale() {
    let b = ModelBuilder::new("scaled");
    let input = |name: &str| b.input(name, DType::F32, [3usize, 256, 8]);
    let (q, k, v) = (nn::elu_plus_one(&input("q")), nn::elu_plus_one(&input("k")), input("v"));
    let t = q.dim(-2).unwrap();
    let scores = nn::causal_mask(&b, &t).select(q.matmul(&k.transpose(-1, -2)) * 0.25, 0.0);
    let y = scores.matmul(&v) / (scores.sum(-1, true) + 1e-6);
    let g = b.finish(&[("y", &y)]).unwrap();
    let (h, report) = check(&g, &OptOptions::default(), &sizes(&[]), 5, REASSOC_F32);
    assert!(chunk_rewrites(&report) >= 2, "{report}");
    assert!(!has_square(&h, 256), "{}", irc_ir::print(&h));
}

/// Masked scores `select(mask, q k^T, fill)` times `v`, for near misses of the causal pattern.
fn masked(t: usize, anti: bool, fill: f64) -> Graph {
    let b = ModelBuilder::new("masked");
    let input = |name: &str| b.input(name, DType::F32, [2usize, t, 8]);
    let (q, k, v) = (input("q"), input("k"), input("v"));
    let (rows, cols) = (b.iota(DType::I32, [t, t], 0), b.iota(DType::I32, [t, t], 1));
    let mask: Var = if anti { rows.le(&cols) } else { cols.le(&rows) };
    let scores = mask.expand([2, t, t]).select(q.matmul(&k.transpose(-1, -2)), fill);
    b.finish(&[("y", &scores.matmul(&v))]).unwrap()
}

#[test]
fn only_the_causal_mask_with_zero_fill_of_a_divisible_static_t_is_chunked() {
    let opts = OptOptions::default();
    let (h, report) = check(&masked(128, false, 0.0), &opts, &sizes(&[]), 2, REASSOC_F32);
    assert!(chunk_rewrites(&report) >= 1 && !has_square(&h, 128), "the causal case itself: {report}");
    for (what, g) in [
        ("anti-causal mask", masked(128, true, 0.0)),
        ("nonzero fill", masked(128, false, -1.0)),
        ("no chunk size divides T", masked(200, false, 0.0)),
        ("T no larger than a chunk", masked(32, false, 0.0)),
        ("symbolic T", linear_attention(Dim::from("T"), 8, 8)),
    ] {
        let (_, report) = check(&g, &opts, &sizes(&[("T", 64)]), 2, REASSOC_F32);
        assert_eq!(chunk_rewrites(&report), 0, "{what}: {report}");
    }
}

#[test]
fn softmax_attention_is_not_chunked() {
    let b = ModelBuilder::new("softmax");
    let input = |name: &str| b.input(name, DType::F32, [2usize, 64, 8]);
    let y = nn::scaled_dot_product_attention(&input("q"), &input("k"), &input("v"), true);
    let g = b.finish(&[("y", &y)]).unwrap();
    let (_, report) = check(&g, &OptOptions::default(), &sizes(&[]), 2, REASSOC_F32);
    assert_eq!(chunk_rewrites(&report), 0, "{report}");
}

#[test]
fn the_linear_attention_block_is_chunked() {
    let b = ModelBuilder::new("block");
    let x = b.input("x", DType::F32, [2usize, 256, 32]);
    let cfg = nn::BlockConfig { heads: 2, attn: nn::AttnKind::Linear, ..nn::BlockConfig::default() };
    let g = b.finish(&[("y", &nn::block("blk", &x, &cfg))]).unwrap();
    let (h, report) = check(&g, &OptOptions::default(), &sizes(&[]), 4, REASSOC_F32);
    assert!(chunk_rewrites(&report) >= 2, "{report}");
    // The numerator and the normalizer both read the scores: only a switch of both removes them.
    assert!(!has_square(&h, 256), "{report}\n{}", irc_ir::print(&h));
}
