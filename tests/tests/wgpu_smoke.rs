mod lower_common;
use lower_common::{check_on, sizes, wgpu};

#[test]
fn smoke() {
    let Some(b) = wgpu() else { return };
    let g = irc_ir::parse("graph t {\n%0 = input \"x\" : f32[B, T]\n%1 = exp %0 : f32[B, T]\n%2 = reduce_sum %1 axes=[1] : f32[B, 1]\n%3 = input \"i\" : i64[B, T]\n%4 = neg %3 : i64[B, T]\noutput \"s\" = %2\noutput \"e\" = %1\noutput \"n\" = %4\n}").unwrap();
    check_on(b, &g, &sizes(&[("B", 3), ("T", 5)]), 1);
}
