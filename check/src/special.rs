//! Special float values through a backend: zeros of both signs, the f16 extremes and subnormals,
//! infinities and NaN, through arithmetic, `max`/`min` of zeros of both signs (-0 is below +0),
//! casts and an overflow to infinity, in f16 and f32. Random data never hits these; the result must be
//! the interpreter's, signs of zeros included (NaN payloads aside).

use std::collections::HashMap;

use irc_ir::{DType, Graph};
use irc_runtime::{Executable, KernelBackend, Tensor, interpret};

/// The graph: one f16 input of 12 values, ten outputs.
pub fn special_graph() -> Graph {
    irc_ir::parse(
        "graph special {
         %0 = input \"x\" : f16[12]
         %1 = neg %0 : f16[12]
         %2 = add %0, %0 : f16[12]
         %3 = mul %0, %0 : f16[12]
         %4 = cast %0 dtype=f32 : f32[12]
         %5 = max %0, %1 : f16[12]
         %6 = min %1, %0 : f16[12]
         %7 = abs %0 : f16[12]
         %8 = cast %4 dtype=f16 : f16[12]
         %9 = neg %4 : f32[12]
         %10 = max %9, %4 : f32[12]
         %11 = min %4, %9 : f32[12]
         output \"neg\" = %1
         output \"twice\" = %2
         output \"square\" = %3
         output \"wide\" = %4
         output \"max\" = %5
         output \"min\" = %6
         output \"abs\" = %7
         output \"back\" = %8
         output \"max32\" = %10
         output \"min32\" = %11
         }",
    )
    .expect("the special-values graph parses")
}

/// The input: zeros of both signs, ±1 and ±2.5, the f16 extremes, its smallest subnormal and normal,
/// a value between, infinities and NaN.
pub fn special_input() -> Tensor {
    let values = vec![
        0.0,
        -0.0,
        1.0,
        -2.5,
        65504.0,
        -65504.0,
        5.960464477539063e-8,
        6.103515625e-5,
        1e-4,
        f64::INFINITY,
        f64::NEG_INFINITY,
        f64::NAN,
    ];
    Tensor::new(DType::F16, vec![12], values)
}

/// Equal values with equal signs, or both NaN.
fn same(a: f64, b: f64) -> bool {
    a == b && a.is_sign_negative() == b.is_sign_negative() || a.is_nan() && b.is_nan()
}

/// Runs the special-values graph on `backend` and the interpreter; the first difference is the error.
pub fn special_values<B: KernelBackend>(backend: B) -> Result<(), String> {
    let g = special_graph();
    let inputs = HashMap::from([("x".to_string(), special_input())]);
    let want = interpret(&g, &inputs, &HashMap::new()).map_err(|e| e.to_string())?;
    let exe = Executable::compile(&g, backend).map_err(|e| e.to_string())?;
    let got = exe.run(&inputs, &HashMap::new()).map_err(|e| e.to_string())?;
    for ((w, o), out) in want.iter().zip(&got).zip(g.outputs()) {
        if w.dtype != o.dtype {
            return Err(format!("{}: dtype {} instead of {}", out.name, o.dtype, w.dtype));
        }
        for (i, (&a, &b)) in w.data.iter().zip(&o.data).enumerate() {
            if !same(a, b) {
                return Err(format!("{}[{i}]: {b} where the interpreter gives {a}", out.name));
            }
        }
    }
    Ok(())
}
