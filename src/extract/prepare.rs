//! The raw page trimmed before html5ever builds a tree of it. A DOM costs
//! about twenty times its source in memory, and pages at the body cap are
//! mostly bytes that can never become article text: inline scripts and JSON
//! state, styles, inline SVG, comment text, templates, base64 images. Those
//! are cut with a linear scan; what remains is capped at a size no article
//! needs.

use std::borrow::Cow;

use memchr::{memchr, memchr2, memmem};

/// The most HTML the extractor parses once the non-content is gone. The
/// largest WCXB dev page keeps 2.7 MiB (a shop collection), the largest Zyte page
/// 0.2 MiB; an article's text sits well inside the first MiBs of markup.
pub const MAX_PARSE_BYTES: usize = 3 << 20;

/// Shorter `data:` payloads (icons, spacers) are not worth the edit.
const DATA_URI_KEEP: usize = 256;

/// Start tags shorter than this cannot hold a payload worth cutting.
const LONG_TAG: usize = 1024;

/// `html` without the bytes that cannot be content, at most `cap` bytes
/// (cut before a tag). Elements keep their tags and attributes, only their
/// bodies go, so selectors on them (`script[src*=captcha]`, the script
/// count of empty shells) still see them; JSON-LD scripts, which metadata
/// reads, stay whole. Borrowed when nothing had to go.
pub(crate) fn strip_non_content(html: &str, cap: usize) -> Cow<'_, str> {
    let b = html.as_bytes();
    let mut out = Out::new(html, cap);
    // Once a container's end tag is not found, none is looked for again: the
    // search runs to the end of the page, and must not for every tag.
    let mut unclosed: Vec<&[u8]> = Vec::new();
    let mut i = 0;
    while !out.full {
        let Some(off) = memchr(b'<', &b[i..]) else {
            break;
        };
        let lt = i + off;
        if b[lt..].starts_with(b"<!--") {
            let end = comment_end(b, lt + 4);
            // The comment stays, empty: its node separates text nodes the
            // parser would otherwise merge, which readability and the
            // region pass weigh differently.
            let body_end = if b[..end].ends_with(b"-->") {
                end - 3
            } else {
                end
            };
            out.drop_range(lt + 4, body_end.max(lt + 4));
            i = end;
            continue;
        }
        let Some(tag) = start_tag(b, lt) else {
            i = lt + 1;
            continue;
        };
        i = tag.end;
        match tag.name {
            Name::Script => {
                let Some(close) = script_end(b, tag.end) else {
                    // Unclosed: the rest of the page is script to the parser too.
                    out.drop_range(tag.end, b.len());
                    break;
                };
                if !is_json_ld(&b[lt..tag.end]) {
                    out.drop_range(tag.end, close);
                }
                i = close;
            }
            Name::Style => {
                let close = raw_text_end(b, tag.end, b"style").unwrap_or(b.len());
                out.drop_range(tag.end, close);
                i = close;
            }
            Name::RawText(name) => match raw_text_end(b, tag.end, name) {
                Some(close) => i = close,
                None => break,
            },
            Name::Container(name) => {
                // `<svg/>` is complete; `<template/>` is an open tag.
                let empty = tag.self_closing && name == b"svg";
                if !empty && !unclosed.contains(&name) {
                    // Unclosed, the parser may break out of it at the next
                    // HTML block, so nothing is dropped on a guess.
                    match matching_close(b, tag.end, name) {
                        Some(close) => {
                            out.drop_range(tag.end, close);
                            i = close;
                        }
                        None => unclosed.push(name),
                    }
                }
            }
            Name::Plaintext => break,
            Name::Other => {
                if tag.end - lt > LONG_TAG {
                    drop_data_payloads(&mut out, b, lt, tag.end);
                }
            }
        }
    }
    out.finish()
}

/// The output, built lazily: verbatim spans of the source between dropped
/// ranges, stopping at the cap.
struct Out<'a> {
    src: &'a str,
    buf: String,
    /// Start of the source not yet copied.
    from: usize,
    edited: bool,
    full: bool,
    cap: usize,
}

impl<'a> Out<'a> {
    fn new(src: &'a str, cap: usize) -> Self {
        Out {
            src,
            buf: String::new(),
            from: 0,
            edited: false,
            full: false,
            cap,
        }
    }

    fn drop_range(&mut self, start: usize, end: usize) {
        if start < end {
            self.copy_to(start);
            self.from = end;
            self.edited = true;
        }
    }

    /// Copies the source up to `to`; past the cap only up to the last tag
    /// that starts within it, so no tag is cut in half.
    fn copy_to(&mut self, to: usize) {
        if self.full || to <= self.from {
            return;
        }
        let span = &self.src[self.from..to];
        let room = self.cap.saturating_sub(self.buf.len());
        if span.len() <= room {
            self.buf.push_str(span);
        } else {
            let cut = memchr::memrchr(b'<', &span.as_bytes()[..room]).unwrap_or_else(|| {
                (0..=room)
                    .rev()
                    .find(|&k| span.is_char_boundary(k))
                    .unwrap_or(0)
            });
            self.buf.push_str(&span[..cut]);
            self.full = true;
            self.edited = true;
        }
        self.from = to;
    }

    fn finish(mut self) -> Cow<'a, str> {
        if !self.edited && self.src.len() <= self.cap {
            return Cow::Borrowed(self.src);
        }
        self.copy_to(self.src.len());
        Cow::Owned(self.buf)
    }
}

enum Name {
    Script,
    Style,
    /// Elements whose body the tokenizer reads as text up to their end tag.
    RawText(&'static [u8]),
    /// Elements whose whole subtree is never content.
    Container(&'static [u8]),
    Plaintext,
    Other,
}

struct StartTag {
    name: Name,
    /// Just past the closing `>`.
    end: usize,
    self_closing: bool,
}

fn classify(name: &[u8]) -> Name {
    const RAW: [&[u8]; 7] = [
        b"title",
        b"textarea",
        b"xmp",
        b"iframe",
        b"noembed",
        b"noframes",
        // Raw text too, since the parser runs with scripting on.
        b"noscript",
    ];
    const CONTAINERS: [&[u8]; 2] = [b"svg", b"template"];
    let eq = |n: &[u8]| name.eq_ignore_ascii_case(n);
    if eq(b"script") {
        Name::Script
    } else if eq(b"style") {
        Name::Style
    } else if eq(b"plaintext") {
        Name::Plaintext
    } else if let Some(n) = RAW.into_iter().find(|n| eq(n)) {
        Name::RawText(n)
    } else if let Some(n) = CONTAINERS.into_iter().find(|n| eq(n)) {
        Name::Container(n)
    } else {
        Name::Other
    }
}

/// The start tag at `b[lt] == b'<'`, if one starts there; quoted attribute
/// values may hold `>`. One left open runs to the end of the page, as it
/// does for the parser.
fn start_tag(b: &[u8], lt: usize) -> Option<StartTag> {
    let name_start = lt + 1;
    if !b.get(name_start)?.is_ascii_alphabetic() {
        return None;
    }
    let mut i = name_start;
    while i < b.len() && !matches!(b[i], b'\t' | b'\n' | b'\x0c' | b'\r' | b' ' | b'/' | b'>') {
        i += 1;
    }
    let name = classify(&b[name_start..i]);
    let end = tag_end(b, i).unwrap_or(b.len() - 1);
    Some(StartTag {
        name,
        end: end + 1,
        self_closing: end > lt && b[end - 1] == b'/',
    })
}

/// Index of the `>` that closes the tag whose attributes start at `i`.
fn tag_end(b: &[u8], mut i: usize) -> Option<usize> {
    while i < b.len() {
        match b[i] {
            b'>' => return Some(i),
            b'=' => {
                i += 1;
                while i < b.len() && b[i].is_ascii_whitespace() {
                    i += 1;
                }
                if let Some(&q) = b.get(i).filter(|&&q| q == b'"' || q == b'\'') {
                    i += 1 + memchr(q, &b[i + 1..])?;
                }
                i += 1;
            }
            _ => i += 1,
        }
    }
    None
}

/// Just past the comment whose body starts at `from`; a comment left open
/// runs to the end of the page, as it does for the parser.
fn comment_end(b: &[u8], from: usize) -> usize {
    // `<!-->` and `<!--->` are complete, empty comments.
    for abrupt in [&b">"[..], b"->"] {
        if b[from..].starts_with(abrupt) {
            return from + abrupt.len();
        }
    }
    memmem::find(&b[from..], b"-->").map_or(b.len(), |p| from + p + 3)
}

/// True when `</name` at `i` is an end tag (not a longer name).
fn end_tag_at(b: &[u8], i: usize, name: &[u8]) -> bool {
    let n = name.len();
    b.len() > i + 1 + n
        && b[i + 1] == b'/'
        && b[i + 2..i + 2 + n].eq_ignore_ascii_case(name)
        && b.get(i + 2 + n)
            .is_none_or(|c| matches!(c, b'\t' | b'\n' | b'\x0c' | b'\r' | b' ' | b'/' | b'>'))
}

/// Where `</name` ends raw text that starts at `from`.
fn raw_text_end(b: &[u8], mut from: usize, name: &[u8]) -> Option<usize> {
    loop {
        let lt = from + memchr(b'<', &b[from..])?;
        if end_tag_at(b, lt, name) {
            return Some(lt);
        }
        from = lt + 1;
    }
}

/// Where `</script` ends script data that starts at `from`, through the
/// tokenizer's escaped states: inside `<!--`, a `<script` nests one level
/// deep, so its `</script` does not end the outer one.
fn script_end(b: &[u8], mut from: usize) -> Option<usize> {
    let starts_script = |i: usize| {
        b.len() > i + 7
            && b[i + 1..i + 7].eq_ignore_ascii_case(b"script")
            && matches!(
                b[i + 7],
                b'\t' | b'\n' | b'\x0c' | b'\r' | b' ' | b'/' | b'>'
            )
    };
    #[derive(PartialEq)]
    enum State {
        Data,
        Escaped,
        DoubleEscaped,
    }
    let mut state = State::Data;
    loop {
        let at = from + memchr2(b'<', b'-', &b[from..])?;
        from = at + 1;
        if b[at] == b'-' {
            if state != State::Data && b[at..].starts_with(b"-->") {
                state = State::Data;
                from = at + 3;
            }
            continue;
        }
        if end_tag_at(b, at, b"script") {
            if state == State::DoubleEscaped {
                state = State::Escaped;
            } else {
                return Some(at);
            }
        } else if state == State::Data && b[at..].starts_with(b"<!--") {
            state = State::Escaped;
            from = at + 4;
        } else if state == State::Escaped && starts_script(at) {
            state = State::DoubleEscaped;
        }
    }
}

/// Where the element of `name` whose content starts at `from` closes,
/// counting nested elements of the same name.
fn matching_close(b: &[u8], mut from: usize, name: &[u8]) -> Option<usize> {
    let mut depth = 1usize;
    loop {
        let lt = from + memchr(b'<', &b[from..])?;
        from = lt + 1;
        if end_tag_at(b, lt, name) {
            depth -= 1;
            if depth == 0 {
                return Some(lt);
            }
        } else if let Some(tag) = start_tag(b, lt) {
            if matches!(tag.name, Name::Container(n) if n == name) && !tag.self_closing {
                depth += 1;
            }
            from = tag.end;
        }
    }
}

/// True when the script start tag `tag` declares JSON-LD.
fn is_json_ld(tag: &[u8]) -> bool {
    const LD: &[u8] = b"application/ld+json";
    let lower = tag.to_ascii_lowercase();
    memmem::find_iter(&lower, b"type").any(|p| {
        let preceded = p > 0 && matches!(lower[p - 1], b'\t' | b'\n' | b'\x0c' | b'\r' | b' ');
        let mut v = lower[p + 4..]
            .iter()
            .skip_while(|c| c.is_ascii_whitespace());
        if !preceded || v.next() != Some(&b'=') {
            return false;
        }
        let value: Vec<u8> = v
            .skip_while(|c| c.is_ascii_whitespace())
            .skip_while(|&&c| c == b'"' || c == b'\'')
            .take_while(|&&c| !matches!(c, b'"' | b'\'' | b'>') && !c.is_ascii_whitespace())
            .copied()
            .collect();
        value == LD
    })
}

/// Cuts long base64 payloads of `data:` URIs inside the tag `b[lt..end]`,
/// keeping the `data:<type>;base64,` prefix.
fn drop_data_payloads(out: &mut Out<'_>, b: &[u8], lt: usize, end: usize) {
    let tag = &b[lt..end];
    for p in memmem::find_iter(tag, b"data:") {
        let Some(comma) = tag[p..].iter().take(128).position(|&c| c == b',') else {
            continue;
        };
        if !tag[p..p + comma].ends_with(b";base64") {
            continue;
        }
        let start = p + comma + 1;
        let len = tag[start..]
            .iter()
            .take_while(|c| c.is_ascii_alphanumeric() || matches!(c, b'+' | b'/' | b'=' | b'%'))
            .count();
        if len > DATA_URI_KEEP {
            out.drop_range(lt + start, lt + start + len);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strip(html: &str) -> String {
        strip_non_content(html, usize::MAX).into_owned()
    }

    #[test]
    fn script_and_style_bodies_go_but_their_tags_stay() {
        assert_eq!(
            strip("<head><script src=\"/a.js\">var a = '</p>';</script><style>p { color: red }</style></head><p>Hi</p>"),
            "<head><script src=\"/a.js\"></script><style></style></head><p>Hi</p>"
        );
    }

    #[test]
    fn json_ld_is_kept_whole() {
        let page = "<script type='application/LD+json'>{\"headline\":\"A\"}</script>\
                    <script type=\"application/json\">{\"state\":1}</script>";
        assert_eq!(
            strip(page),
            "<script type='application/LD+json'>{\"headline\":\"A\"}</script>\
             <script type=\"application/json\"></script>"
        );
    }

    #[test]
    fn comments_svg_and_templates_go_with_their_contents() {
        let page = "<p>a<!-- x <p>hidden</p> -->b</p><svg viewBox='0 0 1 1'><svg><path d='M0'/></svg><text>icon</text></svg>\
                    <template><p>later</p></template><svg/><p>c<!-->d<!--- x</p>";
        assert_eq!(
            strip(page),
            "<p>a<!---->b</p><svg viewBox='0 0 1 1'></svg><template></template><svg/><p>c<!-->d<!--"
        );
    }

    #[test]
    fn an_unclosed_svg_is_left_to_the_parser() {
        let page = "<svg><path d='M0'/><p>Text after a broken icon</p>";
        assert_eq!(strip(page), page);
    }

    #[test]
    fn an_escaped_script_inside_a_script_does_not_end_it() {
        let page = "<script><!-- document.write('<script>x()</script>'); --></script><p>ok</p>";
        assert_eq!(strip(page), "<script></script><p>ok</p>");
    }

    #[test]
    fn raw_text_elements_are_copied_verbatim() {
        let page = "<title>a <!-- b --> c</title><textarea><script>x</script></textarea>";
        assert!(matches!(
            strip_non_content(page, usize::MAX),
            Cow::Borrowed(_)
        ));
    }

    #[test]
    fn long_base64_payloads_are_cut_short_ones_kept() {
        let long = "A".repeat(2000);
        let page = format!("<img alt=\"x\" src=\"data:image/png;base64,{long}\"><img src=\"data:image/gif;base64,R0lG\">");
        assert_eq!(
            strip(&page),
            "<img alt=\"x\" src=\"data:image/png;base64,\"><img src=\"data:image/gif;base64,R0lG\">"
        );
    }

    #[test]
    fn a_quoted_greater_than_does_not_end_a_tag() {
        let page = "<div title=\"a > b\"><script>x</script></div>";
        assert_eq!(strip(page), "<div title=\"a > b\"><script></script></div>");
    }

    #[test]
    fn the_cap_cuts_before_a_tag() {
        let page = "<p>one</p><p>two</p><p>three</p>";
        assert_eq!(strip_non_content(page, 15), "<p>one</p>");
        assert_eq!(strip_non_content(page, 3), "");
        assert_eq!(strip_non_content("héllo", 2), "h");
    }
}
