//! The optimizer's driver: cut the graph into regions, saturate each region's e-graph under the
//! limits, extract the cheapest selection, and emit it into a new graph with the same interface.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::time::{Duration, Instant};

use egg::{Id, Rewrite, Runner};
use irc_ir::{Graph, NodeId, Op};

use super::analysis::TensorAnalysis;
use super::convert::{Emitter, region_egraph};
use super::extract::Extractor;
use super::lang::TNode;
use super::rules::{all_rules, compile};
use super::{OptError, OptOptions, OptReport, RegionReport};

/// Nodes the outputs reach, in order; inputs and params excluded (they are emitted first, always).
fn live_computed(g: &Graph) -> Vec<NodeId> {
    let mut live = vec![false; g.len()];
    for o in g.outputs() {
        live[o.node.0] = true;
    }
    for id in (0..g.len()).rev() {
        if live[id] {
            for i in &g.nodes()[id].inputs {
                live[i.0] = true;
            }
        }
    }
    g.ids().filter(|id| live[id.0] && !matches!(g.node(*id).op, Op::Input { .. } | Op::Param { .. })).collect()
}

fn rules_for(opts: &OptOptions) -> Result<Vec<Rewrite<TNode, TensorAnalysis>>, OptError> {
    let tables = all_rules().into_iter().filter(|r| opts.groups.contains(&r.group));
    tables.chain(opts.extra_rules.iter().copied()).map(|r| compile(&r).map_err(OptError::BadRule)).collect()
}

/// Optimizes `g`: the result computes the same outputs (names and types), takes the same inputs and
/// params in the same order, and passes `Graph::verify`.
pub fn optimize(g: &Graph, opts: &OptOptions) -> Result<(Graph, OptReport), OptError> {
    let start = Instant::now();
    g.verify()?;
    let deadline = start + opts.time_limit;
    let rules = rules_for(opts)?;
    let model = opts.cost_model();
    let mut report = OptReport {
        nodes_before: g.len(),
        cost_before: model.graph_cost(g),
        groups: opts.groups.iter().map(|r| r.name().to_string()).collect(),
        ..OptReport::default()
    };

    let mut out = Graph::new(g.name.clone());
    let mut map: HashMap<NodeId, NodeId> = HashMap::new();
    for id in g.ids().filter(|id| matches!(g.node(*id).op, Op::Input { .. } | Op::Param { .. })) {
        map.insert(id, out.push(g.node(id).op.clone(), &[])?);
    }

    let live = live_computed(g);
    let chunks: Vec<&[NodeId]> = live.chunks(opts.region_nodes.max(1)).collect();
    // Values read after each region: by later nodes or by outputs.
    let mut used_after: HashMap<NodeId, usize> = HashMap::new();
    for (id, n) in g.nodes().iter().enumerate() {
        for i in &n.inputs {
            let e = used_after.entry(*i).or_insert(0);
            *e = (*e).max(id);
        }
    }
    let outputs: HashSet<NodeId> = g.outputs().iter().map(|o| o.node).collect();
    let mut counts: BTreeMap<String, usize> = BTreeMap::new();

    for (k, nodes) in chunks.iter().enumerate() {
        let hi = nodes.last().map_or(0, |n| n.0);
        let roots_old: Vec<NodeId> = nodes
            .iter()
            .copied()
            .filter(|id| outputs.contains(id) || used_after.get(id).is_some_and(|&u| u > hi))
            .collect();
        let t0 = Instant::now();
        let rg = region_egraph(g, nodes);
        let share = deadline.saturating_duration_since(t0) / (chunks.len() - k) as u32;
        let runner = Runner::default()
            .with_egraph(rg.egraph)
            .with_node_limit(opts.node_limit)
            .with_iter_limit(opts.iter_limit)
            .with_time_limit(share.mul_f64(0.7).max(Duration::from_millis(1)))
            .run(&rules);
        report.rewrite_time += t0.elapsed();
        let eg = &runner.egraph;
        if !eg.analysis.conflicts.is_empty() {
            return Err(OptError::UnsoundRewrite(eg.analysis.conflicts.join("; ")));
        }
        for it in &runner.iterations {
            for (name, n) in &it.applied {
                *counts.entry(name.to_string()).or_insert(0) += n;
            }
        }
        if eg.analysis.folds > 0 {
            *counts.entry("constant-fold".into()).or_insert(0) += eg.analysis.folds;
        }

        let t1 = Instant::now();
        let roots: Vec<Id> = roots_old.iter().map(|r| eg.find(rg.class_of[r])).collect();
        let x = Extractor::new(eg, &model);
        let greedy = x.greedy();
        let cost_greedy = x.dag_cost(&greedy, &roots);
        // The search also starts from the input's own selection, so the result is never costlier
        // than the input under the model.
        let mut ordered: Vec<_> = rg.enode_of.iter().collect();
        ordered.sort_unstable_by_key(|(id, _)| **id);
        let original = x.with_nodes(greedy.clone(), ordered.into_iter().map(|(_, n)| n));
        let region_deadline = (t1 + share.mul_f64(0.3)).min(deadline.max(t1));
        let (choice, stats, cost_after) = if opts.search_passes == 0 {
            (greedy, Default::default(), cost_greedy)
        } else {
            let (a, stats_a) = x.improve(greedy, &roots, opts.search_passes, region_deadline);
            let (b, stats_b) = x.improve(original, &roots, opts.search_passes, region_deadline);
            let (cost_a, cost_b) = (x.dag_cost(&a, &roots), x.dag_cost(&b, &roots));
            if cost_a <= cost_b { (a, stats_a, cost_a) } else { (b, stats_b, cost_b) }
        };
        let mut em = Emitter { g, eg, choice: &choice, out: &mut out, map: &mut map, done: HashMap::new() };
        for (old, root) in roots_old.iter().zip(&roots) {
            let new = em.emit(*root)?;
            em.map.insert(*old, new);
        }
        report.extract_time += t1.elapsed();

        let cost_before: f64 =
            nodes.iter().map(|&id| model.op_cost(g, &g.node(id).op, &g.node(id).inputs, g.ty(id))).sum();
        report.egraph_nodes += eg.total_number_of_nodes();
        report.egraph_classes += eg.number_of_classes();
        report.iterations += runner.iterations.len();
        report.max_iterations = report.max_iterations.max(runner.iterations.len());
        report.regions.push(RegionReport {
            nodes: nodes.len(),
            egraph_nodes: eg.total_number_of_nodes(),
            egraph_classes: eg.number_of_classes(),
            iterations: runner.iterations.len(),
            stop: runner.stop_reason.as_ref().map_or_else(|| "-".into(), |s| format!("{s:?}")),
            cost_before,
            cost_after,
            cost_greedy,
            search_moves: stats.moves,
        });
    }

    for o in g.outputs() {
        let node =
            *map.get(&o.node).ok_or_else(|| OptError::Internal(format!("output `{}` was not emitted", o.name)))?;
        out.add_output(o.name.clone(), node)?;
        if out.ty(node) != g.ty(o.node) {
            return Err(OptError::Internal(format!("output `{}` changed type", o.name)));
        }
    }
    out.verify().map_err(|e| OptError::Internal(format!("the optimized graph does not verify: {e}")))?;
    let mut rules: Vec<(String, usize)> = counts.into_iter().collect();
    rules.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    report.rules = rules;
    report.nodes_after = out.len();
    report.cost_after = model.graph_cost(&out);
    let after = model.output_costs(&out);
    report.outputs = model
        .output_costs(g)
        .into_iter()
        .zip(after)
        .map(|((name, before), (_, after))| (name, before, after))
        .collect();
    report.time = start.elapsed();
    Ok((out, report))
}
