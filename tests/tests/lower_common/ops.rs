//! One `#[test]` per op case of `irc_check::ops`, for a test file's backend (an `irc_check::ops::Runner`).

/// One `#[test]` per op case above, each running the cases with the runner `$runner` evaluates to
/// (an `Option<Runner>`: `None` skips).
#[allow(unused_macros)] // not every test file that includes `lower_common` runs the op cases
macro_rules! op_tests {
    ($runner:expr) => {
        #[test]
        fn unary_ops_in_every_float_dtype_and_sign_ops_on_integers() {
            if let Some(r) = $runner {
                irc_check::ops::unary_ops_in_every_float_dtype_and_sign_ops_on_integers(&r);
            }
        }
        #[test]
        fn binary_ops_and_comparisons() {
            if let Some(r) = $runner {
                irc_check::ops::binary_ops_and_comparisons(&r);
            }
        }
        #[test]
        fn integer_division_by_nonzero_divisors() {
            if let Some(r) = $runner {
                irc_check::ops::integer_division_by_nonzero_divisors(&r);
            }
        }
        #[test]
        fn casts_between_every_pair_of_dtypes() {
            if let Some(r) = $runner {
                irc_check::ops::casts_between_every_pair_of_dtypes(&r);
            }
        }
        #[test]
        fn select_with_computed_and_input_conditions() {
            if let Some(r) = $runner {
                irc_check::ops::select_with_computed_and_input_conditions(&r);
            }
        }
        #[test]
        fn reductions_over_every_axis_set() {
            if let Some(r) = $runner {
                irc_check::ops::reductions_over_every_axis_set(&r);
            }
        }
        #[test]
        fn cumsum_in_both_directions_along_every_axis() {
            if let Some(r) = $runner {
                irc_check::ops::cumsum_in_both_directions_along_every_axis(&r);
            }
        }
        #[test]
        fn reshape_permute_expand() {
            if let Some(r) = $runner {
                irc_check::ops::reshape_permute_expand(&r);
            }
        }
        #[test]
        fn slice_pad_concat_with_empty_parts_and_symbolic_dims() {
            if let Some(r) = $runner {
                irc_check::ops::slice_pad_concat_with_empty_parts_and_symbolic_dims(&r);
            }
        }
        #[test]
        fn symbolic_concat_and_pad_with_a_zero_binding() {
            if let Some(r) = $runner {
                irc_check::ops::symbolic_concat_and_pad_with_a_zero_binding(&r);
            }
        }
        #[test]
        fn matmul_with_broadcast_batch_dims() {
            if let Some(r) = $runner {
                irc_check::ops::matmul_with_broadcast_batch_dims(&r);
            }
        }
        #[test]
        fn gather_and_scatter_add() {
            if let Some(r) = $runner {
                irc_check::ops::gather_and_scatter_add(&r);
            }
        }
        #[test]
        fn leaves_constants_and_outputs() {
            if let Some(r) = $runner {
                irc_check::ops::leaves_constants_and_outputs(&r);
            }
        }
        #[test]
        fn size_zero_tensors_everywhere() {
            if let Some(r) = $runner {
                irc_check::ops::size_zero_tensors_everywhere(&r);
            }
        }
        #[test]
        fn the_all_ops_fixture() {
            if let Some(r) = $runner {
                irc_check::ops::the_all_ops_fixture(&r);
            }
        }
    };
}
#[allow(unused_imports)]
pub(crate) use op_tests;
