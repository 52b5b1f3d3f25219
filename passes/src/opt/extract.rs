//! DAG-aware extraction. Greedy tree extraction (each class takes the node of least cost counting
//! its children's best trees) double-counts a subterm shared by several users. So it is only the
//! start: a local search then switches single classes to other nodes while that lowers the true
//! DAG cost of the selection (every selected class reachable from the roots paid once), tracked
//! incrementally with reference counts. A switch that would make a class reach itself is refused.
//! A switch that does not pay alone is tried together with a second one: a user of a subterm the
//! first switch stopped reading switches too. Two users of one subterm (the numerator and the
//! normalizer of linear attention both reading the `T x T` scores) only save it when both move.

use std::time::Instant;

use egg::{Id, Language};
use irc_ir::TensorType;

use super::analysis::EG;
use super::cost::CostModel;
use super::lang::TNode;

/// A choice of one e-node per class, by index into the class's node list.
pub type Choice = Vec<Option<usize>>;

pub struct Extractor<'a> {
    eg: &'a EG,
    /// Self cost of each node of each class (indexed by class id); infinite for ill-typed nodes.
    costs: Vec<Vec<f64>>,
    /// The classes with a node reading each class.
    users: Vec<Vec<usize>>,
}

fn ix(id: Id) -> usize {
    usize::from(id)
}

/// Local-search statistics.
#[derive(Clone, Copy, Debug, Default)]
pub struct SearchStats {
    pub passes: usize,
    pub moves: usize,
}

impl<'a> Extractor<'a> {
    pub fn new(eg: &'a EG, model: &CostModel) -> Extractor<'a> {
        let n = eg.classes().map(|c| ix(c.id) + 1).max().unwrap_or(0);
        let mut costs = vec![Vec::new(); n];
        for class in eg.classes() {
            costs[ix(class.id)] =
                class.nodes.iter().map(|node| Self::self_cost(eg, model, node, &class.data.ty)).collect();
        }
        let mut users = vec![Vec::new(); n];
        for class in eg.classes() {
            for node in &class.nodes {
                for ch in node.children() {
                    users[ix(eg.find(*ch))].push(ix(class.id));
                }
            }
        }
        for u in &mut users {
            u.sort_unstable();
            u.dedup();
        }
        Extractor { eg, costs, users }
    }

    fn self_cost(eg: &EG, model: &CostModel, node: &TNode, out: &Option<TensorType>) -> f64 {
        let Some((p, args)) = node.op_parts() else { return 0.0 };
        let ins: Option<Vec<&TensorType>> = args.iter().map(|a| eg[*a].data.ty.as_ref()).collect();
        match (ins, out) {
            (Some(ins), Some(out)) => model.node_cost(Some(p), &ins, out),
            _ => f64::INFINITY,
        }
    }

    fn node(&self, class: usize, i: usize) -> &TNode {
        &self.eg[Id::from(class)].nodes[i]
    }

    fn children(&self, class: usize, i: usize) -> impl Iterator<Item = usize> + '_ {
        self.node(class, i).children().iter().map(|c| ix(self.eg.find(*c)))
    }

    pub fn cost_of(&self, class: usize, i: usize) -> f64 {
        self.costs[class][i]
    }

    /// Greedy tree extraction: per class, the node of least tree cost (a fixpoint over the classes).
    pub fn greedy(&self) -> Choice {
        let n = self.costs.len();
        let mut best = vec![f64::INFINITY; n];
        let mut choice: Choice = vec![None; n];
        let mut classes: Vec<usize> = self.eg.classes().map(|c| ix(c.id)).collect();
        classes.sort_unstable();
        loop {
            let mut changed = false;
            for &c in &classes {
                for i in 0..self.costs[c].len() {
                    let cost = self.children(c, i).fold(self.costs[c][i], |acc, ch| acc + best[ch]);
                    if cost < best[c] {
                        best[c] = cost;
                        choice[c] = Some(i);
                        changed = true;
                    }
                }
            }
            if !changed {
                return choice;
            }
        }
    }

    /// `base` with each class of an e-node in `enodes` choosing that e-node (after canonicalizing
    /// its children): e.g. the input graph's own selection. `enodes` must be in topological order;
    /// a class keeps the first of its e-nodes, so choices point to earlier ones and cannot cycle
    /// (a class merged with its operand, as `reshape(shape(x), x)` with `x`, keeps `x`).
    pub fn with_nodes<'n>(&self, mut base: Choice, enodes: impl Iterator<Item = &'n TNode>) -> Choice {
        let mut set = vec![false; self.costs.len()];
        for node in enodes {
            let canon = node.clone().map_children(|c| self.eg.find(c));
            if let Some(class) = self.eg.lookup(canon.clone()) {
                let class = self.eg.find(class);
                if let Some(i) = self.eg[class].nodes.iter().position(|n| *n == canon)
                    && !std::mem::replace(&mut set[ix(class)], true)
                {
                    base[ix(class)] = Some(i);
                }
            }
        }
        base
    }

    /// The DAG cost of `choice` from `roots`: every reachable class paid once. Infinite if a
    /// reachable class has no choice.
    pub fn dag_cost(&self, choice: &Choice, roots: &[Id]) -> f64 {
        let mut seen = vec![false; self.costs.len()];
        let mut stack: Vec<usize> = roots.iter().map(|r| ix(self.eg.find(*r))).collect();
        let mut total = 0.0;
        while let Some(c) = stack.pop() {
            if std::mem::replace(&mut seen[c], true) {
                continue;
            }
            let Some(i) = choice[c] else { return f64::INFINITY };
            total += self.costs[c][i];
            stack.extend(self.children(c, i));
        }
        total
    }

    /// Local search over single-class switches, from `choice`, until no switch helps, `max_passes`
    /// passes are done or `deadline` passes.
    pub fn improve(
        &self,
        mut choice: Choice,
        roots: &[Id],
        max_passes: usize,
        deadline: Instant,
    ) -> (Choice, SearchStats) {
        let mut s =
            Search { x: self, refs: vec![0; self.costs.len()], total: 0.0, mark: vec![0; self.costs.len()], epoch: 0 };
        for r in roots {
            s.add_ref(&choice, ix(self.eg.find(*r)));
        }
        let mut stats = SearchStats::default();
        let mut candidates: Vec<usize> = (0..self.costs.len()).filter(|&c| self.costs[c].len() > 1).collect();
        candidates.sort_unstable();
        while stats.passes < max_passes && Instant::now() < deadline {
            stats.passes += 1;
            let mut improved = false;
            for &c in &candidates {
                if s.refs[c] == 0 || Instant::now() >= deadline {
                    continue;
                }
                let Some(cur) = choice[c] else { continue };
                let mut keep = cur;
                for j in 0..self.costs[c].len() {
                    if j == keep || !s.can_switch(&choice, c, j) {
                        continue;
                    }
                    let before = s.total;
                    let better = |s: &Search| s.total < before - 1e-9 * before.abs().max(1.0);
                    let left: Vec<usize> = self.children(c, keep).collect();
                    s.switch(&mut choice, c, j);
                    if better(&s) || s.second_switch(&mut choice, c, &left, &better) {
                        keep = j;
                        stats.moves += 1;
                        improved = true;
                    } else {
                        s.switch(&mut choice, c, keep);
                    }
                }
            }
            if !improved {
                break;
            }
        }
        (choice, stats)
    }
}

/// The incremental state of the local search: reference counts of selected classes and their cost.
struct Search<'x, 'a> {
    x: &'x Extractor<'a>,
    refs: Vec<u32>,
    total: f64,
    mark: Vec<u32>,
    epoch: u32,
}

impl Search<'_, '_> {
    fn add_ref(&mut self, choice: &Choice, c: usize) {
        let mut stack = vec![c];
        while let Some(c) = stack.pop() {
            self.refs[c] += 1;
            if self.refs[c] == 1
                && let Some(i) = choice[c]
            {
                self.total += self.x.costs[c][i];
                stack.extend(self.x.children(c, i));
            }
        }
    }

    fn del_ref(&mut self, choice: &Choice, c: usize) {
        let mut stack = vec![c];
        while let Some(c) = stack.pop() {
            self.refs[c] -= 1;
            if self.refs[c] == 0
                && let Some(i) = choice[c]
            {
                self.total -= self.x.costs[c][i];
                stack.extend(self.x.children(c, i));
            }
        }
    }

    /// Selects node `j` for live class `c`: the new children gain a reference before the old ones
    /// lose theirs, so a subterm both share is not dropped and re-added.
    fn switch(&mut self, choice: &mut Choice, c: usize, j: usize) {
        let Some(old) = choice[c] else { return };
        choice[c] = Some(j);
        self.total += self.x.costs[c][j] - self.x.costs[c][old];
        let new_children: Vec<usize> = self.x.children(c, j).collect();
        let old_children: Vec<usize> = self.x.children(c, old).collect();
        for ch in new_children {
            self.add_ref(choice, ch);
        }
        for ch in old_children {
            self.del_ref(choice, ch);
        }
    }

    /// Whether node `j` of class `c` can be selected: finite, its children chosen, no cycle.
    fn can_switch(&mut self, choice: &Choice, c: usize, j: usize) -> bool {
        self.x.costs[c][j].is_finite()
            && self.x.children(c, j).all(|ch| choice[ch].is_some())
            && !self.reaches(choice, c, j)
    }

    /// After class `first` switched, tries one more switch of another live class reading a class in
    /// `left` (the children `first` stopped reading) that is still read; keeps the first one with
    /// which `better` holds.
    fn second_switch(
        &mut self,
        choice: &mut Choice,
        first: usize,
        left: &[usize],
        better: &dyn Fn(&Search) -> bool,
    ) -> bool {
        let ex = self.x;
        for &x in left {
            for &d in &ex.users[x] {
                let Some(cur) = choice[d] else { continue };
                if self.refs[x] == 0 || d == first || self.refs[d] == 0 || !ex.children(d, cur).any(|ch| ch == x) {
                    continue;
                }
                for k in 0..ex.costs[d].len() {
                    if k == cur || !self.can_switch(choice, d, k) {
                        continue;
                    }
                    self.switch(choice, d, k);
                    if better(self) {
                        return true;
                    }
                    self.switch(choice, d, cur);
                }
            }
        }
        false
    }

    /// Whether selecting node `j` of class `c` would make `c` reach itself.
    fn reaches(&mut self, choice: &Choice, c: usize, j: usize) -> bool {
        self.epoch += 1;
        let mut stack: Vec<usize> = self.x.children(c, j).collect();
        while let Some(d) = stack.pop() {
            if d == c {
                return true;
            }
            if self.mark[d] == self.epoch {
                continue;
            }
            self.mark[d] = self.epoch;
            if let Some(i) = choice[d] {
                stack.extend(self.x.children(d, i));
            }
        }
        false
    }
}
