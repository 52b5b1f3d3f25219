//! Loads and stores of global buffers and shared arrays (element types in `types.rs`).

use irc_ir::DType;

use super::entry::Emit;
use super::types::{Class, shared_size, shared_type};

impl Emit<'_> {
    /// `base + index * size` (index in elements, an s64 register).
    fn address(&mut self, base: &str, index: &str, size: u32) -> String {
        let offset = match size {
            1 => index.to_string(),
            _ => self.ins(Class::B64, "shl.b64", &[index, &size.trailing_zeros().to_string()]),
        };
        self.ins(Class::B64, "add.s64", &[base, &offset])
    }

    pub fn load_global(&mut self, buf: usize, index: &str) -> String {
        let dtype = self.k.buffers[buf].dtype;
        let base = self.bufs[buf].clone();
        let at = self.address(&base, index, dtype.size_bytes() as u32);
        let at = format!("[{at}]");
        match dtype {
            DType::F32 => self.ins(Class::F32, "ld.global.f32", &[&at]),
            DType::F64 => self.ins(Class::F64, "ld.global.f64", &[&at]),
            DType::I32 => self.ins(Class::B32, "ld.global.s32", &[&at]),
            DType::I64 => self.ins(Class::B64, "ld.global.s64", &[&at]),
            DType::F16 => {
                let h = self.ins(Class::B16, "ld.global.b16", &[&at]);
                self.ins(Class::F32, "cvt.f32.f16", &[&h])
            }
            DType::BF16 => {
                let h = self.ins(Class::B16, "ld.global.b16", &[&at]);
                self.bf16_bits_to_f32(&h)
            }
            DType::Bool => {
                let h = self.ins(Class::B16, "ld.global.u8", &[&at]);
                self.ins(Class::Pred, "setp.ne.u16", &[&h, "0"])
            }
        }
    }

    /// Stores `value` (a register of the buffer's dtype) to element `index` of buffer `buf`.
    pub fn store_global(&mut self, buf: usize, index: &str, value: &str) {
        let dtype = self.k.buffers[buf].dtype;
        let value = &self.in_reg(dtype, value);
        let base = self.bufs[buf].clone();
        let at = self.address(&base, index, dtype.size_bytes() as u32);
        let (ty, v) = match dtype {
            DType::F32 => ("f32", value.to_string()),
            DType::F64 => ("f64", value.to_string()),
            DType::I32 => ("s32", value.to_string()),
            DType::I64 => ("s64", value.to_string()),
            // The value is already rounded to its dtype: this conversion is exact.
            DType::F16 => ("b16", self.ins(Class::B16, "cvt.rn.f16.f32", &[value])),
            DType::BF16 => ("b16", self.ins(Class::B16, "cvt.rn.bf16.f32", &[value])),
            DType::Bool => ("u8", self.ins(Class::B16, "selp.u16", &["1", "0", value])),
        };
        self.a.ins(format!("st.global.{ty} [{at}], {v}"));
    }

    fn shared_address(&mut self, arr: usize, index: &str) -> String {
        let base = self.ins(Class::B64, "mov.u64", &[&self.shared[arr].clone()]);
        self.address(&base, index, shared_size(self.k.shared[arr].dtype))
    }

    pub fn load_shared(&mut self, arr: usize, index: &str) -> String {
        let dtype = self.k.shared[arr].dtype;
        let at = self.shared_address(arr, index);
        let ld = format!("ld.shared.{}", shared_type(dtype));
        match dtype {
            DType::Bool => {
                let h = self.ins(Class::B16, &ld, &[&format!("[{at}]")]);
                self.ins(Class::Pred, "setp.ne.u16", &[&h, "0"])
            }
            _ => self.ins(super::types::class(dtype), &ld, &[&format!("[{at}]")]),
        }
    }

    /// Stores `value` (a register of the array's dtype) to element `index` of shared array `arr`.
    pub fn store_shared(&mut self, arr: usize, index: &str, value: &str) {
        let dtype = self.k.shared[arr].dtype;
        let value = &self.in_reg(dtype, value);
        let at = self.shared_address(arr, index);
        let v = match dtype {
            DType::Bool => self.ins(Class::B16, "selp.u16", &["1", "0", value]),
            _ => value.to_string(),
        };
        self.a.ins(format!("st.shared.{} [{at}], {v}", shared_type(dtype)));
    }
}
