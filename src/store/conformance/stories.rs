//! Conformance: the stories role on every engine.
