//! Defences against adversarial markup, applied before the HTML parser.
//!
//! html5ever's tree builder does per-tag work proportional to the depth of
//! the open-element stack, so tens of thousands of unclosed `<div>`s take
//! quadratic time to parse. A linear pre-scan spots such input and routes it
//! to a tag-stripping text path instead.

/// Parser-safe nesting bound; legitimate pages nest well under 100 levels.
const MAX_RAW_DEPTH: usize = 1500;

/// Elements that never increase nesting: void elements, and elements whose
/// end tag is optional and which the parser closes implicitly.
fn never_nests(name: &[u8]) -> bool {
    matches!(
        name,
        b"area"
            | b"base"
            | b"br"
            | b"col"
            | b"embed"
            | b"hr"
            | b"img"
            | b"input"
            | b"link"
            | b"meta"
            | b"param"
            | b"source"
            | b"track"
            | b"wbr"
            | b"p"
            | b"li"
            | b"dt"
            | b"dd"
            | b"option"
            | b"optgroup"
            | b"tr"
            | b"td"
            | b"th"
            | b"tbody"
            | b"thead"
            | b"tfoot"
            | b"colgroup"
            | b"rp"
            | b"rt"
            | b"html"
            | b"head"
            | b"body"
            | b"!doctype"
    )
}

struct Tag<'a> {
    name: &'a [u8],
    closing: bool,
    self_closing: bool,
    end: usize,
}

/// Parses the tag starting at `bytes[start] == b'<'`, if it is one.
fn tag_at(bytes: &[u8], start: usize) -> Option<Tag<'_>> {
    let mut i = start + 1;
    let closing = bytes.get(i) == Some(&b'/');
    if closing {
        i += 1;
    }
    let name_start = i;
    while i < bytes.len()
        && (bytes[i].is_ascii_alphanumeric() || bytes[i] == b'!' || bytes[i] == b'-')
    {
        i += 1;
    }
    if i == name_start {
        return None;
    }
    let name = &bytes[name_start..i];
    let end = bytes[i..]
        .iter()
        .position(|&b| b == b'>')
        .map_or(bytes.len(), |p| i + p);
    let self_closing = end > 0 && bytes.get(end - 1) == Some(&b'/');
    Some(Tag {
        name,
        closing,
        self_closing,
        end,
    })
}

/// True if the raw markup nests deeper than the parser can handle quickly.
pub(crate) fn too_deep_to_parse(html: &str) -> bool {
    let bytes = html.as_bytes();
    let mut depth: usize = 0;
    let mut i = 0;
    let mut name_buf = [0u8; 16];
    while let Some(off) = bytes[i..].iter().position(|&b| b == b'<') {
        let start = i + off;
        let Some(tag) = tag_at(bytes, start) else {
            i = start + 1;
            continue;
        };
        let len = tag.name.len().min(name_buf.len());
        for (dst, src) in name_buf.iter_mut().zip(tag.name) {
            *dst = src.to_ascii_lowercase();
        }
        let name = &name_buf[..len];
        if !never_nests(name) && !tag.self_closing {
            if tag.closing {
                depth = depth.saturating_sub(1);
            } else {
                depth += 1;
                if depth > MAX_RAW_DEPTH {
                    return true;
                }
            }
        }
        // Raw-text elements: skip their content wholesale.
        if !tag.closing && matches!(name, b"script" | b"style" | b"textarea" | b"title") {
            let close = format!("</{}", String::from_utf8_lossy(name));
            let rest = &html.as_bytes()[tag.end.min(bytes.len())..];
            let lower_close = close.as_bytes();
            let found = rest
                .windows(lower_close.len())
                .position(|w| w.eq_ignore_ascii_case(lower_close));
            match found {
                Some(p) => {
                    i = tag.end + p;
                    depth = depth.saturating_sub(1);
                    continue;
                }
                None => return false,
            }
        }
        i = tag.end.min(bytes.len());
        if i >= bytes.len() {
            break;
        }
    }
    false
}

/// Text of markup without building a DOM: tags removed, script/style
/// bodies dropped, block-level tags turned into paragraph breaks.
pub(crate) fn strip_to_blocks(html: &str) -> Vec<String> {
    let bytes = html.as_bytes();
    let mut blocks = Vec::new();
    let mut cur = String::new();
    let mut i = 0;
    let mut text_start = 0;
    let flush_text = |cur: &mut String, from: usize, to: usize| {
        if let Some(t) = html.get(from..to) {
            cur.push_str(t);
            cur.push(' ');
        }
    };
    while let Some(off) = bytes[i..].iter().position(|&b| b == b'<') {
        let start = i + off;
        let Some(tag) = tag_at(bytes, start) else {
            i = start + 1;
            continue;
        };
        flush_text(&mut cur, text_start, start);
        let name = String::from_utf8_lossy(tag.name).to_ascii_lowercase();
        let mut next = (tag.end + 1).min(bytes.len());
        if !tag.closing
            && matches!(
                name.as_str(),
                "script" | "style" | "noscript" | "template" | "title"
            )
        {
            let close = format!("</{name}");
            let rest = &bytes[next..];
            next = rest
                .windows(close.len())
                .position(|w| w.eq_ignore_ascii_case(close.as_bytes()))
                .map_or(bytes.len(), |p| next + p);
        }
        if super::text::is_block(&name) || name == "br" {
            let para = decode_entities(&cur);
            if !para.is_empty() {
                blocks.push(para);
            }
            cur.clear();
        }
        i = next;
        text_start = next;
        if i >= bytes.len() {
            break;
        }
    }
    flush_text(&mut cur, text_start, bytes.len());
    let para = decode_entities(&cur);
    if !para.is_empty() {
        blocks.push(para);
    }
    blocks
}

/// Decodes the handful of entities common in prose and collapses spaces.
fn decode_entities(s: &str) -> String {
    let s = s
        .replace("&nbsp;", " ")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&amp;", "&");
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ordinary_pages_are_not_too_deep() {
        let page = "<html><body><div><p>One<p>Two<ul><li>a<li>b</ul></div><script>if (a < b) {}</script></body></html>";
        assert!(!too_deep_to_parse(page));
    }

    #[test]
    fn thousands_of_unclosed_divs_are_too_deep() {
        let page = format!("<body>{}<p>x</p>", "<div>".repeat(5000));
        assert!(too_deep_to_parse(&page));
    }

    #[test]
    fn tag_stripping_keeps_paragraphs_and_drops_scripts() {
        let blocks = strip_to_blocks(
            "<div><p>Hello &amp; welcome</p><script>var x = '<p>';</script><p>Bye</p></div>",
        );
        assert_eq!(blocks, vec!["Hello & welcome", "Bye"]);
    }
}
