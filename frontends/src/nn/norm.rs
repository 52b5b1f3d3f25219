//! Softmax and normalization layers over the last axis.

use irc_ir::Init;

use crate::dsl::Var;

use super::static_dim;

/// `x - max(x, axis)`: the shift that keeps `exp` from overflowing.
#[track_caller]
fn shifted(x: &Var, axis: i32) -> Var {
    x - &x.amax(axis, true)
}

/// `softmax(x)_i = exp(x_i - m) / sum_j exp(x_j - m)` along `axis`, `m = max_j x_j`.
#[track_caller]
pub fn softmax(x: &Var, axis: i32) -> Var {
    let _f = x.builder().frame("softmax");
    let e = shifted(x, axis).exp();
    &e / &e.sum(axis, true)
}

/// `log_softmax(x)_i = (x_i - m) - log(sum_j exp(x_j - m))` along `axis`.
#[track_caller]
pub fn log_softmax(x: &Var, axis: i32) -> Var {
    let _f = x.builder().frame("log_softmax");
    let s = shifted(x, axis);
    &s - &s.exp().sum(axis, true).log()
}

/// A `[d]` gain parameter called `weight`, starting at ones.
#[track_caller]
fn gain(x: &Var, d: usize) -> Var {
    x.builder().param("weight", x.dtype(), [d], Init::Ones)
}

/// Layer norm over the last axis (size `d`, static):
/// `y = (x - mean(x)) / sqrt(var(x) + eps) * weight + bias`, population variance, `weight` starting
/// at ones and `bias` at zeros. Params: `<name>.weight`, `<name>.bias`.
#[track_caller]
pub fn layer_norm(name: &str, x: &Var, eps: f64) -> Var {
    let b = x.builder();
    let _m = b.module(name, "layer_norm");
    let d = match static_dim(x, "layer_norm", -1) {
        Ok(d) => d,
        Err(p) => return p,
    };
    let centered = x - &x.mean(-1, true);
    let inv_std = (centered.square().mean(-1, true) + eps).sqrt().recip();
    centered * inv_std * gain(x, d) + b.param("bias", x.dtype(), [d], Init::Zeros)
}

/// RMS norm over the last axis: `y = x / sqrt(mean(x^2) + eps) * weight`, `weight` starting at
/// ones. Param: `<name>.weight`.
#[track_caller]
pub fn rms_norm(name: &str, x: &Var, eps: f64) -> Var {
    let _m = x.builder().module(name, "rms_norm");
    let d = match static_dim(x, "rms_norm", -1) {
        Ok(d) => d,
        Err(p) => return p,
    };
    x * (x.square().mean(-1, true) + eps).sqrt().recip() * gain(x, d)
}
