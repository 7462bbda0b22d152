//! Feed parsing: bytes in, plain entries out. Pure: no IO.
//!
//! feed-rs does the format work (RSS 0.9x/1.0/2.0, Atom, JSON Feed). Before
//! it, the document is decoded to UTF-8 ([`charset`]) and what it would
//! refuse is repaired ([`repair`]); after it, this module turns its model into
//! the few fields newsd keeps, refuses to use the identifiers feed-rs would
//! invent, and reads what feed-rs drops from RSS items: `<source url>`
//! (publisher name and homepage, which Google News relies on) and
//! `isPermaLink`.

mod charset;
mod date;
mod json;
mod repair;

use std::borrow::Cow;

use chrono::{DateTime, Utc};
use quick_xml::events::Event;
use url::Url;

/// Longest title kept; hostile feeds must not bloat the archive.
pub const MAX_TITLE_CHARS: usize = 1_000;
/// Longest summary kept.
pub const MAX_SUMMARY_CHARS: usize = 20_000;

#[derive(Debug, thiserror::Error)]
pub enum FeedError {
    #[error("not a feed: the URL answered with an HTML page{}", discovered_hint(.discovered))]
    Html { discovered: Vec<String> },
    #[error("malformed feed: {0}")]
    Malformed(String),
}

fn discovered_hint(found: &[String]) -> String {
    if found.is_empty() {
        " and it links to no feed".to_owned()
    } else {
        format!("; it links to these feeds: {}", found.join(", "))
    }
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct ParsedFeed {
    pub title: Option<String>,
    pub site_url: Option<String>,
    /// RSS `<ttl>` in minutes.
    pub ttl_minutes: Option<u32>,
    pub entries: Vec<ParsedEntry>,
    /// What was ill-formed in the document and repaired; empty when nothing was.
    pub repairs: Vec<String>,
}

impl ParsedFeed {
    /// What the feed's status should say about a successful parse of which
    /// `kept` entries could be stored: the repairs made, or why none was kept.
    pub fn status_note(&self, kept: usize) -> Option<String> {
        let mut notes = Vec::new();
        if !self.repairs.is_empty() {
            notes.push(format!("repaired: {}", self.repairs.join(", ")));
        }
        // A date alone does not identify an entry: `EntryKey::derive` needs an
        // id, a link or a title.
        if kept == 0 && !self.entries.is_empty() {
            notes.push(format!(
                "none of the {} entries was stored: each lacks an id, a link and a title",
                self.entries.len()
            ));
        }
        (!notes.is_empty()).then(|| notes.join("; "))
    }
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct ParsedEntry {
    /// The feed's own id/guid; `None` when the feed gave none.
    pub guid: Option<String>,
    /// The entry link, resolved against the feed URL.
    pub link: Option<String>,
    pub title: Option<String>,
    /// Summary as plain text.
    pub summary: Option<String>,
    /// Summary as the feed sent it (HTML for most RSS); Google News keeps its
    /// related-coverage list here.
    pub summary_html: Option<String>,
    pub published_at: Option<DateTime<Utc>>,
    pub authors: Vec<String>,
    /// RSS `<source>` text: the publisher's name.
    pub source_name: Option<String>,
    /// RSS `<source url>`: the publisher's homepage.
    pub source_url: Option<String>,
}

/// Parses a feed document. `base` resolves relative links.
pub fn parse_feed(body: &[u8], base: &Url, max_entries: usize) -> Result<ParsedFeed, FeedError> {
    parse_feed_served(body, None, base, max_entries)
}

/// Parses a feed document served with this `Content-Type`, whose charset
/// overrides the document's own declaration (RFC 7303).
pub fn parse_feed_served(
    body: &[u8],
    content_type: Option<&str>,
    base: &Url,
    max_entries: usize,
) -> Result<ParsedFeed, FeedError> {
    let text = charset::to_utf8(body, content_type);
    let is_json = text.trim_start().starts_with('{');
    let repaired = if is_json {
        repair::Repaired {
            text: Cow::Borrowed(text.as_ref()),
            repairs: Vec::new(),
            root: None,
            truncated: false,
        }
    } else {
        repair::repair(&text)
    };
    if repaired.truncated {
        return Err(FeedError::Malformed(
            "the document ends inside a tag: the transfer was cut off".to_owned(),
        ));
    }
    let doc = repaired.text.as_bytes();
    let parser = feed_rs::parser::Builder::new()
        .base_uri(Some(base.as_str()))
        // An empty id marks "the feed gave none": feed-rs would otherwise invent
        // one (a random UUID when there is no link) that changes on every poll.
        .id_generator(|_, _, _| String::new())
        .build();
    let feed = match parser.parse(doc).or_else(|e| {
        is_json
            .then(|| json::normalize(&text))
            .flatten()
            .and_then(|j| parser.parse(j.as_bytes()).ok())
            .ok_or(e)
    }) {
        Ok(f) => f,
        Err(e) => {
            if looks_like_html(doc) {
                return Err(FeedError::Html {
                    discovered: discover_feed_links(&repaired.text, base),
                });
            }
            return Err(FeedError::Malformed(refusal(&e, repaired.root.as_deref())));
        }
    };
    let is_rss = matches!(
        feed.feed_type,
        feed_rs::model::FeedType::RSS2 | feed_rs::model::FeedType::RSS0
    );
    // feed-rs reads no `dc:title` in RSS 1.0 items either.
    let is_rdf = feed.feed_type == feed_rs::model::FeedType::RSS1;
    let (extras, channel_dc_title) = if is_rss || is_rdf {
        rss_item_extras(doc)
    } else {
        (Vec::new(), None)
    };
    let extras_align = extras.len() == feed.entries.len();
    // Atom and JSON Feed say whether a text is HTML; RSS does not.
    let typed = !is_rss && feed.feed_type != feed_rs::model::FeedType::RSS1;
    let entries = feed
        .entries
        .into_iter()
        .take(max_entries)
        .enumerate()
        .map(|(i, e)| {
            let extra = if extras_align {
                ItemExtras {
                    // RSS 1.0 has no guid to be a permalink.
                    permalink_guid: is_rss && extras[i].permalink_guid,
                    ..extras[i].clone()
                }
            } else {
                ItemExtras {
                    permalink_guid: is_rss,
                    ..ItemExtras::default()
                }
            };
            convert_entry(e, base, extra, typed)
        })
        .collect();
    Ok(ParsedFeed {
        title: feed
            .title
            .map(|t| text_construct(&t, typed))
            .or_else(|| channel_dc_title.as_deref().map(untyped_text))
            .map(|t| clip(&t, MAX_TITLE_CHARS))
            .filter(|t| !t.is_empty()),
        site_url: feed
            .links
            .iter()
            .find(|l| is_alternate(l))
            .map(|l| l.href.clone()),
        ttl_minutes: feed.ttl,
        entries,
        repairs: repaired.repairs,
    })
}

/// What was wrong, in place of feed-rs's "no root element".
fn refusal(e: &feed_rs::parser::ParseFeedError, root: Option<&str>) -> String {
    use feed_rs::parser::{ParseErrorKind, ParseFeedError};
    if !matches!(e, ParseFeedError::ParseError(ParseErrorKind::NoFeedRoot)) {
        return e.to_string();
    }
    match root {
        Some(r) if r.eq_ignore_ascii_case("channel") => {
            "not a supported feed: the root element is <CHANNEL>, a Channel Definition Format (CDF) document".to_owned()
        }
        Some(r) => format!(
            "not a feed: the root element is <{r}>, not <rss>, <rdf:RDF>, <feed> or <entry>"
        ),
        None => "not a feed: the document has no XML element and is not JSON".to_owned(),
    }
}

/// The article's own page: `alternate`, or a link without `rel`.
fn is_alternate(link: &feed_rs::model::Link) -> bool {
    link.rel
        .as_deref()
        .is_none_or(|r| r.trim().is_empty() || r.trim().eq_ignore_ascii_case("alternate"))
}

fn convert_entry(
    e: feed_rs::model::Entry,
    base: &Url,
    extra: ItemExtras,
    typed: bool,
) -> ParsedEntry {
    let web = |u: &Url| matches!(u.scheme(), "http" | "https");
    // Other links (enclosures, licences, replies, self) are not the article:
    // taken as its URL, they would merge distinct entries.
    let link = e
        .links
        .iter()
        .filter(|l| is_alternate(l))
        .find_map(|l| base.join(l.href.trim()).ok().filter(web))
        .or_else(|| {
            extra
                .permalink_guid
                .then(|| Url::parse(e.id.trim()).ok().filter(web))
                .flatten()
        })
        .map(String::from);
    let summary_html = e
        .summary
        .as_ref()
        .map(|t| t.content.clone())
        .or_else(|| e.content.as_ref().and_then(|c| c.body.clone()))
        .filter(|s| !s.trim().is_empty());
    let summary = summary_html
        .as_deref()
        .map(html_to_text)
        .filter(|s| !s.is_empty())
        .map(|s| clip(&s, MAX_SUMMARY_CHARS));
    ParsedEntry {
        guid: Some(e.id.trim().to_owned()).filter(|s| !s.is_empty()),
        link,
        title: e
            .title
            .map(|t| text_construct(&t, typed))
            .or_else(|| extra.dc_title.as_deref().map(untyped_text))
            .map(|t| clip(&t, MAX_TITLE_CHARS))
            .filter(|t| !t.is_empty()),
        summary,
        summary_html: summary_html.map(|s| clip(&s, MAX_SUMMARY_CHARS * 4)),
        published_at: e
            .published
            .or(e.updated)
            .or_else(|| extra.date.as_deref().and_then(date::parse)),
        authors: e
            .authors
            .into_iter()
            .map(|p| clean_text(&p.name))
            .filter(|n| !n.is_empty())
            .collect(),
        source_name: extra
            .source_name
            .map(|s| clean_text(&s))
            .filter(|s| !s.is_empty()),
        source_url: extra.source_url,
    }
}

/// What feed-rs drops from an RSS `<item>`.
#[derive(Debug, Clone, Default)]
struct ItemExtras {
    /// `<source>` text: the publisher's name.
    source_name: Option<String>,
    /// `<source url>`: the publisher's homepage.
    source_url: Option<String>,
    /// The `<guid>` may be the article URL: `isPermaLink` is absent or true.
    permalink_guid: bool,
    /// `<dc:title>`, for items without a `<title>`.
    dc_title: Option<String>,
    /// `<dc:date>` (which feed-rs reads only in RSS 1.0 and 2.0) or
    /// `<atom:published>`, else `<atom:updated>`.
    date: Option<String>,
}

/// The namespaces of the item children newsd reads besides RSS's own.
#[derive(Clone, Copy, PartialEq)]
enum Ns {
    DublinCore,
    Atom,
    /// None, RSS's, or one newsd does not read.
    Other,
}

/// The item child whose text is being read.
#[derive(Clone, Copy, PartialEq)]
enum Capture {
    Source,
    DcTitle,
    /// The channel's own `dc:title`, for a channel without a `<title>`.
    ChannelDcTitle,
    /// A publication date.
    Date,
    /// `atom:updated`, which a publication date replaces.
    Updated,
}

/// [`ItemExtras`] of each RSS or RDF `<item>`, in document order, and the
/// channel's `dc:title` (which feed-rs does not read either).
fn rss_item_extras(body: &[u8]) -> (Vec<ItemExtras>, Option<String>) {
    let mut reader = quick_xml::Reader::from_reader(body);
    let mut out = Vec::new();
    let mut buf = Vec::new();
    // Prefixes the root binds, where feeds declare their namespaces: resolving
    // each element's namespace (`NsReader`) costs 5 % of the whole parse.
    let mut prefixes: Option<Vec<(Vec<u8>, Ns)>> = None;
    let mut in_item = false;
    // Inside `<image>` or `<textinput>`, whose `dc:title` names that, not the channel.
    let mut in_aside = false;
    let mut channel_title = None;
    // What is being read and the local name that ends it.
    let mut capture: Option<(Capture, Vec<u8>)> = None;
    let mut text = String::new();
    let mut updated = None;
    let mut current = ItemExtras::default();
    while let Ok(event) = reader.read_event_into(&mut buf) {
        let start = matches!(event, Event::Start(_));
        match event {
            Event::Start(ref e) | Event::Empty(ref e) => {
                let bound = prefixes.get_or_insert_with(|| root_prefixes(e));
                let ns = e.name().prefix().map_or(Ns::Other, |p| {
                    bound
                        .iter()
                        .find(|(name, _)| name.as_slice() == p.as_ref())
                        .map_or(Ns::Other, |&(_, ns)| ns)
                });
                let local = e.local_name();
                let what = match (ns, local.as_ref()) {
                    (_, b"item") if start => {
                        in_item = true;
                        updated = None;
                        current = ItemExtras {
                            permalink_guid: true,
                            ..ItemExtras::default()
                        };
                        None
                    }
                    (_, b"image" | b"textinput" | b"textInput") if start && !in_item => {
                        in_aside = true;
                        None
                    }
                    _ if capture.is_some() => None,
                    (Ns::DublinCore, b"title") if !in_item && !in_aside => {
                        Some(Capture::ChannelDcTitle)
                    }
                    _ if !in_item => None,
                    (Ns::Other, b"guid") => {
                        current.permalink_guid = e
                            .try_get_attribute("isPermaLink")
                            .ok()
                            .flatten()
                            .is_none_or(|a| !a.value.trim_ascii().eq_ignore_ascii_case(b"false"));
                        None
                    }
                    (Ns::Other, b"source") => {
                        current.source_url = e
                            .try_get_attribute("url")
                            .ok()
                            .flatten()
                            .map(|a| decode_entities(String::from_utf8_lossy(&a.value).trim()));
                        Some(Capture::Source)
                    }
                    (Ns::DublinCore, b"title") => Some(Capture::DcTitle),
                    (Ns::DublinCore, b"date") | (Ns::Atom, b"published") => Some(Capture::Date),
                    (Ns::Atom, b"updated") => Some(Capture::Updated),
                    _ => None,
                };
                if let Some(w) = what.filter(|_| start) {
                    capture = Some((w, local.as_ref().to_vec()));
                }
            }
            Event::Text(t) if capture.is_some() => {
                if let Ok(t) = t.decode() {
                    text.push_str(&t);
                }
            }
            Event::GeneralRef(r) if capture.is_some() => {
                if let Ok(name) = r.decode() {
                    text.push_str(&decode_entities(&format!("&{name};")));
                }
            }
            Event::CData(t) if capture.is_some() => {
                text.push_str(&String::from_utf8_lossy(&t));
            }
            Event::End(e) => {
                let local = e.local_name();
                if let Some((what, _)) = capture.take_if(|(_, n)| n == local.as_ref()) {
                    // An empty element must not hide a later one (`atom:updated`).
                    let value = Some(std::mem::take(&mut text)).filter(|t| !t.trim().is_empty());
                    let slot = match what {
                        Capture::Source => &mut current.source_name,
                        Capture::DcTitle => &mut current.dc_title,
                        Capture::ChannelDcTitle => &mut channel_title,
                        Capture::Date => &mut current.date,
                        Capture::Updated => &mut updated,
                    };
                    if slot.is_none() {
                        *slot = value;
                    }
                } else if matches!(local.as_ref(), b"image" | b"textinput" | b"textInput") {
                    in_aside = false;
                } else if local.as_ref() == b"item" && in_item {
                    in_item = false;
                    capture = None;
                    text.clear();
                    current.date = current.date.take().or(updated.take());
                    out.push(std::mem::take(&mut current));
                }
            }
            Event::Eof => break,
            _ => {}
        }
        buf.clear();
    }
    (out, channel_title)
}

/// The Dublin Core and Atom prefixes an element declares.
fn root_prefixes(e: &quick_xml::events::BytesStart<'_>) -> Vec<(Vec<u8>, Ns)> {
    e.attributes()
        .flatten()
        .filter_map(|a| {
            let prefix = a.key.as_ref().strip_prefix(b"xmlns:")?;
            let ns = match a.value.trim_ascii() {
                b"http://purl.org/dc/elements/1.1/" => Ns::DublinCore,
                b"http://www.w3.org/2005/Atom" => Ns::Atom,
                _ => return None,
            };
            Some((prefix.to_vec(), ns))
        })
        .collect()
}

fn looks_like_html(body: &[u8]) -> bool {
    let head = &body[..body.len().min(2048)];
    let head = String::from_utf8_lossy(head).to_ascii_lowercase();
    head.contains("<html") || head.contains("<!doctype html")
}

/// Feed links advertised by an HTML page (`<link rel="alternate" type="application/rss+xml">`).
pub fn discover_feed_links(html: &str, base: &Url) -> Vec<String> {
    let mut found = Vec::new();
    let lower = html.to_ascii_lowercase();
    let mut pos = 0;
    while let Some(i) = lower[pos..].find("<link") {
        let start = pos + i;
        let end = lower[start..].find('>').map_or(lower.len(), |e| start + e);
        let tag = &html[start..end];
        let rel = attr(tag, "rel").unwrap_or_default().to_ascii_lowercase();
        let ty = attr(tag, "type").unwrap_or_default().to_ascii_lowercase();
        if rel.split_whitespace().any(|r| r == "alternate")
            && (ty.contains("rss") || ty.contains("atom") || ty.contains("feed+json"))
        {
            if let Some(href) = attr(tag, "href").and_then(|h| base.join(&h).ok()) {
                let href = href.to_string();
                if !found.contains(&href) {
                    found.push(href);
                }
            }
        }
        pos = end;
    }
    found
}

/// A quoted or bare attribute value from one tag's source text.
fn attr(tag: &str, name: &str) -> Option<String> {
    let lower = tag.to_ascii_lowercase();
    let mut from = 0;
    while let Some(i) = lower[from..].find(name) {
        let at = from + i;
        from = at + name.len();
        let before_ok = at > 0 && lower.as_bytes()[at - 1].is_ascii_whitespace();
        let rest = lower[from..].trim_start();
        if !before_ok || !rest.starts_with('=') {
            continue;
        }
        let offset = tag.len() - rest.len() + 1;
        let value = tag[offset..].trim_start();
        let (v, _) = match value.chars().next() {
            Some(q @ ('"' | '\'')) => {
                let inner = &value[1..];
                let end = inner.find(q).unwrap_or(inner.len());
                (&inner[..end], ())
            }
            _ => {
                let end = value
                    .find(|c: char| c.is_whitespace() || c == '>' || c == '/')
                    .unwrap_or(value.len());
                (&value[..end], ())
            }
        };
        return Some(decode_entities(v));
    }
    None
}

/// HTML fragment to plain text: tags dropped, block ends become line breaks,
/// entities decoded, whitespace collapsed.
pub fn html_to_text(html: &str) -> String {
    if !html.contains('<') && !html.contains('&') {
        return clean_text(html);
    }
    let mut out = String::with_capacity(html.len());
    let mut rest = html;
    while let Some(lt) = rest.find('<') {
        out.push_str(&rest[..lt]);
        let after = &rest[lt..];
        // As in the HTML tokenizer, only `<` before a letter, `/` or `!`
        // opens markup; any other is the character itself ("x < y").
        if !starts_markup(&after[1..]) {
            out.push('<');
            rest = &after[1..];
            continue;
        }
        let gt = match after.find('>') {
            Some(g) => g,
            None => {
                out.push_str(after);
                rest = "";
                break;
            }
        };
        let tag = after[1..gt].trim_start_matches('/').to_ascii_lowercase();
        let name: String = tag
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric())
            .collect();
        if matches!(name.as_str(), "script" | "style") && !after[1..].starts_with('/') {
            let close = format!("</{name}");
            let lower_after = after.to_ascii_lowercase();
            match lower_after.find(&close) {
                Some(c) => {
                    let end = lower_after[c..]
                        .find('>')
                        .map_or(after.len(), |e| c + e + 1);
                    rest = &after[end..];
                }
                None => rest = "",
            }
            continue;
        }
        if matches!(
            name.as_str(),
            "p" | "br"
                | "div"
                | "li"
                | "tr"
                | "h1"
                | "h2"
                | "h3"
                | "h4"
                | "h5"
                | "h6"
                | "blockquote"
        ) {
            out.push('\n');
        } else if matches!(name.as_str(), "img" | "td" | "th" | "hr" | "dd" | "dt") {
            // Cells and images separate words; phrasing and unknown elements
            // sit inside them (`H<sub>2</sub>O`).
            out.push(' ');
        }
        rest = &after[gt + 1..];
    }
    out.push_str(rest);
    let decoded = decode_entities(&out);
    decoded
        .lines()
        .map(clean_text)
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join("\n")
}

fn starts_markup(after_lt: &str) -> bool {
    match after_lt.as_bytes() {
        [b'/', c, ..] => c.is_ascii_alphabetic(),
        [b'!' | b'?', ..] => true,
        [c, ..] => c.is_ascii_alphabetic(),
        [] => false,
    }
}

/// Phrasing elements, which mark up words rather than separate them.
fn is_inline(name: &str) -> bool {
    matches!(
        name,
        "a" | "abbr"
            | "b"
            | "bdi"
            | "bdo"
            | "big"
            | "cite"
            | "code"
            | "del"
            | "dfn"
            | "em"
            | "font"
            | "i"
            | "ins"
            | "kbd"
            | "mark"
            | "q"
            | "s"
            | "samp"
            | "small"
            | "span"
            | "strike"
            | "strong"
            | "sub"
            | "sup"
            | "time"
            | "tt"
            | "u"
            | "var"
    )
}

/// Plain text of a title: an HTML construct reduced to text, a plain-text
/// one kept as written ("Use the <br> element"). RSS does not say which its
/// titles are, so there markup that parses as HTML decides, as in feedparser.
fn text_construct(t: &feed_rs::model::Text, typed: bool) -> String {
    if !typed {
        return untyped_text(&t.content);
    }
    if t.content_type.subty().as_str() == "html" {
        return title_from_html(&t.content);
    }
    clean_text(&decode_entities(&t.content))
}

fn untyped_text(s: &str) -> String {
    if looks_like_markup(s) {
        return title_from_html(s);
    }
    let decoded = decode_entities(s);
    // Escaped twice (`&amp;lt;b&amp;gt;`, or escaped inside CDATA): still markup.
    if looks_like_markup(&decoded) {
        return title_from_html(&decoded);
    }
    clean_text(&decoded)
}

/// A title is one line: the line breaks the HTML-to-text pass makes of
/// `<br>` and block ends would show as a title broken in two in any list.
fn title_from_html(s: &str) -> String {
    clean_text(&html_to_text(s))
}

/// An untyped text with an HTML element in it.
fn looks_like_markup(s: &str) -> bool {
    s.match_indices('<').any(|(i, _)| {
        let tag = s[i + 1..].strip_prefix('/').unwrap_or(&s[i + 1..]);
        let len = tag.bytes().take_while(u8::is_ascii_alphanumeric).count();
        len > 0
            && tag[len..].starts_with(['>', ' ', '/'])
            && html_element(&tag[..len].to_ascii_lowercase())
    })
}

fn html_element(name: &str) -> bool {
    is_inline(name)
        || matches!(
            name,
            "p" | "br"
                | "div"
                | "img"
                | "li"
                | "ul"
                | "ol"
                | "h1"
                | "h2"
                | "h3"
                | "h4"
                | "h5"
                | "h6"
                | "blockquote"
                | "script"
                | "style"
                | "iframe"
                | "table"
                | "tr"
                | "td"
                | "hr"
                | "pre"
        )
}

/// Whitespace runs (including pretty-printer indentation) folded to one
/// space; control characters, which no reader can show, removed.
pub fn clean_text(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut space = false;
    for c in s.chars() {
        if c.is_whitespace() {
            space = !out.is_empty();
        } else if !c.is_control() {
            if space {
                out.push(' ');
                space = false;
            }
            out.push(c);
        }
    }
    out
}

fn clip(s: &str, max_chars: usize) -> String {
    match s.char_indices().nth(max_chars) {
        Some((i, _)) => s[..i].to_owned(),
        None => s.to_owned(),
    }
}

/// Named (the whole HTML5 table) and numeric character references decoded;
/// unknown names are kept as written.
pub fn decode_entities(s: &str) -> String {
    if !s.contains('&') {
        return s.to_owned();
    }
    html_escape::decode_html_entities(s).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn base() -> Url {
        Url::parse("https://example.com/feed.xml").unwrap()
    }

    #[test]
    fn rss_entries_without_guid_get_no_invented_id() {
        let xml = br#"<?xml version="1.0"?><rss version="2.0"><channel><title>T</title>
            <item><title>No guid, no link</title><pubDate>Mon, 02 Nov 2026 10:00:00 GMT</pubDate></item>
            <item><title>Has guid</title><guid>abc</guid><link>/a/1</link></item>
            </channel></rss>"#;
        let f = parse_feed(xml, &base(), 100).unwrap();
        assert_eq!(f.entries[0].guid, None);
        assert_eq!(f.entries[0].link, None);
        assert_eq!(f.entries[1].guid.as_deref(), Some("abc"));
        assert_eq!(
            f.entries[1].link.as_deref(),
            Some("https://example.com/a/1")
        );
        let again = parse_feed(xml, &base(), 100).unwrap();
        assert_eq!(f, again);
    }

    #[test]
    fn rss_source_element_gives_publisher_name_and_homepage() {
        let xml = br#"<rss version="2.0"><channel><title>G</title>
            <item><title>Headline - Reuters</title><guid>x1</guid>
            <source url="https://www.reuters.com">Reuters</source></item>
            <item><title>Other</title><guid>x2</guid></item></channel></rss>"#;
        let f = parse_feed(xml, &base(), 100).unwrap();
        assert_eq!(f.entries[0].source_name.as_deref(), Some("Reuters"));
        assert_eq!(
            f.entries[0].source_url.as_deref(),
            Some("https://www.reuters.com")
        );
        assert_eq!(f.entries[1].source_name, None);
    }

    #[test]
    fn dublin_core_is_known_by_its_namespace_not_its_prefix_and_an_empty_date_hides_none() {
        let xml = br#"<rss version="2.0" xmlns:purl="http://purl.org/dc/elements/1.1/" xmlns:media="http://search.yahoo.com/mrss/" xmlns:atom="http://www.w3.org/2005/Atom"><channel><title>T</title>
            <item><guid>1</guid><purl:title>Bound to another prefix</purl:title><purl:date>2004-07-08</purl:date></item>
            <item><guid>2</guid><media:title>A video's title</media:title><purl:date> </purl:date><atom:updated>2004-07-09T00:00:00Z</atom:updated></item>
            </channel></rss>"#;
        let f = parse_feed(xml, &base(), 100).unwrap();
        assert_eq!(
            f.entries[0].title.as_deref(),
            Some("Bound to another prefix")
        );
        assert_eq!(
            f.entries[0].published_at.map(|d| d.to_rfc3339()),
            Some("2004-07-08T00:00:00+00:00".to_owned())
        );
        assert_eq!(f.entries[1].title, None);
        assert_eq!(
            f.entries[1].published_at.map(|d| d.to_rfc3339()),
            Some("2004-07-09T00:00:00+00:00".to_owned())
        );
    }

    #[test]
    fn atom_and_json_feed_parse() {
        let atom = br#"<?xml version="1.0"?><feed xmlns="http://www.w3.org/2005/Atom"><title>A</title><id>urn:a</id>
            <entry><id>urn:e1</id><title>E1</title><link href="https://example.com/e1"/><updated>2026-11-01T00:00:00Z</updated>
            <summary type="html">&lt;p&gt;Hello &amp;amp; bye&lt;/p&gt;</summary></entry></feed>"#;
        let f = parse_feed(atom, &base(), 100).unwrap();
        assert_eq!(f.entries[0].guid.as_deref(), Some("urn:e1"));
        assert_eq!(f.entries[0].summary.as_deref(), Some("Hello & bye"));
        let json = br#"{"version":"https://jsonfeed.org/version/1.1","title":"J","items":[{"id":"1","url":"https://example.com/j1","title":"J1","content_text":"body"}]}"#;
        let f = parse_feed(json, &base(), 100).unwrap();
        assert_eq!(f.entries[0].link.as_deref(), Some("https://example.com/j1"));
    }

    #[test]
    fn malformed_xml_is_an_error_not_a_panic() {
        let err = parse_feed(b"<rss><channel><item><title>x</tit", &base(), 10).unwrap_err();
        assert!(matches!(err, FeedError::Malformed(_)), "{err}");
    }

    #[test]
    fn an_html_page_names_the_feeds_it_links_to() {
        let html = br#"<!DOCTYPE html><html><head>
            <link rel="alternate" type="application/rss+xml" title="RSS" href="/rss.xml">
            <link rel='alternate' type='application/atom+xml' href='https://example.com/atom'>
            <link rel="stylesheet" href="/s.css"></head><body>hi</body></html>"#;
        let err = parse_feed(html, &base(), 10).unwrap_err();
        match &err {
            FeedError::Html { discovered } => assert_eq!(
                discovered,
                &vec![
                    "https://example.com/rss.xml".to_owned(),
                    "https://example.com/atom".to_owned()
                ]
            ),
            other => panic!("unexpected {other}"),
        }
        assert!(err.to_string().contains("https://example.com/rss.xml"));
    }

    #[test]
    fn entry_cap_and_length_caps_bound_hostile_feeds() {
        let mut xml = String::from("<rss version=\"2.0\"><channel><title>T</title>");
        for i in 0..50 {
            xml.push_str(&format!(
                "<item><guid>{i}</guid><title>{}</title></item>",
                "x".repeat(5000)
            ));
        }
        xml.push_str("</channel></rss>");
        let f = parse_feed(xml.as_bytes(), &base(), 10).unwrap();
        assert_eq!(f.entries.len(), 10);
        assert_eq!(
            f.entries[0].title.as_ref().map(|t| t.chars().count()),
            Some(MAX_TITLE_CHARS)
        );
    }

    #[test]
    fn an_ampersand_before_multibyte_text_does_not_panic() {
        assert_eq!(
            decode_entities("&nbsp; 朝日新聞デジタル"),
            "\u{a0} 朝日新聞デジタル"
        );
        assert_eq!(decode_entities("& 日本語テキスト"), "& 日本語テキスト");
    }

    #[test]
    fn html_to_text_drops_tags_scripts_and_decodes_entities() {
        assert_eq!(
            html_to_text("<p>A &amp; B</p><script>evil()</script><p>C&#233;&#x41;</p>"),
            "A & B\nCéA"
        );
        assert_eq!(html_to_text("plain  text"), "plain text");
        assert_eq!(html_to_text("a < b"), "a < b");
    }

    #[test]
    fn html_to_text_keeps_a_less_than_that_opens_no_tag_and_inline_words_together() {
        assert_eq!(
            html_to_text("Is x < y? Ask the <<experts>>"),
            "Is x < y? Ask the <>"
        );
        assert_eq!(
            html_to_text("H<sub>2</sub>O is <b>water</b>"),
            "H2O is water"
        );
    }

    #[test]
    fn control_characters_other_than_whitespace_are_removed() {
        assert_eq!(
            clean_text("Bell\u{7} and\u{1b} escape\tend"),
            "Bell and escape end"
        );
    }

    #[test]
    fn the_whole_html5_entity_table_is_decoded() {
        assert_eq!(
            decode_entities("Caf&eacute; na&iuml;ve &frac12; &hearts; &bogus;"),
            "Café naïve ½ ♥ &bogus;"
        );
    }
}
