//! DOM helpers shared by the extraction stages; a leaf, so the stages need
//! not import back from the module that drives them.

use dom_query::{Document, NodeRef};
use regex::Regex;

/// Selects without panicking: dom_query's `select` panics on a bad selector.
pub(crate) fn select_nodes<'a>(doc: &'a Document, sel: &str) -> Vec<NodeRef<'a>> {
    doc.try_select(sel)
        .map(|s| s.nodes().to_vec())
        .unwrap_or_default()
}

/// Fallback for a pattern that failed to compile (ruled out by unit tests):
/// matches nothing, so extraction degrades instead of panicking.
pub(crate) fn never_regex() -> Regex {
    Regex::new(r"[^\s\S]").unwrap_or_else(|_| unreachable!("constant regex"))
}
