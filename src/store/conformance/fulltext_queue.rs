//! Conformance: the fulltext_queue role on every engine.
