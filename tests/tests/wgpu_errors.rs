//! The wgpu backend's error paths and device mechanics: no adapter, naga rejecting a shader, i64 data
//! beyond i32, argument packing past the storage-binding limit, resident params, the pipeline cache.

mod lower_common;

use std::collections::HashMap;

use irc_codegen::wgsl::{WgslError, validate_wgsl};
use irc_runtime::{Executable, RunError, Tensor, WgpuBackend, WgpuError, WgpuOptions};
use lower_common::{check_on, sizes, wgpu};

fn graph(lines: &str) -> irc_ir::Graph {
    irc_ir::parse(&format!("graph t {{\n{lines}\n}}")).unwrap()
}

#[test]
fn a_missing_adapter_is_a_typed_error_that_says_how_to_get_one() {
    let err = WgpuBackend::with_options(&WgpuOptions { no_adapter: true, ..Default::default() }).unwrap_err();
    assert!(matches!(err, WgpuError::NoAdapter(_)), "{err:?}");
    assert!(err.to_string().contains("apt-get install mesa-vulkan-drivers libvulkan1"), "{err}");
}

#[test]
fn naga_rejections_name_the_kernel_and_show_the_lines() {
    let src = "@compute @workgroup_size(1)\nfn main() {\n  let x: f32 = 1u;\n}\n";
    match validate_wgsl("k7_broken", src) {
        Err(WgslError::Naga { kernel, diagnostic, excerpt }) => {
            assert_eq!(kernel, "k7_broken");
            assert!(!diagnostic.is_empty());
            assert!(excerpt.contains(">   3 |   let x: f32 = 1u;"), "{excerpt}");
        }
        other => panic!("expected a naga error, got {other:?}"),
    }
    let err = validate_wgsl("k8", "fn main( {").unwrap_err();
    assert!(err.to_string().starts_with("kernel `k8`: generated WGSL does not validate"), "{err}");
}

#[test]
fn i64_values_beyond_i32_are_refused_on_upload() {
    let Some(backend) = wgpu() else { return };
    let g = graph("%0 = input \"x\" : i64[2]\n%1 = neg %0 : i64[2]\noutput \"y\" = %1");
    let exe = Executable::compile(&g, backend).unwrap();
    let ok = HashMap::from([("x".to_string(), Tensor::new(irc_ir::DType::I64, vec![2], vec![5.0, -7.0]))]);
    assert_eq!(exe.run(&ok, &HashMap::new()).unwrap()[0].data, vec![-5.0, 7.0]);
    let big = HashMap::from([("x".to_string(), Tensor::new(irc_ir::DType::I64, vec![2], vec![1.0, 3e9]))]);
    match exe.run(&big, &HashMap::new()) {
        Err(RunError::Wgpu(WgpuError::Unsupported(msg))) => assert!(msg.contains("3000000000"), "{msg}"),
        other => panic!("expected a range error, got {:?}", other.map(|_| ())),
    }
}

#[test]
fn kernels_with_more_buffers_than_bindings_pack_their_inputs() {
    if wgpu().is_none() {
        return;
    }
    // Two storage bindings: every kernel reading two or more inputs packs them.
    let packed =
        WgpuBackend::with_options(&WgpuOptions { max_storage_buffers: Some(2), ..Default::default() }).unwrap();
    let g = graph(
        "%0 = input \"a\" : f32[B, 3]\n%1 = input \"b\" : f32[B, 3]\n%2 = input \"c\" : i32[B, 3]\n\
         %3 = add %0, %1 : f32[B, 3]\n%4 = cast %2 dtype=f32 : f32[B, 3]\n%5 = mul %3, %4 : f32[B, 3]\n\
         %6 = reduce_sum %5 axes=[1] : f32[B, 1]\noutput \"y\" = %5\noutput \"s\" = %6",
    );
    check_on(packed, &g, &sizes(&[("B", 70)]), 3);
}

#[test]
fn resident_params_and_cached_pipelines() {
    let Some(backend) = wgpu() else { return };
    let g = graph(
        "%0 = input \"x\" : f32[B, 4]\n%1 = param \"w\" : f32[4, 3]\n%2 = matmul %0, %1 : f32[B, 3]\n\
         %3 = tanh %2 : f32[B, 3]\noutput \"y\" = %3",
    );
    let (inputs, params) = lower_common::data(&g, &sizes(&[("B", 300)]), 9);
    let want = irc_runtime::interpret(&g, &inputs, &params).unwrap();
    let mut exe = Executable::compile(&g, backend.clone()).unwrap();
    exe.try_set_params(&params).unwrap();
    let first = exe.run(&inputs, &HashMap::new()).unwrap();
    let cached = backend.cached_pipelines();
    let second = exe.run(&inputs, &HashMap::new()).unwrap();
    assert_eq!(first, second);
    assert_eq!(backend.cached_pipelines(), cached, "a second run builds no pipeline");
    lower_common::close("y", &want[0], &first[0]).unwrap();
}
