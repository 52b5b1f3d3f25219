//! How graphs are partitioned into kernels: kernel counts of common patterns (each also checked against
//! the interpreter), fallbacks when a fused value is read where its kernel cannot provide it, that every
//! node is computed by some kernel, and a golden dump.

mod lower_common;

use irc_codegen::kir::{Program, print_program};
use irc_codegen::{LowerOptions, lower, lower_with};
use irc_frontends::dsl::{ModelBuilder, Var};
use irc_frontends::nn::{self, Activation};
use irc_ir::{DType, Graph, NodeId};
use lower_common::{check, sizes};

fn build(f: impl FnOnce(&ModelBuilder) -> Var) -> Graph {
    let b = ModelBuilder::new("t");
    let y = f(&b);
    b.finish(&[("y", &y)]).expect("valid graph")
}

fn x(b: &ModelBuilder) -> Var {
    b.input(
        "x",
        DType::F32,
        ["B", "T"].map(irc_ir::Dim::from).into_iter().chain([irc_ir::Dim::Static(16)]).collect::<Vec<_>>(),
    )
}

/// Lowers `g`, checks it against the interpreter, checks provenance, and returns the kernels' names.
fn kernels(g: &Graph) -> Vec<String> {
    check(g, &sizes(&[("B", 2), ("T", 5)]), 11);
    let p = lower(g).expect("lowers");
    provenance(g, &p);
    p.kernels.iter().map(|k| k.name.clone()).collect()
}

/// Every live node other than inputs, params and literals is computed by at least one kernel, and each
/// reduction and matmul by exactly one.
fn provenance(g: &Graph, p: &Program) {
    let mut live = vec![false; g.len()];
    for o in g.outputs() {
        live[o.node.0] = true;
    }
    for id in (0..g.len()).rev() {
        if live[id] {
            for i in &g.nodes()[id].inputs {
                live[i.0] = true;
            }
        }
    }
    for (id, node) in g.nodes().iter().enumerate() {
        let n = NodeId(id);
        let count = p.kernels.iter().filter(|k| k.info.nodes.contains(&n)).count();
        let leaf = matches!(node.op, irc_ir::Op::Input { .. } | irc_ir::Op::Param { .. } | irc_ir::Op::Literal { .. });
        let is_output = g.outputs().iter().any(|o| o.node == n);
        if !live[id] || (leaf && !is_output) {
            assert_eq!(count, 0, "{n} ({}) is dead or a leaf but a kernel computes it", node.op.name());
        } else if matches!(node.op, irc_ir::Op::Reduce { .. } | irc_ir::Op::MatMul) {
            assert_eq!(count, 1, "{n} ({}) must be computed by exactly one kernel", node.op.name());
        } else {
            assert!(count >= 1, "{n} ({}) is computed by no kernel", node.op.name());
        }
    }
}

#[test]
fn an_elementwise_chain_is_one_kernel() {
    let g = build(|b| ((x(b).exp() * 2.0 + 1.0).tanh() - 0.5).abs());
    assert_eq!(kernels(&g), ["k0_exp_mul_add_tanh"]);
}

#[test]
fn matmul_with_bias_and_activation_is_one_kernel() {
    let g = build(|b| nn::linear("fc", &x(b), 8).relu());
    assert_eq!(kernels(&g), ["k0_matmul_add_max"]);
    let g = build(|b| nn::mlp("mlp", &x(b), 32, 8, Activation::Gelu));
    assert_eq!(kernels(&g), ["k0_matmul_add_mul_neg", "k1_matmul_add"]);
}

#[test]
fn softmax_and_normalizations_are_one_row_kernel() {
    let g = build(|b| nn::softmax(&x(b), -1));
    assert_eq!(kernels(&g), ["k0_reduce_max_reduce_sum_sub_exp"]);
    let g = build(|b| nn::log_softmax(&x(b), -1));
    assert_eq!(kernels(&g), ["k0_reduce_max_reduce_sum_sub_exp"]);
    let g = build(|b| nn::layer_norm("ln", &x(b), 1e-5));
    assert_eq!(kernels(&g), ["k0_reduce_sum_div_sub_mul"]);
    let g = build(|b| nn::rms_norm("rms", &x(b), 1e-5));
    assert_eq!(kernels(&g), ["k0_reduce_sum_mul_div_add"]);
    // Softmax over a middle axis: the row loops run over T, the grid over B and the features.
    let g = build(|b| nn::softmax(&x(b), 1));
    assert_eq!(kernels(&g).len(), 1);
}

#[test]
fn attention_and_the_gpt_block() {
    let g = build(|b| nn::causal_softmax_attention("attn", &x(b), 2));
    // q, k, v projections (each writing its head layout), scores, softmax, weighted sum, output projection.
    assert_eq!(kernels(&g).len(), 7);
    let cfg = [("d", "16"), ("heads", "2")].map(|(k, v)| (k.to_string(), v.to_string()));
    let g = irc_frontends::build("gpt-block", &cfg).unwrap();
    assert_eq!(
        kernels(&g),
        [
            "k0_reduce_sum_div_sub_mul",
            "k1_matmul_add",
            "k2_matmul_add",
            "k3_matmul_add",
            "k4_matmul",
            "k5_reduce_max_reduce_sum_mul_le",
            "k6_matmul",
            "k7_matmul_add",
            "k8_reduce_sum_div_sub_mul",
            "k9_matmul_add_mul_neg",
            "k10_matmul_add",
        ]
    );
}

#[test]
fn without_fusion_every_realized_node_is_a_kernel() {
    let g = build(|b| nn::softmax(&x(b), -1));
    let p = lower_with(&g, &LowerOptions { fuse: false, ..LowerOptions::default() }).unwrap();
    let names: Vec<&str> = p.kernels.iter().map(|k| k.name.as_str()).collect();
    assert_eq!(names, ["k0_reduce_max", "k1_sub_exp", "k2_reduce_sum", "k3_div"]);
}

#[test]
fn a_fused_value_read_at_another_row_is_realized_instead() {
    // y[i] = x[i] + max(x[i - 1]) (row 0 reads the padding): the max cannot be a per-row variable.
    let g = build(|b| {
        let x = b.input("x", DType::F32, [4, 6]);
        let m = x.amax(1, true).pad(0, 1, 0).slice(0, 0, 4);
        &x + &m.expand([4, 6])
    });
    assert_eq!(kernels(&g), ["k0_reduce_max", "k1_add"]);
    // A matmul read at two different points of its epilogue (m + m^T) is realized too.
    let g = build(|b| {
        let a = b.input("a", DType::F32, [5, 3]);
        let w = b.input("w", DType::F32, [3, 5]);
        let m = a.matmul(&w);
        &m + &m.transpose(0, 1)
    });
    assert_eq!(kernels(&g), ["k0_matmul", "k1_add"]);
}

#[test]
fn every_zoo_model_is_computed_entirely_by_its_kernels() {
    for m in irc_frontends::zoo::zoo_models() {
        let g = irc_frontends::build(m.name, &[]).unwrap();
        provenance(&g, &lower(&g).unwrap());
    }
}

#[test]
fn golden_softmax_dump() {
    let g = irc_ir::parse(
        "graph softmax {
          %0 = input \"x\" : f32[R, 8]
          %1 = reduce_max %0 axes=[1] : f32[R, 1]
          %2 = expand %1 shape=[R, 8] : f32[R, 8]
          %3 = sub %0, %2 : f32[R, 8]
          %4 = exp %3 : f32[R, 8]
          %5 = reduce_sum %4 axes=[1] : f32[R, 1]
          %6 = expand %5 shape=[R, 8] : f32[R, 8]
          %7 = div %4, %6 : f32[R, 8]
          output \"y\" = %7
        }",
    )
    .unwrap();
    let want = "program softmax
  b0: f32[R, 8] input \"x\"
  b1: f32[R, 8] temp
  output \"y\" = b1

launch k0_reduce_max_reduce_sum_sub_exp(b0, b1)
kernel k0_reduce_max_reduce_sum_sub_exp  # from %1 %2 %3 %4 %5 %6 %7
  # bytes (R * 64)
  # flops (R * 40)
  buffer x: f32 read
  buffer t7: f32 write
  sizes R
  parallel for i0 in 0..R {
    let acc1: f32 = -inf
    for r1 in 0..8 {
      acc1 = max(acc1, x[((i0 * 8) + r1)])
    }
    let acc5: f32 = 0.0
    for r1 in 0..8 {
      let e8: f32 = exp((x[((i0 * 8) + r1)] - acc1))
      t7[((i0 * 8) + r1)] = e8
      acc5 = (acc5 + e8)
    }
    for j1 in 0..8 {
      t7[((i0 * 8) + j1)] = (t7[((i0 * 8) + j1)] / acc5)
    }
  }
";
    let got = print_program(&lower(&g).unwrap());
    assert_eq!(got, want, "got:\n{got}");
}

/// A matmul epilogue with a transcendental (GELU) over whole tiles is staged: every row of the tile
/// first stores its accumulator to the output, then reloads it for the epilogue; the same matmul with a
/// bias only is not, nor a partial tile (symbolic rows). Values match the interpreter; the CPU still
/// vectorizes the staged kernel.
#[test]
fn heavy_matmul_epilogues_are_staged_through_the_output() {
    let fixed = |b: &ModelBuilder| b.input("x", DType::F32, [2usize, 12, 16]);
    let gelu = build(|b| nn::gelu_tanh(&nn::linear("fc", &fixed(b), 32)));
    assert_eq!(kernels(&gelu), ["k0_matmul_add_mul_neg"]);
    let p = lower(&gelu).unwrap();
    let text = irc_codegen::kir::print_kernel(&p.kernels[0]);
    assert_eq!(text.matches("] = acc").count(), 4, "four rows store their accumulators first:\n{text}");
    let compiled = irc_codegen::cranelift::compile_kernel(&p.kernels[0]).unwrap();
    assert!(compiled.simd_loops() > 0, "the staged epilogue is still vector code:\n{text}");
    lower_common::check_on(irc_runtime::CpuBackend::default(), &gelu, &sizes(&[]), 5);

    let bias = build(|b| nn::linear("fc", &fixed(b), 32));
    let text = irc_codegen::kir::print_kernel(&lower(&bias).unwrap().kernels[0]);
    assert!(!text.contains("] = acc"), "a cheap epilogue is not staged:\n{text}");
    let partial = build(|b| nn::gelu_tanh(&nn::linear("fc", &x(b), 32)));
    let text = irc_codegen::kir::print_kernel(&lower(&partial).unwrap().kernels[0]);
    assert!(!text.contains("] = acc"), "a partial tile is not staged:\n{text}");
}
