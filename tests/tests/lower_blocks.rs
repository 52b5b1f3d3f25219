//! The GPU schedule (`LowerOptions::gpu`): row kernels become blocks of lanes that share their loops and
//! combine partial reductions through shared memory. Run by the kernel-IR evaluator, which executes the
//! lanes and checks barriers and shared-memory races, against the interpreter. Block sums add in another
//! order than the interpreter; in f64 the difference stays far inside the 1e-12 tolerance, in f32 inside
//! the f32 one (lower_common).

mod lower_common;

use irc_codegen::{LowerOptions, kir::print_program, lower_with};
use irc_frontends::dsl::ModelBuilder;
use irc_frontends::nn;
use irc_frontends::zoo::zoo_models;
use irc_ir::{DType, Dim};
use irc_tests::GenConfig;
use irc_tests::fixtures::small_zoo_config;
use lower_common::{check_opts, random_graphs, sizes};

/// Checks `n` random graphs; returns how many of their kernels ran as blocks or vector loops.
fn sweep(cfg: &GenConfig, n: u64, lanes: u32) -> usize {
    let mut blocks = 0;
    for (g, sizes, seed) in random_graphs(cfg, n) {
        let opts = LowerOptions::gpu(lanes);
        check_opts(&g, &sizes, seed, &opts);
        let gpu = |k: &irc_codegen::kir::Kernel| k.lanes.is_some() || !k.vector.is_empty();
        blocks += lower_with(&g, &opts).map_or(0, |p| p.kernels.iter().filter(|k| gpu(k)).count());
    }
    blocks
}

#[test]
fn random_graphs_in_blocks_of_two_and_four_lanes() {
    // Few lanes: rows longer than the block, several strided trips per lane, every tree level.
    let blocks = sweep(&GenConfig::static_dims(24), 300, 2)
        + sweep(&GenConfig { max_nodes: 24, symbolic: true, zero_size: true }, 300, 4);
    eprintln!("{blocks} block kernels");
    assert!(blocks >= 100, "only {blocks} kernels ran as blocks");
}

#[test]
fn random_graphs_in_blocks_of_32_lanes() {
    let blocks = sweep(&GenConfig::symbolic(24), 150, 32);
    eprintln!("{blocks} block kernels");
    assert!(blocks >= 50, "only {blocks} kernels ran as blocks");
}

#[test]
fn zoo_models_in_blocks() {
    for (k, m) in zoo_models().iter().enumerate() {
        let g = irc_frontends::build(m.name, &small_zoo_config(m.name, "f32")).unwrap();
        check_opts(&g, &sizes(&[("B", 2), ("T", 5)]), k as u64, &LowerOptions::gpu(64));
    }
}

#[test]
fn softmax_is_one_block_per_row_with_a_shared_tree() {
    let b = ModelBuilder::new("softmax");
    let x = b.input("x", DType::F32, vec![Dim::from("R"), Dim::Static(300)]);
    let y = nn::softmax(&x, -1);
    let g = b.finish(&[("y", &y)]).unwrap();
    let p = lower_with(&g, &LowerOptions::gpu(256)).unwrap();
    assert_eq!(p.kernels.len(), 1);
    let k = &p.kernels[0];
    // 300 elements: the next power of two lanes.
    assert_eq!(k.lanes.map(|l| l.count), Some(256));
    assert_eq!(k.shared.len(), 1);
    let text = print_program(&p);
    assert!(text.contains("lanes lane in 0..256"), "{text}");
    // Two reductions (max and sum), each a tree of log2(256) levels with a barrier after each level, a
    // barrier after the partials are stored and one after the total is read.
    assert_eq!(text.matches("barrier").count(), 2 * (8 + 2), "{text}");
    check_opts(&g, &sizes(&[("R", 3)]), 7, &LowerOptions::gpu(256));
}

#[test]
fn the_cpu_schedule_has_no_lanes() {
    for m in zoo_models() {
        let g = irc_frontends::build(m.name, &small_zoo_config(m.name, "f32")).unwrap();
        let p = lower_with(&g, &LowerOptions::default()).unwrap();
        assert!(p.kernels.iter().all(|k| k.lanes.is_none() && k.shared.is_empty()), "{}", m.name);
    }
}

fn matmul_graph(a: &str, b: &str, out: &str, epilogue: bool) -> irc_ir::Graph {
    let tail = if epilogue {
        format!("%3 = mul %2, %2 : f32{out}\n%4 = tanh %3 : f32{out}\noutput \"y\" = %4")
    } else {
        "output \"y\" = %2".to_string()
    };
    let src = format!(
        "graph t {{\n%0 = input \"a\" : f32{a}\n%1 = input \"b\" : f32{b}\n%2 = matmul %0, %1 : f32{out}\n{tail}\n}}"
    );
    irc_ir::parse(&src).unwrap_or_else(|e| panic!("{e}\n{src}"))
}

/// Tiled through shared memory (the kernel has lanes), and bit-identical to the serial schedule: every
/// output still sums its products in `k` order, and the zero padding past `K` adds exactly `+0`.
fn check_tiled(g: &irc_ir::Graph, binding: &[(&str, usize)], lanes: u32, seed: u64) {
    let opts = LowerOptions::gpu(lanes);
    let p = lower_with(g, &opts).unwrap();
    assert!(p.kernels.iter().any(|k| k.shared.iter().any(|a| a.name == "tile_a")), "not tiled:\n{}", print_program(&p));
    let sizes = sizes(binding);
    check_opts(g, &sizes, seed, &opts);
    let (inputs, params) = lower_common::data(g, &sizes, seed);
    let run = |o: &LowerOptions| {
        irc_runtime::Executable::compile_with(g, irc_runtime::EvalBackend, o).unwrap().run(&inputs, &params).unwrap()
    };
    let (serial, tiled) = (run(&LowerOptions::default()), run(&opts));
    for (s, t) in serial.iter().zip(&tiled) {
        assert!(s.data.iter().zip(&t.data).all(|(a, b)| a.to_bits() == b.to_bits()), "tiled differs from serial");
    }
}

#[test]
fn matmul_tiles_at_sizes_off_the_tile() {
    let sizes = [1, 3, 5, 17, 33];
    let mut seed = 0;
    let cases: Vec<(usize, usize, usize)> =
        sizes.iter().flat_map(|&m| sizes.iter().flat_map(move |&n| sizes.map(|k| (m, n, k)))).collect();
    for (m, n, k) in cases {
        seed += 1;
        let g = matmul_graph(&format!("[{m}, {k}]"), &format!("[{k}, {n}]"), &format!("[{m}, {n}]"), seed % 2 == 0);
        check_tiled(&g, &[], [4, 16][seed as usize % 2], seed);
    }
}

#[test]
fn matmul_tiles_with_batches_symbolic_rows_and_epilogues() {
    for (i, (a, b, out)) in [
        ("[2, 1, 5, 17]", "[3, 17, 9]", "[2, 3, 5, 9]"),
        ("[1, 33, 3]", "[2, 3, 5]", "[2, 33, 5]"),
        ("[B, T, 20]", "[20, 33]", "[B, T, 33]"),
    ]
    .into_iter()
    .enumerate()
    {
        for lanes in [4, 64, 256] {
            check_tiled(&matmul_graph(a, b, out, true), &[("B", 2), ("T", 7)], lanes, i as u64);
        }
    }
}

#[test]
fn elementwise_kernels_move_four_elements_per_vector_loop() {
    let b = ModelBuilder::new("silu");
    let x = b.input("x", DType::F32, vec![Dim::from("R"), Dim::Static(64)]);
    let w = b.input("w", DType::F32, vec![Dim::Static(64)]);
    let y = nn::silu(&(&x * &w));
    // A slice starting at 1 is not aligned: that kernel keeps one element per grid point.
    let z = x.slice(1, 1, 61);
    let g = b.finish(&[("y", &y), ("z", &z)]).unwrap();
    let p = lower_with(&g, &LowerOptions::gpu(256)).unwrap();
    let widths: Vec<Vec<u32>> = p.kernels.iter().map(|k| k.vector.iter().map(|v| v.1).collect()).collect();
    assert_eq!(widths, vec![vec![4], vec![]], "{}", print_program(&p));
    assert!(print_program(&p).contains("in 0..4 vector 4 {"));
    check_opts(&g, &sizes(&[("R", 3)]), 3, &LowerOptions::gpu(256));
}
