//! Conformance: the retention role on every engine.
