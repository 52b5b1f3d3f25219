//! Graphs: an SSA DAG of typed nodes in topological order, with named outputs.

use serde::{Deserialize, Serialize};
use std::collections::HashSet;
use std::fmt;

use crate::{IrError, Op, TensorType, infer_type};

/// A node's index in its graph; printed `%n`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct NodeId(pub usize);

impl fmt::Display for NodeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "%{}", self.0)
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Node {
    pub op: Op,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub inputs: Vec<NodeId>,
    pub ty: TensorType,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Output {
    pub name: String,
    pub node: NodeId,
}

/// A tensor program. Nodes only refer to earlier nodes, so the node list is a topological order.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Graph {
    pub name: String,
    nodes: Vec<Node>,
    outputs: Vec<Output>,
}

fn type_error(node: usize, op: &Op, ins: &[&TensorType], msg: String) -> IrError {
    let inputs = if ins.is_empty() {
        "none".to_string()
    } else {
        ins.iter().map(|t| t.to_string()).collect::<Vec<_>>().join(", ")
    };
    IrError::Type { node, op: op.name(), inputs, msg }
}

impl Graph {
    pub fn new(name: impl Into<String>) -> Graph {
        Graph { name: name.into(), nodes: Vec::new(), outputs: Vec::new() }
    }

    /// Appends a node after checking its inputs exist and its op accepts their types.
    pub fn push(&mut self, op: Op, inputs: &[NodeId]) -> Result<NodeId, IrError> {
        let id = self.nodes.len();
        if let Some(bad) = inputs.iter().find(|i| i.0 >= id) {
            return Err(IrError::ForwardRef { node: id, op: op.name(), input: bad.0 });
        }
        let ins: Vec<&TensorType> = inputs.iter().map(|i| &self.nodes[i.0].ty).collect();
        let ty = infer_type(&op, &ins).map_err(|msg| type_error(id, &op, &ins, msg))?;
        self.nodes.push(Node { op, inputs: inputs.to_vec(), ty });
        Ok(NodeId(id))
    }

    /// Marks `node` as a graph output called `name`.
    pub fn add_output(&mut self, name: impl Into<String>, node: NodeId) -> Result<(), IrError> {
        let name = name.into();
        if node.0 >= self.nodes.len() {
            return Err(IrError::BadOutput { name, node: node.0 });
        }
        if self.outputs.iter().any(|o| o.name == name) {
            return Err(IrError::DuplicateName { kind: "output", name });
        }
        self.outputs.push(Output { name, node });
        Ok(())
    }

    /// Removes and returns the outputs, e.g. to replace them with a new set.
    pub fn take_outputs(&mut self) -> Vec<Output> {
        std::mem::take(&mut self.outputs)
    }

    pub fn nodes(&self) -> &[Node] {
        &self.nodes
    }

    pub fn node(&self, id: NodeId) -> &Node {
        &self.nodes[id.0]
    }

    pub fn ty(&self, id: NodeId) -> &TensorType {
        &self.nodes[id.0].ty
    }

    pub fn len(&self) -> usize {
        self.nodes.len()
    }

    pub fn is_empty(&self) -> bool {
        self.nodes.is_empty()
    }

    pub fn outputs(&self) -> &[Output] {
        &self.outputs
    }

    pub fn ids(&self) -> impl Iterator<Item = NodeId> + '_ {
        (0..self.nodes.len()).map(NodeId)
    }

    /// Run-time inputs in definition order: (node, name, type).
    pub fn inputs(&self) -> impl Iterator<Item = (NodeId, &str, &TensorType)> {
        self.nodes.iter().enumerate().filter_map(|(i, n)| match &n.op {
            Op::Input { name, ty } => Some((NodeId(i), name.as_str(), ty)),
            _ => None,
        })
    }

    /// Parameters in definition order: (node, name, type).
    pub fn params(&self) -> impl Iterator<Item = (NodeId, &str, &TensorType)> {
        self.nodes.iter().enumerate().filter_map(|(i, n)| match &n.op {
            Op::Param { name, ty, .. } => Some((NodeId(i), name.as_str(), ty)),
            _ => None,
        })
    }

    /// Number of uses of each node by other nodes and outputs.
    pub fn use_counts(&self) -> Vec<usize> {
        let mut uses = vec![0; self.nodes.len()];
        for n in &self.nodes {
            for i in &n.inputs {
                uses[i.0] += 1;
            }
        }
        for o in &self.outputs {
            uses[o.node.0] += 1;
        }
        uses
    }

    /// Checks the whole graph: topological order, every node's declared type against its op's typing
    /// rule, distinct input, param and output names, and valid outputs.
    pub fn verify(&self) -> Result<(), IrError> {
        let mut names: [HashSet<&str>; 2] = Default::default();
        for (id, node) in self.nodes.iter().enumerate() {
            if let Some(bad) = node.inputs.iter().find(|i| i.0 >= id) {
                return Err(IrError::ForwardRef { node: id, op: node.op.name(), input: bad.0 });
            }
            let ins: Vec<&TensorType> = node.inputs.iter().map(|i| &self.nodes[i.0].ty).collect();
            let inferred = infer_type(&node.op, &ins).map_err(|msg| type_error(id, &node.op, &ins, msg))?;
            if inferred != node.ty {
                return Err(IrError::TypeMismatch {
                    node: id,
                    op: node.op.name(),
                    declared: node.ty.to_string(),
                    inferred: inferred.to_string(),
                });
            }
            let (slot, kind, name) = match &node.op {
                Op::Input { name, .. } => (0, "input", name),
                Op::Param { name, .. } => (1, "param", name),
                _ => continue,
            };
            if !names[slot].insert(name) {
                return Err(IrError::DuplicateName { kind, name: name.clone() });
            }
        }
        if self.outputs.is_empty() {
            return Err(IrError::NoOutputs);
        }
        let mut out_names = HashSet::new();
        for o in &self.outputs {
            if o.node.0 >= self.nodes.len() {
                return Err(IrError::BadOutput { name: o.name.clone(), node: o.node.0 });
            }
            if !out_names.insert(&o.name) {
                return Err(IrError::DuplicateName { kind: "output", name: o.name.clone() });
            }
        }
        Ok(())
    }

    /// A graph from raw parts, verified.
    pub fn from_parts(name: impl Into<String>, nodes: Vec<Node>, outputs: Vec<Output>) -> Result<Graph, IrError> {
        let g = Graph { name: name.into(), nodes, outputs };
        g.verify()?;
        Ok(g)
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).expect("graphs always serialize")
    }

    /// Parses JSON written by [`Graph::to_json`] and verifies the result.
    pub fn from_json(text: &str) -> Result<Graph, String> {
        let g: Graph = serde_json::from_str(text).map_err(|e| format!("invalid graph JSON: {e}"))?;
        g.verify().map_err(|e| e.to_string())?;
        Ok(g)
    }
}
