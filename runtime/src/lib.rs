//! irc runtime: host tensors, the reference interpreter, file formats (npy, safetensors), backends.

mod arena;
mod backend;
mod cpu;
pub mod cuda;
mod data;
mod engine;
mod exec;
mod formats;
pub mod index;
mod inputs;
mod interp;
mod rng;
mod tensor;
mod train;
pub mod wgpu;

pub use backend::{Arg, BufView, EvalBackend, HostBackend, HostBuffer, HostMemory, KernelBackend};
pub use cpu::{CpuBackend, MIN_WORK_PER_THREAD};
pub use cuda::{CudaBackend, CudaError, CudaOptions};
pub use data::{
    BUNDLED_CORPUS, Corpus, DEFAULT_VAL_FRACTION, DataError, Split, VOCAB_SIZE, decode, encode, unigram_cross_entropy,
    unigram_entropy,
};
pub use engine::{BackendKind, Engine, Interpreted};
pub use exec::{Allocation, Executable, median};
pub use formats::FormatError;
pub use formats::npy::{npy_from_bytes, npy_to_bytes, read_npy, write_npy};
pub use formats::weights::{load_safetensors, safetensors_from_bytes, safetensors_to_bytes, save_safetensors};
pub use inputs::{index_bounds, random_inputs};
pub use interp::{RunError, check_values, interpret};
pub use irc_ir::Rng;
pub use rng::{init_params, random_tensor};
pub use tensor::{Tensor, round_to, strides};
pub use train::{STEP_KEY, Schedule, TrainError, Trainer};
pub use wgpu::{WgpuBackend, WgpuError, WgpuOptions};
