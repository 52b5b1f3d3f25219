//! Every primitive op lowered to kernels and run by the kernel-IR evaluator, against the interpreter:
//! all dtypes of the elementwise ops and casts, reductions over every axis set, both cumsum directions,
//! every movement op (with empty parts and symbolic dims), matmul with broadcast batch dims, gather and
//! scatter_add, leaves as outputs, 0-d and size-0 tensors. The cases live in `lower_common/ops.rs`
//! (shared with the device backends); see `lower_common` for the tolerances.

mod lower_common;

use irc_check::ops::Runner;
use lower_common::check;
use lower_common::ops::op_tests;

op_tests!(Some(Runner { check: &check, f64: true, wide_ints: true, reject: &|_| unreachable!("f64 runs") }));
