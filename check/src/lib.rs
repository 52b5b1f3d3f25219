//! Differential checks of irc's backends against the reference interpreter: the random graph generator,
//! every primitive op as a case, the fusion patterns, fixtures, the comparison with dtype-fitting
//! tolerances, and the suite `irc selftest` runs ([`selftest`]). The test suites in `tests/` use the same
//! cases.

pub mod compare;
pub mod fixtures;
pub mod ops;
pub mod patterns;
pub mod random;
pub mod selftest;
pub mod special;
pub mod training;
