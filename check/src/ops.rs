//! Every primitive op as a graph, run by a [`Runner`] that checks it against the interpreter on one
//! backend with its limits: the evaluator (`tests/tests/lower_ops.rs`), a device backend
//! (`wgpu_ops.rs`), or any backend in `irc selftest`. [`OP_CASES`] lists the cases.

use std::collections::HashMap;

use irc_ir::{BINARY_NAMES, DType, Graph, UNARY_NAMES};

use crate::compare::sizes;
use crate::fixtures::all_ops_graph;

/// Checks a graph at symbol bindings with a seed for its random data.
pub type CheckFn<'a> = dyn Fn(&Graph, &HashMap<String, usize>, u64) + 'a;

/// Checks graphs on one backend.
pub struct Runner<'a> {
    pub check: &'a CheckFn<'a>,
    /// Whether the backend holds f64 tensors; if not, graphs with f64 go to `reject`.
    pub f64: bool,
    /// Whether integers are as wide as their dtype (i64 saturation is checked only then).
    pub wide_ints: bool,
    /// Called with graphs the backend must refuse (f64 where `f64` is false).
    pub reject: &'a (dyn Fn(&Graph) + 'a),
}

impl Runner<'_> {
    pub fn graph(&self, lines: &str) -> Graph {
        let src = format!("graph t {{\n{lines}\n}}");
        irc_ir::parse(&src).unwrap_or_else(|e| panic!("{e}\n{src}"))
    }

    pub fn run(&self, lines: &str) {
        self.check(&self.graph(lines), &sizes(&[("B", 2), ("T", 3)]), 1);
    }

    pub fn check(&self, g: &Graph, sizes: &HashMap<String, usize>, seed: u64) {
        let has_f64 = g.nodes().iter().any(|n| n.ty.dtype == DType::F64);
        if has_f64 && !self.f64 {
            (self.reject)(g);
        } else {
            (self.check)(g, sizes, seed);
        }
    }
}

pub fn unary_ops_in_every_float_dtype_and_sign_ops_on_integers(r: &Runner) {
    for (op, name) in UNARY_NAMES {
        for dtype in [DType::F32, DType::F64, DType::F16, DType::BF16, DType::I32, DType::I64] {
            if dtype.is_int() && !op.is_sign_op() {
                continue;
            }
            // abs first keeps log and sqrt mostly finite (NaN is compared too).
            r.run(&format!(
                "%0 = input \"x\" : {dtype}[3, 4]\n%1 = abs %0 : {dtype}[3, 4]\n%2 = {name} %1 : {dtype}[3, 4]\n\
                 %3 = {name} %0 : {dtype}[3, 4]\noutput \"y\" = %2\noutput \"z\" = %3"
            ));
        }
    }
}

pub fn binary_ops_and_comparisons(r: &Runner) {
    for (op, name) in BINARY_NAMES {
        let dtypes: &[DType] = match op {
            irc_ir::BinaryOp::Pow => &[DType::F32, DType::F64, DType::F16],
            _ => &[DType::F32, DType::F64, DType::BF16, DType::I32, DType::I64],
        };
        for &dtype in dtypes {
            let out = if op.is_comparison() { DType::Bool } else { dtype };
            r.run(&format!(
                "%0 = input \"a\" : {dtype}[2, 5]\n%1 = input \"b\" : {dtype}[2, 5]\n%2 = {name} %0, %1 : {out}[2, 5]\n\
                 %3 = {name} %0, %0 : {out}[2, 5]\noutput \"y\" = %2\noutput \"same\" = %3"
            ));
        }
    }
    // Comparisons of bools.
    r.run(
        "%0 = input \"a\" : bool[4]\n%1 = input \"b\" : bool[4]\n%2 = lt %0, %1 : bool[4]\n%3 = ne %0, %1 : bool[4]\n\
         output \"lt\" = %2\noutput \"ne\" = %3",
    );
}

pub fn integer_division_by_nonzero_divisors(r: &Runner) {
    for dtype in [DType::I32, DType::I64] {
        r.run(&format!(
            "%0 = input \"a\" : {dtype}[6]\n%1 = input \"b\" : {dtype}[6]\n%2 = abs %1 : {dtype}[6]\n\
             %3 = const 1 : {dtype}[]\n%4 = expand %3 shape=[6] : {dtype}[6]\n%5 = max %2, %4 : {dtype}[6]\n\
             %6 = neg %5 : {dtype}[6]\n%7 = div %0, %5 : {dtype}[6]\n%8 = div %0, %6 : {dtype}[6]\n\
             output \"pos\" = %7\noutput \"neg\" = %8"
        ));
    }
}

pub fn casts_between_every_pair_of_dtypes(r: &Runner) {
    for from in DType::ALL {
        for to in DType::ALL {
            r.run(&format!(
                "%0 = input \"x\" : {from}[7]\n%1 = cast %0 dtype={to} : {to}[7]\n%2 = cast %1 dtype={from} : {from}[7]\n\
                 output \"y\" = %1\noutput \"back\" = %2"
            ));
        }
    }
    // Large floats saturate, NaN casts to 0, fractions truncate toward zero.
    let i64_out = if r.wide_ints { "\noutput \"i64\" = %2" } else { "" };
    r.run(&format!(
        "%0 = literal data=[1e20, -1e20, nan, 2.7, -2.7, inf] : f32[6]\n%1 = cast %0 dtype=i32 : i32[6]\n\
         %2 = cast %0 dtype=i64 : i64[6]\n%3 = cast %0 dtype=bool : bool[6]\n%4 = cast %0 dtype=f16 : f16[6]\n\
         output \"i32\" = %1\noutput \"bool\" = %3\noutput \"f16\" = %4{i64_out}"
    ));
}

pub fn select_with_computed_and_input_conditions(r: &Runner) {
    r.run(
        "%0 = input \"c\" : bool[2, 3]\n%1 = input \"a\" : f32[2, 3]\n%2 = input \"b\" : f32[2, 3]\n\
         %3 = select %0, %1, %2 : f32[2, 3]\n%4 = lt %1, %2 : bool[2, 3]\n%5 = select %4, %2, %1 : f32[2, 3]\n\
         output \"y\" = %3\noutput \"max\" = %5",
    );
}

pub fn reductions_over_every_axis_set(r: &Runner) {
    let axes_sets: [&[usize]; 7] = [&[0], &[1], &[2], &[0, 1], &[0, 2], &[1, 2], &[0, 1, 2]];
    for op in ["reduce_sum", "reduce_max"] {
        for dtype in [DType::F32, DType::F64, DType::I32, DType::F16] {
            for axes in axes_sets {
                let out: Vec<String> =
                    (0..3).map(|a| if axes.contains(&a) { "1".into() } else { ["2", "3", "4"][a].into() }).collect();
                r.run(&format!(
                    "%0 = input \"x\" : {dtype}[2, 3, 4]\n%1 = {op} %0 axes={axes:?} : {dtype}[{}]\noutput \"y\" = %1",
                    out.join(", ")
                ));
            }
        }
    }
    // A reduction of an inlined expression, and over symbolic dims.
    r.run(
        "%0 = input \"x\" : f32[B, T]\n%1 = exp %0 : f32[B, T]\n%2 = reduce_sum %1 axes=[1] : f32[B, 1]\n\
         %3 = reduce_max %0 axes=[0] : f32[1, T]\noutput \"s\" = %2\noutput \"m\" = %3",
    );
}

pub fn cumsum_in_both_directions_along_every_axis(r: &Runner) {
    for dtype in [DType::F32, DType::F64, DType::I64] {
        for axis in 0..3 {
            for reverse in [false, true] {
                r.run(&format!(
                    "%0 = input \"x\" : {dtype}[2, 3, 4]\n%1 = neg %0 : {dtype}[2, 3, 4]\n\
                     %2 = cumsum %1 axis={axis} reverse={reverse} : {dtype}[2, 3, 4]\noutput \"y\" = %2"
                ));
            }
        }
    }
    r.run("%0 = input \"x\" : f32[B, T]\n%1 = cumsum %0 axis=1 reverse=true : f32[B, T]\noutput \"y\" = %1");
}

pub fn reshape_permute_expand(r: &Runner) {
    r.run(
        "%0 = input \"x\" : f32[2, 3, 4]\n%1 = reshape %0 shape=[6, 4] : f32[6, 4]\n%2 = reshape %0 shape=[4, 1, 6] : f32[4, 1, 6]\n\
         %3 = reshape %0 shape=[24] : f32[24]\n%4 = reshape %3 shape=[2, 12] : f32[2, 12]\n%5 = exp %4 : f32[2, 12]\n\
         output \"a\" = %1\noutput \"b\" = %2\noutput \"c\" = %5",
    );
    r.run(
        "%0 = input \"x\" : f32[B, T, 4]\n%1 = reshape %0 shape=[B, T, 2, 2] : f32[B, T, 2, 2]\n\
         %2 = reshape %0 shape=[2, T, B, 2] : f32[2, T, B, 2]\noutput \"a\" = %1\noutput \"b\" = %2",
    );
    for perm in [[0, 1, 2], [2, 1, 0], [1, 2, 0], [0, 2, 1]] {
        let dims = [2, 3, 4];
        let out: Vec<String> = perm.iter().map(|&p| dims[p].to_string()).collect();
        r.run(&format!(
            "%0 = input \"x\" : f32[2, 3, 4]\n%1 = permute %0 perm={perm:?} : f32[{}]\n%2 = sin %1 : f32[{}]\noutput \"y\" = %2",
            out.join(", "),
            out.join(", ")
        ));
    }
    r.run("%0 = input \"x\" : f32[3, 1]\n%1 = expand %0 shape=[2, 3, 5] : f32[2, 3, 5]\n%2 = input \"s\" : f32[]\n\
         %3 = expand %2 shape=[4, 2] : f32[4, 2]\n%4 = input \"v\" : f32[1, T]\n%5 = expand %4 shape=[3, T] : f32[3, T]\n\
         output \"a\" = %1\noutput \"b\" = %3\noutput \"c\" = %5");
}

pub fn slice_pad_concat_with_empty_parts_and_symbolic_dims(r: &Runner) {
    r.run(
        "%0 = input \"x\" : f32[4, 5]\n%1 = slice %0 axis=1 start=1 end=4 : f32[4, 3]\n%2 = slice %1 axis=0 start=2 end=2 : f32[0, 3]\n\
         %3 = pad %0 axis=0 before=2 after=1 : f32[7, 5]\n%4 = pad %0 axis=1 before=0 after=3 : f32[4, 8]\n\
         %5 = pad %2 axis=0 before=1 after=1 : f32[2, 3]\n%6 = concat %1, %2, %1 axis=0 : f32[8, 3]\n\
         %7 = concat %2 axis=0 : f32[0, 3]\n%8 = pad %1 axis=1 before=3 after=0 : f32[4, 6]\n\
         output \"slice\" = %1\noutput \"empty\" = %2\noutput \"pad0\" = %3\noutput \"pad1\" = %4\n\
         output \"pad_empty\" = %5\noutput \"cat\" = %6\noutput \"cat_empty\" = %7\noutput \"pad_before\" = %8",
    );
    r.run(
        "%0 = input \"x\" : f32[B, T, 2]\n%1 = pad %0 axis=1 before=1 after=1 : f32[B, T+2, 2]\n\
         %2 = slice %1 axis=1 start=2 end=T+2 : f32[B, T, 2]\n%3 = slice %1 axis=1 start=0 end=T : f32[B, T, 2]\n\
         %4 = sub %2, %3 : f32[B, T, 2]\n%5 = input \"y\" : f32[B, 3, 2]\n%6 = concat %5, %4 axis=1 : f32[B, T+3, 2]\n\
         output \"cat\" = %6\noutput \"pad\" = %1",
    );
}

pub fn symbolic_concat_and_pad_with_a_zero_binding(r: &Runner) {
    // T = 0: the padded and concatenated parts along T are empty at run time.
    let g = r.graph(
        "%0 = input \"x\" : f32[2, T]\n%1 = pad %0 axis=1 before=1 after=2 : f32[2, T+3]\n%2 = exp %0 : f32[2, T]\n\
         %3 = input \"y\" : f32[2, 2]\n%4 = concat %2, %3 axis=1 : f32[2, T+2]\n%5 = reshape %0 shape=[T, 2] : f32[T, 2]\n\
         %6 = pad %5 axis=0 before=1 after=0 : f32[T+1, 2]\noutput \"pad\" = %1\noutput \"cat\" = %4\noutput \"pad2\" = %6",
    );
    for t in [0, 1, 3] {
        r.check(&g, &sizes(&[("T", t)]), 3);
    }
}

pub fn matmul_with_broadcast_batch_dims(r: &Runner) {
    let cases = [
        ("[3, 4]", "[4, 5]", "[3, 5]"),
        ("[2, 3, 4]", "[4, 5]", "[2, 3, 5]"),
        ("[2, 3, 4]", "[2, 4, 5]", "[2, 3, 5]"),
        ("[2, 1, 3, 4]", "[5, 4, 6]", "[2, 5, 3, 6]"),
        ("[1, 3, 4]", "[2, 4, 5]", "[2, 3, 5]"),
        ("[B, T, 4]", "[4, 3]", "[B, T, 3]"),
        ("[3, 0]", "[0, 2]", "[3, 2]"),
    ];
    for dtype in [DType::F32, DType::F64, DType::I32, DType::F16] {
        for (a, b, out) in cases {
            r.run(&format!(
                "%0 = input \"a\" : {dtype}{a}\n%1 = input \"b\" : {dtype}{b}\n%2 = matmul %0, %1 : {dtype}{out}\noutput \"y\" = %2"
            ));
        }
    }
    // A transposed weight is a permuted index; an epilogue (bias, tanh) and a residual.
    r.run(
        "%0 = input \"x\" : f32[B, 4]\n%1 = param \"w\" : f32[3, 4]\n%2 = permute %1 perm=[1, 0] : f32[4, 3]\n\
         %3 = matmul %0, %2 : f32[B, 3]\n%4 = param \"b\" : f32[3]\n%5 = expand %4 shape=[B, 3] : f32[B, 3]\n\
         %6 = add %3, %5 : f32[B, 3]\n%7 = tanh %6 : f32[B, 3]\noutput \"y\" = %7",
    );
}

pub fn gather_and_scatter_add(r: &Runner) {
    r.run(
        "%0 = input \"table\" : f32[5, 3]\n%1 = literal data=[4, 0, 2, 2] : i32[4, 1]\n%2 = expand %1 shape=[4, 3] : i32[4, 3]\n\
         %3 = gather %0, %2 axis=0 : f32[4, 3]\n%4 = scatter_add %3, %2 axis=0 size=6 : f32[6, 3]\n\
         %5 = literal data=[2, 1, 0, 1, 1, 1] : i64[2, 3]\n%6 = input \"m\" : f32[2, 4]\n%7 = gather %6, %5 axis=1 : f32[2, 3]\n\
         %8 = scatter_add %7, %5 axis=1 size=2 : f32[2, 2]\noutput \"rows\" = %3\noutput \"grad\" = %4\n\
         output \"picked\" = %7\noutput \"hist\" = %8",
    );
    // Index inputs (in range by construction of the random inputs), symbolic dims, integer sources.
    r.run(
        "%0 = input \"tokens\" : i32[B, T]\n%1 = param \"emb\" : f32[7, 4]\n%2 = reshape %0 shape=[B, T, 1] : i32[B, T, 1]\n\
         %3 = expand %2 shape=[B, T, 4] : i32[B, T, 4]\n%4 = reshape %3 shape=[B, T, 4] : i32[B, T, 4]\n\
         %5 = expand %1 shape=[B, 7, 4] : f32[B, 7, 4]\n%6 = gather %5, %4 axis=1 : f32[B, T, 4]\n\
         %7 = scatter_add %6, %4 axis=1 size=7 : f32[B, 7, 4]\n%8 = cast %4 dtype=i64 : i64[B, T, 4]\n\
         %9 = scatter_add %8, %4 axis=1 size=7 : i64[B, 7, 4]\noutput \"emb\" = %6\noutput \"demb\" = %7\noutput \"counts\" = %9",
    );
}

pub fn leaves_constants_and_outputs(r: &Runner) {
    // Inputs, params and literals as outputs (copied), an output listed twice, a dead node, 0-d values.
    r.run("%0 = input \"x\" : f32[2, 3]\n%1 = param \"p\" : f32[3]\n%2 = literal data=[1, 2, 3] : f64[3]\n\
         %3 = const 2.5 : f32[]\n%4 = iota axis=1 : i32[2, 3]\n%5 = iota axis=0 : f32[3, 2]\n%6 = exp %0 : f32[2, 3]\n\
         %7 = input \"s\" : f64[]\n%8 = neg %7 : f64[]\n%9 = literal data=[7] : i64[]\n\
         output \"x\" = %0\noutput \"p\" = %1\noutput \"lit\" = %2\noutput \"c\" = %3\noutput \"iota\" = %4\n\
         output \"iota_b\" = %5\noutput \"x_again\" = %0\noutput \"neg\" = %8\noutput \"neg2\" = %8\noutput \"seven\" = %9");
}

pub fn size_zero_tensors_everywhere(r: &Runner) {
    r.run("%0 = input \"x\" : f32[0, 3]\n%1 = exp %0 : f32[0, 3]\n%2 = reduce_sum %0 axes=[0] : f32[1, 3]\n\
         %3 = reduce_max %0 axes=[0] : f32[1, 3]\n%4 = cumsum %0 axis=0 reverse=false : f32[0, 3]\n\
         %5 = input \"w\" : f32[3, 2]\n%6 = matmul %0, %5 : f32[0, 2]\n%7 = reduce_sum %0 axes=[1] : f32[0, 1]\n\
         output \"exp\" = %1\noutput \"sum\" = %2\noutput \"max\" = %3\noutput \"cum\" = %4\noutput \"mm\" = %6\noutput \"rows\" = %7");
    // A symbolic dim bound to 0.
    r.check(
        &r.graph(
            "%0 = input \"x\" : f32[T, 3]\n%1 = reduce_sum %0 axes=[0] : f32[1, 3]\n%2 = exp %0 : f32[T, 3]\noutput \"s\" = %1\noutput \"e\" = %2",
        ),
        &sizes(&[("T", 0)]),
        1,
    );
}

pub fn the_all_ops_fixture(r: &Runner) {
    for (b, t) in [(1, 1), (2, 3), (3, 5)] {
        r.check(&all_ops_graph(), &sizes(&[("B", b), ("T", t)]), 7);
    }
}

/// One op case: it checks its graphs with the runner it is given.
pub type OpCase = fn(&Runner);

/// Every op case by name, in order.
pub const OP_CASES: [(&str, OpCase); 15] = [
    (
        "unary_ops_in_every_float_dtype_and_sign_ops_on_integers",
        unary_ops_in_every_float_dtype_and_sign_ops_on_integers,
    ),
    ("binary_ops_and_comparisons", binary_ops_and_comparisons),
    ("integer_division_by_nonzero_divisors", integer_division_by_nonzero_divisors),
    ("casts_between_every_pair_of_dtypes", casts_between_every_pair_of_dtypes),
    ("select_with_computed_and_input_conditions", select_with_computed_and_input_conditions),
    ("reductions_over_every_axis_set", reductions_over_every_axis_set),
    ("cumsum_in_both_directions_along_every_axis", cumsum_in_both_directions_along_every_axis),
    ("reshape_permute_expand", reshape_permute_expand),
    ("slice_pad_concat_with_empty_parts_and_symbolic_dims", slice_pad_concat_with_empty_parts_and_symbolic_dims),
    ("symbolic_concat_and_pad_with_a_zero_binding", symbolic_concat_and_pad_with_a_zero_binding),
    ("matmul_with_broadcast_batch_dims", matmul_with_broadcast_batch_dims),
    ("gather_and_scatter_add", gather_and_scatter_add),
    ("leaves_constants_and_outputs", leaves_constants_and_outputs),
    ("size_zero_tensors_everywhere", size_zero_tensors_everywhere),
    ("the_all_ops_fixture", the_all_ops_fixture),
];
