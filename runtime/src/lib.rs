//! irc runtime: host tensors, the reference interpreter, file formats (npy, safetensors), backends.

mod tensor;

pub use tensor::{Tensor, round_to, strides};
