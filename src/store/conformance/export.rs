//! Conformance: the export role on every engine.
