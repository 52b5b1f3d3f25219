//! The executor: bad inputs give the interpreter's errors, resident params, host buffers.

mod lower_common;

use std::collections::HashMap;

use irc_ir::DType;
use irc_runtime::{EvalBackend, Executable, HostBuffer, RunError, Tensor, interpret};
use lower_common::{close, data, sizes};

fn graph(src: &str) -> irc_ir::Graph {
    irc_ir::parse(src).unwrap()
}

const EMBED: &str = "graph embed {
  %0 = input \"ids\" : i32[B, T]
  %1 = param \"table\" : f32[5, 3]
  %2 = reshape %0 shape=[B, T, 1] : i32[B, T, 1]
  %3 = expand %2 shape=[B, T, 3] : i32[B, T, 3]
  %4 = expand %1 shape=[B, 5, 3] : f32[B, 5, 3]
  %5 = gather %4, %3 axis=1 : f32[B, T, 3]
  %6 = input \"x\" : f32[B, T+1, 3]
  %7 = slice %6 axis=1 start=1 end=T+1 : f32[B, T, 3]
  %8 = add %5, %7 : f32[B, T, 3]
  output \"y\" = %8
}";

fn tensor(dtype: DType, shape: &[usize], data: Vec<f64>) -> Tensor {
    Tensor::new(dtype, shape.to_vec(), data)
}

/// The interpreter and the executor reject `inputs`/`params` with the same kind of error.
#[track_caller]
fn same_error(g: &irc_ir::Graph, inputs: &HashMap<String, Tensor>, params: &HashMap<String, Tensor>) -> RunError {
    let want = interpret(g, inputs, params).expect_err("the interpreter rejects these values");
    let exe = Executable::compile(g, EvalBackend).unwrap();
    let got = exe.run(inputs, params).expect_err("the executor rejects these values");
    assert_eq!(std::mem::discriminant(&want), std::mem::discriminant(&got), "interpreter: {want}\nexecutor: {got}");
    assert_eq!(want.to_string(), got.to_string());
    got
}

#[test]
fn bad_inputs_give_the_interpreters_errors() {
    let g = graph(EMBED);
    let (inputs, params) = data(&g, &sizes(&[("B", 2), ("T", 3)]), 1);
    let with = |name: &str, t: Option<Tensor>| {
        let mut m = inputs.clone();
        match t {
            Some(t) => m.insert(name.to_string(), t),
            None => m.remove(name),
        };
        m
    };
    same_error(&g, &with("ids", None), &params);
    same_error(&g, &with("extra", Some(Tensor::scalar(DType::F32, 1.0))), &params);
    same_error(&g, &with("ids", Some(tensor(DType::I64, &[2, 3], vec![0.0; 6]))), &params);
    same_error(&g, &with("x", Some(tensor(DType::F32, &[2, 5, 3], vec![0.0; 30]))), &params);
    same_error(&g, &with("x", Some(tensor(DType::F32, &[2, 4], vec![0.0; 8]))), &params);
    same_error(&g, &inputs, &HashMap::new());
    let bad_param = HashMap::from([("table".to_string(), tensor(DType::F32, &[4, 3], vec![0.0; 12]))]);
    same_error(&g, &inputs, &bad_param);
    // Token ids out of the table's range: the executor checks index inputs before launching.
    let e =
        same_error(&g, &with("ids", Some(tensor(DType::I32, &[2, 3], vec![0.0, 1.0, 5.0, 0.0, 0.0, 0.0]))), &params);
    assert!(matches!(e, RunError::IndexOutOfRange { index: 5, .. }), "{e}");
    // A malformed tensor (data does not fill its shape).
    let broken = Tensor { dtype: DType::F32, shape: vec![2, 4, 3], data: vec![0.0; 5] };
    same_error(&g, &with("x", Some(broken)), &params);
}

#[test]
fn run_time_shape_errors_match_the_interpreter() {
    // A static slice of a symbolic axis that is too short at run time.
    let g = graph(
        "graph s {\n %0 = input \"x\" : f32[T]\n %1 = slice %0 axis=0 start=0 end=4 : f32[4]\n output \"y\" = %1\n}",
    );
    let x = HashMap::from([("x".to_string(), tensor(DType::F32, &[2], vec![1.0, 2.0]))]);
    let e = same_error(&g, &x, &HashMap::new());
    assert!(matches!(e, RunError::SliceOutOfRange { .. }), "{e}");
    // A dim that is negative under the binding.
    let g = graph("graph n {\n %0 = input \"x\" : f32[T]\n %1 = iota axis=0 : i32[T-3]\n output \"y\" = %1\n}");
    let e = same_error(&g, &x, &HashMap::new());
    assert!(matches!(e, RunError::NegativeDim { .. }), "{e}");
}

#[test]
fn resident_params_serve_many_runs() {
    let g = graph(EMBED);
    let mut exe = Executable::compile(&g, EvalBackend).unwrap();
    let (inputs, params) = data(&g, &sizes(&[("B", 2), ("T", 3)]), 2);
    exe.set_params(&params);
    let want = interpret(&g, &inputs, &params).unwrap();
    for _ in 0..2 {
        let got = exe.run(&inputs, &HashMap::new()).unwrap();
        close("y", &want[0], &got[0]).unwrap();
    }
    // A param passed to `run` wins over the resident one.
    let (_, other) = data(&g, &sizes(&[("B", 2), ("T", 3)]), 3);
    let want = interpret(&g, &inputs, &other).unwrap();
    close("y", &want[0], &exe.run(&inputs, &other).unwrap()[0]).unwrap();
    // Other shapes of the symbolic dims reuse the same kernels.
    let (inputs, _) = data(&g, &sizes(&[("B", 1), ("T", 7)]), 4);
    let want = interpret(&g, &inputs, &params).unwrap();
    close("y", &want[0], &exe.run(&inputs, &HashMap::new()).unwrap()[0]).unwrap();
}

#[test]
fn host_buffers_round_trip_every_dtype_and_are_aligned() {
    for dtype in DType::ALL {
        let t = Tensor::new(dtype, vec![2, 3], vec![0.0, 1.0, -2.0, 3.5, 1e9, -0.25]);
        let mut b = HostBuffer::from_tensor(&t);
        assert_eq!(b.to_tensor(), t, "{dtype}");
        assert_eq!(b.bytes().len(), 6 * dtype.size_bytes());
        let v = b.view();
        assert_eq!((v.len, v.dtype, v.ptr as usize % 16), (6, dtype, 0));
        // Empty tensors still own one element of memory.
        let mut e = HostBuffer::zeros(dtype, vec![0, 4]);
        assert_eq!((e.numel(), e.bytes().len()), (0, 0));
        assert!(!e.view().ptr.is_null());
    }
}
