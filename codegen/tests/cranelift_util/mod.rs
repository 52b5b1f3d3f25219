//! Shared helpers of the Cranelift backend tests: typed host buffers, kernel builders, and a runner that
//! compiles a kernel with and without SIMD, runs it, and checks both give the same bytes.

#![allow(dead_code)]

use irc_codegen::cranelift::{CompileOptions, compile_kernel_with};
use irc_codegen::kir::{Access, BinOp, BufferArg, Expr, Kernel, Stmt, VarId};
use irc_ir::DType;

/// Host values of one buffer, in the dtype's memory representation.
#[derive(Clone, Debug, PartialEq)]
pub enum Data {
    F32(Vec<f32>),
    F64(Vec<f64>),
    I32(Vec<i32>),
    I64(Vec<i64>),
    /// bool as 0/1 bytes.
    Bool(Vec<u8>),
    /// f16 or bf16 bits.
    Half(Vec<u16>),
}

impl Data {
    pub fn len(&self) -> usize {
        match self {
            Data::F32(v) => v.len(),
            Data::F64(v) => v.len(),
            Data::I32(v) => v.len(),
            Data::I64(v) => v.len(),
            Data::Bool(v) => v.len(),
            Data::Half(v) => v.len(),
        }
    }

    /// The raw pointer to hand to a kernel (the vectors stay where they are while `self` lives).
    pub fn ptr(&mut self) -> *mut u8 {
        match self {
            Data::F32(v) => v.as_mut_ptr().cast(),
            Data::F64(v) => v.as_mut_ptr().cast(),
            Data::I32(v) => v.as_mut_ptr().cast(),
            Data::I64(v) => v.as_mut_ptr().cast(),
            Data::Bool(v) => v.as_mut_ptr(),
            Data::Half(v) => v.as_mut_ptr().cast(),
        }
    }

    pub fn zeros(dtype: DType, n: usize) -> Data {
        match dtype {
            DType::F32 => Data::F32(vec![0.0; n]),
            DType::F64 => Data::F64(vec![0.0; n]),
            DType::I32 => Data::I32(vec![0; n]),
            DType::I64 => Data::I64(vec![0; n]),
            DType::Bool => Data::Bool(vec![0; n]),
            DType::F16 | DType::BF16 => Data::Half(vec![0; n]),
        }
    }

    pub fn f32(&self) -> &[f32] {
        match self {
            Data::F32(v) => v,
            other => panic!("not f32: {other:?}"),
        }
    }

    pub fn f64(&self) -> &[f64] {
        match self {
            Data::F64(v) => v,
            other => panic!("not f64: {other:?}"),
        }
    }

    pub fn i32(&self) -> &[i32] {
        match self {
            Data::I32(v) => v,
            other => panic!("not i32: {other:?}"),
        }
    }

    pub fn i64(&self) -> &[i64] {
        match self {
            Data::I64(v) => v,
            other => panic!("not i64: {other:?}"),
        }
    }

    pub fn bools(&self) -> &[u8] {
        match self {
            Data::Bool(v) => v,
            other => panic!("not bool: {other:?}"),
        }
    }

    pub fn bits(&self) -> &[u16] {
        match self {
            Data::Half(v) => v,
            other => panic!("not f16/bf16: {other:?}"),
        }
    }
}

/// Builds kernels with less noise.
pub struct Builder {
    pub k: Kernel,
}

impl Builder {
    pub fn new(name: &str) -> Builder {
        Builder { k: Kernel::new(name) }
    }

    pub fn input(&mut self, name: &str, dtype: DType) -> usize {
        self.k.buffers.push(BufferArg { name: name.into(), dtype, access: Access::Read });
        self.k.buffers.len() - 1
    }

    pub fn output(&mut self, name: &str, dtype: DType) -> usize {
        self.k.buffers.push(BufferArg { name: name.into(), dtype, access: Access::Write });
        self.k.buffers.len() - 1
    }

    pub fn size(&mut self, name: &str) -> Expr {
        self.k.sizes.push(name.into());
        Expr::Size(self.k.sizes.len() - 1)
    }

    pub fn var(&mut self, name: &str, dtype: DType) -> VarId {
        self.k.var(name, dtype)
    }

    pub fn grid(&mut self, name: &str, extent: Expr) -> VarId {
        let v = self.k.var(name, DType::I64);
        self.k.grid.push((v, extent));
        v
    }
}

pub fn var(v: VarId) -> Expr {
    Expr::Var(v)
}

pub fn bin(op: BinOp, a: Expr, b: Expr) -> Expr {
    Expr::binary(op, a, b)
}

pub fn add(a: Expr, b: Expr) -> Expr {
    bin(BinOp::Add, a, b)
}

pub fn mul(a: Expr, b: Expr) -> Expr {
    bin(BinOp::Mul, a, b)
}

pub fn store(buf: usize, index: Expr, value: Expr) -> Stmt {
    Stmt::Store { buf, index, value }
}

/// `out[i] = f(in_0[i], in_1[i], ...)` over a grid of `n` (a symbolic size).
pub fn elementwise(name: &str, ins: &[DType], out: DType, f: impl FnOnce(&[Expr]) -> Expr) -> Kernel {
    let mut b = Builder::new(name);
    let n = b.size("n");
    let bufs: Vec<usize> = ins.iter().enumerate().map(|(j, &d)| b.input(&format!("in{j}"), d)).collect();
    let o = b.output("out", out);
    let i = b.grid("i", n);
    let args: Vec<Expr> = bufs.iter().map(|&j| Expr::load(j, var(i))).collect();
    let value = f(&args);
    b.k.body = vec![store(o, var(i), value)];
    b.k
}

/// Runs `k` over its whole grid with `bufs` and `sizes`, once with SIMD and once without, in one call
/// each; asserts both write the same bits and returns the buffers after the SIMD run.
pub fn run(k: &Kernel, bufs: &[Data], sizes: &[i64]) -> Vec<Data> {
    let simd = run_with(k, bufs, sizes, CompileOptions::EXACT);
    let scalar = run_with(k, bufs, sizes, CompileOptions::SCALAR);
    for (a, b) in simd.iter().zip(&scalar) {
        assert!(same_bits(a, b), "kernel {}: SIMD and scalar code differ:\n{a:?}\n{b:?}", k.name);
    }
    simd
}

pub fn run_with(k: &Kernel, bufs: &[Data], sizes: &[i64], options: CompileOptions) -> Vec<Data> {
    let compiled = compile_kernel_with(k, options).unwrap_or_else(|e| panic!("{e}"));
    let mut bufs = bufs.to_vec();
    let ptrs: Vec<*mut u8> = bufs.iter_mut().map(Data::ptr).collect();
    let total = compiled.grid_total(sizes).unwrap();
    // SAFETY: the tests size every buffer for every index their kernels touch at these sizes.
    unsafe { compiled.run(&ptrs, sizes, 0..total) }.unwrap();
    bufs
}

/// Bitwise equality, except that any two NaNs are equal (their sign and payload are unspecified).
pub fn same_bits(a: &Data, b: &Data) -> bool {
    match (a, b) {
        (Data::F32(x), Data::F32(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(p, q)| p.to_bits() == q.to_bits() || (p.is_nan() && q.is_nan()))
        }
        (Data::F64(x), Data::F64(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(p, q)| p.to_bits() == q.to_bits() || (p.is_nan() && q.is_nan()))
        }
        _ => a == b,
    }
}

/// Equal, or both NaN.
pub fn same_f32(a: f32, b: f32) -> bool {
    a == b || (a.is_nan() && b.is_nan())
}

/// Equal, both NaN, or finite neighbours at most `ulps` apart on the same side of zero (for the inline
/// f32 exp, log and tanh, which are at most 1 ulp from the correctly rounded result).
pub fn near_f32(a: f32, b: f32, ulps: u32) -> bool {
    same_f32(a, b)
        || (a.is_finite()
            && b.is_finite()
            && a.is_sign_negative() == b.is_sign_negative()
            && a.to_bits().abs_diff(b.to_bits()) <= ulps)
}

pub fn same_f64(a: f64, b: f64) -> bool {
    a == b || (a.is_nan() && b.is_nan())
}

/// Interesting f32 inputs: signs, zeros, tiny, huge, infinities, NaN, and a few ordinary values.
pub fn f32_inputs() -> Vec<f32> {
    vec![
        0.0,
        -0.0,
        1.0,
        -1.0,
        0.5,
        -2.5,
        3.25,
        100.0,
        -1e-3,
        1e-30,
        7.0e20,
        f32::MAX,
        f32::MIN_POSITIVE,
        f32::INFINITY,
        f32::NEG_INFINITY,
        f32::NAN,
        0.1,
        2.0,
        -7.75,
        12.5,
        0.3333,
    ]
}

pub fn f64_inputs() -> Vec<f64> {
    vec![
        0.0,
        -0.0,
        1.0,
        -1.0,
        0.5,
        -2.5,
        3.25,
        100.0,
        -1e-3,
        1e-300,
        7.0e200,
        f64::MAX,
        f64::MIN_POSITIVE,
        f64::INFINITY,
        f64::NEG_INFINITY,
        f64::NAN,
        0.1,
        2.0,
        -7.75,
        12.5,
        0.3333,
    ]
}
