//! Whole-region extraction for pages whose main content is not one article
//! container: listings, product pages, forum threads, landing pages.

use std::sync::LazyLock;

use dom_query::Document;
use regex::Regex;
use url::Url;

use super::clean::{clean, filter_blocks};
use super::dom::{never_regex, select_nodes};
use super::guard::strip_to_blocks;
use super::text::{norm_text, render_blocks, word_count};

/// Page chrome outside `DROP_TAGS` that a whole-region pass must also shed.
const CHROME: &str = "header, [role=banner], [role=contentinfo], [role=search]";

/// Blocks of the page's main region (the largest `<main>` holding text,
/// else the body), with chrome and the same boilerplate rules as the
/// article path. Prunes `doc` in place.
pub(crate) fn region_blocks(
    doc: &Document,
    base: Option<&Url>,
    title: Option<&str>,
) -> Vec<String> {
    if let Some(sel) = doc.try_select(CHROME) {
        sel.remove();
    }
    let main = select_nodes(doc, "main, [role=main]")
        .into_iter()
        .map(|n| (norm_text(&n).chars().count(), n))
        .filter(|(len, _)| *len > 200)
        .max_by_key(|(len, _)| *len);
    // The main element alone becomes the body, so the rules below measure
    // shares against the region, and a main that streaming renderers park
    // in a hidden holder (to move it into place with script) still counts.
    if let (Some((_, main)), Some(body)) = (main, select_nodes(doc, "body").into_iter().next()) {
        main.remove_from_parent();
        body.remove_children();
        body.append_child(&main);
    }
    clean(doc, base, true);
    filter_blocks(render_blocks(&doc.root()), title)
}

static NOSCRIPT_TAG: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"(?i)<(/?)noscript\b").unwrap_or_else(|_| never_regex()));

static NOSCRIPT_ELEMENT: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?is)<noscript\b[^>]*>(.*?)</noscript>").unwrap_or_else(|_| never_regex())
});

/// The page with its `<noscript>` elements turned into plain `<div>`s, so
/// their markup is parsed; None unless they hold a real page (at least
/// `min_words`), not just a plea to enable JavaScript.
pub(crate) fn unwrap_noscript(html: &str, min_words: usize) -> Option<String> {
    let words: usize = NOSCRIPT_ELEMENT
        .captures_iter(html)
        .filter_map(|c| c.get(1))
        .flat_map(|m| strip_to_blocks(m.as_str()))
        .map(|b| word_count(&b))
        .sum();
    (words >= min_words).then(|| NOSCRIPT_TAG.replace_all(html, "<${1}div").into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn noscript_markup_becomes_parsed_divs() {
        let html = "<body><NoScript><p>Crawler view of the thread</p></noscript></body>";
        assert_eq!(
            unwrap_noscript(html, 5).as_deref(),
            Some("<body><div><p>Crawler view of the thread</p></div></body>")
        );
        assert_eq!(unwrap_noscript(html, 6), None);
        assert_eq!(unwrap_noscript("<p>plain</p>", 1), None);
    }

    #[test]
    fn region_keeps_main_and_drops_page_chrome() {
        let html = "<body><header><p>Site name and tagline here</p></header>\
            <nav><a href='/a'>Home</a></nav><main><h1>Socks</h1>\
            <p>Soft cotton socks that stay up all day, with a cushioned sole and a seamless toe for comfort in every shoe.</p>\
            <ul><li>Cushioned sole</li><li>Seamless toe</li></ul></main>\
            <footer><p>Copyright notice and legal links</p></footer></body>";
        let blocks = region_blocks(&Document::from(html), None, None);
        assert_eq!(blocks.first().map(String::as_str), Some("Socks"));
        assert!(blocks.iter().any(|b| b == "Seamless toe"), "{blocks:?}");
        assert!(!blocks
            .iter()
            .any(|b| b.contains("tagline") || b.contains("Copyright")));
    }
}
