//! Group 2: matmul chain reassociation, chosen by cost at extraction. `(A B) C = A (B C)` covers the
//! linear-attention reassociation `(phi(Q) phi(K)^T) V -> phi(Q) (phi(K)^T V)`: with a causal mask
//! (a `select`) or a softmax between the two matmuls the chain is not a product and the pattern
//! cannot match.

use super::{Exactness::*, Rhs::*, RuleDef, RuleGroup::*};

pub const MATMUL: &[RuleDef] = &[
    RuleDef {
        name: "matmul-assoc-right",
        group: MatmulAssoc,
        exactness: Real,
        identity: "(A B) C = A (B C)",
        lhs: "(matmul (matmul ?a ?b) ?c)",
        rhs: Pat("(matmul ?a (matmul ?b ?c))"),
    },
    RuleDef {
        name: "matmul-assoc-left",
        group: MatmulAssoc,
        exactness: Real,
        identity: "A (B C) = (A B) C",
        lhs: "(matmul ?a (matmul ?b ?c))",
        rhs: Pat("(matmul (matmul ?a ?b) ?c)"),
    },
];
