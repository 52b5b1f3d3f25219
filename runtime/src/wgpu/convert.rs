//! Host elements to device words and back. Every device element is one 32-bit word (see
//! `irc_codegen::wgsl`): f32, and f16/bf16 widened to f32; i32, and i64 narrowed to i32 after a range
//! check; bool as 0 or 1. f64 has no device form.

use irc_codegen::kir::{Scalar, read_scalar};
use irc_ir::DType;

use super::WgpuError;
use crate::{HostBuffer, Tensor};

/// The device words of `h`: `max(numel, 1)` of them, as every buffer holds at least one element.
pub(super) fn to_words(h: &HostBuffer) -> Result<Vec<u32>, WgpuError> {
    let (dtype, bytes, n) = (h.dtype, h.bytes(), h.numel());
    if dtype == DType::F64 {
        return Err(WgpuError::Unsupported("f64 tensors (WGSL has no f64)".into()));
    }
    let mut words = Vec::with_capacity(n.max(1));
    for i in 0..n {
        words.push(match read_scalar(dtype, bytes, i) {
            Scalar::F(v) => (v as f32).to_bits(),
            Scalar::I(v) if dtype == DType::Bool => (v != 0) as u32,
            Scalar::I(v) => i32::try_from(v).map_err(|_| {
                WgpuError::Unsupported(format!(
                    "{dtype} value {v} does not fit i32 (the device stores {dtype} tensors as i32)"
                ))
            })? as u32,
        });
    }
    if words.is_empty() {
        words.push(0);
    }
    Ok(words)
}

/// The tensor of `dtype` and `shape` whose device words are `words`.
pub(super) fn from_words(dtype: DType, shape: &[usize], words: &[u32]) -> Tensor {
    let n: usize = shape.iter().product();
    let data = words[..n]
        .iter()
        .map(|&w| match dtype {
            DType::F32 | DType::F16 | DType::BF16 | DType::F64 => f32::from_bits(w) as f64,
            DType::I32 | DType::I64 => w as i32 as f64,
            DType::Bool => (w != 0) as u8 as f64,
        })
        .collect();
    Tensor::new(dtype, shape.to_vec(), data)
}
