//! Conformance: the google_links role on every engine.
