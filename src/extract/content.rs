//! Main-content extraction: dom_smoothie finds the article container, then
//! general boilerplate rules prune what readability-style scoring keeps.

use std::collections::HashMap;

use dom_query::{Document, NodeId};
use dom_smoothie::{Config, Readability};
use url::Url;

use super::clean::{clean, filter_blocks};
use super::sanitize::sanitize;
use super::text::{is_block, render_blocks};

/// Deeper trees than this are adversarial or broken: readability scoring is
/// quadratic in depth and the recursive renderers could exhaust the stack.
/// Real pages stay well under 100 levels.
pub(crate) const MAX_DEPTH: u32 = 400;

/// True when the element tree nests deeper than `MAX_DEPTH`; iterative, so
/// it is safe on any input.
pub(crate) fn too_deep(doc: &Document) -> bool {
    let root = doc.root();
    let mut depth: HashMap<NodeId, u32> = HashMap::new();
    depth.insert(root.id, 0);
    for n in root.descendants_it() {
        let d = n
            .parent()
            .and_then(|p| depth.get(&p.id).copied())
            .unwrap_or(0)
            + 1;
        if d > MAX_DEPTH {
            return true;
        }
        if n.may_have_children() {
            depth.insert(n.id, d);
        }
    }
    false
}

/// Plain text of a pathological document without recursion: a new paragraph
/// starts whenever text moves to a different block-level parent.
pub(crate) fn flat_blocks(doc: &Document) -> Vec<String> {
    let mut blocks: Vec<String> = Vec::new();
    let mut cur = String::new();
    let mut last_parent: Option<NodeId> = None;
    let root = doc.root();
    for n in root.descendants_it() {
        if !n.is_text() {
            continue;
        }
        let Some(parent) = n.parent() else { continue };
        let pname = parent
            .node_name()
            .map(|s| s.to_string())
            .unwrap_or_default();
        if matches!(
            pname.as_str(),
            "script" | "style" | "noscript" | "template" | "title"
        ) {
            continue;
        }
        let t = n.text();
        let t = t.split_whitespace().collect::<Vec<_>>().join(" ");
        if t.is_empty() {
            continue;
        }
        if is_block(&pname) && last_parent != Some(parent.id) && !cur.is_empty() {
            blocks.push(std::mem::take(&mut cur));
        }
        last_parent = Some(parent.id);
        if !cur.is_empty() {
            cur.push(' ');
        }
        cur.push_str(&t);
    }
    if !cur.is_empty() {
        blocks.push(cur);
    }
    blocks
}

pub(crate) struct Content {
    pub text: String,
    /// Sanitized article HTML.
    pub html: String,
}

pub(crate) fn extract_content(
    doc: Document,
    base: Option<&Url>,
    title: Option<&str>,
) -> Option<Content> {
    let cfg = Config {
        // Class/id vocabulary drives the post-clean rules.
        keep_classes: true,
        ..Config::default()
    };
    // dom_smoothie rejects non-absolute URLs; link resolution is optional, so
    // pass only http(s) URLs rather than failing the page.
    let url = base
        .filter(|u| matches!(u.scheme(), "http" | "https"))
        .map(Url::as_str);
    // Readability's own tree goes before its output is parsed again, so
    // the two are never held at once.
    let article = Readability::with_document(doc, url, Some(cfg))
        .ok()?
        .parse()
        .ok()?;
    let frag = Document::fragment(article.content.to_string());
    let raw_chars: usize = render_blocks(&frag.root())
        .iter()
        .map(|b| b.chars().count())
        .sum();
    clean(&frag, base, false);
    let title = title.or(Some(article.title.as_str()));
    let blocks = filter_blocks(render_blocks(&frag.root()), title);
    let kept: usize = blocks.iter().map(|b| b.chars().count()).sum();
    // Structural pruning that removes most of what readability chose means
    // a rule misfired on this layout (e.g. the whole body sits in a
    // "gallery" or "related" wrapper); keep readability's choice then, with
    // only the line-level filters.
    let (frag, blocks) = if raw_chars > 500 && kept * 100 < raw_chars * 35 {
        let frag = Document::fragment(article.content.to_string());
        if let Some(sel) = frag.try_select(super::clean::DROP_TAGS) {
            sel.remove();
        }
        let blocks = filter_blocks(render_blocks(&frag.root()), title);
        (frag, blocks)
    } else {
        (frag, blocks)
    };
    let text = blocks.join("\n\n");
    if text.trim().is_empty() {
        return None;
    }
    Some(Content {
        text,
        html: sanitize(&frag.root(), base),
    })
}
