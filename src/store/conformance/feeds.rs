//! Conformance: the feeds role on every engine.
