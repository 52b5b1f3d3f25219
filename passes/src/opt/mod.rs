//! The e-graph optimizer (egg): rewrite rules over the IR primitives, an e-class analysis that
//! carries every value's type (and constants, for folding), and DAG-aware extraction under a
//! roofline cost model. Large graphs are optimized region by region. See `docs/OPTIMIZER.md`.
//!
//! ```
//! use irc_ir::{DType, Graph, Op, TensorType, UnaryOp};
//! use irc_passes::opt::{OptOptions, optimize};
//!
//! let mut g = Graph::new("t");
//! let x = g.push(Op::Input { name: "x".into(), ty: TensorType::new(DType::F32, [4]) }, &[]).unwrap();
//! let n = g.push(Op::Unary { op: UnaryOp::Neg }, &[x]).unwrap();
//! let nn = g.push(Op::Unary { op: UnaryOp::Neg }, &[n]).unwrap();
//! g.add_output("y", nn).unwrap();
//! let (h, report) = optimize(&g, &OptOptions::default()).unwrap();
//! assert_eq!(h.len(), 1); // y = x
//! assert_eq!(report.applied("neg-neg"), 1);
//! ```

mod analysis;
mod convert;
mod cost;
mod driver;
mod extract;
mod lang;
mod report;
mod rules;

use std::collections::HashMap;
use std::time::Duration;

use thiserror::Error;

pub use cost::{CostModel, Target};
pub use driver::optimize;
pub use report::{OptReport, RegionReport};
pub use rules::{Build, Cond, Exactness, Rhs, RuleDef, RuleGroup, all_rules};

/// Internals exposed for tests of extraction and the analysis.
pub mod internals {
    pub use super::analysis::{Data, EG, Leaf, TensorAnalysis};
    pub use super::extract::{Choice, Extractor, SearchStats};
    pub use super::lang::{Attr, D, Prim, TNode};
}

/// Why the optimizer failed.
#[derive(Debug, Error, Clone, PartialEq)]
pub enum OptError {
    #[error("invalid input graph: {0}")]
    InvalidGraph(#[from] irc_ir::IrError),
    /// A rewrite equated values of different types or constants: a bug in a rule.
    #[error("unsound rewrite: {0}")]
    UnsoundRewrite(String),
    #[error("bad rule table: {0}")]
    BadRule(String),
    #[error("optimizer internal error: {0}")]
    Internal(String),
}

/// What the optimizer does and how long it may take.
#[derive(Clone, Debug)]
pub struct OptOptions {
    /// Rule groups to run. Default: the exact simplifications, matmul reassociation and fusion.
    pub groups: Vec<RuleGroup>,
    /// Most e-nodes per region's e-graph.
    pub node_limit: usize,
    /// Most rewrite iterations per region.
    pub iter_limit: usize,
    /// Time for the whole call, rewriting and extraction; regions share it.
    pub time_limit: Duration,
    /// Most graph nodes per region; larger graphs are cut into consecutive regions.
    pub region_nodes: usize,
    /// Most local-search passes in extraction. 0: greedy tree extraction only; otherwise the search
    /// runs from the greedy selection and from the input's own, and the cheaper result is kept.
    pub search_passes: usize,
    pub target: Target,
    /// Sizes of symbolic dims for the cost model; unlisted symbols are `default_dim`.
    pub sizes: HashMap<String, usize>,
    pub default_dim: usize,
    /// Rules run in addition to the groups' tables (experiments; tests of the type check).
    pub extra_rules: Vec<RuleDef>,
}

impl Default for OptOptions {
    fn default() -> OptOptions {
        OptOptions {
            groups: vec![RuleGroup::Simplify, RuleGroup::MatmulAssoc, RuleGroup::Fusion],
            node_limit: 20_000,
            iter_limit: 8,
            time_limit: Duration::from_millis(1500),
            region_nodes: 1000,
            search_passes: 4,
            target: Target::cpu(),
            sizes: HashMap::new(),
            default_dim: 64,
            extra_rules: Vec::new(),
        }
    }
}

impl OptOptions {
    /// Every rule group, floating-point algebra included.
    pub fn all_groups() -> OptOptions {
        OptOptions { groups: RuleGroup::ALL.to_vec(), ..OptOptions::default() }
    }

    /// Only the given groups.
    pub fn with_groups(groups: &[RuleGroup]) -> OptOptions {
        OptOptions { groups: groups.to_vec(), ..OptOptions::default() }
    }

    pub fn cost_model(&self) -> CostModel {
        CostModel { target: self.target.clone(), sizes: self.sizes.clone(), default_dim: self.default_dim }
    }
}
