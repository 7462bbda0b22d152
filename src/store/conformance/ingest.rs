//! Conformance: the ingest role on every engine.
