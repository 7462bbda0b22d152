//! Page metadata from JSON-LD, OpenGraph/meta tags and `<time>` elements.

use chrono::{DateTime, NaiveDate, NaiveDateTime, TimeZone, Utc};
use dom_query::Document;
use serde_json::Value;
use url::Url;

use super::dom::select_nodes;
use super::sanitize::safe_url;

#[derive(Debug, Default, Clone)]
pub(crate) struct Metadata {
    pub title: Option<String>,
    pub authors: Vec<String>,
    pub published_at: Option<DateTime<Utc>>,
    pub modified_at: Option<DateTime<Utc>>,
    pub language: Option<String>,
    pub lead_image: Option<String>,
    pub canonical_url: Option<String>,
    pub site_name: Option<String>,
    pub description: Option<String>,
    /// JSON-LD `articleBody`, a fallback when the DOM has no usable article.
    pub article_body: Option<String>,
    /// A live blog's updates or a discussion's posts from JSON-LD, as
    /// paragraphs in the page's order; empty on other pages.
    pub entries: Vec<String>,
    /// The page declares itself an article (`og:type` article): readability's
    /// single container is then trusted over the whole main region.
    pub declares_article: bool,
    /// Every JSON-LD `@type` of the page's top-level objects (arrays,
    /// `@graph` and `mainEntity` flattened), without the schema.org prefix:
    /// the strongest signal of what kind of page this is.
    pub ld_types: Vec<String>,
    /// `og:type`, lower-cased.
    pub og_type: Option<String>,
    /// `<meta name=generator>`, lower-cased: forum and documentation engines
    /// name themselves there.
    pub generator: Option<String>,
}

/// What the JSON-LD blocks told us about the main article.
#[derive(Debug, Default)]
struct LdInfo {
    headline: Option<String>,
    authors: Vec<String>,
    published: Option<String>,
    modified: Option<String>,
    image: Option<String>,
    publisher: Option<String>,
    description: Option<String>,
    language: Option<String>,
    url: Option<String>,
    body: Option<String>,
    types: Vec<String>,
    entries: Vec<String>,
}

fn clean(s: &str) -> Option<String> {
    let s = s.split_whitespace().collect::<Vec<_>>().join(" ");
    (!s.is_empty()).then_some(s)
}

/// All `<meta>` key/content pairs, collected in one pass: looking each key
/// up with its own selector would walk the document dozens of times.
struct MetaTags(Vec<(String, String)>);

impl MetaTags {
    fn collect(doc: &Document) -> Self {
        let mut v = Vec::new();
        for n in select_nodes(doc, "meta[content]") {
            let Some(content) = n.attr("content").and_then(|c| clean(&c)) else {
                continue;
            };
            for attr in ["property", "name", "itemprop", "http-equiv"] {
                if let Some(k) = n.attr(attr) {
                    v.push((k.trim().to_ascii_lowercase(), content.clone()));
                }
            }
        }
        MetaTags(v)
    }

    /// First value for the highest-priority key present.
    fn get(&self, keys: &[&str]) -> Option<String> {
        keys.iter().find_map(|k| {
            self.0
                .iter()
                .find(|(key, _)| key.eq_ignore_ascii_case(k))
                .map(|(_, v)| v.clone())
        })
    }

    fn all(&self, key: &str) -> Vec<String> {
        self.0
            .iter()
            .filter(|(k, _)| k.eq_ignore_ascii_case(key))
            .map(|(_, v)| v.clone())
            .collect()
    }
}

/// Accepts the date shapes found in the wild: RFC 3339 with or without
/// offset/fraction, space-separated, date-only, RFC 2822.
pub(crate) fn parse_date(s: &str) -> Option<DateTime<Utc>> {
    // CMS placeholders such as 0001-01-01 are "no date", not a date.
    parse_date_any(s).filter(|d| chrono::Datelike::year(d) >= 1990)
}

fn parse_date_any(s: &str) -> Option<DateTime<Utc>> {
    let s = s.trim();
    if s.is_empty() {
        return None;
    }
    if let Ok(d) = DateTime::parse_from_rfc3339(s) {
        return Some(d.with_timezone(&Utc));
    }
    if let Ok(d) = DateTime::parse_from_rfc2822(s) {
        return Some(d.with_timezone(&Utc));
    }
    for fmt in [
        "%Y-%m-%dT%H:%M:%S%.f%z",
        "%Y-%m-%dT%H:%M:%S%z",
        "%Y-%m-%dT%H:%M%z",
        "%Y-%m-%d %H:%M:%S%.f%z",
        "%Y-%m-%d %H:%M:%S %z",
        "%Y-%m-%d %H:%M:%S%z",
    ] {
        if let Ok(d) = DateTime::parse_from_str(s, fmt) {
            return Some(d.with_timezone(&Utc));
        }
    }
    // No offset: UTC is the least-wrong assumption for an archive.
    for fmt in [
        "%Y-%m-%dT%H:%M:%S%.f",
        "%Y-%m-%dT%H:%M:%S",
        "%Y-%m-%dT%H:%M",
        "%Y-%m-%d %H:%M:%S%.f",
        "%Y-%m-%d %H:%M:%S",
        "%Y-%m-%d %H:%M",
    ] {
        if let Ok(d) = NaiveDateTime::parse_from_str(s, fmt) {
            return Some(Utc.from_utc_datetime(&d));
        }
    }
    let date_part = s.get(..10).unwrap_or(s);
    for fmt in ["%Y-%m-%d", "%Y/%m/%d", "%Y%m%d"] {
        if let Ok(d) = NaiveDate::parse_from_str(date_part, fmt) {
            return d.and_hms_opt(0, 0, 0).map(|dt| Utc.from_utc_datetime(&dt));
        }
    }
    None
}

fn is_article_type(v: &Value) -> bool {
    let check = |t: &str| {
        let t = t.rsplit('/').next().unwrap_or(t);
        t.ends_with("Article")
            || matches!(
                t,
                "BlogPosting" | "LiveBlogPosting" | "Report" | "SocialMediaPosting" | "WebPage"
            )
    };
    match v.get("@type") {
        Some(Value::String(t)) => check(t),
        Some(Value::Array(ts)) => ts.iter().filter_map(Value::as_str).any(check),
        _ => false,
    }
}

fn is_webpage_only(v: &Value) -> bool {
    matches!(v.get("@type"), Some(Value::String(t)) if t == "WebPage")
}

fn str_of(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => clean(s),
        Value::Number(n) => Some(n.to_string()),
        Value::Array(a) => a.iter().find_map(str_of),
        Value::Object(o) => o
            .get("name")
            .or_else(|| o.get("url"))
            .or_else(|| o.get("@value"))
            .and_then(str_of),
        _ => None,
    }
}

fn image_of(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => clean(s),
        Value::Array(a) => a.iter().find_map(image_of),
        Value::Object(o) => o
            .get("url")
            .or_else(|| o.get("contentUrl"))
            .and_then(image_of),
        _ => None,
    }
}

fn names_of(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::String(s) => {
            if let Some(s) = clean(s) {
                out.push(s);
            }
        }
        Value::Array(a) => a.iter().for_each(|x| names_of(x, out)),
        Value::Object(o) => {
            if let Some(n) = o.get("name").and_then(str_of) {
                out.push(n);
            }
        }
        _ => {}
    }
}

/// Collects candidate objects, flattening arrays and `@graph`.
fn collect_objects<'a>(v: &'a Value, out: &mut Vec<&'a Value>) {
    match v {
        Value::Array(a) => a.iter().for_each(|x| collect_objects(x, out)),
        Value::Object(o) => {
            out.push(v);
            if let Some(g) = o.get("@graph") {
                collect_objects(g, out);
            }
            if let Some(m) = o.get("mainEntity") {
                collect_objects(m, out);
            }
        }
        _ => {}
    }
}

/// Publishers routinely emit JSON-LD with trailing commas, raw newlines in
/// strings or HTML comment/CDATA wrappers; repair the common cases.
fn parse_lenient(raw: &str) -> Option<Value> {
    let trimmed = raw
        .trim()
        .trim_start_matches("<!--")
        .trim_end_matches("-->")
        .trim()
        .trim_start_matches("//<![CDATA[")
        .trim_end_matches("//]]>")
        .trim();
    if let Ok(v) = serde_json::from_str(trimmed) {
        return Some(v);
    }
    let mut fixed = String::with_capacity(trimmed.len());
    let mut in_str = false;
    let mut escaped = false;
    let chars: Vec<char> = trimmed.chars().collect();
    for (i, &c) in chars.iter().enumerate() {
        if in_str {
            match c {
                _ if escaped => escaped = false,
                '\\' => escaped = true,
                '"' => in_str = false,
                '\n' | '\r' | '\t' => {
                    fixed.push(' ');
                    continue;
                }
                _ => {}
            }
            fixed.push(c);
            continue;
        }
        match c {
            '"' => in_str = true,
            ',' => {
                // Drop a comma that is directly followed by a closer.
                let next = chars[i + 1..].iter().find(|c| !c.is_whitespace());
                if matches!(next, Some('}') | Some(']')) {
                    continue;
                }
            }
            _ => {}
        }
        fixed.push(c);
    }
    if let Ok(v) = serde_json::from_str(&fixed) {
        return Some(v);
    }
    // Several objects concatenated without an enclosing array.
    let stream = serde_json::Deserializer::from_str(&fixed).into_iter::<Value>();
    let items: Vec<Value> = stream.map_while(Result::ok).collect();
    (!items.is_empty()).then_some(Value::Array(items))
}

fn json_ld(doc: &Document) -> LdInfo {
    let mut info = LdInfo::default();
    let mut values = Vec::new();
    for n in select_nodes(doc, "script[type=\"application/ld+json\" i]") {
        if let Some(v) = parse_lenient(&n.text()) {
            values.push(v);
        }
    }
    let mut objects = Vec::new();
    for v in &values {
        collect_objects(v, &mut objects);
    }
    for o in &objects {
        let types = match o.get("@type") {
            Some(Value::String(t)) => vec![t.as_str()],
            Some(Value::Array(ts)) => ts.iter().filter_map(Value::as_str).collect(),
            _ => Vec::new(),
        };
        for t in types {
            let t = t.rsplit('/').next().unwrap_or(t);
            info.types.push(t.to_string());
        }
    }
    info.entries = super::entries::from_ld(&objects);
    // Prefer a real article type over a generic WebPage.
    let best = objects
        .iter()
        .find(|o| is_article_type(o) && !is_webpage_only(o))
        .or_else(|| objects.iter().find(|o| is_article_type(o)));
    if let Some(o) = best {
        info.headline = o.get("headline").or_else(|| o.get("name")).and_then(str_of);
        if let Some(a) = o.get("author").or_else(|| o.get("creator")) {
            names_of(a, &mut info.authors);
        }
        info.published = o
            .get("datePublished")
            .or_else(|| o.get("dateCreated"))
            .and_then(str_of);
        info.modified = o.get("dateModified").and_then(str_of);
        info.image = o
            .get("image")
            .or_else(|| o.get("thumbnailUrl"))
            .and_then(image_of);
        info.publisher = o
            .get("publisher")
            .and_then(|p| p.get("name"))
            .and_then(str_of);
        info.description = o.get("description").and_then(str_of);
        info.language = o.get("inLanguage").and_then(str_of);
        info.url = o.get("url").and_then(str_of).or_else(|| {
            o.get("mainEntityOfPage")
                .and_then(|m| m.get("@id").or_else(|| m.get("url")).or(Some(m)))
                .and_then(|m| m.as_str().and_then(clean))
        });
        info.body = o.get("articleBody").and_then(str_of);
    }
    if info.publisher.is_none() {
        info.publisher = objects
            .iter()
            .find(|o| {
                matches!(o.get("@type"), Some(Value::String(t)) if t == "WebSite" || t == "Organization" || t == "NewsMediaOrganization")
            })
            .and_then(|o| o.get("name"))
            .and_then(str_of);
    }
    info
}

/// Drops obvious non-names (profile URLs, emails, "Staff") and duplicates.
fn tidy_authors(raw: Vec<String>) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for a in raw {
        // Bylines often trail a handle, date or outlet: "Jane Doe @jd Nov 18,
        // 2019" or "Jane Doe | Outlet". Names carry no digits, so cut there.
        let cut = a
            .find(|c: char| c.is_ascii_digit() || matches!(c, '|' | '•' | '@' | '·'))
            .unwrap_or(a.len());
        let a = a[..cut]
            .trim()
            .trim_start_matches("By ")
            .trim_start_matches("by ")
            .trim()
            .trim_end_matches(|c: char| c == ',' || c == '-' || c.is_whitespace());
        if a.is_empty()
            || a.contains("://")
            || a.starts_with("www.")
            || a.chars().count() > 80
            || !a.chars().any(char::is_alphabetic)
        {
            continue;
        }
        if !out.iter().any(|o| o.eq_ignore_ascii_case(a)) {
            out.push(a.to_string());
        }
    }
    out
}

/// Strips a trailing " | Site" / " - Site" from `<title>`.
fn strip_site_suffix(title: &str, site: Option<&str>) -> String {
    for sep in [" | ", " - ", " – ", " — ", " :: ", " · "] {
        if let Some(idx) = title.rfind(sep) {
            let (head, tail) = (&title[..idx], &title[idx + sep.len()..]);
            let tail_is_site = site.is_some_and(|s| tail.trim().eq_ignore_ascii_case(s.trim()));
            if tail_is_site || (tail.split_whitespace().count() <= 4 && head.len() > tail.len()) {
                return head.trim().to_string();
            }
        }
    }
    title.trim().to_string()
}

pub(crate) fn extract_metadata(doc: &Document, base: Option<&Url>) -> Metadata {
    let ld = json_ld(doc);
    let tags = MetaTags::collect(doc);
    let mut m = Metadata {
        site_name: tags
            .get(&["og:site_name", "application-name"])
            .or(ld.publisher.clone())
            .map(|s| {
                // Some sites put their URL here; the host reads better.
                let bare = s
                    .trim_start_matches("https://")
                    .trim_start_matches("http://");
                bare.trim_start_matches("www.")
                    .trim_end_matches('/')
                    .to_string()
            }),
        ..Metadata::default()
    };

    let doc_title = select_nodes(doc, "head title")
        .first()
        .and_then(|n| clean(&n.text()));
    m.title = tags
        .get(&["og:title", "twitter:title"])
        .or(ld.headline.clone())
        .or_else(|| {
            doc_title
                .as_deref()
                .map(|t| strip_site_suffix(t, m.site_name.as_deref()))
        })
        .or_else(|| {
            select_nodes(doc, "h1")
                .first()
                .and_then(|n| clean(&n.text()))
        });

    let mut authors = ld.authors.clone();
    if authors.is_empty() {
        for key in [
            "author",
            "article:author",
            "byl",
            "dc.creator",
            "parsely-author",
            "sailthru.author",
        ] {
            authors.extend(tags.all(key));
        }
    }
    if authors.is_empty() {
        for n in select_nodes(
            doc,
            "[rel=\"author\"], [itemprop=\"author\"] [itemprop=\"name\"], [itemprop=\"author\"]",
        ) {
            if let Some(t) = clean(&n.text()) {
                authors.push(t);
                break;
            }
        }
    }
    m.authors = tidy_authors(authors);

    let time_el = select_nodes(doc, "time[datetime]")
        .first()
        .and_then(|n| n.attr("datetime"))
        .map(|s| s.to_string());
    m.published_at = ld
        .published
        .as_deref()
        .and_then(parse_date)
        .or_else(|| {
            tags.get(&[
                "article:published_time",
                "datePublished",
                "og:published_time",
                "pubdate",
                "publishdate",
                "publish-date",
                "date",
                "dc.date",
                "dc.date.issued",
                "sailthru.date",
                "parsely-pub-date",
            ])
            .as_deref()
            .and_then(parse_date)
        })
        .or_else(|| time_el.as_deref().and_then(parse_date));
    m.modified_at = ld.modified.as_deref().and_then(parse_date).or_else(|| {
        tags.get(&[
            "article:modified_time",
            "og:updated_time",
            "dateModified",
            "last-modified",
        ])
        .as_deref()
        .and_then(parse_date)
    });

    m.language = select_nodes(doc, "html")
        .first()
        .and_then(|n| n.attr("lang").or_else(|| n.attr("xml:lang")))
        .and_then(|l| clean(&l))
        .or_else(|| tags.get(&["og:locale", "content-language", "language"]))
        .or(ld.language.clone())
        .map(|l| l.replace('_', "-"));

    m.description = tags
        .get(&["og:description", "description", "twitter:description"])
        .or(ld.description.clone());

    m.lead_image = tags
        .get(&[
            "og:image",
            "og:image:url",
            "og:image:secure_url",
            "twitter:image",
            "twitter:image:src",
        ])
        .or(ld.image.clone())
        .and_then(|u| safe_url(&u, base));

    let canonical = select_nodes(doc, "link[rel~=\"canonical\" i][href]")
        .first()
        .and_then(|n| n.attr("href"))
        .map(|s| s.to_string());
    m.canonical_url = canonical
        .or_else(|| tags.get(&["og:url"]))
        .or(ld.url.clone())
        .and_then(|u| safe_url(&u, base));

    m.article_body = ld.body;
    m.entries = ld.entries;
    m.ld_types = ld.types;
    m.og_type = tags.get(&["og:type"]).map(|t| t.to_ascii_lowercase());
    m.generator = tags.get(&["generator"]).map(|t| t.to_ascii_lowercase());
    m.declares_article = tags
        .get(&["og:type"])
        .is_some_and(|t| t.to_ascii_lowercase().contains("article"));
    m
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_ld_news_article_in_graph_is_read() {
        let html = r#"<html lang="en-GB"><head>
        <script type="application/ld+json">{"@context":"https://schema.org","@graph":[
          {"@type":"WebSite","name":"Example News"},
          {"@type":"NewsArticle","headline":"Big thing happens",
           "author":[{"@type":"Person","name":"Jane Doe"},{"@type":"Person","name":"John Roe"}],
           "datePublished":"2024-03-01T10:00:00+01:00","dateModified":"2024-03-02T08:30:00Z",
           "image":{"@type":"ImageObject","url":"https://img.example.com/a.jpg"}}]}
        </script></head><body></body></html>"#;
        let doc = Document::from(html);
        let m = extract_metadata(&doc, None);
        assert_eq!(m.title.as_deref(), Some("Big thing happens"));
        assert_eq!(m.authors, vec!["Jane Doe", "John Roe"]);
        assert_eq!(
            m.published_at.map(|d| d.to_rfc3339()).as_deref(),
            Some("2024-03-01T09:00:00+00:00")
        );
        assert_eq!(
            m.modified_at.map(|d| d.to_rfc3339()).as_deref(),
            Some("2024-03-02T08:30:00+00:00")
        );
        assert_eq!(
            m.lead_image.as_deref(),
            Some("https://img.example.com/a.jpg")
        );
        assert_eq!(m.site_name.as_deref(), Some("Example News"));
        assert_eq!(m.language.as_deref(), Some("en-GB"));
    }

    #[test]
    fn malformed_json_ld_with_trailing_commas_and_newlines_still_parses() {
        let html = "<script type=\"application/ld+json\">{\"@type\":\"Article\",\"headline\":\"Line one\nline two\",\"author\":\"Ann Lee\",}</script>";
        let doc = Document::from(html);
        let m = extract_metadata(&doc, None);
        assert_eq!(m.title.as_deref(), Some("Line one line two"));
        assert_eq!(m.authors, vec!["Ann Lee"]);
    }

    #[test]
    fn opengraph_and_meta_tags_fill_metadata() {
        let html = r#"<html><head>
          <meta property="og:title" content="OG title">
          <meta property="og:site_name" content="Daily">
          <meta property="article:published_time" content="2023-05-06T07:08:09Z">
          <meta property="article:modified_time" content="2023-05-07">
          <meta name="author" content="Sam Writer">
          <meta property="og:locale" content="fr_FR">
          <meta property="og:image" content="/img/lead.png">
          <meta property="og:url" content="https://daily.example/story">
          <link rel="canonical" href="/canonical/story">
        </head><body><p>x</p></body></html>"#;
        let doc = Document::from(html);
        let base = Url::parse("https://daily.example/story?utm=1").ok();
        let m = extract_metadata(&doc, base.as_ref());
        assert_eq!(m.title.as_deref(), Some("OG title"));
        assert_eq!(m.authors, vec!["Sam Writer"]);
        assert_eq!(m.language.as_deref(), Some("fr-FR"));
        assert_eq!(
            m.lead_image.as_deref(),
            Some("https://daily.example/img/lead.png")
        );
        assert_eq!(
            m.canonical_url.as_deref(),
            Some("https://daily.example/canonical/story")
        );
        assert!(m.published_at.is_some());
        assert!(m.modified_at.is_some());
    }

    #[test]
    fn time_element_is_the_last_resort_for_publication_date() {
        let doc = Document::from("<article><time datetime=\"2020-01-02\">Jan 2</time></article>");
        let m = extract_metadata(&doc, None);
        assert_eq!(
            m.published_at.map(|d| d.to_rfc3339()).as_deref(),
            Some("2020-01-02T00:00:00+00:00")
        );
    }

    #[test]
    fn byline_noise_is_trimmed_from_author_names() {
        let raw = vec![
            "Bryan DeArdo @BryanDeArdo Nov 18, 2019 at 9:24 pm ET".to_string(),
            "Amy Kuperinsky | NJ Advance Media".to_string(),
            "https://www.facebook.com/someone".to_string(),
            "By Bryan DeArdo".to_string(),
        ];
        assert_eq!(tidy_authors(raw), vec!["Bryan DeArdo", "Amy Kuperinsky"]);
    }

    #[test]
    fn placeholder_dates_are_rejected() {
        assert_eq!(parse_date("0001-01-01T00:00:00Z"), None);
        assert!(parse_date("2019-11-20 06:09:25").is_some());
    }

    #[test]
    fn title_suffix_with_site_name_is_stripped() {
        assert_eq!(
            strip_site_suffix("Story here | Example News", Some("Example News")),
            "Story here"
        );
    }

    #[test]
    fn non_http_canonical_is_rejected() {
        let doc = Document::from("<link rel=\"canonical\" href=\"javascript:alert(1)\">");
        let m = extract_metadata(&doc, None);
        assert_eq!(m.canonical_url, None);
    }
}
