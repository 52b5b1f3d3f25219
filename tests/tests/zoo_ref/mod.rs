//! A plain-loop f64 reference of the zoo's language models, written from the formulas of the papers
//! (docs/ZOO.md) without the DSL: where the graphs use masked quadratic forms, the mixers here run
//! the recurrences (linear and gated linear attention), and the gate uses `sigmoid(u)^(1/16)` directly
//! rather than its log-space form.
#![allow(dead_code)]

use std::collections::HashMap;

use irc_runtime::Tensor;

/// One block's choices, by their zoo names.
#[derive(Clone, Copy, Debug)]
pub struct Layer {
    pub attn: &'static str,
    pub ssmax: bool,
    pub act: &'static str,
    pub mlp: &'static str,
}

/// The model: sizes and one [`Layer`] per block.
#[derive(Clone, Debug)]
pub struct Lm {
    pub vocab: usize,
    pub d: usize,
    pub heads: usize,
    pub mlp_ratio: usize,
    pub layers: Vec<Layer>,
}

const EPS: f64 = 1e-5;

struct Params<'a>(&'a HashMap<String, Tensor>);

impl Params<'_> {
    fn get(&self, name: &str) -> &Tensor {
        self.0.get(name).unwrap_or_else(|| panic!("no param {name}"))
    }
    fn data(&self, name: &str) -> &[f64] {
        &self.get(name).data
    }
}

/// Logits `[B, T, vocab]` for `tokens` (`[B, T]`, row-major).
pub fn lm_logits(m: &Lm, p: &HashMap<String, Tensor>, tokens: &[usize], batch: usize, t: usize) -> Vec<f64> {
    let p = Params(p);
    let d = m.d;
    let (tok, pos) = (p.data("tok_emb.weight"), p.data("pos_emb.weight"));
    let mut x = Vec::with_capacity(batch * t * d);
    for (i, &id) in tokens.iter().enumerate() {
        let s = i % t;
        x.extend((0..d).map(|c| tok[id * d + c] + pos[s * d + c]));
    }
    for (i, layer) in m.layers.iter().enumerate() {
        x = block(m, &p, &format!("blocks.{i}"), layer, &x, batch, t);
    }
    let h = layer_norm(&x, d, p.data("ln_f.weight"), p.data("ln_f.bias"));
    linear(&h, d, p.get("lm_head.weight"), p.data("lm_head.bias"))
}

fn block(m: &Lm, p: &Params, name: &str, layer: &Layer, x: &[f64], batch: usize, t: usize) -> Vec<f64> {
    let d = m.d;
    let n1 = layer_norm(x, d, p.data(&format!("{name}.ln1.weight")), p.data(&format!("{name}.ln1.bias")));
    let a = attention(m, p, &format!("{name}.attn"), layer, &n1, batch, t);
    let h: Vec<f64> = x.iter().zip(&a).map(|(u, v)| u + v).collect();
    let n2 = layer_norm(&h, d, p.data(&format!("{name}.ln2.weight")), p.data(&format!("{name}.ln2.bias")));
    let f = mlp(p, &format!("{name}.mlp"), layer, &n2, d, m.mlp_ratio * d);
    h.iter().zip(&f).map(|(u, v)| u + v).collect()
}

/// `d_in -> d_hidden -> d_in` through `act`, dense or Monarch.
fn mlp(p: &Params, name: &str, layer: &Layer, x: &[f64], d: usize, hidden: usize) -> Vec<f64> {
    let lin = |x: &[f64], d_in: usize, fc: &str| {
        let pre = format!("{name}.{fc}");
        match layer.mlp {
            "dense" => linear(x, d_in, p.get(&format!("{pre}.weight")), p.data(&format!("{pre}.bias"))),
            "monarch" => {
                monarch(x, d_in, p.get(&format!("{pre}.r")), p.get(&format!("{pre}.l")), p.data(&format!("{pre}.bias")))
            }
            other => panic!("mlp {other}"),
        }
    };
    let h: Vec<f64> = lin(x, d, "fc1").into_iter().map(|v| act(layer.act, v)).collect();
    lin(&h, hidden, "fc2")
}

pub fn act(name: &str, v: f64) -> f64 {
    match name {
        "gelu" => 0.5 * v * (1.0 + ((2.0 / std::f64::consts::PI).sqrt() * (v + 0.044715 * v.powi(3))).tanh()),
        "relu2" | "squared_relu" => v.max(0.0).powi(2),
        "relu" => v.max(0.0),
        "silu" => v * sigmoid(v),
        other => panic!("act {other}"),
    }
}

pub fn sigmoid(v: f64) -> f64 {
    1.0 / (1.0 + (-v).exp())
}

/// Rows of `x` (`[.., d_in]`) times `w` (`[d_in, d_out]`) plus `b`.
pub fn linear(x: &[f64], d_in: usize, w: &Tensor, b: &[f64]) -> Vec<f64> {
    let d_out = w.shape[1];
    let mut y = Vec::with_capacity(x.len() / d_in * d_out);
    for row in x.chunks(d_in) {
        y.extend((0..d_out).map(|o| b[o] + (0..d_in).map(|i| row[i] * w.data[i * d_out + o]).sum::<f64>()));
    }
    y
}

/// The Monarch product as the paper describes it, row by row: view the row as `m` blocks, multiply
/// block `i` by `R_i`, transpose the `m x m` grid, multiply block `q` by `L_q`, transpose back and
/// flatten; then add the bias.
pub fn monarch(x: &[f64], d_in: usize, r: &Tensor, l: &Tensor, bias: &[f64]) -> Vec<f64> {
    let (m, a, c) = (r.shape[0], r.shape[1], l.shape[2]);
    assert_eq!((r.shape[2], l.shape[0], l.shape[1], m * a), (m, m, m, d_in));
    let d_out = m * c;
    let mut y = Vec::new();
    for row in x.chunks(d_in) {
        // u[i][q] = sum_p row[i a + p] R[i, p, q]
        let mut u = vec![vec![0.0; m]; m];
        for (i, ui) in u.iter_mut().enumerate() {
            for (q, uiq) in ui.iter_mut().enumerate() {
                *uiq = (0..a).map(|pp| row[i * a + pp] * r.data[(i * a + pp) * m + q]).sum();
            }
        }
        // the transpose: block q is (u[0][q], .., u[m-1][q]); v[q][cc] = sum_i u[i][q] L[q, i, cc]
        let mut out = vec![0.0; d_out];
        for q in 0..m {
            for cc in 0..c {
                let v: f64 = (0..m).map(|i| u[i][q] * l.data[(q * m + i) * c + cc]).sum();
                // transposing [q][cc] back to [cc][q] and flattening puts it at cc*m + q
                out[cc * m + q] = v + bias[cc * m + q];
            }
        }
        y.extend(out);
    }
    y
}

pub fn layer_norm(x: &[f64], d: usize, g: &[f64], b: &[f64]) -> Vec<f64> {
    x.chunks(d)
        .flat_map(|r| {
            let mean = r.iter().sum::<f64>() / d as f64;
            let var = r.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / d as f64;
            (0..d).map(move |i| (r[i] - mean) / (var + EPS).sqrt() * g[i] + b[i])
        })
        .collect()
}

fn rms_norm(x: &[f64], g: &[f64]) -> Vec<f64> {
    let ms = x.iter().map(|v| v * v).sum::<f64>() / x.len() as f64;
    x.iter().zip(g).map(|(v, gi)| v / (ms + EPS).sqrt() * gi).collect()
}

/// Primer's causal depthwise convolution of width 3 on `x` (`[B*T, d]`):
/// `y[t, c] = bias[c] + sum_{i<3} w_i[c] x[t - i, c]` with `w_i` = row `2 - i` of the stored weight
/// (the stored rows run from the oldest input to the current one).
fn dconv(p: &Params, name: &str, x: &[f64], batch: usize, t: usize, d: usize) -> Vec<f64> {
    let (w, b) = (p.data(&format!("{name}.weight")), p.data(&format!("{name}.bias")));
    let mut y = vec![0.0; x.len()];
    for bb in 0..batch {
        for s in 0..t {
            for c in 0..d {
                let mut acc = b[c];
                for i in 0..3.min(s + 1) {
                    acc += w[(2 - i) * d + c] * x[(bb * t + s - i) * d + c];
                }
                y[(bb * t + s) * d + c] = acc;
            }
        }
    }
    y
}

fn dot(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

/// The multi-head mixer on `x` (`[B*T, d]`, already normalized), then the `out` projection.
fn attention(m: &Lm, p: &Params, name: &str, layer: &Layer, x: &[f64], batch: usize, t: usize) -> Vec<f64> {
    let (d, heads) = (m.d, m.heads);
    let dh = d / heads;
    let proj = |which: &str| {
        let y = linear(x, d, p.get(&format!("{name}.{which}.weight")), p.data(&format!("{name}.{which}.bias")));
        if layer.attn == "dconv" { dconv(p, &format!("{name}.{which}_dconv"), &y, batch, t, d) } else { y }
    };
    let (q, k, v) = (proj("q"), proj("k"), proj("v"));
    // Row (b, s), head h, as a slice of width dh.
    let at = |bb: usize, s: usize, h: usize| (bb * t + s) * d + h * dh;
    let mut o = vec![0.0; batch * t * d];
    for bb in 0..batch {
        for h in 0..heads {
            match layer.attn {
                "softmax" | "dconv" => {
                    for s in 0..t {
                        let qs = &q[at(bb, s, h)..][..dh];
                        let scale =
                            if layer.ssmax { p.data(&format!("{name}.ssmax"))[h] * ((s + 1) as f64).ln() } else { 1.0 };
                        let scores: Vec<f64> =
                            (0..=s).map(|j| dot(qs, &k[at(bb, j, h)..][..dh]) / (dh as f64).sqrt() * scale).collect();
                        let mx = scores.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
                        let z: f64 = scores.iter().map(|sc| (sc - mx).exp()).sum();
                        for (j, sc) in scores.iter().enumerate() {
                            let w = (sc - mx).exp() / z;
                            for e in 0..dh {
                                o[at(bb, s, h) + e] += w * v[at(bb, j, h) + e];
                            }
                        }
                    }
                }
                "linear" => {
                    // S_s = sum_{j<=s} phi(k_j) v_j^T, z_s = sum_{j<=s} phi(k_j).
                    let phi = |u: f64| if u > 0.0 { u + 1.0 } else { u.exp() };
                    let (mut state, mut norm) = (vec![0.0; dh * dh], vec![0.0; dh]);
                    for s in 0..t {
                        let fk: Vec<f64> = k[at(bb, s, h)..][..dh].iter().map(|&u| phi(u)).collect();
                        let vs = &v[at(bb, s, h)..][..dh];
                        for i in 0..dh {
                            norm[i] += fk[i];
                            for e in 0..dh {
                                state[i * dh + e] += fk[i] * vs[e];
                            }
                        }
                        let fq: Vec<f64> = q[at(bb, s, h)..][..dh].iter().map(|&u| phi(u)).collect();
                        let den = dot(&fq, &norm) + 1e-6;
                        for e in 0..dh {
                            o[at(bb, s, h) + e] = (0..dh).map(|i| fq[i] * state[i * dh + e]).sum::<f64>() / den;
                        }
                    }
                }
                "gla" => gla_head(p, name, x, &q, &k, &v, &mut o, (bb, h), (t, d, heads)),
                other => panic!("attn {other}"),
            }
        }
    }
    if layer.attn == "gla" {
        // Per-head RMS norm, then the output gate silu(x W_r + b).
        let g = p.data(&format!("{name}.norm.weight"));
        for row in o.chunks_mut(dh) {
            let normed = rms_norm(row, g);
            row.copy_from_slice(&normed);
        }
        let gate = linear(x, d, p.get(&format!("{name}.gate.weight")), p.data(&format!("{name}.gate.bias")));
        o.iter_mut().zip(&gate).for_each(|(a, u)| *a *= u * sigmoid(*u));
    }
    linear(&o, d, p.get(&format!("{name}.out.weight")), p.data(&format!("{name}.out.bias")))
}

/// One head of gated linear attention by its recurrence: `alpha_t = sigmoid(x_t W1 W2 + b)^(1/16)`,
/// `S_t = diag(alpha_t) S_{t-1} + k_t v_t^T`, `o_t = (q_t / sqrt(dh))^T S_t`.
#[allow(clippy::too_many_arguments)]
fn gla_head(
    p: &Params,
    name: &str,
    x: &[f64],
    q: &[f64],
    k: &[f64],
    v: &[f64],
    o: &mut [f64],
    (bb, h): (usize, usize),
    (t, d, heads): (usize, usize, usize),
) {
    let dh = d / heads;
    let down = linear(x, d, p.get(&format!("{name}.decay.down.weight")), p.data(&format!("{name}.decay.down.bias")));
    let rank = p.get(&format!("{name}.decay.down.weight")).shape[1];
    let u = linear(&down, rank, p.get(&format!("{name}.decay.up.weight")), p.data(&format!("{name}.decay.up.bias")));
    let mut state = vec![0.0; dh * dh];
    for s in 0..t {
        let base = (bb * t + s) * d + h * dh;
        for i in 0..dh {
            let alpha = sigmoid(u[base + i]).powf(1.0 / 16.0);
            for e in 0..dh {
                state[i * dh + e] = alpha * state[i * dh + e] + k[base + i] * v[base + e];
            }
        }
        for e in 0..dh {
            o[base + e] = (0..dh).map(|i| q[base + i] / (dh as f64).sqrt() * state[i * dh + e]).sum();
        }
    }
}
