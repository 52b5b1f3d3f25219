//! Between graphs and e-graphs: a region of a graph (a range of its nodes) becomes an e-graph whose
//! leaves are the region's inputs, params, literals, iotas and the values it reads from earlier
//! regions; an extracted selection becomes nodes of the new graph.

use std::collections::HashMap;

use egg::Id;
use irc_ir::{Graph, NodeId, Op};

use super::OptError;
use super::analysis::{EG, Leaf, TensorAnalysis};
use super::extract::Choice;
use super::lang::{Prim, TNode};

/// A region's e-graph and where its values are.
pub struct RegionGraph {
    pub egraph: EG,
    /// The class of each old node of the region (and of each leaf it reads).
    pub class_of: HashMap<NodeId, Id>,
    /// The e-node each old node became: the original selection, an extraction starting point.
    pub enode_of: HashMap<NodeId, TNode>,
}

/// Adds old node `id` (an earlier one in `nodes`, or a leaf) to the e-graph.
fn add_node(g: &Graph, id: NodeId, rg: &mut RegionGraph, in_region: &dyn Fn(NodeId) -> bool) -> Id {
    let RegionGraph { egraph: eg, class_of, enode_of } = rg;
    if let Some(&c) = class_of.get(&id) {
        return c;
    }
    let node = g.node(id);
    let computed = in_region(id) && !matches!(node.op, Op::Input { .. } | Op::Param { .. });
    let enode = match (&node.op, computed) {
        (Op::Const { value, dtype }, _) => TNode::constant(*value, *dtype),
        (op, true) if !op.is_leaf() => {
            let (prim, attr) = Prim::of_op(op).expect("computed ops have an operator");
            let mut children = Vec::with_capacity(node.inputs.len() + 1);
            if let Some(a) = attr {
                children.push(eg.add(TNode::Attr(a)));
            }
            children.extend(node.inputs.iter().map(|i| class_of[i]));
            TNode::Op(prim, children)
        }
        (op, _) => {
            eg.analysis.leaves.push(Leaf::new(id, op, &node.ty));
            TNode::Leaf((eg.analysis.leaves.len() - 1) as u32)
        }
    };
    let c = eg.add(enode.clone());
    class_of.insert(id, c);
    enode_of.insert(id, enode);
    c
}

/// The e-graph of `nodes` (old node ids in increasing order) of `g`.
pub fn region_egraph(g: &Graph, nodes: &[NodeId]) -> RegionGraph {
    let (lo, hi) = (nodes.first().map_or(0, |n| n.0), nodes.last().map_or(0, |n| n.0));
    let in_region = |id: NodeId| id.0 >= lo && id.0 <= hi;
    let mut rg =
        RegionGraph { egraph: EG::new(TensorAnalysis::default()), class_of: HashMap::new(), enode_of: HashMap::new() };
    for &id in nodes {
        for &i in &g.node(id).inputs {
            // Values from earlier regions, and inputs and params (which no region holds).
            if !rg.class_of.contains_key(&i) {
                add_node(g, i, &mut rg, &in_region);
            }
        }
        add_node(g, id, &mut rg, &in_region);
    }
    rg.egraph.rebuild();
    rg
}

/// Emits the selected term of each class in `roots` into `out`; `map` gives the new node of each
/// old node already emitted (inputs, params, earlier regions' values) and gains the roots.
pub struct Emitter<'a> {
    pub g: &'a Graph,
    pub eg: &'a EG,
    pub choice: &'a Choice,
    pub out: &'a mut Graph,
    pub map: &'a mut HashMap<NodeId, NodeId>,
    pub done: HashMap<Id, NodeId>,
}

impl Emitter<'_> {
    fn selected(&self, c: Id) -> Result<&TNode, OptError> {
        let c = self.eg.find(c);
        let i = self.choice.get(usize::from(c)).copied().flatten();
        i.map(|i| &self.eg[c].nodes[i]).ok_or_else(|| OptError::Internal(format!("class {c} has no valid term")))
    }

    /// The new node computing class `root`, emitted children first (iteratively: graphs are deep).
    pub fn emit(&mut self, root: Id) -> Result<NodeId, OptError> {
        let mut stack = vec![(self.eg.find(root), false)];
        let mut visiting = std::collections::HashSet::new();
        while let Some((c, expanded)) = stack.pop() {
            if self.done.contains_key(&c) {
                continue;
            }
            let node = self.selected(c)?.clone();
            let args: Vec<Id> = match node.op_parts() {
                Some((_, a)) => a.iter().map(|x| self.eg.find(*x)).collect(),
                None => vec![],
            };
            if !expanded {
                if !visiting.insert(c) {
                    return Err(OptError::Internal(format!("the selection is cyclic at class {c}")));
                }
                stack.push((c, true));
                stack.extend(args.iter().filter(|a| !self.done.contains_key(a)).map(|&a| (a, false)));
                continue;
            }
            let id = self.push(&node, &args)?;
            self.done.insert(c, id);
        }
        Ok(self.done[&self.eg.find(root)])
    }

    fn push(&mut self, node: &TNode, args: &[Id]) -> Result<NodeId, OptError> {
        let internal = |e: irc_ir::IrError| OptError::Internal(format!("emitting an optimized node: {e}"));
        match node {
            TNode::Leaf(i) => {
                let leaf = &self.eg.analysis.leaves[*i as usize];
                if let Some(&n) = self.map.get(&leaf.node) {
                    return Ok(n);
                }
                let n = self.out.push(self.g.node(leaf.node).op.clone(), &[]).map_err(internal)?;
                self.map.insert(leaf.node, n);
                Ok(n)
            }
            TNode::Const(bits, d) => self
                .out
                .push(Op::Const { value: f64::from_bits(*bits), dtype: super::lang::dtype_of(*d) }, &[])
                .map_err(internal),
            TNode::Op(p, ch) => {
                let attr = if p.has_attr() { ch.first().and_then(|a| self.eg[*a].data.attr.as_ref()) } else { None };
                let op =
                    p.to_op(attr).ok_or_else(|| OptError::Internal(format!("`{}` lacks its attribute", p.name())))?;
                let inputs: Vec<NodeId> = args.iter().map(|a| self.done[a]).collect();
                self.out.push(op, &inputs).map_err(internal)
            }
            TNode::Attr(_) => Err(OptError::Internal("an attribute was selected as a value".into())),
        }
    }
}
