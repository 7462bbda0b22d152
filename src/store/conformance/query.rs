//! Conformance: the query role on every engine.
