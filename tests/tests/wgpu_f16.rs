//! f16 on the wgpu backend in both device layouts, against the interpreter: native `array<f16>`
//! bindings where the adapter has `shader-f16` (Mesa's lavapipe does; `IRC_REQUIRE_WGPU_F16=1` makes its
//! absence a failure), and f16 values held in 32-bit words (`WgpuOptions::word_f16`), which every
//! adapter supports. Every primitive runs in the word layout here (`wgpu_ops.rs` runs them in the
//! default, native one); special values and f16 temps outside the word arena run in both.

mod lower_common;

use std::collections::HashMap;
use std::sync::OnceLock;

use irc_check::ops::Runner;
use irc_runtime::{Executable, KernelBackend, WgpuBackend, WgpuOptions};
use lower_common::ops::op_tests;
use lower_common::{check_on, check_special_values, reject_f64_on_wgpu, sizes, wgpu};

/// A backend that keeps f16 in 32-bit words, shared by the tests of this binary.
fn words() -> Option<WgpuBackend> {
    static BACKEND: OnceLock<Option<WgpuBackend>> = OnceLock::new();
    BACKEND
        .get_or_init(|| {
            wgpu()?;
            Some(WgpuBackend::with_options(&WgpuOptions { word_f16: true, ..Default::default() }).expect("adapter"))
        })
        .clone()
}

/// The default backend, which must hold f16 natively when `IRC_REQUIRE_WGPU_F16` is set.
fn native() -> Option<WgpuBackend> {
    let b = wgpu()?;
    if std::env::var_os("IRC_REQUIRE_WGPU_F16").is_some() {
        assert!(b.native_f16(), "IRC_REQUIRE_WGPU_F16 is set, but {} has no shader-f16", b.adapter_name());
    }
    b.native_f16().then_some(b)
}

fn graph(lines: &str) -> irc_ir::Graph {
    irc_ir::parse(&format!("graph t {{\n{lines}\n}}")).unwrap()
}

fn check_words(g: &irc_ir::Graph, sizes: &HashMap<String, usize>, seed: u64) {
    check_on(words().expect("the runner exists only with an adapter"), g, sizes, seed);
}

fn reject(g: &irc_ir::Graph) {
    reject_f64_on_wgpu(words().expect("adapter"), g);
}

op_tests!(words().map(|_| Runner { check: &check_words, f64: false, wide_ints: false, reject: &reject }));

/// Zeros of both signs, the extremes, subnormals, infinities and NaN, in f16 storage.
#[test]
fn special_f16_values_match_the_interpreter_in_both_layouts() {
    let Some(word) = words() else { return };
    for backend in [Some(word), native()].into_iter().flatten() {
        check_special_values(backend);
    }
}

/// Natively, f16 bindings are `array<f16>` and f16 temps get buffers of their own (the arena holds
/// words): an f16 matmul feeding a row reduction takes no arena bytes, and matches the interpreter.
#[test]
fn native_f16_takes_two_bytes_per_element_outside_the_word_arena() {
    let Some(backend) = native() else {
        eprintln!("skipping: no adapter with shader-f16");
        return;
    };
    let g = graph(
        "%0 = input \"x\" : f16[B, 8]\n%1 = param \"w\" init=normal(0.5) : f16[8, 8]\n%2 = matmul %0, %1 : f16[B, 8]\n\
         %3 = reduce_max %2 axes=[1] : f16[B, 1]\n%4 = expand %3 shape=[B, 8] : f16[B, 8]\n%5 = sub %2, %4 : f16[B, 8]\n\
         output \"y\" = %5",
    );
    let program = irc_codegen::lower_with(&g, &backend.lower_options()).unwrap();
    assert!(program.kernels.len() >= 2, "the matmul output is a temp");
    for k in &program.kernels {
        let source = backend.compile(k).unwrap().wgsl.source;
        assert!(source.starts_with("enable f16;") && source.contains("array<f16>"), "{}:\n{source}", k.name);
    }
    let sizes = sizes(&[("B", 5)]);
    check_on(backend.clone(), &g, &sizes, 3);
    let (inputs, params) = lower_common::data(&g, &sizes, 3);
    let native_arena = Executable::compile(&g, backend).unwrap().arena_bytes(&inputs, &params).unwrap();
    assert_eq!(native_arena, 0);
    let word_arena = Executable::compile(&g, words().unwrap()).unwrap().arena_bytes(&inputs, &params).unwrap();
    assert!(word_arena > 0);
}
