//! What feed-rs refuses, made acceptable before it sees it.
//!
//! Two kinds of change, in one pass over the UTF-8 text:
//!
//! * Well-formedness, the way mature readers recover: a `&` that starts no
//!   reference and a `<` that starts no markup are escaped, HTML named
//!   entities (undefined in XML) become character references, attribute values
//!   get quotes, unmatched end tags are dropped and unclosed elements closed.
//!   These are reported, for the feed's status.
//! * Dialects feed-rs does not dispatch on: `<rss>` with a missing or unusual
//!   `version`, legacy RSS and Atom 0.3 namespaces, Atom 0.3 element names,
//!   MIME-like Atom text `type`s. These are silent: the feed is valid.
//!
//! A document that needs neither is returned borrowed, untouched.

use std::borrow::Cow;
use std::ops::Range;

pub(super) struct Repaired<'a> {
    pub text: Cow<'a, str>,
    /// What was ill-formed, for the feed's status; empty when nothing was.
    pub repairs: Vec<String>,
    /// Local name of the root element, to say what was found when it is no feed.
    pub root: Option<String>,
    /// The text ends inside a tag: a cut-off transfer, whose last entry
    /// would be stored cut off too, so it is refused and polled again.
    pub truncated: bool,
}

const ATOM_10: &str = "http://www.w3.org/2005/Atom";
const RSS_10: &str = "http://purl.org/rss/1.0/";
const RDF_PLACEHOLDER_LINK: &str = "<link>about:blank</link>";

/// Namespaces feed-rs does not know, mapped to the ones it does.
fn current_namespace(uri: &str) -> Option<&'static str> {
    match uri.trim() {
        "http://purl.org/atom/ns#" => Some(ATOM_10),
        "http://my.netscape.com/rdf/simple/0.9/"
        | "http://backend.userland.com/rss2"
        | "http://backend.userland.com/rss"
        | "http://blogs.law.harvard.edu/tech/rss"
        | "http://purl.org/rss/2.0/" => Some(RSS_10),
        _ => None,
    }
}

/// Atom 0.3 element names and their Atom 1.0 equivalents.
fn atom03_name(local: &str) -> Option<&'static str> {
    match local {
        "issued" => Some("published"),
        "modified" => Some("updated"),
        "tagline" => Some("subtitle"),
        "copyright" => Some("rights"),
        "info" => Some("subtitle"),
        _ => None,
    }
}

/// An Atom text construct's `type` as one of feed-rs's three, or `None` to
/// keep it (a MIME type on `<content>` names an inline document).
fn atom_text_type(element: &str, value: &str) -> Option<&'static str> {
    let v = value.trim().to_ascii_lowercase();
    let mapped = match v.as_str() {
        "text" => return None,
        "html" | "xhtml" if v == value => return None,
        "" | "plain" | "text/plain" => "text",
        "html" | "text/html" | "escaped" => "html",
        "xhtml" | "xhtml+xml" | "application/xhtml+xml" | "text/xhtml" => "xhtml",
        _ if element == "content" => return None,
        _ => "text",
    };
    Some(mapped)
}

#[derive(Clone, Copy, PartialEq)]
enum Dialect {
    Rss,
    Rdf,
    Atom { legacy: bool },
    Other,
}

#[derive(Default)]
struct Counts {
    ampersands: usize,
    less_thans: usize,
    entities: usize,
    tags: usize,
    unmatched: usize,
    unclosed: usize,
}

impl Counts {
    fn describe(&self) -> Vec<String> {
        [
            (self.ampersands, "stray '&' escaped"),
            (self.less_thans, "stray '<' escaped"),
            (self.entities, "HTML entities made XML references"),
            (self.tags, "malformed tags rewritten"),
            (self.unmatched, "unmatched end tags dropped"),
            (self.unclosed, "unclosed elements closed"),
        ]
        .into_iter()
        .filter(|(n, _)| *n > 0)
        .map(|(n, what)| format!("{what}: {n}"))
        .collect()
    }
}

/// Copies the source lazily: only once something changes.
struct Writer<'a> {
    src: &'a str,
    out: Option<String>,
    copied: usize,
}

impl<'a> Writer<'a> {
    fn replace(&mut self, range: Range<usize>, with: &str) {
        let src = self.src;
        let out = self
            .out
            .get_or_insert_with(|| String::with_capacity(src.len() + 256));
        out.push_str(&src[self.copied..range.start]);
        out.push_str(with);
        self.copied = range.end;
    }

    fn finish(mut self, tail: &str) -> Cow<'a, str> {
        if tail.is_empty() && self.out.is_none() {
            return Cow::Borrowed(self.src);
        }
        let end = self.src.len();
        self.replace(end..end, tail);
        Cow::Owned(self.out.unwrap_or_default())
    }
}

struct Open {
    name: Range<usize>,
    renamed: Option<&'static str>,
}

fn is_name_start(b: u8) -> bool {
    b.is_ascii_alphabetic() || b == b'_' || b == b':' || b >= 0x80
}

fn name_len(b: &[u8]) -> usize {
    b.iter()
        .take_while(|&&c| {
            c.is_ascii_alphanumeric() || matches!(c, b'_' | b':' | b'-' | b'.') || c >= 0x80
        })
        .count()
}

fn find(src: &str, from: usize, pat: &str) -> Option<usize> {
    src[from..].find(pat).map(|i| from + i)
}

enum Reference {
    /// Length of a reference XML accepts as it is.
    Xml(usize),
    /// An HTML named entity: its length and the numeric references for it.
    Html(usize, String),
    Stray,
}

fn reference(src: &str, at: usize) -> Reference {
    let b = &src.as_bytes()[at + 1..];
    let Some(semi) = b.iter().take(40).position(|&c| c == b';') else {
        return Reference::Stray;
    };
    let name = &b[..semi];
    let valid = match name {
        [b'#', b'x' | b'X', hex @ ..] => !hex.is_empty() && hex.iter().all(u8::is_ascii_hexdigit),
        [b'#', dec @ ..] => !dec.is_empty() && dec.iter().all(u8::is_ascii_digit),
        [first, rest @ ..] => {
            is_name_start(*first)
                && *first < 0x80
                && rest
                    .iter()
                    .all(|&c| c.is_ascii_alphanumeric() || matches!(c, b'_' | b'-' | b'.'))
        }
        [] => false,
    };
    if !valid {
        return Reference::Stray;
    }
    let len = semi + 2;
    if name[0] == b'#' || matches!(name, b"amp" | b"lt" | b"gt" | b"quot" | b"apos") {
        return Reference::Xml(len);
    }
    let whole = &src[at..at + len];
    match html_escape::decode_html_entities(whole) {
        Cow::Owned(decoded) if !decoded.contains('&') => Reference::Html(
            len,
            decoded
                .chars()
                .map(|c| format!("&#{};", c as u32))
                .collect(),
        ),
        // Unknown to HTML too: its text is kept as written.
        _ => Reference::Stray,
    }
}

/// Escapes what an attribute value may not contain; `quote` is the delimiter.
fn attribute_value(raw: &str, quote: char, counts: &mut Counts) -> String {
    let mut out = String::with_capacity(raw.len() + 8);
    let mut i = 0;
    while let Some(off) = raw[i..].find(['&', '<', quote]) {
        let at = i + off;
        out.push_str(&raw[i..at]);
        match raw.as_bytes()[at] {
            b'&' => match reference(raw, at) {
                Reference::Xml(len) => {
                    out.push_str(&raw[at..at + len]);
                    i = at + len;
                    continue;
                }
                Reference::Html(len, refs) => {
                    counts.entities += 1;
                    out.push_str(&refs);
                    i = at + len;
                    continue;
                }
                Reference::Stray => {
                    counts.ampersands += 1;
                    out.push_str("&amp;");
                }
            },
            b'<' => {
                counts.less_thans += 1;
                out.push_str("&lt;");
            }
            _ => out.push_str(if quote == '"' { "&quot;" } else { "&apos;" }),
        }
        i = at + 1;
    }
    out.push_str(&raw[i..]);
    out
}

struct Attribute<'s> {
    name: &'s str,
    value: Cow<'s, str>,
    quote: char,
}

struct Repairer<'a> {
    src: &'a str,
    w: Writer<'a>,
    stack: Vec<Open>,
    dialect: Option<Dialect>,
    root: Option<String>,
    counts: Counts,
    truncated: bool,
    /// An `<rss>` without a `<channel>` is an empty feed to feedparser and
    /// "no root element" to feed-rs.
    channel_seen: bool,
}

pub(super) fn repair(src: &str) -> Repaired<'_> {
    let mut r = Repairer {
        src,
        w: Writer {
            src,
            out: None,
            copied: 0,
        },
        stack: Vec::new(),
        dialect: None,
        root: None,
        counts: Counts::default(),
        truncated: false,
        channel_seen: false,
    };
    let tail = r.run();
    let repairs = r.counts.describe();
    Repaired {
        text: r.w.finish(&tail),
        repairs,
        root: r.root,
        truncated: r.truncated,
    }
}

impl Repairer<'_> {
    /// Rewrites the document; returns what must follow it to close it.
    fn run(&mut self) -> String {
        let src = self.src;
        let bytes = src.as_bytes();
        let mut tail = String::new();
        // Whitespace before the declaration is an XML error feed-rs reports.
        let mut i = bytes.iter().take_while(|b| b.is_ascii_whitespace()).count();
        if i > 0 {
            self.w.replace(0..i, "");
        }
        while let Some(off) = memchr::memchr2(b'<', b'&', &bytes[i..]) {
            let at = i + off;
            if bytes[at] == b'&' {
                i = match reference(src, at) {
                    Reference::Xml(len) => at + len,
                    Reference::Html(len, refs) => {
                        self.counts.entities += 1;
                        self.w.replace(at..at + len, &refs);
                        at + len
                    }
                    Reference::Stray => {
                        self.counts.ampersands += 1;
                        self.w.replace(at..at + 1, "&amp;");
                        at + 1
                    }
                };
                continue;
            }
            let rest = &src[at..];
            let skipped = if rest.starts_with("<!--") {
                Some(("-->", find(src, at + 4, "-->").map(|e| e + 3)))
            } else if rest.starts_with("<![CDATA[") {
                Some(("]]>", find(src, at + 9, "]]>").map(|e| e + 3)))
            } else if rest.starts_with("<?") {
                Some(("?>", find(src, at + 2, "?>").map(|e| e + 2)))
            } else if rest.starts_with("<!") {
                Some((">", doctype_end(src, at)))
            } else {
                None
            };
            if let Some((terminator, end)) = skipped {
                match end {
                    Some(end) => i = end,
                    None => {
                        self.counts.unclosed += 1;
                        tail.push_str(terminator);
                        break;
                    }
                }
                continue;
            }
            i = match bytes.get(at + 1) {
                Some(b'/') if bytes.get(at + 2).is_some_and(|&b| is_name_start(b)) => {
                    self.end_tag(at)
                }
                Some(&b) if is_name_start(b) => self.start_tag(at),
                _ => {
                    self.counts.less_thans += 1;
                    self.w.replace(at..at + 1, "&lt;");
                    at + 1
                }
            };
        }
        while let Some(open) = self.stack.pop() {
            self.counts.unclosed += 1;
            tail.push_str("</");
            tail.push_str(self.out_name(&open));
            tail.push('>');
        }
        tail
    }

    fn out_name(&self, open: &Open) -> &str {
        open.renamed.unwrap_or(&self.src[open.name.clone()])
    }

    fn end_tag(&mut self, at: usize) -> usize {
        let src = self.src;
        let name = at + 2..at + 2 + name_len(&src.as_bytes()[at + 2..]);
        let (end, well_formed) = match src[name.end..].find(['>', '<']) {
            Some(g) if src.as_bytes()[name.end + g] == b'>' => (name.end + g + 1, true),
            Some(_) => (name.end, false),
            None => {
                self.truncated = true;
                (name.end, false)
            }
        };
        let written = &src[name.clone()];
        let found = self
            .stack
            .iter()
            .rposition(|o| &src[o.name.clone()] == written)
            .or_else(|| {
                self.stack
                    .iter()
                    .rposition(|o| src[o.name.clone()].eq_ignore_ascii_case(written))
            });
        let Some(depth) = found else {
            self.counts.unmatched += 1;
            self.w.replace(at..end, "");
            return end;
        };
        let mut closing = String::new();
        let empty_rss = depth == 0 && self.dialect == Some(Dialect::Rss) && !self.channel_seen;
        if empty_rss {
            closing.push_str("<channel></channel>");
        }
        let inner = self.stack.len() - depth - 1;
        for open in self.stack[depth..].iter().rev() {
            closing.push_str("</");
            closing.push_str(self.out_name(open));
            closing.push('>');
        }
        let open = &self.stack[depth];
        if empty_rss || inner > 0 || !well_formed || self.out_name(open) != written {
            self.counts.unclosed += inner;
            if !well_formed {
                self.counts.tags += 1;
            }
            self.w.replace(at..end, &closing);
        }
        self.stack.truncate(depth);
        end
    }

    fn start_tag(&mut self, at: usize) -> usize {
        let src = self.src;
        let bytes = src.as_bytes();
        let name = at + 1..at + 1 + name_len(&bytes[at + 1..]);
        let mut attrs: Vec<Attribute<'_>> = Vec::new();
        let mut rewrite = false;
        let mut j = name.end;
        let (end, self_closing) = loop {
            while j < bytes.len() && bytes[j].is_ascii_whitespace() {
                j += 1;
            }
            match bytes.get(j) {
                None => {
                    self.truncated = true;
                    rewrite = true;
                    break (j, false);
                }
                Some(b'>') => break (j + 1, false),
                Some(b'/') if bytes.get(j + 1) == Some(&b'>') => break (j + 2, true),
                Some(b'<') => {
                    rewrite = true;
                    break (j, false);
                }
                Some(_) => {}
            }
            let attr_name = j..j + bytes[j..]
                .iter()
                .take_while(|&&c| {
                    !c.is_ascii_whitespace()
                        && !matches!(c, b'=' | b'>' | b'/' | b'<' | b'"' | b'\'')
                })
                .count();
            if attr_name.is_empty() {
                // A quote or slash where a name belongs.
                rewrite = true;
                j += src[j..].chars().next().map_or(1, char::len_utf8);
                continue;
            }
            j = attr_name.end;
            while j < bytes.len() && bytes[j].is_ascii_whitespace() {
                j += 1;
            }
            let attr_name = &src[attr_name];
            let (value, quote) = if bytes.get(j) == Some(&b'=') {
                j += 1;
                while j < bytes.len() && bytes[j].is_ascii_whitespace() {
                    j += 1;
                }
                match bytes.get(j) {
                    Some(&q @ (b'"' | b'\'')) => {
                        let from = j + 1;
                        match src[from..].find(q as char) {
                            Some(len) => {
                                j = from + len + 1;
                                (&src[from..from + len], q as char)
                            }
                            None => {
                                rewrite = true;
                                let len = src[from..].find('>').unwrap_or(src.len() - from);
                                j = from + len;
                                (&src[from..from + len], q as char)
                            }
                        }
                    }
                    _ => {
                        rewrite = true;
                        let len = bytes[j..]
                            .iter()
                            .take_while(|&&c| !c.is_ascii_whitespace() && c != b'>')
                            .count();
                        let v = &src[j..j + len];
                        j += len;
                        (v, '"')
                    }
                }
            } else {
                rewrite = true;
                (attr_name, '"')
            };
            if attrs.iter().any(|a| a.name == attr_name) {
                rewrite = true;
                continue;
            }
            if value.contains(['<', '&']) {
                let mut counts = Counts::default();
                let escaped = attribute_value(value, quote, &mut counts);
                if escaped != value {
                    rewrite = true;
                    self.absorb(counts);
                    attrs.push(Attribute {
                        name: attr_name,
                        value: Cow::Owned(escaped),
                        quote,
                    });
                    continue;
                }
            }
            attrs.push(Attribute {
                name: attr_name,
                value: Cow::Borrowed(value),
                quote,
            });
        };
        if rewrite {
            self.counts.tags += 1;
        }
        let local = src[name.clone()].rsplit(':').next().unwrap_or_default();
        self.channel_seen |= local == "channel";
        let mut renamed = None;
        let mut base64 = false;
        rewrite |= self.dialect_fixes(
            &src[name.clone()],
            local,
            &mut attrs,
            &mut renamed,
            &mut base64,
        );
        // Atom's default type is text, but feeds put HTML elements in untyped
        // titles; an explicit `type="text"` keeps its characters.
        if matches!(self.dialect, Some(Dialect::Atom { .. }))
            && !self_closing
            && matches!(renamed.unwrap_or(local), "title" | "subtitle" | "rights")
            && !attrs.iter().any(|a| a.name == "type" || a.name == "mode")
            && super::looks_like_markup(element_content(src, end, &src[name.clone()]))
        {
            attrs.push(Attribute {
                name: "type",
                value: Cow::Borrowed("xhtml"),
                quote: '"',
            });
            rewrite = true;
        }
        if !self_closing {
            self.stack.push(Open {
                name: name.clone(),
                renamed,
            });
        }
        // feed-rs drops an RSS 1.0 item without a link, though its title or
        // date identify it; a link that is no web address keeps it and is
        // never taken as its URL.
        let placeholder = if self.dialect == Some(Dialect::Rdf) && local == "item" && !self_closing
        {
            RDF_PLACEHOLDER_LINK
        } else {
            ""
        };
        if rewrite {
            let mut tag = String::with_capacity(end - at + 16);
            tag.push('<');
            tag.push_str(renamed.unwrap_or(&src[name]));
            for a in &attrs {
                tag.push(' ');
                tag.push_str(a.name);
                tag.push('=');
                tag.push(a.quote);
                tag.push_str(&a.value);
                tag.push(a.quote);
            }
            tag.push_str(if self_closing { "/>" } else { ">" });
            tag.push_str(placeholder);
            self.w.replace(at..end, &tag);
        } else if !placeholder.is_empty() {
            self.w.replace(end..end, placeholder);
        }
        if self_closing || !(base64 || is_date_element(local)) {
            return end;
        }
        let text_end = memchr::memchr(b'<', &bytes[end..]).map_or(src.len(), |l| end + l);
        let text = &src[end..text_end];
        let replaced = if base64 {
            decode_base64(text)
        } else {
            nonstandard_date(text)
        };
        match replaced {
            Some(t) => {
                self.w.replace(end..text_end, &t);
                text_end
            }
            None => end,
        }
    }

    fn absorb(&mut self, c: Counts) {
        self.counts.ampersands += c.ampersands;
        self.counts.less_thans += c.less_thans;
        self.counts.entities += c.entities;
    }

    /// Root, namespace and Atom adjustments; true when an attribute or the
    /// name changed.
    fn dialect_fixes(
        &mut self,
        name: &str,
        local: &str,
        attrs: &mut Vec<Attribute<'_>>,
        renamed: &mut Option<&'static str>,
        base64: &mut bool,
    ) -> bool {
        let mut changed = false;
        let mut atom03_namespace = false;
        for a in attrs.iter_mut() {
            if a.name == "xmlns" || a.name.starts_with("xmlns:") {
                if let Some(uri) = current_namespace(&a.value) {
                    atom03_namespace |= uri == ATOM_10;
                    a.value = Cow::Borrowed(uri);
                    changed = true;
                }
            }
        }
        let dialect = match self.dialect {
            Some(d) => d,
            None => {
                self.root = Some(local.to_owned());
                let version = attrs
                    .iter()
                    .find(|a| a.name == "version")
                    .map(|a| a.value.trim().to_owned());
                let d = match local {
                    "rss" => {
                        if !matches!(version.as_deref(), Some("0.91" | "0.92" | "2.0")) {
                            attrs.retain(|a| a.name != "version");
                            attrs.push(Attribute {
                                name: "version",
                                value: Cow::Borrowed("2.0"),
                                quote: '"',
                            });
                            changed = true;
                        }
                        Dialect::Rss
                    }
                    "RDF" => Dialect::Rdf,
                    "feed" | "entry" => Dialect::Atom {
                        legacy: version.as_deref() == Some("0.3") || atom03_namespace,
                    },
                    _ => Dialect::Other,
                };
                self.dialect = Some(d);
                d
            }
        };
        if let Dialect::Atom { legacy } = dialect {
            if legacy && name == local {
                *renamed = atom03_name(local);
                changed |= renamed.is_some();
            }
            let element = renamed.unwrap_or(local);
            let text_construct = matches!(
                element,
                "title" | "subtitle" | "summary" | "rights" | "content"
            );
            // Atom 0.3's mode="base64", and Atom 1.0's binary media types
            // (RFC 4287 §4.1.3.3), carry base64; decoded, it is read as HTML.
            // Content given by reference (`src`) names its media type, and has none inline.
            if text_construct
                && !attrs.iter().any(|a| a.name == "src")
                && attrs.iter().any(|a| {
                    (a.name == "mode" && a.value.trim().eq_ignore_ascii_case("base64"))
                        || (a.name == "type" && is_binary_type(&a.value))
                })
            {
                *base64 = true;
                attrs.retain(|a| a.name != "mode" && a.name != "type");
                attrs.push(Attribute {
                    name: "type",
                    value: Cow::Borrowed("html"),
                    quote: '"',
                });
                return true;
            }
            if text_construct {
                for a in attrs.iter_mut().filter(|a| a.name == "type") {
                    if let Some(t) = atom_text_type(element, &a.value) {
                        a.value = Cow::Borrowed(t);
                        changed = true;
                    }
                }
            }
        }
        changed
    }
}

/// The source between a start tag ending at `from` and the end tag of `name`
/// (the rest of the document when there is none).
fn element_content<'s>(src: &'s str, from: usize, name: &str) -> &'s str {
    let rest = &src[from..];
    let close = format!("</{name}");
    &rest[..rest.find(&close).unwrap_or(rest.len())]
}

/// A media type that is neither text nor XML: its content is base64.
fn is_binary_type(value: &str) -> bool {
    let v = value.trim().to_ascii_lowercase();
    v.contains('/') && !v.starts_with("text/") && !v.ends_with("xml")
}

/// Base64 text decoded and escaped for XML, or `None` when it is no base64
/// of UTF-8 text (then it stays as it was).
fn decode_base64(text: &str) -> Option<String> {
    use base64::Engine as _;
    let compact: String = text.chars().filter(|c| !c.is_whitespace()).collect();
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(compact)
        .ok()?;
    let decoded = String::from_utf8(bytes).ok()?;
    // The media type said nothing of the text inside: HTML escaped once more
    // (`&lt;p&gt;`) is still HTML.
    let unescaped = super::decode_entities(&decoded);
    let decoded = if !super::looks_like_markup(&decoded) && super::looks_like_markup(&unescaped) {
        unescaped
    } else {
        decoded
    };
    Some(
        decoded
            .replace('&', "&amp;")
            .replace('<', "&lt;")
            .replace('>', "&gt;"),
    )
}

fn is_date_element(local: &str) -> bool {
    matches!(
        local,
        "pubDate" | "date" | "published" | "updated" | "issued" | "modified" | "created"
    )
}

/// A date feed-rs would drop (`2004-07-08 23:56:58`, `Thu, 8 Jul 2004
/// 23:56 EST`), as RFC 3339 in UTC; one it reads, or none, is left alone.
fn nonstandard_date(text: &str) -> Option<String> {
    if rfc822_at_a_glance(text.trim().as_bytes()) || super::date::standard(text).is_some() {
        return None;
    }
    super::date::lenient(text).map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true))
}

/// `Thu, 08 Jul 2004 23:56:58 GMT` or `… +0200`, most feeds' dates, which
/// feed-rs reads or nobody can: known without the cost of parsing them.
fn rfc822_at_a_glance(b: &[u8]) -> bool {
    if b.len() != 29 && b.len() != 31 {
        return false;
    }
    let zone = &b[26..];
    let shape = b[3] == b',' && b[19] == b':' && b[22] == b':';
    let spaces = [4, 7, 11, 16, 25].iter().all(|&i| b[i] == b' ');
    let zone_ok = zone == b"GMT"
        || (zone.len() == 5
            && matches!(zone[0], b'+' | b'-')
            && zone[1..].iter().all(u8::is_ascii_digit));
    shape && spaces && zone_ok
}

/// End of a `<!DOCTYPE …>`, whose internal subset may hold `>`.
fn doctype_end(src: &str, at: usize) -> Option<usize> {
    let mut depth = 0usize;
    for (k, b) in src.as_bytes()[at..].iter().enumerate() {
        match b {
            b'[' => depth += 1,
            b']' => depth = depth.saturating_sub(1),
            b'>' if depth == 0 => return Some(at + k + 1),
            _ => {}
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_well_formed_document_is_borrowed_untouched() {
        let doc = "<?xml version=\"1.0\"?><rss version=\"2.0\"><channel><title>A &amp; B</title><!-- x < y --></channel></rss>";
        let r = repair(doc);
        assert!(matches!(r.text, Cow::Borrowed(_)));
        assert!(r.repairs.is_empty());
        assert_eq!(r.root.as_deref(), Some("rss"));
    }

    #[test]
    fn stray_ampersands_and_less_thans_are_escaped_and_reported() {
        let r = repair("<rss version=\"2.0\"><channel><title>Q&A with AT&T: is x < y?</title><link>http://e.com/?a=1&b=2</link></channel></rss>");
        assert_eq!(
            r.text,
            "<rss version=\"2.0\"><channel><title>Q&amp;A with AT&amp;T: is x &lt; y?</title><link>http://e.com/?a=1&amp;b=2</link></channel></rss>"
        );
        assert_eq!(r.repairs, ["stray '&' escaped: 3", "stray '<' escaped: 1"]);
    }

    #[test]
    fn an_unclosed_document_is_closed_and_unmatched_end_tags_dropped() {
        let r = repair("<rss><channel><item><title>x</b></title><p>para</item>");
        assert_eq!(
            r.text,
            "<rss version=\"2.0\"><channel><item><title>x</title><p>para</p></item></channel></rss>"
        );
        assert_eq!(
            r.repairs,
            [
                "unmatched end tags dropped: 1",
                "unclosed elements closed: 3"
            ]
        );
    }

    #[test]
    fn html_entities_become_character_references() {
        let r = repair("<feed><title>Caf&eacute; &bogus; &amp;</title></feed>");
        assert_eq!(
            r.text,
            "<feed><title>Caf&#233; &amp;bogus; &amp;</title></feed>"
        );
    }

    #[test]
    fn dates_without_a_zone_are_read_as_utc_and_others_left_alone() {
        let r = repair("<rss version=\"2.0\"><channel><item><pubDate>2004-07-08 23:56:58</pubDate><dc:date>Thu, 08 Jul 2004 23:56:58 GMT</dc:date></item></channel></rss>");
        assert_eq!(
            r.text,
            "<rss version=\"2.0\"><channel><item><pubDate>2004-07-08T23:56:58Z</pubDate><dc:date>Thu, 08 Jul 2004 23:56:58 GMT</dc:date></item></channel></rss>"
        );
        assert!(r.repairs.is_empty());
    }

    #[test]
    fn base64_atom_text_is_decoded_as_html() {
        let r = repair("<feed xmlns=\"http://www.w3.org/2005/Atom\"><title type=\"application/octet-stream\">PHA+RmVlZCBUaXRsZTwvcD4=</title><subtitle mode=\"base64\">not base64!</subtitle></feed>");
        assert_eq!(
            r.text,
            "<feed xmlns=\"http://www.w3.org/2005/Atom\"><title type=\"html\">&lt;p&gt;Feed Title&lt;/p&gt;</title><subtitle type=\"html\">not base64!</subtitle></feed>"
        );
        let by_reference =
            "<feed><entry><content type=\"image/png\" src=\"https://e.com/a.png\"/></entry></feed>";
        assert_eq!(repair(by_reference).text, by_reference);
    }

    #[test]
    fn attribute_values_are_quoted_and_escaped() {
        let r =
            repair("<feed><link href=http://e.com/?a&b rel='alternate'/><x checked></x></feed>");
        assert_eq!(
            r.text,
            "<feed><link href=\"http://e.com/?a&amp;b\" rel='alternate'/><x checked=\"checked\"></x></feed>"
        );
    }

    #[test]
    fn legacy_dialects_are_mapped_to_what_feed_rs_reads() {
        let r = repair(
            "<rss version=\"0.94\" xmlns=\"http://backend.userland.com/rss2\"><channel/></rss>",
        );
        assert_eq!(
            r.text,
            "<rss xmlns=\"http://purl.org/rss/1.0/\" version=\"2.0\"><channel/></rss>"
        );
        assert!(r.repairs.is_empty());
        let r = repair("<rss version=\"0.94\"></rss>");
        assert_eq!(r.text, "<rss version=\"2.0\"><channel></channel></rss>");
        let r = repair("<feed version=\"0.3\" xmlns=\"http://purl.org/atom/ns#\"><title type=\"text/plain\">T</title><modified>2004-01-01T00:00:00Z</modified></feed>");
        assert_eq!(
            r.text,
            "<feed version=\"0.3\" xmlns=\"http://www.w3.org/2005/Atom\"><title type=\"text\">T</title><updated>2004-01-01T00:00:00Z</updated></feed>"
        );
    }
}
