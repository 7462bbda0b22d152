//! Pure parts of the online resolution protocol: reading the signature from the article
//! interstitial, recognising the consent wall, building the batched `Fbv4je` request body
//! and parsing its answer.

use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use serde_json::Value;
use url::Url;

use super::feed::Edition;
use super::html::{tokenize, Token};

/// Path (under the base) of the RPC endpoint, POSTed with [`batchexecute_body`].
pub const BATCHEXECUTE_PATH: &str = "/_/DotsSplashUi/data/batchexecute";
/// `Content-Type` of the POST.
pub const BATCHEXECUTE_CONTENT_TYPE: &str = "application/x-www-form-urlencoded;charset=UTF-8";
/// The RPC id.
pub const RPC_ID: &str = "Fbv4je";
/// Batches larger than this are known to work (400 measured); 50 is the usual chunk.
pub const DEFAULT_BATCH_SIZE: usize = 50;

/// The decode parameters read from one element of the article page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Signature {
    /// `data-n-a-sg`.
    pub signature: String,
    /// `data-n-a-ts`, Unix seconds.
    pub timestamp: i64,
    /// `data-n-a-id` (the article id), when present.
    pub id: Option<String>,
}

/// Why an article page yielded no signature.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PageError {
    #[error("Google consent page (\"Before you continue\") instead of the article page")]
    Consent,
    #[error("no element carries both data-n-a-sg and data-n-a-ts")]
    MissingAttributes,
    #[error("data-n-a-ts is not a Unix timestamp: {0:?}")]
    BadTimestamp(String),
}

fn consent_host(host: &str) -> bool {
    let h = host.to_ascii_lowercase();
    h.starts_with("consent.")
}

/// True when `url` (typically the final URL after redirects) is Google's consent wall:
/// host `consent.*` or a path starting with `/consent`.
pub fn is_consent_redirect(url: &Url) -> bool {
    url.host_str().is_some_and(consent_host) || url.path().starts_with("/consent")
}

/// True when `url` is Google's lockout page (`google.com/sorry/index?…`, or
/// `/sorry/` under any base): a rate limit to back off from, never a page to
/// parse.
pub fn is_lockout_page(url: &Url) -> bool {
    let path = url.path();
    path == "/sorry" || path.starts_with("/sorry/")
}

/// The original URL inside a consent wrapper (`consent.google.com/m?continue=<url>&…`).
pub fn unwrap_consent_redirect(url: &Url) -> Option<Url> {
    if !is_consent_redirect(url) {
        return None;
    }
    let (_, cont) = url.query_pairs().find(|(k, _)| k == "continue")?;
    let inner = Url::parse(&cont).ok()?;
    matches!(inner.scheme(), "http" | "https").then_some(inner)
}

/// `base` + path segments, with the query and fragment cleared.
fn under_base(base: &Url, segments: &[&str]) -> Url {
    let mut url = if base.cannot_be_a_base() {
        super::feed::default_base()
    } else {
        base.clone()
    };
    url.set_query(None);
    url.set_fragment(None);
    if let Ok(mut segs) = url.path_segments_mut() {
        segs.pop_if_empty();
        segs.extend(segments);
    }
    url
}

fn with_edition(mut url: Url, edition: &Edition) -> Url {
    url.set_query(Some(&super::feed::edition_query(edition)));
    url
}

/// The article interstitial `/rss/articles/{id}?hl=..&gl=..&ceid=..` (the
/// locale saves a redirect). The web forms `/articles/{id}` and `/read/{id}`
/// now send non-browser clients to `/sorry/`: never asked for.
pub fn rss_article_page_url(base: &Url, id: &str, edition: &Edition) -> Url {
    with_edition(under_base(base, &["rss", "articles", id]), edition)
}

/// The RPC endpoint `/_/DotsSplashUi/data/batchexecute` under `base`.
pub fn batchexecute_url(base: &Url) -> Url {
    under_base(base, &["_", "DotsSplashUi", "data", "batchexecute"])
}

/// Reads `data-n-a-sg`, `data-n-a-ts` (and `data-n-a-id`) from the first element that
/// carries both; see [`parse_article_page_for`] to prefer the element of a given id.
pub fn parse_article_page(html: &str) -> Result<Signature, PageError> {
    parse_article_page_for(html, None)
}

/// Like [`parse_article_page`], preferring the element whose `data-n-a-id` equals `id`.
pub fn parse_article_page_for(html: &str, id: Option<&str>) -> Result<Signature, PageError> {
    let mut first: Option<(String, String, Option<String>)> = None;
    let mut consent = false;
    let mut in_title = false;
    for tok in tokenize(html) {
        match &tok {
            Token::Start { name, .. } => {
                in_title = name == "title";
                if name == "form" {
                    let action = tok.attr("action").unwrap_or("");
                    if is_consent_form_action(action) {
                        consent = true;
                    }
                }
                if let (Some(sg), Some(ts)) = (tok.attr("data-n-a-sg"), tok.attr("data-n-a-ts")) {
                    if sg.trim().is_empty() {
                        continue;
                    }
                    let cand = (
                        sg.trim().to_owned(),
                        ts.trim().to_owned(),
                        tok.attr("data-n-a-id").map(|s| s.trim().to_owned()),
                    );
                    if id.is_some() && cand.2.as_deref() == id {
                        first = Some(cand);
                        break;
                    }
                    if first.is_none() {
                        first = Some(cand);
                    }
                }
            }
            Token::Text(t) => {
                if in_title && t.contains("Before you continue") {
                    consent = true;
                }
            }
            Token::End { .. } => in_title = false,
        }
    }
    if let Some((signature, ts, id)) = first {
        let timestamp = ts
            .parse::<i64>()
            .ok()
            .filter(|t| *t > 0)
            .ok_or(PageError::BadTimestamp(ts))?;
        return Ok(Signature {
            signature,
            timestamp,
            id,
        });
    }
    if consent || html.contains("Before you continue") {
        return Err(PageError::Consent);
    }
    Err(PageError::MissingAttributes)
}

fn is_consent_form_action(action: &str) -> bool {
    let a = action.trim();
    match Url::parse(a) {
        Ok(u) => is_consent_redirect(&u),
        Err(_) => {
            let l = a.to_ascii_lowercase();
            l.starts_with("//consent.") || l.contains("consent.google.")
        }
    }
}

/// The opaque scaffold every known client sends; only id, timestamp and signature vary.
fn inner_request(id: &str, sig: &Signature) -> String {
    let v = serde_json::json!([
        "garturlreq",
        [
            [
                "X",
                "X",
                ["X", "X"],
                null,
                null,
                1,
                1,
                "US:en",
                null,
                1,
                null,
                null,
                null,
                null,
                null,
                0,
                1
            ],
            "X",
            "X",
            1,
            [1, 1, 1],
            1,
            1,
            null,
            0,
            0,
            null,
            0
        ],
        id,
        sig.timestamp,
        sig.signature
    ]);
    v.to_string()
}

/// The `f.req` JSON: `[[["Fbv4je", "<inner>", null, "<tag>"], …]]`, spaced as the
/// reference implementations send it.
pub fn batchexecute_freq(reqs: &[(&str, &str, &Signature)]) -> String {
    let calls: Vec<String> = reqs
        .iter()
        .map(|(tag, id, sig)| {
            format!(
                "[{}, {}, null, {}]",
                Value::from(RPC_ID),
                Value::from(inner_request(id, sig)),
                Value::from(*tag)
            )
        })
        .collect();
    format!("[[{}]]", calls.join(", "))
}

/// Everything but `A-Z a-z 0-9 - . _ ~` is percent-encoded (space as `%20`).
const FORM_VALUE: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

pub(crate) fn form_value_encode(s: &str) -> String {
    utf8_percent_encode(s, FORM_VALUE).to_string()
}

/// The form-encoded POST body `f.req=…` asking Google for the publisher URL of each
/// `(tag, article id, signature)`. Tags (`"1"`, `"2"`, …) come back with the answers.
pub fn batchexecute_body(reqs: &[(&str, &str, &Signature)]) -> String {
    format!("f.req={}", form_value_encode(&batchexecute_freq(reqs)))
}

/// Why a whole batchexecute answer could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BatchError {
    #[error("batchexecute answer contains no JSON frames")]
    NoFrames,
    #[error("batchexecute answer is not valid JSON: {0}")]
    InvalidJson(String),
}

/// Why one tagged answer carries no usable publisher URL.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AnswerError {
    #[error("Google returned no payload for this call")]
    NoPayload,
    #[error("payload is not a garturlres answer: {0}")]
    BadPayload(String),
    #[error("answer is not an http(s) URL: {0:?}")]
    NotHttpUrl(String),
    #[error("answer points back to Google: {0}")]
    GoogleUrl(String),
    #[error("the same tag was answered with different URLs")]
    Conflicting,
}

/// One tagged answer of a batch: `(tag, publisher URL or why not)`.
pub type BatchAnswer = (String, Result<String, AnswerError>);

/// Splits the body after the `)]}'` guard into JSON values, skipping chunk-length lines.
fn json_values(body: &str) -> Result<Vec<Value>, BatchError> {
    let mut rest = body.trim_start_matches('\u{feff}').trim_start();
    if let Some(r) = rest.strip_prefix(")]}'") {
        rest = r;
    }
    let mut out = Vec::new();
    loop {
        rest = rest.trim_start();
        if rest.is_empty() {
            break;
        }
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        if digits > 0 {
            rest = &rest[digits..];
            continue;
        }
        let mut stream = serde_json::Deserializer::from_str(rest).into_iter::<Value>();
        match stream.next() {
            Some(Ok(v)) => {
                let used = stream.byte_offset();
                out.push(v);
                rest = rest.get(used..).unwrap_or("");
            }
            Some(Err(e)) => {
                if out.is_empty() {
                    return Err(BatchError::InvalidJson(e.to_string()));
                }
                // Trailing garbage after good frames: keep what was read.
                break;
            }
            None => break,
        }
    }
    if out.is_empty() {
        return Err(BatchError::NoFrames);
    }
    Ok(out)
}

fn is_google_host(host: &str, base: &Url) -> bool {
    let h = host.trim_end_matches('.').to_ascii_lowercase();
    h == "google.com"
        || h.ends_with(".google.com")
        || base.host_str().is_some_and(|b| b.eq_ignore_ascii_case(&h))
}

/// Checks an answered URL: http(s), with a host that is neither Google's nor the base's.
pub fn accept_publisher_url(candidate: &str, base: &Url) -> Result<String, AnswerError> {
    let s = candidate.trim();
    let url = Url::parse(s).map_err(|_| AnswerError::NotHttpUrl(s.to_owned()))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(AnswerError::NotHttpUrl(s.to_owned()));
    }
    let Some(host) = url.host_str().filter(|h| !h.is_empty()) else {
        return Err(AnswerError::NotHttpUrl(s.to_owned()));
    };
    if is_google_host(host, base) {
        return Err(AnswerError::GoogleUrl(s.to_owned()));
    }
    Ok(s.to_owned())
}

fn answer_of(frame: &[Value], base: &Url) -> Result<String, AnswerError> {
    let Some(payload) = frame.get(2).and_then(Value::as_str) else {
        return Err(AnswerError::NoPayload);
    };
    let inner: Value =
        serde_json::from_str(payload).map_err(|_| AnswerError::BadPayload(truncate(payload)))?;
    let arr = inner
        .as_array()
        .ok_or_else(|| AnswerError::BadPayload(truncate(payload)))?;
    if arr.first().and_then(Value::as_str) != Some("garturlres") {
        return Err(AnswerError::BadPayload(truncate(payload)));
    }
    let url = arr
        .get(1)
        .and_then(Value::as_str)
        .ok_or_else(|| AnswerError::BadPayload(truncate(payload)))?;
    accept_publisher_url(url, base)
}

fn truncate(s: &str) -> String {
    s.chars().take(200).collect()
}

/// Parses a `batchexecute` answer into `(tag, result)` pairs, one per distinct tag, in the
/// order the tags first appear. Answers arrive in any order: match them by tag. A frame
/// without a tag (single un-batched call) has tag `""` or `"generic"`. A tag answered
/// twice with different URLs becomes [`AnswerError::Conflicting`]. Only `http(s)` URLs
/// outside Google (`google.com`, `*.google.com`, `base`'s host) are accepted.
pub fn parse_batchexecute(body: &str, base: &Url) -> Result<Vec<BatchAnswer>, BatchError> {
    let values = json_values(body)?;
    let mut out: Vec<BatchAnswer> = Vec::new();
    let frames = values
        .iter()
        .filter_map(Value::as_array)
        .flat_map(|arr| arr.iter())
        .filter_map(Value::as_array);
    for frame in frames {
        if frame.first().and_then(Value::as_str) != Some("wrb.fr")
            || frame.get(1).and_then(Value::as_str) != Some(RPC_ID)
        {
            continue;
        }
        let tag = match frame.get(6) {
            Some(Value::String(s)) => s.clone(),
            Some(Value::Number(n)) => n.to_string(),
            _ => String::new(),
        };
        let answer = answer_of(frame, base);
        match out.iter_mut().find(|(t, _)| *t == tag) {
            None => out.push((tag, answer)),
            Some((_, prev)) => {
                *prev = match (&*prev, answer) {
                    (Ok(a), Ok(b)) if *a == b => Ok(b),
                    (Ok(_), Ok(_)) => Err(AnswerError::Conflicting),
                    (Err(AnswerError::Conflicting), _) => Err(AnswerError::Conflicting),
                    (Ok(a), Err(_)) => Ok(a.clone()),
                    (Err(_), b) => b,
                };
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    const PAGE: &str = include_str!(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/google-news/article_page_and_consent_snippets.html"
    ));
    const REQUEST: &str = include_str!(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/google-news/batchexecute_request_Fbv4je_example.txt"
    ));
    const RESPONSE: &str = include_str!(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/google-news/batchexecute_response_Fbv4je_single.txt"
    ));
    const TOKEN: &str = "CBMiUkFVX3lxTE1hNk5sWV9pY3Bqajd1clN4UDdER2ppQnhuZnVnbU9OS21RRG1YM0xQMjFCbU5yUEM4WWE3dkJBeHpFRWp5WWMzcGx4UE5peG15NUE";

    fn gn() -> Url {
        super::super::feed::default_base()
    }

    fn sig() -> Signature {
        Signature {
            signature: "AZ5r3eQgUz4DTz0J9FazWGdfF2xD".into(),
            timestamp: 1772798585,
            id: None,
        }
    }

    /// The line after a `## <heading>` line in the request fixture.
    fn request_section(heading: &str) -> &'static str {
        let start = REQUEST.find(heading).unwrap_or(0);
        REQUEST[start..].lines().nth(1).unwrap_or("")
    }

    #[test]
    fn signature_timestamp_and_id_are_read_from_the_same_element() {
        let s = parse_article_page(PAGE).expect("fixture carries a signature");
        assert_eq!(s.signature, "AZ5r3eQgUz4DTz0J9FazWGdfF2xD");
        assert_eq!(s.timestamp, 1772798585);
        assert_eq!(
            s.id.as_deref(),
            Some("CBMi...PLACEHOLDER_SAME_TOKEN_AS_URL_PATH")
        );
    }

    #[test]
    fn attributes_split_across_elements_are_never_paired() {
        let html = r#"<div data-n-a-sg="AZsig"></div><div data-n-a-ts="1772798585"></div>"#;
        assert_eq!(parse_article_page(html), Err(PageError::MissingAttributes));
        let html =
            r#"<div data-n-a-sg="AZfirst"></div><div data-n-a-ts="1" data-n-a-sg="AZboth"></div>"#;
        assert_eq!(
            parse_article_page(html).map(|s| s.signature),
            Ok("AZboth".into())
        );
    }

    #[test]
    fn the_element_of_the_requested_id_is_preferred() {
        let html = r#"<div data-n-a-id="A" data-n-a-ts="1" data-n-a-sg="sA"></div>
                      <div data-n-a-id="B" data-n-a-ts="2" data-n-a-sg="sB"></div>"#;
        assert_eq!(
            parse_article_page_for(html, Some("B")).map(|s| s.timestamp),
            Ok(2)
        );
        assert_eq!(
            parse_article_page_for(html, Some("C")).map(|s| s.timestamp),
            Ok(1)
        );
    }

    #[test]
    fn a_non_numeric_timestamp_is_reported() {
        let html = r#"<div data-n-a-ts="soon" data-n-a-sg="AZ"></div>"#;
        assert_eq!(
            parse_article_page(html),
            Err(PageError::BadTimestamp("soon".into()))
        );
    }

    #[test]
    fn consent_page_is_detected() {
        // The consent part of the fixture, without the signature element.
        let consent = &PAGE[PAGE.find("<!-- (2)").unwrap_or(0)..];
        assert_eq!(parse_article_page(consent), Err(PageError::Consent));
        let page = r#"<html><head><title>Before you continue to Google News</title></head>
            <body><form action="https://consent.google.com/save" method="POST"></form></body></html>"#;
        assert_eq!(parse_article_page(page), Err(PageError::Consent));
        let localised =
            r#"<title>Bevor Sie fortfahren</title><form action="https://consent.google.de/save">"#;
        assert_eq!(parse_article_page(localised), Err(PageError::Consent));
        assert_eq!(
            parse_article_page("<html><body>Something else</body></html>"),
            Err(PageError::MissingAttributes)
        );
    }

    #[test]
    fn consent_redirect_urls_are_recognised() {
        let wrapped = PAGE
            .split("<!-- https://consent.google.com/m?continue=")
            .nth(1)
            .and_then(|s| s.split(" -->").next())
            .map(|s| format!("https://consent.google.com/m?continue={s}"))
            .unwrap_or_default();
        let u = Url::parse(&wrapped).expect("fixture consent URL");
        assert!(is_consent_redirect(&u));
        assert!(is_consent_redirect(
            &Url::parse("https://www.google.com/consent?x").expect("u")
        ));
        assert!(!is_consent_redirect(
            &Url::parse("https://news.google.com/rss/articles/X").expect("u")
        ));
    }

    #[test]
    fn consent_wrapper_yields_the_original_link() {
        let u = Url::parse("https://consent.google.com/m?continue=https://news.google.com/rss/articles/CBMiYmh0?oc%3D5&gl=DK&m=0&pc=n&cm=2&hl=en-US&src=1").expect("u");
        assert_eq!(
            unwrap_consent_redirect(&u).map(|u| u.to_string()),
            Some("https://news.google.com/rss/articles/CBMiYmh0?oc=5".into())
        );
        assert_eq!(unwrap_consent_redirect(&gn()), None);
    }

    #[test]
    fn the_sorry_page_is_a_lockout_on_any_host_and_nothing_else_is() {
        for u in [
            "https://www.google.com/sorry/index?continue=https://news.google.com/articles/x",
            "http://127.0.0.1:9/sorry/index",
            "https://google.com/sorry",
        ] {
            assert!(is_lockout_page(&Url::parse(u).expect("u")), "{u}");
        }
        for u in [
            "https://news.google.com/rss/articles/sorry",
            "https://news.google.com/sorryland",
            "https://consent.google.com/m?continue=x",
        ] {
            assert!(!is_lockout_page(&Url::parse(u).expect("u")), "{u}");
        }
    }

    #[test]
    fn resolution_urls_are_built_under_any_base() {
        let ed = Edition::parse("en-US").expect("edition");
        let b = Url::parse("http://127.0.0.1:4321/prefix/").expect("u");
        assert_eq!(
            rss_article_page_url(&b, "CBMi1", &ed).as_str(),
            "http://127.0.0.1:4321/prefix/rss/articles/CBMi1?hl=en-US&gl=US&ceid=US:en"
        );
        assert_eq!(
            rss_article_page_url(&gn(), "CBMi1", &ed).as_str(),
            "https://news.google.com/rss/articles/CBMi1?hl=en-US&gl=US&ceid=US:en"
        );
        assert_eq!(
            batchexecute_url(&gn()).as_str(),
            format!("https://news.google.com{BATCHEXECUTE_PATH}")
        );
    }

    #[test]
    fn single_call_envelope_matches_the_fixture_inner_request() {
        let inner = request_section("## inner garturlreq string");
        assert_eq!(inner_request(TOKEN, &sig()), inner);
    }

    #[test]
    fn form_encoding_matches_the_fixture_body_as_sent() {
        let json = request_section("## f.req value (decoded JSON), single RPC:");
        let sent = request_section("## body as sent (form-encoded):");
        assert_eq!(format!("f.req={}", form_value_encode(json)), sent);
    }

    #[test]
    fn batched_body_matches_the_fixture_batch_and_is_tagged() {
        let want = request_section("## f.req for a batch");
        let s = sig();
        let body = batchexecute_body(&[("1", TOKEN, &s), ("2", "<TOKEN_2>", &s)]);
        let value = body.strip_prefix("f.req=").unwrap_or("");
        let decoded = percent_encoding::percent_decode_str(value)
            .decode_utf8()
            .map(|c| c.into_owned())
            .unwrap_or_default();
        assert_eq!(decoded, want);
        let parsed: Value = serde_json::from_str(&decoded).expect("valid JSON");
        assert_eq!(parsed[0][1][3], "2");
        assert!(!body.contains(' ') && !body.contains('"'));
    }

    #[test]
    fn real_single_answer_yields_the_publisher_url() {
        let got = parse_batchexecute(RESPONSE, &gn()).expect("parses");
        assert_eq!(
            got,
            vec![(
                String::new(),
                Ok("https://www.hotel-online.com/news/generator-appoints-chief-executive".into())
            )]
        );
    }

    fn frame(tag: &str, url: &str) -> Value {
        let inner = serde_json::json!(["garturlres", url, 1]).to_string();
        serde_json::json!(["wrb.fr", "Fbv4je", inner, null, null, null, tag])
    }

    #[test]
    fn batched_answers_out_of_order_are_matched_by_tag() {
        let frames = serde_json::json!([
            frame("2", "https://b.example/2?x=1&y=2"),
            frame("4", "https://news.google.com/articles/X"),
            frame("1", "https://a.example/1"),
            frame("3", "javascript:alert(1)"),
            frame("5", "https://c.example/5"),
            frame("5", "https://c.example/other"),
            ["di", 13],
            ["af.httprm", 12, "194128", 17]
        ]);
        let body = format!(")]}}'\n\n{frames}");
        let got = parse_batchexecute(&body, &gn()).expect("parses");
        let by = |t: &str| got.iter().find(|(k, _)| k == t).map(|(_, v)| v.clone());
        assert_eq!(by("1"), Some(Ok("https://a.example/1".into())));
        assert_eq!(by("2"), Some(Ok("https://b.example/2?x=1&y=2".into())));
        assert!(matches!(by("3"), Some(Err(AnswerError::NotHttpUrl(_)))));
        assert!(matches!(by("4"), Some(Err(AnswerError::GoogleUrl(_)))));
        assert_eq!(by("5"), Some(Err(AnswerError::Conflicting)));
        assert_eq!(got.len(), 5);
    }

    #[test]
    fn chunked_length_prefixed_frames_and_escaped_equals_are_handled() {
        let a = serde_json::json!([frame("1", "https://a.example/?id=1")]).to_string();
        let a = a.replace("id=1", "id\\\\u003d1");
        let b = serde_json::json!([
            frame("2", "https://b.example/x"),
            ["wrb.fr", "Fbv4je", null, null, null, [3], "3"]
        ])
        .to_string();
        let body = format!(
            ")]}}'\n\n{}\n{a}\n{}\n{b}\n25\n[[\"e\",4,null,null,231]]\n",
            a.len(),
            b.len()
        );
        let got = parse_batchexecute(&body, &gn()).expect("parses");
        assert_eq!(got[0], ("1".into(), Ok("https://a.example/?id=1".into())));
        assert_eq!(got[1], ("2".into(), Ok("https://b.example/x".into())));
        assert_eq!(got[2], ("3".into(), Err(AnswerError::NoPayload)));
    }

    #[test]
    fn answers_on_the_configured_base_host_or_any_google_host_are_refused() {
        let base = Url::parse("http://127.0.0.1:4321/prefix").expect("u");
        for bad in [
            "http://127.0.0.1:4321/x",
            "https://www.google.com/url?q=x",
            "https://google.com/",
        ] {
            assert!(
                matches!(
                    accept_publisher_url(bad, &base),
                    Err(AnswerError::GoogleUrl(_))
                ),
                "{bad}"
            );
        }
        assert!(accept_publisher_url("https://googleblog.example/", &base).is_ok());
    }

    #[test]
    fn garbage_bodies_are_errors_not_panics() {
        assert_eq!(parse_batchexecute("", &gn()), Err(BatchError::NoFrames));
        assert_eq!(
            parse_batchexecute(")]}'\n\n", &gn()),
            Err(BatchError::NoFrames)
        );
        assert!(matches!(
            parse_batchexecute("<html>", &gn()),
            Err(BatchError::InvalidJson(_))
        ));
        assert_eq!(parse_batchexecute(")]}'\n[]", &gn()), Ok(vec![]));
    }

    proptest::proptest! {
        #[test]
        fn arbitrary_pages_and_bodies_never_panic(s in ".{0,400}") {
            let _ = parse_article_page(&s);
            let _ = parse_batchexecute(&s, &gn());
            let _ = parse_batchexecute(&format!(")]}}'\n{s}"), &gn());
        }
    }
}
