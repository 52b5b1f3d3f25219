//! safetensors files: a map from names to tensors, read and written with the `safetensors` crate.
//! Supported dtypes: F32, F16, BF16, F64, I32, I64, BOOL.

use std::collections::HashMap;
use std::path::Path;

use irc_ir::DType;
use safetensors::tensor::TensorView;
use safetensors::{Dtype, SafeTensors};

use super::{FormatError, MEMORY, check_filled, check_size, decode, encode, read_file, show_path, write_file};
use crate::Tensor;

const SUPPORTED: &str = "F32, F16, BF16, F64, I32, I64, BOOL";

fn to_st(dtype: DType) -> Dtype {
    match dtype {
        DType::F32 => Dtype::F32,
        DType::F16 => Dtype::F16,
        DType::BF16 => Dtype::BF16,
        DType::F64 => Dtype::F64,
        DType::I32 => Dtype::I32,
        DType::I64 => Dtype::I64,
        DType::Bool => Dtype::BOOL,
    }
}

fn from_st(dtype: Dtype) -> Option<DType> {
    DType::ALL.into_iter().find(|&d| to_st(d) == dtype)
}

/// Parses a safetensors buffer; errors name the path `<bytes>`.
pub fn safetensors_from_bytes(bytes: &[u8]) -> Result<HashMap<String, Tensor>, FormatError> {
    from_bytes(bytes, MEMORY)
}

pub fn load_safetensors(path: impl AsRef<Path>) -> Result<HashMap<String, Tensor>, FormatError> {
    let path = path.as_ref();
    from_bytes(&read_file(path)?, &show_path(path))
}

/// The safetensors encoding of `tensors` (no metadata).
pub fn safetensors_to_bytes(tensors: &HashMap<String, Tensor>) -> Result<Vec<u8>, FormatError> {
    to_bytes(tensors, MEMORY)
}

pub fn save_safetensors(path: impl AsRef<Path>, tensors: &HashMap<String, Tensor>) -> Result<(), FormatError> {
    let path = path.as_ref();
    write_file(path, &to_bytes(tensors, &show_path(path))?)
}

fn from_bytes(bytes: &[u8], path: &str) -> Result<HashMap<String, Tensor>, FormatError> {
    let file = SafeTensors::deserialize(bytes)
        .map_err(|e| FormatError::Safetensors { path: path.into(), msg: e.to_string() })?;
    let mut out = HashMap::new();
    for (name, view) in file.iter() {
        let dtype = from_st(view.dtype()).ok_or_else(|| FormatError::UnsupportedDType {
            path: path.into(),
            tensor: Some(name.into()),
            dtype: format!("{:?}", view.dtype()),
            supported: SUPPORTED,
        })?;
        // The crate validates offsets against shapes; this check keeps `decode`'s contract local.
        check_size(path, dtype, view.shape(), view.data().len())?;
        out.insert(name.to_string(), Tensor::new(dtype, view.shape().to_vec(), decode(dtype, view.data())));
    }
    Ok(out)
}

fn to_bytes(tensors: &HashMap<String, Tensor>, path: &str) -> Result<Vec<u8>, FormatError> {
    let mut encoded = Vec::with_capacity(tensors.len());
    for (name, t) in tensors {
        check_filled(t, path, name)?;
        encoded.push((name.as_str(), t, encode(t.dtype, &t.data)));
    }
    let st_err = |e: safetensors::SafeTensorError| FormatError::Safetensors { path: path.into(), msg: e.to_string() };
    let views = encoded
        .iter()
        .map(|(name, t, bytes)| Ok((*name, TensorView::new(to_st(t.dtype), t.shape.clone(), bytes).map_err(st_err)?)))
        .collect::<Result<Vec<_>, FormatError>>()?;
    safetensors::serialize(views, None).map_err(st_err)
}
