//! JSON Feed as published, made acceptable to feed-rs, which refuses a
//! `version` that is not a jsonfeed.org URL ("1.0" is common), a missing
//! title and a numeric item `id`. Only run on a document feed-rs refused, so
//! a well-formed JSON Feed is read once.

use serde_json::{Map, Value};

/// The document with its version, title and item ids in the shapes feed-rs
/// reads, or `None` when it is no JSON object.
pub(super) fn normalize(text: &str) -> Option<String> {
    let mut doc: Value = serde_json::from_str(text).ok()?;
    let feed = doc.as_object_mut()?;
    let version = feed
        .get("version")
        .and_then(Value::as_str)
        .unwrap_or_default();
    if !version.starts_with("https://jsonfeed.org/version/1") {
        let url = if version.contains("1.1") {
            "https://jsonfeed.org/version/1.1"
        } else {
            "https://jsonfeed.org/version/1"
        };
        feed.insert("version".into(), Value::from(url));
    }
    if !feed.get("title").is_some_and(Value::is_string) {
        feed.insert("title".into(), Value::from(""));
    }
    match feed.get_mut("items").and_then(Value::as_array_mut) {
        Some(items) => items
            .iter_mut()
            .filter_map(Value::as_object_mut)
            .for_each(coerce_id),
        None => {
            feed.insert("items".into(), Value::Array(Vec::new()));
        }
    }
    serde_json::to_string(&doc).ok()
}

/// The spec's `id` is a string; publishers send numbers too.
fn coerce_id(item: &mut Map<String, Value>) {
    let id = match item.get("id") {
        Some(Value::String(_)) => return,
        Some(Value::Number(n)) => n.to_string(),
        _ => String::new(),
    };
    item.insert("id".into(), Value::from(id));
}
