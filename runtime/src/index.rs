//! Row-major index arithmetic shared by every op of the interpreter, so that no op re-derives strides
//! or offsets by hand: an op says where each output element comes from, as a multi-index.

use irc_ir::DType;

use crate::{Tensor, strides};

/// The flat offset of multi-index `idx` under `strides`.
pub fn ravel(idx: &[usize], strides: &[usize]) -> usize {
    debug_assert_eq!(idx.len(), strides.len());
    idx.iter().zip(strides).map(|(i, s)| i * s).sum()
}

/// The multi-index of flat offset `flat` in a row-major array of `shape`.
pub fn unravel(mut flat: usize, shape: &[usize]) -> Vec<usize> {
    let mut idx = vec![0; shape.len()];
    for (i, &n) in shape.iter().enumerate().rev() {
        if n > 0 {
            idx[i] = flat % n;
            flat /= n;
        }
    }
    idx
}

/// Calls `f` with every multi-index of `shape` in row-major order: none if a dim is 0, and exactly one
/// (the empty index) for a 0-d shape.
pub fn for_each_index(shape: &[usize], mut f: impl FnMut(&[usize])) {
    if shape.contains(&0) {
        return;
    }
    let mut idx = vec![0; shape.len()];
    loop {
        f(&idx);
        let mut d = shape.len();
        loop {
            if d == 0 {
                return;
            }
            d -= 1;
            idx[d] += 1;
            if idx[d] < shape[d] {
                break;
            }
            idx[d] = 0;
        }
    }
}

/// Maps an index `out` of a broadcast result onto an operand of shape `src` (numpy rules: dims align
/// from the right, and a size-1 operand dim always reads position 0). Writes the operand index to `into`.
pub fn broadcast_index(out: &[usize], src: &[usize], into: &mut Vec<usize>) {
    debug_assert!(src.len() <= out.len());
    let pad = out.len() - src.len();
    into.clear();
    into.extend(src.iter().enumerate().map(|(d, &n)| if n == 1 { 0 } else { out[d + pad] }));
}

/// Read access to a tensor by multi-index.
#[derive(Debug)]
pub struct Reader<'a> {
    pub tensor: &'a Tensor,
    strides: Vec<usize>,
}

impl<'a> Reader<'a> {
    pub fn new(tensor: &'a Tensor) -> Reader<'a> {
        Reader { tensor, strides: strides(&tensor.shape) }
    }

    pub fn shape(&self) -> &[usize] {
        &self.tensor.shape
    }

    pub fn strides(&self) -> &[usize] {
        &self.strides
    }

    pub fn offset(&self, idx: &[usize]) -> usize {
        debug_assert!(
            idx.iter().zip(&self.tensor.shape).all(|(i, n)| i < n),
            "{idx:?} outside {:?}",
            self.tensor.shape
        );
        ravel(idx, &self.strides)
    }

    pub fn get(&self, idx: &[usize]) -> f64 {
        self.tensor.data[self.offset(idx)]
    }
}

/// A tensor of `shape` whose element at each multi-index is `f(index)`, rounded to `dtype`.
pub fn tensor_from_fn(dtype: DType, shape: Vec<usize>, mut f: impl FnMut(&[usize]) -> f64) -> Tensor {
    let mut data = Vec::with_capacity(shape.iter().product());
    for_each_index(&shape, |i| data.push(f(i)));
    Tensor::new(dtype, shape, data)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ravel_inverts_unravel() {
        let shape = [2, 3, 4];
        let s = strides(&shape);
        for flat in 0..24 {
            assert_eq!(ravel(&unravel(flat, &shape), &s), flat);
        }
    }

    #[test]
    fn visits_in_row_major_order() {
        let mut seen = Vec::new();
        for_each_index(&[2, 3], |i| seen.push(i.to_vec()));
        let expected: Vec<Vec<usize>> = (0..6).map(|f| unravel(f, &[2, 3])).collect();
        assert_eq!(seen, expected);
        let mut count = 0;
        for_each_index(&[], |i| {
            assert!(i.is_empty());
            count += 1
        });
        assert_eq!(count, 1);
        for_each_index(&[3, 0, 2], |_| panic!("empty shapes have no indices"));
    }

    #[test]
    fn broadcasting_reads_position_zero_of_unit_dims() {
        let mut v = Vec::new();
        broadcast_index(&[4, 2, 3], &[2, 1], &mut v);
        assert_eq!(v, [2, 0]);
    }
}
