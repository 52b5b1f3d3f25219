//! How kernel-IR dtypes live in PTX registers, global memory and shared memory.
//!
//! f16 and bf16 values are held in f32 registers, already rounded to their dtype (every op rounds its f32
//! result again, as the Cranelift backend does); in memory they are 16-bit patterns (`.b16`). `bool` is a
//! predicate in registers and one byte (`.u8`, 0 or 1) in memory.

use irc_ir::DType;

/// A PTX register class: one `.reg` declaration line per class.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(super) enum Class {
    Pred,
    /// 16-bit patterns: f16/bf16 bits and bytes of bools on their way to or from memory.
    B16,
    B32,
    B64,
    F32,
    F64,
}

impl Class {
    pub const ALL: [Class; 6] = [Class::Pred, Class::B16, Class::B32, Class::B64, Class::F32, Class::F64];

    /// The register name prefix and the `.reg` type.
    pub fn prefix(self) -> &'static str {
        match self {
            Class::Pred => "%p",
            Class::B16 => "%h",
            Class::B32 => "%r",
            Class::B64 => "%rd",
            Class::F32 => "%f",
            Class::F64 => "%fd",
        }
    }

    pub fn reg_type(self) -> &'static str {
        match self {
            Class::Pred => ".pred",
            Class::B16 => ".b16",
            Class::B32 => ".b32",
            Class::B64 => ".b64",
            Class::F32 => ".f32",
            Class::F64 => ".f64",
        }
    }
}

/// The register class that holds values of `dtype`.
pub(super) fn class(dtype: DType) -> Class {
    match dtype {
        DType::F32 | DType::F16 | DType::BF16 => Class::F32,
        DType::F64 => Class::F64,
        DType::I32 => Class::B32,
        DType::I64 => Class::B64,
        DType::Bool => Class::Pred,
    }
}

/// The instruction type suffix of arithmetic on registers of `dtype` (`add.s64`, `setp.lt.f32`, ...).
pub(super) fn op_type(dtype: DType) -> &'static str {
    match dtype {
        DType::F32 | DType::F16 | DType::BF16 => "f32",
        DType::F64 => "f64",
        DType::I32 => "s32",
        DType::I64 => "s64",
        DType::Bool => "pred",
    }
}

/// The type of a `mov` between registers of `dtype`.
pub(super) fn mov_type(dtype: DType) -> &'static str {
    match class(dtype) {
        Class::Pred => "pred",
        Class::B16 => "b16",
        Class::B32 => "b32",
        Class::B64 => "b64",
        Class::F32 => "f32",
        Class::F64 => "f64",
    }
}

/// The type of a shared-array element: halves are kept as f32 (their values are exact there), bools as
/// bytes.
pub(super) fn shared_type(dtype: DType) -> &'static str {
    match dtype {
        DType::F32 | DType::F16 | DType::BF16 => "f32",
        DType::F64 => "f64",
        DType::I32 => "s32",
        DType::I64 => "s64",
        DType::Bool => "u8",
    }
}

/// Bytes per shared-array element (see [`shared_type`]).
pub(super) fn shared_size(dtype: DType) -> u32 {
    match dtype {
        DType::F16 | DType::BF16 => 4,
        d => d.size_bytes() as u32,
    }
}

/// A PTX float immediate with exactly the bits of `value` rounded to `dtype` (hex form: NaN and
/// infinities included).
pub(super) fn float_imm(value: f64, dtype: DType) -> String {
    match dtype {
        DType::F64 => format!("0d{:016X}", value.to_bits()),
        _ => format!("0f{:08X}", (irc_ir::round_to(dtype, value) as f32).to_bits()),
    }
}
