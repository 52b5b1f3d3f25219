//! Row kernels that keep their expensive terms (`codegen/src/lower/reuse.rs`): softmax's sum loop stores
//! each `exp(x - max)` into the output row and the final loop loads it back, so each exponential is
//! computed once. Checked against the interpreter on the evaluator and the CPU backend at row lengths
//! that leave every kind of vector tail, symbolic rows, and the shapes the rewrite must leave alone.

mod lower_common;

use irc_codegen::kir::print_kernel;
use irc_runtime::{CpuBackend, EvalBackend};
use lower_common::{check_on, sizes};

const LENGTHS: [usize; 7] = [1, 3, 4, 17, 33, 65, 1027];

fn graph(lines: &str) -> irc_ir::Graph {
    let src = format!("graph t {{\n{lines}\n}}");
    irc_ir::parse(&src).unwrap_or_else(|e| panic!("{e}\n{src}"))
}

/// Softmax over the last axis of `dtype[R, n]`.
fn softmax(dtype: &str, n: usize) -> irc_ir::Graph {
    graph(&format!(
        "%0 = input \"x\" : {dtype}[R, {n}]\n%1 = reduce_max %0 axes=[1] : {dtype}[R, 1]\n\
         %2 = expand %1 shape=[R, {n}] : {dtype}[R, {n}]\n%3 = sub %0, %2 : {dtype}[R, {n}]\n\
         %4 = exp %3 : {dtype}[R, {n}]\n%5 = reduce_sum %4 axes=[1] : {dtype}[R, 1]\n\
         %6 = expand %5 shape=[R, {n}] : {dtype}[R, {n}]\n%7 = div %4, %6 : {dtype}[R, {n}]\noutput \"y\" = %7"
    ))
}

/// How many `exp` the kernels of `g` compute per row element (textually).
fn exps(g: &irc_ir::Graph) -> usize {
    let p = irc_codegen::lower(g).unwrap();
    p.kernels.iter().map(|k| print_kernel(k).matches("exp(").count()).sum()
}

fn check_all(g: &irc_ir::Graph, binding: &[(&str, usize)], seed: u64) {
    let sizes = sizes(binding);
    check_on(EvalBackend, g, &sizes, seed);
    check_on(CpuBackend::new(2), g, &sizes, seed);
    check_on(CpuBackend::new(1).exact(), g, &sizes, seed);
}

#[test]
fn softmax_computes_each_exponential_once() {
    for (i, n) in LENGTHS.into_iter().enumerate() {
        let g = softmax("f32", n);
        assert_eq!(exps(&g), 1, "{}", print_kernel(&irc_codegen::lower(&g).unwrap().kernels[0]));
        for rows in [1, 3, 5] {
            check_all(&g, &[("R", rows)], (i * 7 + rows) as u64);
        }
    }
}

#[test]
fn shapes_the_rewrite_leaves_alone() {
    // An f16 output rounds what it stores, so the exponentials are computed again.
    let g = softmax("f16", 17);
    assert_eq!(exps(&g), 2);
    check_all(&g, &[("R", 3)], 1);
    // Log-softmax reads the sum only; softmax over a middle axis stores with a stride.
    let ln = "%0 = input \"x\" : f32[R, 33]\n%1 = reduce_max %0 axes=[1] : f32[R, 1]\n\
              %2 = expand %1 shape=[R, 33] : f32[R, 33]\n%3 = sub %0, %2 : f32[R, 33]\n\
              %4 = exp %3 : f32[R, 33]\n%5 = reduce_sum %4 axes=[1] : f32[R, 1]\n%6 = log %5 : f32[R, 1]\n\
              %7 = expand %6 shape=[R, 33] : f32[R, 33]\n%8 = sub %3, %7 : f32[R, 33]\noutput \"y\" = %8";
    check_all(&graph(ln), &[("R", 5)], 2);
    let mid = "%0 = input \"x\" : f32[2, R, 5]\n%1 = reduce_max %0 axes=[1] : f32[2, 1, 5]\n\
               %2 = expand %1 shape=[2, R, 5] : f32[2, R, 5]\n%3 = sub %0, %2 : f32[2, R, 5]\n\
               %4 = exp %3 : f32[2, R, 5]\n%5 = reduce_sum %4 axes=[1] : f32[2, 1, 5]\n\
               %6 = expand %5 shape=[2, R, 5] : f32[2, R, 5]\n%7 = div %4, %6 : f32[2, R, 5]\noutput \"y\" = %7";
    assert_eq!(exps(&graph(mid)), 2);
    check_all(&graph(mid), &[("R", 17)], 3);
}

#[test]
fn attention_softmax_with_a_causal_mask() {
    let cfg = [("d", "16"), ("heads", "2")].map(|(k, v)| (k.to_string(), v.to_string()));
    let g = irc_frontends::build("gpt-block", &cfg).unwrap();
    for (b, t) in [(1, 1), (2, 5), (1, 17)] {
        check_all(&g, &[("B", b), ("T", t)], t as u64);
    }
}

/// Loads whose value is unused: the CPU backend's touches of the next grid row (`cranelift/touch.rs`).
fn touches(g: &irc_ir::Graph) -> usize {
    let p = irc_codegen::lower(g).unwrap();
    let compiled = p.kernels.iter().map(|k| irc_codegen::cranelift::compile_kernel(k).unwrap());
    compiled.map(|c| c.clif_text().matches("load.i8").count()).sum()
}

#[test]
fn later_passes_touch_the_next_row() {
    // The exp pass of softmax reads `x` again (its first pass read it): it touches the next row. The
    // scale pass reads only the output.
    let g = softmax("f32", 4096);
    assert!(touches(&g) > 0);
    check_all(&g, &[("R", 5)], 7);
    // A single pass (an elementwise kernel) has nothing to touch.
    let g = graph("%0 = input \"x\" : f32[R, 64]\n%1 = exp %0 : f32[R, 64]\noutput \"y\" = %1");
    assert_eq!(touches(&g), 0);
}
