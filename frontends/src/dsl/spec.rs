//! Argument conversions: axes (negative counts from the end), dimensions and shapes written as
//! numbers, symbol strings (`"T"`, `"T+2"`) or IR values.

use std::ops::RangeFull;

use irc_ir::{Dim, Shape};

/// Resolves an axis that may be negative (`-1` is the last) against `rank`.
pub fn axis_index(axis: i32, rank: usize) -> Result<usize, String> {
    let r = rank as i64;
    let a = if axis < 0 { axis as i64 + r } else { axis as i64 };
    if (0..r).contains(&a) { Ok(a as usize) } else { Err(format!("axis {axis} is out of range for rank {rank}")) }
}

/// A set of axes for a reduction: one axis (`-1`), a list (`[0, 2]`, `&[1]`), or all (`..`).
pub trait Axes {
    /// The axes as sorted, distinct indices below `rank`.
    fn resolve(&self, rank: usize) -> Result<Vec<usize>, String>;
}

fn resolve_list(axes: &[i32], rank: usize) -> Result<Vec<usize>, String> {
    let mut out = axes.iter().map(|&a| axis_index(a, rank)).collect::<Result<Vec<_>, _>>()?;
    out.sort_unstable();
    if out.windows(2).any(|w| w[0] == w[1]) {
        return Err(format!("axes {axes:?} name one axis twice"));
    }
    Ok(out)
}

impl Axes for i32 {
    fn resolve(&self, rank: usize) -> Result<Vec<usize>, String> {
        resolve_list(&[*self], rank)
    }
}

impl Axes for [i32] {
    fn resolve(&self, rank: usize) -> Result<Vec<usize>, String> {
        resolve_list(self, rank)
    }
}

impl<const N: usize> Axes for [i32; N] {
    fn resolve(&self, rank: usize) -> Result<Vec<usize>, String> {
        resolve_list(self, rank)
    }
}

impl Axes for Vec<i32> {
    fn resolve(&self, rank: usize) -> Result<Vec<usize>, String> {
        resolve_list(self, rank)
    }
}

impl<A: Axes + ?Sized> Axes for &A {
    fn resolve(&self, rank: usize) -> Result<Vec<usize>, String> {
        (**self).resolve(rank)
    }
}

/// `..`: every axis.
impl Axes for RangeFull {
    fn resolve(&self, rank: usize) -> Result<Vec<usize>, String> {
        Ok((0..rank).collect())
    }
}

/// One dimension: a size (`64`), a symbol or offset symbol (`"T"`, `"T+2"`, `"64"`), or a [`Dim`].
pub trait DimSpec {
    fn to_dim(&self) -> Result<Dim, String>;
}

impl DimSpec for Dim {
    fn to_dim(&self) -> Result<Dim, String> {
        Ok(self.clone())
    }
}

impl DimSpec for usize {
    fn to_dim(&self) -> Result<Dim, String> {
        Ok(Dim::Static(*self))
    }
}

impl DimSpec for i32 {
    fn to_dim(&self) -> Result<Dim, String> {
        usize::try_from(*self).map(Dim::Static).map_err(|_| format!("dimension {self} is negative"))
    }
}

impl DimSpec for str {
    fn to_dim(&self) -> Result<Dim, String> {
        self.parse()
    }
}

impl DimSpec for String {
    fn to_dim(&self) -> Result<Dim, String> {
        self.parse()
    }
}

impl<D: DimSpec + ?Sized> DimSpec for &D {
    fn to_dim(&self) -> Result<Dim, String> {
        (**self).to_dim()
    }
}

/// A shape: a [`Shape`], or a list of [`DimSpec`]s (`["B", "T", "64"]`, `[2, 3]`, `vec![dim; 2]`).
pub trait ShapeSpec {
    fn to_shape(&self) -> Result<Shape, String>;
}

impl ShapeSpec for Shape {
    fn to_shape(&self) -> Result<Shape, String> {
        Ok(self.clone())
    }
}

impl<D: DimSpec> ShapeSpec for [D] {
    fn to_shape(&self) -> Result<Shape, String> {
        self.iter().map(DimSpec::to_dim).collect::<Result<Vec<_>, _>>().map(Shape)
    }
}

impl<D: DimSpec, const N: usize> ShapeSpec for [D; N] {
    fn to_shape(&self) -> Result<Shape, String> {
        self.as_slice().to_shape()
    }
}

impl<D: DimSpec> ShapeSpec for Vec<D> {
    fn to_shape(&self) -> Result<Shape, String> {
        self.as_slice().to_shape()
    }
}

impl<S: ShapeSpec + ?Sized> ShapeSpec for &S {
    fn to_shape(&self) -> Result<Shape, String> {
        (**self).to_shape()
    }
}
