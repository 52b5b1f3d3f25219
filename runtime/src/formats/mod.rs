//! Tensor file formats: numpy `.npy` and safetensors, with a shared little-endian element codec.

pub mod npy;
pub mod weights;

use std::path::Path;

use irc_ir::DType;
use thiserror::Error;

use crate::Tensor;

/// A file that could not be read or written. `path` is the file, or `<bytes>` for in-memory buffers.
#[derive(Debug, Error)]
pub enum FormatError {
    #[error("{path}: {source}")]
    Io { path: String, source: std::io::Error },
    #[error("{path}: not a .npy file (missing the \\x93NUMPY magic string)")]
    NotNpy { path: String },
    #[error("{path}: unsupported .npy format version {major}.{minor} (supported: 1.0, 2.0, 3.0)")]
    NpyVersion { path: String, major: u8, minor: u8 },
    #[error("{path}: malformed .npy header: {msg}")]
    NpyHeader { path: String, msg: String },
    #[error("{path}: Fortran-order arrays are not supported (save a C-order copy, e.g. np.ascontiguousarray)")]
    FortranOrder { path: String },
    /// `dtype` is the file's spelling (`>f4`, `U8`); `tensor` names the safetensors entry, if any.
    #[error("{path}: unsupported dtype `{dtype}`{} (supported: {supported})", tensor.as_ref().map(|t| format!(" for tensor `{t}`")).unwrap_or_default())]
    UnsupportedDType { path: String, tensor: Option<String>, dtype: String, supported: &'static str },
    #[error("{path}: data is {got} bytes but {what} needs {need}")]
    DataSize { path: String, what: String, got: usize, need: usize },
    #[error("{path}: invalid safetensors file: {msg}")]
    Safetensors { path: String, msg: String },
    #[error("{path}: tensor `{name}` is malformed: shape {shape:?} does not hold its {len} values")]
    MalformedTensor { path: String, name: String, shape: Vec<usize>, len: usize },
}

pub(crate) fn show_path(path: &Path) -> String {
    path.display().to_string()
}

pub(crate) const MEMORY: &str = "<bytes>";

pub(crate) fn read_file(path: &Path) -> Result<Vec<u8>, FormatError> {
    std::fs::read(path).map_err(|source| FormatError::Io { path: show_path(path), source })
}

pub(crate) fn write_file(path: &Path, bytes: &[u8]) -> Result<(), FormatError> {
    std::fs::write(path, bytes).map_err(|source| FormatError::Io { path: show_path(path), source })
}

/// The tensor's element count if its data fills its shape exactly.
pub(crate) fn check_filled(t: &Tensor, path: &str, name: &str) -> Result<usize, FormatError> {
    let n = t.shape.iter().try_fold(1usize, |acc, &d| acc.checked_mul(d));
    match n {
        Some(n) if n == t.data.len() => Ok(n),
        _ => Err(FormatError::MalformedTensor {
            path: path.into(),
            name: name.into(),
            shape: t.shape.clone(),
            len: t.data.len(),
        }),
    }
}

/// Values as little-endian bytes of `dtype` (values are already representable in it).
pub(crate) fn encode(dtype: DType, data: &[f64]) -> Vec<u8> {
    let mut out = Vec::with_capacity(data.len() * dtype.size_bytes());
    for &v in data {
        match dtype {
            DType::F32 => out.extend((v as f32).to_le_bytes()),
            DType::F16 => out.extend(half::f16::from_f64(v).to_le_bytes()),
            DType::BF16 => out.extend(half::bf16::from_f64(v).to_le_bytes()),
            DType::F64 => out.extend(v.to_le_bytes()),
            DType::I32 => out.extend((v as i32).to_le_bytes()),
            DType::I64 => out.extend((v as i64).to_le_bytes()),
            DType::Bool => out.push((v != 0.0) as u8),
        }
    }
    out
}

/// Little-endian elements of `dtype`; `bytes.len()` is a multiple of the element size.
pub(crate) fn decode(dtype: DType, bytes: &[u8]) -> Vec<f64> {
    let size = dtype.size_bytes();
    debug_assert_eq!(bytes.len() % size, 0);
    bytes
        .chunks_exact(size)
        .map(|c| match dtype {
            DType::F32 => f32::from_le_bytes(c.try_into().expect("4 bytes")) as f64,
            DType::F16 => half::f16::from_le_bytes(c.try_into().expect("2 bytes")).to_f64(),
            DType::BF16 => half::bf16::from_le_bytes(c.try_into().expect("2 bytes")).to_f64(),
            DType::F64 => f64::from_le_bytes(c.try_into().expect("8 bytes")),
            DType::I32 => i32::from_le_bytes(c.try_into().expect("4 bytes")) as f64,
            DType::I64 => i64::from_le_bytes(c.try_into().expect("8 bytes")) as f64,
            DType::Bool => (c[0] != 0) as u8 as f64,
        })
        .collect()
}

/// Checks a data buffer against the size its dtype and shape need.
pub(crate) fn check_size(path: &str, dtype: DType, shape: &[usize], got: usize) -> Result<(), FormatError> {
    let need = shape.iter().try_fold(dtype.size_bytes(), |acc, &d| acc.checked_mul(d));
    match need {
        Some(need) if need == got => Ok(()),
        _ => Err(FormatError::DataSize {
            path: path.into(),
            what: format!("{dtype}{shape:?}"),
            got,
            need: need.unwrap_or(usize::MAX),
        }),
    }
}
