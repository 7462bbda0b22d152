//! Full-text extraction: pure functions from HTML to article text + metadata.
//!
//! Pipeline: parse once with dom_query, read metadata from the intact DOM,
//! hand the DOM to dom_smoothie (readability) to locate the article, prune
//! boilerplate from its output with general rules, then render text and an
//! allow-listed HTML copy. The page's kind (article, live blog, listing,
//! product...) is read from the intact DOM first; interstitials (consent,
//! bot checks, logins, empty JS shells) are classified only when little
//! article text came out, and override it.

mod charset;
mod clean;
mod content;
mod dom;
mod entries;
mod guard;
mod metadata;
mod page;
mod prepare;
mod region;
mod sanitize;
mod text;

use dom_query::Document;

use dom::select_nodes;

pub use charset::decode_html;
pub use page::PageKind;
pub use prepare::MAX_PARSE_BYTES;
pub use text::word_count;

#[derive(Debug, Clone, Default)]
pub struct ExtractOptions {
    pub url: Option<url::Url>,
}

#[derive(Debug, Clone, Default)]
pub struct Extracted {
    /// Main text, paragraphs separated by "\n\n"; None if no article found.
    pub text: Option<String>,
    /// Sanitized article HTML (allow-listed tags, absolute http(s) links).
    pub html: Option<String>,
    pub title: Option<String>,
    pub authors: Vec<String>,
    pub published_at: Option<chrono::DateTime<chrono::Utc>>,
    pub modified_at: Option<chrono::DateTime<chrono::Utc>>,
    pub language: Option<String>,
    pub lead_image: Option<String>,
    pub canonical_url: Option<String>,
    pub site_name: Option<String>,
    pub description: Option<String>,
    pub word_count: usize,
    pub page_kind: PageKind,
}

/// Below this many words the article path likely missed a page rendered
/// client-side, and the `<noscript>` copy is tried.
const NOSCRIPT_MIN_WORDS: usize = 50;

/// How many times more words (num/den) the main region must hold than
/// readability's container to replace it: 3x on pages that declare
/// themselves articles (their extra text is mostly comments and teasers),
/// 1.5x elsewhere. Tuned on WCXB dev against the Zyte set.
const REGION_OVER_ARTICLE: (usize, usize) = (3, 1);
const REGION_OVER_OTHER: (usize, usize) = (3, 2);

/// How many times more words (num/den) a live blog's or thread's JSON-LD
/// entries must hold than the DOM's answer to replace it.
const ENTRIES_OVER_DOM: (usize, usize) = (6, 5);

/// Cookie notices run to a few hundred words at most.
const CONSENT_NOTICE_MAX_WORDS: usize = 300;

/// Pages up to this size keep a copy of their tree for the region pass,
/// cheaper than parsing again; larger ones are parsed again after
/// readability, so they never hold two trees beside readability's own.
const REGION_COPY_MAX_BYTES: usize = 1 << 20;

/// Wraps plain paragraphs as escaped `<p>` elements.
fn paragraphs_html(paras: &[String]) -> String {
    let mut h = String::new();
    for p in paras {
        h.push_str("<p>");
        for c in p.chars() {
            match c {
                '&' => h.push_str("&amp;"),
                '<' => h.push_str("&lt;"),
                '>' => h.push_str("&gt;"),
                _ => h.push(c),
            }
        }
        h.push_str("</p>");
    }
    h
}

/// Text-only result for markup too degenerate to parse in reasonable time.
fn extract_without_dom(html: &str) -> Extracted {
    let blocks = clean::filter_blocks(guard::strip_to_blocks(html), None);
    let text = blocks.join("\n\n");
    let word_count = word_count(&text);
    Extracted {
        html: (!blocks.is_empty()).then(|| paragraphs_html(&blocks)),
        text: (!blocks.is_empty()).then_some(text),
        word_count,
        page_kind: if word_count < 30 {
            PageKind::EmptyShell
        } else {
            PageKind::Article
        },
        ..Extracted::default()
    }
}

/// The page as the extractor parses it: without the script and style
/// bodies, comment text, inline SVG, templates and base64 images that can
/// never be content (JSON-LD stays), and at most `MAX_PARSE_BYTES`. Extraction takes memory in proportion to its
/// length; `extract` prepares the page itself, so this is for callers that
/// need that length first.
pub fn prepare(html: &str) -> std::borrow::Cow<'_, str> {
    prepare::strip_non_content(html, MAX_PARSE_BYTES)
}

pub fn extract(html: &str, opts: &ExtractOptions) -> Extracted {
    let base = opts.url.as_ref();
    let html = &*prepare(html);
    if guard::too_deep_to_parse(html) {
        return extract_without_dom(html);
    }
    let doc = Document::from(html);
    let meta = metadata::extract_metadata(&doc, base);
    let kind = page::content_kind(&doc, &meta, base);

    let mut out = Extracted {
        title: meta.title.clone(),
        authors: meta.authors,
        published_at: meta.published_at,
        modified_at: meta.modified_at,
        language: meta.language,
        lead_image: meta.lead_image,
        canonical_url: meta.canonical_url,
        site_name: meta.site_name,
        description: meta.description,
        ..Extracted::default()
    };

    let deep = content::too_deep(&doc);
    // Some(None): the region pass parses the page again.
    let mut region_doc: Option<Option<Document>> = None;
    let (mut text, mut html_out) = if deep {
        // Degenerate nesting: plain text only, no readability, no recursion.
        let blocks = clean::filter_blocks(content::flat_blocks(&doc), meta.title.as_deref());
        if blocks.is_empty() {
            (None, None)
        } else {
            (Some(blocks.join("\n\n")), Some(paragraphs_html(&blocks)))
        }
    } else {
        // A third-party DOM heuristic must not take the daemon down on one
        // hostile page; a panic there just means "no article found".
        let title = meta.title.as_deref();
        // readability consumes its document; a copy of the tree is much
        // cheaper than parsing the page again for the region pass.
        region_doc = Some((html.len() <= REGION_COPY_MAX_BYTES).then(|| doc.clone()));
        let content = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            content::extract_content(doc, base, title)
        }))
        .ok()
        .flatten();
        match content {
            Some(c) => (Some(c.text), Some(c.html)),
            None => (None, None),
        }
    };

    // Some sites render the body client-side but ship it in JSON-LD.
    if let Some(body) = meta.article_body {
        let dom_words = text.as_deref().map_or(0, word_count);
        let ld_words = word_count(&body);
        if ld_words > dom_words * 2 && ld_words >= 50 {
            let paras: Vec<String> = body
                .split('\n')
                .map(|p| p.split_whitespace().collect::<Vec<_>>().join(" "))
                .filter(|p| !p.is_empty())
                .collect();
            html_out = Some(paragraphs_html(&paras));
            text = Some(paras.join("\n\n"));
        }
    }

    if let Some(mut region_doc) = region_doc {
        let title = meta.title.as_deref();
        let mut words = text.as_deref().map_or(0, word_count);
        // Client-rendered pages (forums, shops) often ship their crawler
        // view inside <noscript>, which the parser keeps as raw text.
        let unwrapped = (words < NOSCRIPT_MIN_WORDS)
            .then(|| region::unwrap_noscript(html, NOSCRIPT_MIN_WORDS))
            .flatten();
        if let Some(src) = unwrapped.as_deref() {
            let doc = Document::from(src);
            region_doc = (src.len() <= REGION_COPY_MAX_BYTES).then(|| doc.clone());
            let content = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                content::extract_content(doc, base, title)
            }))
            .ok()
            .flatten();
            if let Some(c) = content.filter(|c| word_count(&c.text) > words) {
                words = word_count(&c.text);
                text = Some(c.text);
                html_out = Some(c.html);
            }
        }
        // Readability keeps one container; listings, product pages, forum
        // threads and landing pages spread their content over many, so a
        // main region holding much more text is the better answer there.
        let (num, den) = if meta.declares_article {
            REGION_OVER_ARTICLE
        } else {
            REGION_OVER_OTHER
        };
        // A short container that opens as a cookie notice is no article at
        // all: its legal prose outscores the short blocks of home and shop
        // pages.
        let consent_notice = words < CONSENT_NOTICE_MAX_WORDS
            && text.as_deref().is_some_and(|t| {
                let head = t.char_indices().nth(300).map_or(t, |(i, _)| &t[..i]);
                page::CONSENT.is_match(head)
            });
        let words = if consent_notice { 0 } else { words };
        let region_doc =
            region_doc.unwrap_or_else(|| Document::from(unwrapped.as_deref().unwrap_or(html)));
        // The region is part of the body's text, so when even all of that
        // could not outweigh readability's container, the costly clean-up of
        // the whole page is skipped.
        let body_words: usize = select_nodes(&region_doc, "body").first().map_or(0, |b| {
            text::render_blocks(b).iter().map(|t| word_count(t)).sum()
        });
        if body_words * den > words.max(1) * num {
            let blocks = region::region_blocks(&region_doc, base, title);
            let region_words = blocks.iter().map(|b| word_count(b)).sum::<usize>();
            if region_words * den > words.max(1) * num {
                html_out = Some(paragraphs_html(&blocks));
                text = Some(blocks.join("\n\n"));
            }
        }
    }

    // Readability keeps one entry of a live blog or one post of a thread,
    // and the region pass may not recover the rest; the structured data
    // lists them all.
    if matches!(kind, PageKind::LiveBlog | PageKind::Forum) {
        let dom_words = text.as_deref().map_or(0, word_count);
        let entry_words: usize = meta.entries.iter().map(|e| word_count(e)).sum();
        if entry_words * ENTRIES_OVER_DOM.1 > dom_words * ENTRIES_OVER_DOM.0 && entry_words >= 50 {
            html_out = Some(paragraphs_html(&meta.entries));
            text = Some(meta.entries.join("\n\n"));
        }
    }

    out.word_count = text.as_deref().map_or(0, word_count);
    out.page_kind = if deep {
        if out.word_count < 30 {
            PageKind::EmptyShell
        } else {
            kind
        }
    } else {
        // Re-parsing is cheap relative to readability and only happens for
        // the rare short pages where an interstitial is plausible; a wall
        // hides whatever kind the page declared.
        let wall = page::classify_if_short(html, base, out.word_count);
        if wall.is_wall() {
            wall
        } else {
            kind
        }
    };
    out.text = text;
    out.html = html_out;
    out
}

#[cfg(test)]
mod tests;
