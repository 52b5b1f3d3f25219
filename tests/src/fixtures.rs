//! Hand-written graphs shared by test suites.

use irc_ir::Graph;

/// `.irc` source using every primitive op at least once, with free-form node names and comments.
pub const ALL_OPS_SRC: &str = include_str!("../data/all_ops.irc");

/// [`ALL_OPS_SRC`] parsed.
pub fn all_ops_graph() -> Graph {
    irc_ir::parse(ALL_OPS_SRC).unwrap_or_else(|e| panic!("all_ops.irc does not parse:\n{e}"))
}
