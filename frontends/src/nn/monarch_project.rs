//! Monarch matrices as numbers: their shapes, the dense matrix a pair of factors stands for, and the
//! projection of a dense matrix onto Monarch form (Dao et al. 2022).
//!
//! Layout (the one [`monarch_linear`](super::monarch_linear) computes): with `m` blocks, input
//! feature `i*a + p` (`a = d_in / m`, block `i`, offset `p`) and output feature `c*m + q`
//! (`q < m`, `c < d_out / m`), the dense weight of `y = x @ W` is
//! `W[i*a + p, c*m + q] = R[i, p, q] * L[q, i, c]` with `R: [m, a, m]` and `L: [m, m, d_out/m]`.
//! For `d_in = d_out = n = m^2` this is `M = P L P^T R` with `m` blocks of `m x m` in each factor.
//!
//! So for each pair `(i, q)` the `a x (d_out/m)` slice `W[i*a + p, c*m + q]` (over `p`, `c`) is the
//! outer product `R[i, :, q] L[q, i, :]^T`: rank one, and the `m^2` slices partition `W`. The closest
//! Monarch matrix in Frobenius norm therefore takes, slice by slice, the best rank-one
//! approximation: the leading singular pair (Eckart-Young), found here from the Gram matrix of the
//! slice's shorter side by cyclic Jacobi rotations.

use thiserror::Error;

/// Why Monarch shapes or factors were rejected.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum MonarchError {
    #[error("{blocks} Monarch blocks do not divide widths {d_in} -> {d_out} (blocks must be >= 1 and divide both)")]
    Blocks { d_in: usize, d_out: usize, blocks: usize },
    #[error("{what} has {got} values, expected {expected}")]
    Len { what: &'static str, expected: usize, got: usize },
}

/// The sizes of a Monarch matrix from `d_in` to `d_out` features with `blocks` blocks per factor.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MonarchShape {
    pub d_in: usize,
    pub d_out: usize,
    pub blocks: usize,
}

impl MonarchShape {
    pub fn new(d_in: usize, d_out: usize, blocks: usize) -> Result<MonarchShape, MonarchError> {
        if blocks == 0 || !d_in.is_multiple_of(blocks) || !d_out.is_multiple_of(blocks) {
            return Err(MonarchError::Blocks { d_in, d_out, blocks });
        }
        Ok(MonarchShape { d_in, d_out, blocks })
    }

    /// [`monarch_blocks`] blocks.
    pub fn auto(d_in: usize, d_out: usize) -> MonarchShape {
        MonarchShape { d_in, d_out, blocks: monarch_blocks(d_in, d_out) }
    }

    /// `R`'s shape `[m, d_in/m, m]`.
    pub fn r_shape(&self) -> [usize; 3] {
        [self.blocks, self.d_in / self.blocks, self.blocks]
    }

    /// `L`'s shape `[m, m, d_out/m]`.
    pub fn l_shape(&self) -> [usize; 3] {
        [self.blocks, self.blocks, self.d_out / self.blocks]
    }

    /// Weights in both factors: `m (d_in + d_out)`, `2 n^1.5` for `n = m^2`.
    pub fn params(&self) -> usize {
        self.blocks * (self.d_in + self.d_out)
    }
}

/// The default block count: the largest `m` dividing both widths with `m^2 <= min(d_in, d_out)`
/// (`sqrt(n)` for square `n x n` with `n = m^2`; at least 1).
pub fn monarch_blocks(d_in: usize, d_out: usize) -> usize {
    let limit = d_in.min(d_out);
    (1..=limit)
        .take_while(|m| m * m <= limit)
        .filter(|&m| d_in.is_multiple_of(m) && d_out.is_multiple_of(m))
        .max()
        .unwrap_or(1)
}

/// The two factors of a Monarch matrix, row-major in the shapes of [`MonarchShape`].
#[derive(Clone, Debug, PartialEq)]
pub struct MonarchFactors {
    pub shape: MonarchShape,
    pub r: Vec<f64>,
    pub l: Vec<f64>,
}

impl MonarchFactors {
    pub fn new(shape: MonarchShape, r: Vec<f64>, l: Vec<f64>) -> Result<MonarchFactors, MonarchError> {
        check_len("R", shape.r_shape().iter().product(), r.len())?;
        check_len("L", shape.l_shape().iter().product(), l.len())?;
        Ok(MonarchFactors { shape, r, l })
    }

    /// The dense `[d_in, d_out]` weight `W` (row-major) with `x @ W` equal to the Monarch layer.
    pub fn to_dense(&self) -> Vec<f64> {
        let MonarchShape { d_in, d_out, blocks: m } = self.shape;
        let (a, c_len) = (d_in / m, d_out / m);
        let mut w = vec![0.0; d_in * d_out];
        for (i, p, q, c) in slice_entries(m, a, c_len) {
            w[(i * a + p) * d_out + c * m + q] = self.r[(i * a + p) * m + q] * self.l[(q * m + i) * c_len + c];
        }
        w
    }
}

fn check_len(what: &'static str, expected: usize, got: usize) -> Result<(), MonarchError> {
    if expected == got { Ok(()) } else { Err(MonarchError::Len { what, expected, got }) }
}

/// Every `(i, p, q, c)`: block `i`, offset `p` in it, middle index `q`, output group `c`.
fn slice_entries(m: usize, a: usize, c_len: usize) -> impl Iterator<Item = (usize, usize, usize, usize)> {
    (0..m).flat_map(move |i| (0..a).flat_map(move |p| (0..m).flat_map(move |q| (0..c_len).map(move |c| (i, p, q, c)))))
}

/// The Monarch matrix closest to the dense `w` (`[d_in, d_out]`, row-major, as in `x @ w`) in
/// Frobenius norm: each rank-one slice (see the module docs) is the leading singular pair of the
/// matching slice of `w`, split evenly as `sqrt(sigma) u` into `R` and `sqrt(sigma) v` into `L`.
/// A matrix that is already Monarch is recovered exactly (up to rounding).
pub fn monarch_project(w: &[f64], shape: MonarchShape) -> Result<MonarchFactors, MonarchError> {
    let MonarchShape { d_in, d_out, blocks: m } = MonarchShape::new(shape.d_in, shape.d_out, shape.blocks)?;
    check_len("the dense weight", d_in * d_out, w.len())?;
    let (a, c_len) = (d_in / m, d_out / m);
    let (mut r, mut l) = (vec![0.0; d_in * m], vec![0.0; m * d_out]);
    let mut slice = vec![0.0; a * c_len];
    for i in 0..m {
        for q in 0..m {
            for p in 0..a {
                for c in 0..c_len {
                    slice[p * c_len + c] = w[(i * a + p) * d_out + c * m + q];
                }
            }
            let (sigma, u, v) = leading_singular_pair(&slice, a, c_len);
            let scale = sigma.sqrt();
            for (p, up) in u.iter().enumerate() {
                r[(i * a + p) * m + q] = scale * up;
            }
            for (c, vc) in v.iter().enumerate() {
                l[(q * m + i) * c_len + c] = scale * vc;
            }
        }
    }
    Ok(MonarchFactors { shape: MonarchShape { d_in, d_out, blocks: m }, r, l })
}

/// The leading singular triple `(sigma, u, v)` of the `rows x cols` row-major matrix `s`, `u` and `v`
/// of unit length (zero vectors when `s` is zero). The top eigenvector `e` of the Gram matrix of the
/// shorter side gives one singular vector; the other is `s^T e` (or `s e`) normalized, so
/// `sigma u v^T` is exactly the projection of `s` onto `e`.
fn leading_singular_pair(s: &[f64], rows: usize, cols: usize) -> (f64, Vec<f64>, Vec<f64>) {
    // View the shorter side as rows: `at(p, j)` is a `k x n` matrix with `k <= n`.
    let transposed = rows > cols;
    let (k, n) = if transposed { (cols, rows) } else { (rows, cols) };
    let at = |p: usize, j: usize| if transposed { s[j * cols + p] } else { s[p * cols + j] };
    let mut gram = vec![0.0; k * k];
    for p in 0..k {
        for q in 0..k {
            gram[p * k + q] = (0..n).map(|j| at(p, j) * at(q, j)).sum();
        }
    }
    let e = top_eigenvector(gram, k);
    let other: Vec<f64> = (0..n).map(|j| (0..k).map(|p| at(p, j) * e[p]).sum()).collect();
    let sigma = other.iter().map(|x| x * x).sum::<f64>().sqrt();
    let other = if sigma > 0.0 { other.iter().map(|x| x / sigma).collect() } else { vec![0.0; n] };
    if transposed { (sigma, other, e) } else { (sigma, e, other) }
}

/// The unit eigenvector of the largest eigenvalue of the symmetric `k x k` matrix `a`, by cyclic
/// Jacobi rotations (each zeroes one off-diagonal pair; sweeps converge quadratically).
fn top_eigenvector(mut a: Vec<f64>, k: usize) -> Vec<f64> {
    let mut v: Vec<f64> = (0..k * k).map(|i| if i / k == i % k { 1.0 } else { 0.0 }).collect();
    for _sweep in 0..100 {
        let total: f64 = a.iter().map(|x| x * x).sum();
        let off: f64 = (0..k).flat_map(|p| (p + 1..k).map(move |q| (p, q))).map(|(p, q)| a[p * k + q].powi(2)).sum();
        if off <= 1e-32 * total {
            break;
        }
        for p in 0..k {
            for q in p + 1..k {
                let apq = a[p * k + q];
                if apq == 0.0 {
                    continue;
                }
                let theta = (a[q * k + q] - a[p * k + p]) / (2.0 * apq);
                let t = theta.signum() / (theta.abs() + (theta * theta + 1.0).sqrt());
                let c = 1.0 / (t * t + 1.0).sqrt();
                let s = t * c;
                rotate(&mut a, k, p, q, c, s, false);
                rotate(&mut a, k, p, q, c, s, true);
                rotate(&mut v, k, p, q, c, s, false);
            }
        }
    }
    let best = (0..k).max_by(|&x, &y| a[x * k + x].total_cmp(&a[y * k + y])).unwrap_or(0);
    (0..k).map(|r| v[r * k + best]).collect()
}

/// Applies the Jacobi rotation `(c, s)` in the `(p, q)` plane to the columns (or, with `rows`, the
/// rows) of the `k x k` matrix `a`: `new_p = c old_p - s old_q`, `new_q = s old_p + c old_q`.
fn rotate(a: &mut [f64], k: usize, p: usize, q: usize, c: f64, s: f64, rows: bool) {
    for r in 0..k {
        let (ip, iq) = if rows { (p * k + r, q * k + r) } else { (r * k + p, r * k + q) };
        let (xp, xq) = (a[ip], a[iq]);
        a[ip] = c * xp - s * xq;
        a[iq] = s * xp + c * xq;
    }
}
