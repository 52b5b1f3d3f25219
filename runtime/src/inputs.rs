//! Random inputs for a graph: what `irc run` feeds a model when the user gives none.

use std::collections::HashMap;

use irc_ir::{Graph, Op};

use crate::{Rng, RunError, Tensor, random_tensor};

/// For each integer input that reaches a gather or scatter index (through movement ops and casts), the
/// exclusive upper bound that keeps every index in range: the smallest indexed axis size.
pub fn index_bounds(g: &Graph, sizes: &HashMap<String, usize>) -> HashMap<String, usize> {
    // sources[n]: the integer inputs whose values node n carries unchanged.
    let mut sources: Vec<Vec<&str>> = vec![Vec::new(); g.len()];
    let mut bounds: HashMap<String, usize> = HashMap::new();
    for (id, node) in g.nodes().iter().enumerate() {
        match &node.op {
            Op::Input { name, ty } if ty.dtype.is_int() => sources[id].push(name),
            Op::Reshape { .. } | Op::Permute { .. } | Op::Expand { .. } | Op::Slice { .. } | Op::Pad { .. } => {
                sources[id] = sources[node.inputs[0].0].clone();
            }
            Op::Cast { dtype } if dtype.is_int() => sources[id] = sources[node.inputs[0].0].clone(),
            Op::Concat { .. } => sources[id] = node.inputs.iter().flat_map(|i| sources[i.0].clone()).collect(),
            Op::Gather { axis } | Op::ScatterAdd { axis, .. } => {
                let indexed = match &node.op {
                    Op::Gather { .. } => g.ty(node.inputs[0]).shape.0[*axis].bind(sizes),
                    _ => node.ty.shape.0[*axis].bind(sizes),
                };
                if let Some(n) = indexed {
                    for s in &sources[node.inputs[1].0] {
                        let b = bounds.entry(s.to_string()).or_insert(n);
                        *b = (*b).min(n);
                    }
                }
            }
            _ => {}
        }
    }
    bounds
}

/// A random value for every input of `g`, symbolic dims taken from `sizes`: standard normal floats,
/// in-range values for integer inputs used as indices (see [`index_bounds`]), `-9..=9` for other integers.
pub fn random_inputs(
    g: &Graph,
    sizes: &HashMap<String, usize>,
    seed: u64,
) -> Result<HashMap<String, Tensor>, RunError> {
    let bounds = index_bounds(g, sizes);
    let mut rng = Rng::new(seed);
    let mut out = HashMap::new();
    for (_, name, ty) in g.inputs() {
        let shape = ty.shape.bind(sizes).map_err(|_| RunError::UnboundSymbol {
            at: format!("input `{name}`"),
            symbol: ty.shape.symbols().find(|s| !sizes.contains_key(*s)).unwrap_or("?").to_string(),
        })?;
        let t = match bounds.get(name) {
            Some(&n) => {
                let count = shape.iter().product();
                let data = (0..count).map(|_| rng.below(n.max(1)) as f64).collect();
                Tensor::new(ty.dtype, shape, data)
            }
            None => random_tensor(ty.dtype, shape, &mut rng),
        };
        out.insert(name.to_string(), t);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use irc_ir::{DType, Dim, Shape, TensorType};

    #[test]
    fn token_ids_stay_in_vocabulary_range() {
        let mut g = Graph::new("emb");
        let ids_ty = TensorType::new(DType::I32, Shape(vec![Dim::sym("T"), Dim::Static(1)]));
        let ids = g.push(Op::Input { name: "ids".into(), ty: ids_ty }, &[]).unwrap();
        let table_ty = TensorType::new(DType::F32, [7, 4]);
        let table = g.push(Op::Param { name: "table".into(), ty: table_ty, init: Default::default() }, &[]).unwrap();
        let wide = g.push(Op::Expand { shape: Shape(vec![Dim::sym("T"), Dim::Static(4)]) }, &[ids]).unwrap();
        let rows = g.push(Op::Gather { axis: 0 }, &[table, wide]).unwrap();
        g.add_output("rows", rows).unwrap();
        let sizes = HashMap::from([("T".to_string(), 50)]);
        assert_eq!(index_bounds(&g, &sizes)["ids"], 7);
        let inputs = random_inputs(&g, &sizes, 1).unwrap();
        let ids = &inputs["ids"];
        assert_eq!(ids.shape, vec![50, 1]);
        assert!(ids.data.iter().all(|&v| (0.0..7.0).contains(&v)));
        assert!(ids.data.iter().any(|&v| v >= 4.0), "values spread over the range");
        assert!(random_inputs(&g, &HashMap::new(), 1).is_err());
    }
}
