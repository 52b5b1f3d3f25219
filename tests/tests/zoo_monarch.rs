//! Properties of the projection of dense weights onto Monarch form (`nn::monarch_project`).

use irc_frontends::nn::{MonarchError, MonarchFactors, MonarchShape, monarch_blocks, monarch_project};
use irc_runtime::Rng;

fn normal(n: usize, rng: &mut Rng) -> Vec<f64> {
    (0..n).map(|_| rng.normal()).collect()
}

fn random_factors(shape: MonarchShape, rng: &mut Rng) -> MonarchFactors {
    let (r, l) = (shape.r_shape().iter().product(), shape.l_shape().iter().product());
    MonarchFactors::new(shape, normal(r, rng), normal(l, rng)).unwrap()
}

/// Squared Frobenius distance.
fn dist2(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| (x - y).powi(2)).sum()
}

fn norm2(a: &[f64]) -> f64 {
    a.iter().map(|x| x * x).sum()
}

const SHAPES: [(usize, usize, usize); 5] = [(16, 16, 4), (64, 256, 8), (256, 64, 8), (12, 18, 3), (9, 9, 3)];

#[test]
fn a_monarch_matrix_is_recovered_exactly() {
    let mut rng = Rng::new(1);
    for (d_in, d_out, blocks) in SHAPES {
        let shape = MonarchShape::new(d_in, d_out, blocks).unwrap();
        let w = random_factors(shape, &mut rng).to_dense();
        let back = monarch_project(&w, shape).unwrap().to_dense();
        // Each slice is rank one; its leading singular pair reproduces it to rounding error.
        let rel = (dist2(&back, &w) / norm2(&w)).sqrt();
        assert!(rel < 1e-12, "{d_in}x{d_out}/{blocks}: relative error {rel}");
    }
}

#[test]
fn the_projection_is_idempotent_and_no_nearby_monarch_matrix_is_closer() {
    let mut rng = Rng::new(2);
    for (d_in, d_out, blocks) in SHAPES {
        let shape = MonarchShape::new(d_in, d_out, blocks).unwrap();
        let w = normal(d_in * d_out, &mut rng);
        let proj = monarch_project(&w, shape).unwrap();
        let pw = proj.to_dense();
        let err = dist2(&pw, &w);
        // A dense matrix is not Monarch: something is lost, but not everything.
        assert!(err > 0.0 && err < norm2(&w), "{d_in}x{d_out}: error {err} of {}", norm2(&w));
        // Projecting the projection changes nothing.
        let again = monarch_project(&pw, shape).unwrap().to_dense();
        assert!(dist2(&again, &pw).sqrt() < 1e-12 * norm2(&pw).sqrt());
        // The residual is orthogonal to the projection (Pythagoras), as for any best approximation
        // from a set closed under scaling each slice.
        let inner: f64 = pw.iter().zip(&w).map(|(p, x)| p * (x - p)).sum();
        assert!(inner.abs() < 1e-9 * norm2(&w), "{d_in}x{d_out}: <P(W), W - P(W)> = {inner}");
        // Perturbed factors, large and small, never get closer to `w`.
        for scale in [1.0, 1e-2, 1e-4] {
            for _ in 0..20 {
                let mut f = proj.clone();
                f.r.iter_mut().for_each(|v| *v += scale * rng.normal());
                f.l.iter_mut().for_each(|v| *v += scale * rng.normal());
                let e = dist2(&f.to_dense(), &w);
                assert!(e >= err * (1.0 - 1e-12), "{d_in}x{d_out}: perturbed {e} < projected {err}");
            }
        }
    }
}

#[test]
fn default_blocks_and_parameter_counts() {
    // sqrt(n) blocks for n = m^2, 2 n^1.5 weights.
    assert_eq!(monarch_blocks(64, 64), 8);
    assert_eq!(MonarchShape::auto(64, 64).params(), 2 * 512);
    assert_eq!(monarch_blocks(64, 256), 8);
    assert_eq!(monarch_blocks(256, 64), 8);
    assert_eq!(monarch_blocks(48, 192), 6);
    assert_eq!(monarch_blocks(7, 7), 1);
}

#[test]
fn bad_shapes_are_errors() {
    assert_eq!(MonarchShape::new(16, 10, 4).unwrap_err(), MonarchError::Blocks { d_in: 16, d_out: 10, blocks: 4 });
    assert!(MonarchShape::new(16, 16, 0).is_err());
    let shape = MonarchShape::new(16, 16, 4).unwrap();
    let err = monarch_project(&[0.0; 10], shape).unwrap_err();
    assert_eq!(err.to_string(), "the dense weight has 10 values, expected 256");
    assert!(MonarchFactors::new(shape, vec![0.0; 3], vec![0.0; 64]).is_err());
    // The zero matrix projects to zero factors.
    let zero = monarch_project(&[0.0; 256], shape).unwrap();
    assert!(zero.r.iter().chain(&zero.l).all(|&v| v == 0.0));
}
