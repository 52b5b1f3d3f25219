//! What an optimizer run did, for `irc compile --explain`.

use std::fmt;
use std::time::Duration;

/// One region's e-graph run and extraction.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct RegionReport {
    /// Graph nodes in the region.
    pub nodes: usize,
    pub egraph_nodes: usize,
    pub egraph_classes: usize,
    pub iterations: usize,
    /// Why rewriting stopped (saturated, a limit).
    pub stop: String,
    /// Estimated cost (microseconds) of the region's values before and after.
    pub cost_before: f64,
    pub cost_after: f64,
    /// Greedy tree extraction's DAG cost, before local search.
    pub cost_greedy: f64,
    pub search_moves: usize,
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct OptReport {
    /// Rewrites applied, by rule name (`constant-fold` counts folded classes), most first.
    pub rules: Vec<(String, usize)>,
    /// E-graph size summed over regions, at the end of rewriting.
    pub egraph_nodes: usize,
    pub egraph_classes: usize,
    /// Rewrite iterations summed over regions, and the largest in one region.
    pub iterations: usize,
    pub max_iterations: usize,
    pub regions: Vec<RegionReport>,
    pub nodes_before: usize,
    pub nodes_after: usize,
    /// Estimated cost of the whole graph (microseconds), each live node paid once.
    pub cost_before: f64,
    pub cost_after: f64,
    /// Per output (in output order): name, cost before, cost after.
    pub outputs: Vec<(String, f64, f64)>,
    pub rewrite_time: Duration,
    pub extract_time: Duration,
    pub time: Duration,
    pub groups: Vec<String>,
}

impl OptReport {
    /// How often rule `name` applied.
    pub fn applied(&self, name: &str) -> usize {
        self.rules.iter().find(|(n, _)| n == name).map_or(0, |(_, k)| *k)
    }
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

impl fmt::Display for OptReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "optimizer: rule groups {}", self.groups.join(", "))?;
        writeln!(
            f,
            "  {} -> {} nodes in {} region(s); e-graph {} nodes, {} classes; {} iterations (at most {} in a region)",
            self.nodes_before,
            self.nodes_after,
            self.regions.len(),
            self.egraph_nodes,
            self.egraph_classes,
            self.iterations,
            self.max_iterations
        )?;
        writeln!(
            f,
            "  time {:.1} ms (rewrite {:.1} ms, extract {:.1} ms)",
            ms(self.time),
            ms(self.rewrite_time),
            ms(self.extract_time)
        )?;
        let change = if self.cost_before > 0.0 { 100.0 * (self.cost_after / self.cost_before - 1.0) } else { 0.0 };
        writeln!(f, "  estimated cost {:.2} us -> {:.2} us ({change:+.1}%)", self.cost_before, self.cost_after)?;
        if self.rules.is_empty() {
            writeln!(f, "  no rewrites applied")?;
        }
        for (name, n) in &self.rules {
            writeln!(f, "  {n:>6}  {name}")?;
        }
        // Per-output costs, when there are few outputs (a training graph has one per gradient).
        if (2..=8).contains(&self.outputs.len()) {
            for (name, before, after) in &self.outputs {
                writeln!(f, "  output {name}: {before:.2} us -> {after:.2} us")?;
            }
        }
        if self.regions.len() > 1 {
            writeln!(f, "  region  nodes  e-nodes  classes  iters  cost before -> after (us)  stop")?;
            for (i, r) in self.regions.iter().enumerate() {
                writeln!(
                    f,
                    "  {i:>6} {:>6} {:>8} {:>8} {:>6}  {:>11.2} -> {:<11.2}  {}",
                    r.nodes, r.egraph_nodes, r.egraph_classes, r.iterations, r.cost_before, r.cost_after, r.stop
                )?;
            }
        }
        Ok(())
    }
}
