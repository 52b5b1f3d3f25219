//! Losses.

use crate::dsl::Var;

use super::log_softmax;

/// Mean cross-entropy of `logits` (`[.., V]`) against integer class `targets` (`[..]`, the logits'
/// shape without the last axis): `loss = -mean_s log_softmax(logits[s])[targets[s]]`, a 0-d tensor.
/// The target's log-probability is picked with a gather along the class axis.
#[track_caller]
pub fn cross_entropy(logits: &Var, targets: &Var) -> Var {
    let _f = logits.builder().frame("cross_entropy");
    let picked = log_softmax(logits, -1).gather(-1, &targets.unsqueeze(-1));
    -picked.mean(.., false)
}
