//! Host tensors: a dtype, a concrete shape and row-major values.

use irc_ir::DType;

/// A host tensor. Values are held as `f64` whatever the dtype, and are always exactly representable
/// in that dtype (every producer rounds with [`round_to`]), so the reference interpreter can compute
/// every op in `f64` and round once per op, which is what a correct kernel in that dtype does too.
#[derive(Clone, Debug, PartialEq)]
pub struct Tensor {
    pub dtype: DType,
    pub shape: Vec<usize>,
    pub data: Vec<f64>,
}

pub use irc_ir::round_to;

impl Tensor {
    /// A tensor from values, rounded to `dtype`. `data.len()` must equal the shape's element count.
    pub fn new(dtype: DType, shape: Vec<usize>, data: Vec<f64>) -> Tensor {
        assert_eq!(shape.iter().product::<usize>(), data.len(), "tensor data does not fill shape {shape:?}");
        let mut data = data;
        if dtype != DType::F64 {
            data.iter_mut().for_each(|v| *v = round_to(dtype, *v));
        }
        Tensor { dtype, shape, data }
    }

    pub fn scalar(dtype: DType, v: f64) -> Tensor {
        Tensor::new(dtype, vec![], vec![v])
    }

    pub fn zeros(dtype: DType, shape: Vec<usize>) -> Tensor {
        let n = shape.iter().product();
        Tensor { dtype, shape, data: vec![0.0; n] }
    }

    pub fn numel(&self) -> usize {
        self.data.len()
    }

    pub fn rank(&self) -> usize {
        self.shape.len()
    }

    /// Row-major strides of the shape.
    pub fn strides(&self) -> Vec<usize> {
        strides(&self.shape)
    }
}

/// Row-major strides of `shape`.
pub fn strides(shape: &[usize]) -> Vec<usize> {
    let mut s = vec![1; shape.len()];
    for i in (0..shape.len().saturating_sub(1)).rev() {
        s[i] = s[i + 1] * shape[i + 1];
    }
    s
}
