//! The fused ops' kernels against the reference interpreter (which computes their expansions): fused
//! ops built directly (causal and unmasked attention, keys other than queries, no keys, Monarch
//! shapes) and the zoo models after the optimizer fused them, on the kernel-IR evaluator in both
//! schedules (a causal fill far below the scores, where masked keys are skipped, and one near them,
//! where they count), on the Cranelift CPU backend, as WGSL validated by naga (and run when a wgpu adapter
//! exists), and as PTX assembled by ptxas (when it is installed).

mod lower_common;
mod ptx_common;

use std::collections::HashMap;

use irc_codegen::wgsl::{BindingPlan, compile_wgsl};
use irc_codegen::{LowerOptions, lower_with};
use irc_ir::{DType, Dim, Graph, Op, Shape, TensorType};
use irc_passes::opt::{OptOptions, Target, optimize};
use irc_runtime::CpuBackend;
use lower_common::{check_on, check_opts, compare_on, data, sizes, wgpu};

fn ty(dtype: DType, dims: &[Dim]) -> TensorType {
    TensorType::new(dtype, Shape(dims.to_vec()))
}

/// `op(x, y, z)` on three inputs of the given types.
fn fused_graph(op: Op, types: [TensorType; 3]) -> Graph {
    let mut g = Graph::new("fused");
    let ins: Vec<_> = ["x", "y", "z"]
        .iter()
        .zip(types)
        .map(|(n, t)| g.push(Op::Input { name: n.to_string(), ty: t }, &[]).unwrap())
        .collect();
    let y = g.push(op, &ins).unwrap();
    g.add_output("out", y).unwrap();
    g
}

/// Attention graphs: `(graph, sizes)` for causal and unmasked, f32 and f64, symbolic and static
/// sizes, more keys than queries, and no keys at all.
fn attention_cases() -> Vec<(Graph, HashMap<String, usize>)> {
    let (b, t, s) = (Dim::from("B"), Dim::from("T"), Dim::from("S"));
    let d = |n: usize| Dim::Static(n);
    let mut cases = Vec::new();
    for dtype in [DType::F32, DType::F64] {
        for causal in [false, true] {
            let op = Op::Attention { scale: 0.35, causal, fill: -1e9 };
            let square = [
                ty(dtype, &[b.clone(), d(2), t.clone(), d(4)]),
                ty(dtype, &[b.clone(), d(2), d(4), t.clone()]),
                ty(dtype, &[b.clone(), d(2), t.clone(), d(3)]),
            ];
            cases.push((fused_graph(op.clone(), square), sizes(&[("B", 2), ("T", 7)])));
            let rect = [ty(dtype, &[t.clone(), d(5)]), ty(dtype, &[d(5), s.clone()]), ty(dtype, &[s.clone(), d(6)])];
            cases.push((fused_graph(op.clone(), rect.clone()), sizes(&[("T", 4), ("S", 9)])));
            cases.push((fused_graph(op, rect.clone()), sizes(&[("T", 3), ("S", 0)])));
            // A fill near the scores: the masked keys change the result and must be visited.
            let near = Op::Attention { scale: 0.35, causal, fill: 0.25 };
            cases.push((fused_graph(near, rect), sizes(&[("T", 6), ("S", 9)])));
        }
    }
    cases
}

fn monarch_cases() -> Vec<(Graph, HashMap<String, usize>)> {
    let st = |v: &[usize]| v.iter().map(|&n| Dim::Static(n)).collect::<Vec<_>>();
    let mut cases = Vec::new();
    for dtype in [DType::F32, DType::F64] {
        // (m1, a, m2, c): square, wider, narrower, unequal block counts.
        for (m1, a, m2, c) in [(4, 4, 4, 4), (4, 4, 4, 8), (2, 8, 2, 3), (3, 2, 5, 2)] {
            let x = ty(dtype, &[Dim::from("B"), Dim::from("T"), Dim::Static(m1 * a)]);
            let g = fused_graph(Op::Monarch, [x, ty(dtype, &st(&[m1, a, m2])), ty(dtype, &st(&[m2, m1, c]))]);
            cases.push((g, sizes(&[("B", 2), ("T", 3)])));
        }
    }
    cases
}

fn schedules() -> [LowerOptions; 3] {
    [LowerOptions::default(), LowerOptions { fuse: false, ..LowerOptions::default() }, LowerOptions::gpu(256)]
}

#[test]
fn fused_kernels_match_the_expansions_on_the_evaluator() {
    for (i, (g, sizes)) in attention_cases().into_iter().chain(monarch_cases()).enumerate() {
        for opts in schedules() {
            check_opts(&g, &sizes, i as u64, &opts);
        }
    }
}

#[test]
fn fused_kernels_match_the_expansions_on_the_cpu() {
    for (i, (g, sizes)) in attention_cases().into_iter().chain(monarch_cases()).enumerate() {
        check_on(CpuBackend::new(1), &g, &sizes, i as u64);
    }
}

/// The zoo models the optimizer fuses, with the fused op each must contain (on a target whose fused
/// kernels run at full rate: the CPU target keeps some patterns where its scalar fused kernels are slower).
fn fused_zoo() -> Vec<(Graph, &'static str)> {
    let models = [
        ("gpt-block", "attention"),
        ("lm", "attention"),
        ("primer", "attention"),
        ("monarch-ffn", "monarch"),
        ("monarch-lm", "monarch"),
    ];
    models
        .into_iter()
        .map(|(name, op)| {
            let g = irc_frontends::build(name, &[]).unwrap();
            let cpu = Target::cpu();
            let opts = OptOptions { target: Target { fused_flops: cpu.peak_flops, ..cpu }, ..OptOptions::default() };
            let (h, _) = optimize(&g, &opts).unwrap();
            assert!(h.nodes().iter().any(|n| n.op.name() == op), "{name}: no {op} after optimizing");
            (h, name)
        })
        .collect()
}

#[test]
fn chunked_linear_attention_on_every_backend() {
    for (name, h) in irc_check::patterns::optimized_patterns() {
        let none = HashMap::new();
        check_on(CpuBackend::default(), &h, &none, 3);
        let (inputs, params) = data(&h, &none, 3);
        compare_on(irc_runtime::EvalBackend, &h, &inputs, &params, &LowerOptions::gpu(256))
            .unwrap_or_else(|e| panic!("{name}, GPU schedule: {e}"));
        for k in lower_with(&h, &LowerOptions::gpu(256)).unwrap().kernels {
            compile_wgsl(&k, &BindingPlan::per_arg(&k, false)).unwrap_or_else(|e| panic!("{}: {e}", k.name));
        }
        if let Some(backend) = wgpu() {
            let opts = irc_runtime::KernelBackend::lower_options(&backend);
            compare_on(backend, &h, &inputs, &params, &opts).unwrap_or_else(|e| panic!("{name} on wgpu: {e}"));
        }
        if ptx_common::ptxas_or_skip("chunked_linear_attention_on_every_backend") {
            ptx_common::assemble(&ptx_common::kernels(&h), 0);
        }
    }
}

#[test]
fn fused_zoo_models_on_the_cpu_and_the_evaluator() {
    for (k, (h, name)) in fused_zoo().into_iter().enumerate() {
        let sizes = sizes(&[("B", 2), ("T", 5)]);
        check_on(CpuBackend::default(), &h, &sizes, k as u64);
        let (inputs, params) = data(&h, &sizes, k as u64);
        compare_on(irc_runtime::EvalBackend, &h, &inputs, &params, &LowerOptions::gpu(256))
            .unwrap_or_else(|e| panic!("{name}, GPU schedule: {e}"));
    }
}

#[test]
fn fused_kernels_are_valid_wgsl_and_run_on_wgpu() {
    let graphs = attention_cases().into_iter().chain(monarch_cases()).filter(|(g, _)| {
        g.nodes().iter().all(|n| n.ty.dtype != DType::F64) // WGSL has no f64
    });
    let zoo = fused_zoo().into_iter().map(|(h, _)| (h, sizes(&[("B", 2), ("T", 5)])));
    let all: Vec<_> = graphs.chain(zoo).collect();
    for (g, _) in &all {
        let p = lower_with(g, &LowerOptions::gpu(256)).unwrap();
        for k in p.kernels.iter().filter(|k| k.name.contains("attention") || k.name.contains("monarch")) {
            compile_wgsl(k, &BindingPlan::per_arg(k, false)).unwrap_or_else(|e| panic!("{}: {e}", k.name));
        }
    }
    let Some(backend) = wgpu() else { return };
    for (i, (g, sizes)) in all.iter().enumerate() {
        let (inputs, params) = data(g, sizes, i as u64);
        let opts = irc_runtime::KernelBackend::lower_options(&backend);
        compare_on(backend.clone(), g, &inputs, &params, &opts).unwrap_or_else(|e| panic!("wgpu: {e}\n{g}"));
    }
}

#[test]
fn fused_kernels_assemble_with_ptxas() {
    if !ptx_common::ptxas_or_skip("fused_kernels_assemble_with_ptxas") {
        return;
    }
    let cases = attention_cases().into_iter().chain(monarch_cases()).map(|(g, _)| g);
    let ks: Vec<_> =
        cases.chain(fused_zoo().into_iter().map(|(h, _)| h)).flat_map(|g| ptx_common::kernels(&g)).collect();
    assert!(ks.iter().any(|k| k.name.contains("attention")) && ks.iter().any(|k| k.name.contains("monarch")));
    ptx_common::assemble(&ks, 0);
}
