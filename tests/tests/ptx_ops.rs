//! Every primitive op's kernels, in every dtype it takes and both schedules, assemble with ptxas for
//! sm_80 and sm_90.

mod ptx_common;

use irc_ir::{BINARY_NAMES, DType, UNARY_NAMES};
use irc_tests::fixtures::all_ops_graph;
use ptx_common::{assemble, kernels, ptxas_or_skip};

fn graph(lines: &str) -> irc_ir::Graph {
    let src = format!("graph t {{\n{lines}\n}}");
    irc_ir::parse(&src).unwrap_or_else(|e| panic!("{e}\n{src}"))
}

#[test]
fn unary_binary_and_cast_ops_in_every_dtype() {
    if !ptxas_or_skip("unary_binary_and_cast_ops_in_every_dtype") {
        return;
    }
    let mut ks = Vec::new();
    for (op, name) in UNARY_NAMES {
        for dtype in [DType::F32, DType::F64, DType::F16, DType::BF16, DType::I32, DType::I64] {
            if dtype.is_int() && !op.is_sign_op() {
                continue;
            }
            ks.extend(kernels(&graph(&format!(
                "%0 = input \"x\" : {dtype}[B, 4]\n%1 = {name} %0 : {dtype}[B, 4]\noutput \"y\" = %1"
            ))));
        }
    }
    for (op, name) in BINARY_NAMES {
        for dtype in DType::ALL {
            let out = if op.is_comparison() { DType::Bool } else { dtype };
            if (dtype == DType::Bool && !op.is_comparison()) || (dtype.is_int() && op == irc_ir::BinaryOp::Pow) {
                continue;
            }
            ks.extend(kernels(&graph(&format!(
                "%0 = input \"a\" : {dtype}[B, 5]\n%1 = input \"b\" : {dtype}[B, 5]\n%2 = {name} %0, %1 : {out}[B, 5]\n\
                 output \"y\" = %2"
            ))));
        }
    }
    for from in DType::ALL {
        for to in DType::ALL {
            ks.extend(kernels(&graph(&format!(
                "%0 = input \"x\" : {from}[7]\n%1 = cast %0 dtype={to} : {to}[7]\noutput \"y\" = %1"
            ))));
        }
    }
    assemble(&ks, 3);
}

#[test]
fn the_all_ops_graph() {
    if !ptxas_or_skip("the_all_ops_graph") {
        return;
    }
    assemble(&kernels(&all_ops_graph()), 3);
}
