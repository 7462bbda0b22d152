//! Allow-list serializer for the article HTML.
//!
//! Rather than scrubbing a DOM in place (and hoping every dangerous construct
//! was anticipated), the output is rebuilt from scratch: only allow-listed
//! tags and attributes are ever written, so anything unknown is inert.

use dom_query::NodeRef;
use url::Url;

/// Subtrees dropped together with their text.
fn is_dropped(name: &str) -> bool {
    matches!(
        name,
        "script"
            | "style"
            | "noscript"
            | "template"
            | "iframe"
            | "frame"
            | "frameset"
            | "object"
            | "embed"
            | "applet"
            | "svg"
            | "math"
            | "canvas"
            | "form"
            | "input"
            | "button"
            | "select"
            | "option"
            | "textarea"
            | "label"
            | "dialog"
            | "link"
            | "meta"
            | "base"
            | "head"
            | "title"
            | "audio"
            | "video"
            | "source"
            | "track"
            | "picture"
            | "map"
            | "area"
    )
}

/// Tags written out (with at most the attributes handled below).
fn is_allowed(name: &str) -> bool {
    matches!(
        name,
        "p" | "h1"
            | "h2"
            | "h3"
            | "h4"
            | "h5"
            | "h6"
            | "ul"
            | "ol"
            | "li"
            | "dl"
            | "dt"
            | "dd"
            | "blockquote"
            | "pre"
            | "code"
            | "em"
            | "strong"
            | "b"
            | "i"
            | "sub"
            | "sup"
            | "a"
            | "img"
            | "figure"
            | "figcaption"
            | "table"
            | "thead"
            | "tbody"
            | "tfoot"
            | "tr"
            | "td"
            | "th"
            | "caption"
            | "br"
            | "hr"
    )
}

fn is_void(name: &str) -> bool {
    matches!(name, "br" | "hr" | "img")
}

/// Only absolute http(s) URLs survive; relative ones are resolved against
/// the page URL when known. This also rules out `javascript:` and `data:`.
pub(crate) fn safe_url(raw: &str, base: Option<&Url>) -> Option<String> {
    let raw = raw.trim();
    if raw.is_empty() {
        return None;
    }
    let parsed = match base {
        Some(b) => b.join(raw).ok()?,
        None => Url::parse(raw).ok()?,
    };
    matches!(parsed.scheme(), "http" | "https").then(|| parsed.to_string())
}

/// Tracking pixels and spacers: declared 1x1 (or 0) sized, or hidden.
fn is_pixel(n: &NodeRef) -> bool {
    let tiny = |attr: &str| {
        n.attr(attr)
            .and_then(|v| v.trim().trim_end_matches("px").parse::<f32>().ok())
            .is_some_and(|v| v <= 2.0)
    };
    let style_hidden = n.attr("style").is_some_and(|s| {
        let s = s.to_ascii_lowercase().replace(' ', "");
        s.contains("display:none") || s.contains("visibility:hidden")
    });
    tiny("width") || tiny("height") || style_hidden
}

fn escape_text(s: &str, out: &mut String) {
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            _ => out.push(c),
        }
    }
}

fn escape_attr(s: &str, out: &mut String) {
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '"' => out.push_str("&quot;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            _ => out.push(c),
        }
    }
}

fn push_attr(out: &mut String, name: &str, value: &str) {
    out.push(' ');
    out.push_str(name);
    out.push_str("=\"");
    escape_attr(value, out);
    out.push('"');
}

fn walk(n: &NodeRef, base: Option<&Url>, out: &mut String) {
    if n.is_text() {
        escape_text(&n.text(), out);
        return;
    }
    if !n.is_element() {
        if n.is_document() || n.is_fragment() {
            for c in n.children_it(false) {
                walk(&c, base, out);
            }
        }
        return;
    }
    let name = n
        .node_name()
        .map(|s| s.to_ascii_lowercase())
        .unwrap_or_default();
    if is_dropped(&name) {
        return;
    }
    if !is_allowed(&name) {
        // Layout wrappers (div, span, section, font, ...) are unwrapped so
        // their text survives without their attributes.
        for c in n.children_it(false) {
            walk(&c, base, out);
        }
        return;
    }
    let tag = match name.as_str() {
        "b" => "strong",
        "i" => "em",
        other => other,
    };
    match tag {
        "img" => {
            if is_pixel(n) {
                return;
            }
            let Some(src) = n.attr("src").and_then(|s| safe_url(&s, base)) else {
                return;
            };
            out.push_str("<img");
            push_attr(out, "src", &src);
            if let Some(alt) = n.attr("alt") {
                push_attr(out, "alt", alt.trim());
            }
            out.push('>');
            return;
        }
        "a" => {
            // A link without a safe target is kept as plain text.
            let Some(href) = n.attr("href").and_then(|h| safe_url(&h, base)) else {
                for c in n.children_it(false) {
                    walk(&c, base, out);
                }
                return;
            };
            out.push_str("<a");
            push_attr(out, "href", &href);
            out.push_str(" rel=\"nofollow noopener noreferrer\">");
        }
        "td" | "th" => {
            out.push('<');
            out.push_str(tag);
            for attr in ["colspan", "rowspan"] {
                let span = n.attr(attr).and_then(|v| v.trim().parse::<u16>().ok());
                if let Some(k) = span {
                    push_attr(out, attr, &k.to_string());
                }
            }
            out.push('>');
        }
        _ => {
            out.push('<');
            out.push_str(tag);
            out.push('>');
        }
    }
    if is_void(tag) {
        return;
    }
    for c in n.children_it(false) {
        walk(&c, base, out);
    }
    out.push_str("</");
    out.push_str(tag);
    out.push('>');
}

/// Serializes `root`'s subtree through the allow-list.
pub(crate) fn sanitize(root: &NodeRef, base: Option<&Url>) -> String {
    let mut out = String::new();
    walk(root, base, &mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use dom_query::Document;

    fn run(html: &str) -> String {
        let doc = Document::fragment(html);
        let base = Url::parse("https://news.example.com/a/b.html").ok();
        sanitize(&doc.root(), base.as_ref())
    }

    #[test]
    fn sanitizer_drops_scripts_styles_and_forms() {
        let out = run(
            "<div><script>alert(1)</script><style>p{}</style><p>Keep me</p>\
             <form action=\"/x\"><input name=q><button>Go</button></form></div>",
        );
        assert_eq!(out, "<p>Keep me</p>");
    }

    #[test]
    fn sanitizer_drops_event_handlers_and_unknown_attributes() {
        let out = run(
            "<p onclick=\"evil()\" class=\"x\" style=\"color:red\">Hi <b onmouseover=\"x()\">there</b></p>",
        );
        assert_eq!(out, "<p>Hi <strong>there</strong></p>");
    }

    #[test]
    fn sanitizer_drops_tracking_pixels_and_keeps_real_images() {
        let out = run(
            "<p><img src=\"https://t.example/p.gif\" width=\"1\" height=\"1\">\
             <img src=\"/img/photo.jpg\" alt=\"A photo\" onerror=\"x()\"></p>",
        );
        assert_eq!(
            out,
            "<p><img src=\"https://news.example.com/img/photo.jpg\" alt=\"A photo\"></p>"
        );
    }

    #[test]
    fn javascript_links_become_plain_text_and_relative_links_resolve() {
        let out = run("<p><a href=\"javascript:alert(1)\">bad</a> <a href=\"../c\">good</a></p>");
        assert_eq!(
            out,
            "<p>bad <a href=\"https://news.example.com/c\" rel=\"nofollow noopener noreferrer\">good</a></p>"
        );
    }

    #[test]
    fn text_is_escaped() {
        let out = run("<p>a &lt;script&gt; b &amp; c</p>");
        assert_eq!(out, "<p>a &lt;script&gt; b &amp; c</p>");
    }
}
