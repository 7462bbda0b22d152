//! Google News feed specifications (editions, topics, searches) and feed-URL building.

use std::fmt;
use std::str::FromStr;

use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use serde::de::{self, Deserializer, MapAccess, Visitor};
use serde::{Deserialize, Serialize};
use url::{form_urlencoded, Url};

/// Edition values keep `-` and `:` literal (`ceid=US:en`, as Google itself writes it).
const EDITION_VALUE: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~')
    .remove(b':');

/// The default base of every Google News URL.
pub const DEFAULT_BASE: &str = "https://news.google.com";

/// Errors found while validating a feed specification.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SpecError {
    #[error("invalid edition {value:?}: {reason}")]
    Edition { value: String, reason: String },
    #[error("unknown Google News topic {0:?}; valid topics: WORLD, NATION, BUSINESS, TECHNOLOGY, ENTERTAINMENT, SPORTS, SCIENCE, HEALTH (or use topic_id for other topics)")]
    UnknownTopic(String),
    #[error("invalid topic_id {0:?}: expected a non-empty base64url id such as \"CAAqJggKIiBDQkFTRWdvSUwyMHZNRGx6TVdZU0FtVnVHZ0pWVXlnQVAB\"")]
    TopicId(String),
    #[error("{0} must not be empty")]
    Empty(&'static str),
    #[error("`top` must be `true` when given")]
    TopFalse,
    #[error("a Google News feed needs exactly one of `top`, `topic`, `topic_id`, `geo`, `search`; found {0}")]
    SpecCount(String),
}

/// A Google News edition: interface language `hl`, country `gl`, and `ceid` = `<gl>:<lang>`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
pub struct Edition {
    pub hl: String,
    pub gl: String,
    pub ceid: String,
}

impl Default for Edition {
    fn default() -> Self {
        Edition {
            hl: "en-US".into(),
            gl: "US".into(),
            ceid: "US:en".into(),
        }
    }
}

fn edition_err(value: &str, reason: impl Into<String>) -> SpecError {
    SpecError::Edition {
        value: value.to_owned(),
        reason: reason.into(),
    }
}

fn is_lang_tag(s: &str) -> bool {
    !s.is_empty()
        && s.split('-')
            .all(|p| !p.is_empty() && p.len() <= 8 && p.bytes().all(|b| b.is_ascii_alphanumeric()))
}

fn is_country(s: &str) -> bool {
    s.len() == 2 && s.bytes().all(|b| b.is_ascii_uppercase())
}

impl Edition {
    /// Parses the short spelling `"<lang>-<COUNTRY>"`, e.g. `"en-US"` → hl `en-US`, gl `US`,
    /// ceid `US:en`. Editions whose ceid language is not the hl's first subtag
    /// (`BR:pt-419`, `CN:zh-Hans`) need the table form.
    pub fn parse(s: &str) -> Result<Edition, SpecError> {
        let s = s.trim();
        let Some((lang, country)) = s.split_once('-') else {
            return Err(edition_err(
                s,
                "expected \"<lang>-<COUNTRY>\" such as \"en-US\", or a table { hl, gl, ceid }",
            ));
        };
        if !is_lang_tag(lang) || lang.len() > 3 || !lang.bytes().all(|b| b.is_ascii_lowercase()) {
            return Err(edition_err(
                s,
                format!("bad language {lang:?} (expected e.g. \"en\")"),
            ));
        }
        if !is_country(country) {
            return Err(edition_err(
                s,
                format!(
                    "bad country {country:?} (expected two upper-case letters such as \"US\"; \
                     use a table {{ hl, gl, ceid }} for editions such as pt-419)"
                ),
            ));
        }
        Edition::new(s, country, &format!("{country}:{lang}"))
    }

    /// Builds and validates an edition from its three parameters.
    pub fn new(hl: &str, gl: &str, ceid: &str) -> Result<Edition, SpecError> {
        let ed = Edition {
            hl: hl.trim().to_owned(),
            gl: gl.trim().to_owned(),
            ceid: ceid.trim().to_owned(),
        };
        ed.validate()?;
        Ok(ed)
    }

    /// Checks `hl` is a language tag, `gl` two upper-case letters, and `ceid` is
    /// `<gl>:<lang>` with the same primary language as `hl`.
    pub fn validate(&self) -> Result<(), SpecError> {
        if !is_lang_tag(&self.hl) {
            return Err(edition_err(
                &self.hl,
                "hl must be a language tag such as \"en-US\", \"ja\", \"pt-419\"",
            ));
        }
        if !is_country(&self.gl) {
            return Err(edition_err(
                &self.gl,
                "gl must be a two-letter upper-case country code such as \"US\"",
            ));
        }
        let Some((c_country, c_lang)) = self.ceid.split_once(':') else {
            return Err(edition_err(
                &self.ceid,
                format!("ceid must be \"<gl>:<lang>\", e.g. \"{}:en\"", self.gl),
            ));
        };
        if c_country != self.gl {
            return Err(edition_err(
                &self.ceid,
                format!("ceid country {c_country:?} differs from gl {:?}", self.gl),
            ));
        }
        if !is_lang_tag(c_lang) {
            return Err(edition_err(
                &self.ceid,
                "ceid language is not a language tag",
            ));
        }
        let primary = |t: &str| t.split('-').next().unwrap_or("").to_ascii_lowercase();
        if primary(c_lang) != primary(&self.hl) {
            return Err(edition_err(
                &self.ceid,
                format!("ceid language {c_lang:?} does not match hl {:?}", self.hl),
            ));
        }
        Ok(())
    }
}

impl FromStr for Edition {
    type Err = SpecError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Edition::parse(s)
    }
}

impl fmt::Display for Edition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "hl={} gl={} ceid={}", self.hl, self.gl, self.ceid)
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct EditionTable {
    hl: String,
    gl: String,
    ceid: String,
}

impl<'de> Deserialize<'de> for Edition {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Edition;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an edition string such as \"en-US\" or a table { hl, gl, ceid }")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Edition, E> {
                Edition::parse(v).map_err(E::custom)
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Edition, A::Error> {
                let t = EditionTable::deserialize(de::value::MapAccessDeserializer::new(map))?;
                Edition::new(&t.hl, &t.gl, &t.ceid).map_err(de::Error::custom)
            }
        }
        d.deserialize_any(V)
    }
}

/// The eight fixed Google News topic sections.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Topic {
    World,
    Nation,
    Business,
    Technology,
    Entertainment,
    Sports,
    Science,
    Health,
}

impl Topic {
    pub const ALL: [Topic; 8] = [
        Topic::World,
        Topic::Nation,
        Topic::Business,
        Topic::Technology,
        Topic::Entertainment,
        Topic::Sports,
        Topic::Science,
        Topic::Health,
    ];

    /// The upper-case name used in feed URLs.
    pub fn as_str(self) -> &'static str {
        match self {
            Topic::World => "WORLD",
            Topic::Nation => "NATION",
            Topic::Business => "BUSINESS",
            Topic::Technology => "TECHNOLOGY",
            Topic::Entertainment => "ENTERTAINMENT",
            Topic::Sports => "SPORTS",
            Topic::Science => "SCIENCE",
            Topic::Health => "HEALTH",
        }
    }

    /// Case-insensitive parse; the error lists the valid topics.
    pub fn parse(s: &str) -> Result<Topic, SpecError> {
        let t = s.trim();
        Topic::ALL
            .into_iter()
            .find(|topic| topic.as_str().eq_ignore_ascii_case(t))
            .ok_or_else(|| SpecError::UnknownTopic(s.to_owned()))
    }
}

impl FromStr for Topic {
    type Err = SpecError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Topic::parse(s)
    }
}

impl fmt::Display for Topic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Which Google News feed to poll.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum GoogleNewsSpec {
    /// Top stories: `/rss`.
    Top,
    /// One of the eight fixed topics: `/rss/headlines/section/topic/<TOPIC>`.
    Topic(Topic),
    /// A topic by (edition-specific) id: `/rss/topics/<id>`.
    TopicId(String),
    /// Local news for a free-text place: `/rss/headlines/section/geo/<place>`.
    Geo(String),
    /// A search query, operators included (`when:1d`, `site:`, `"phrase"`, `OR`, `-term`).
    Search(String),
}

/// One configured feed: `{ top = true }`, `{ topic = "WORLD" }`, `{ topic_id = "CAAq…" }`,
/// `{ geo = "Taipei" }` or `{ search = "TSMC when:1d" }`, each with an optional `edition`
/// (a string `"en-US"` or a table `{ hl, gl, ceid }`). Unknown keys are ignored so that the
/// caller may flatten this into a larger source table.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Deserialize)]
#[serde(try_from = "RawFeed")]
pub struct GoogleNewsFeed {
    pub spec: GoogleNewsSpec,
    pub edition: Option<Edition>,
}

#[derive(Deserialize)]
struct RawFeed {
    top: Option<bool>,
    topic: Option<String>,
    topic_id: Option<String>,
    geo: Option<String>,
    search: Option<String>,
    edition: Option<Edition>,
}

fn non_empty(s: String, what: &'static str) -> Result<String, SpecError> {
    let t = s.trim();
    if t.is_empty() {
        Err(SpecError::Empty(what))
    } else {
        Ok(t.to_owned())
    }
}

impl TryFrom<RawFeed> for GoogleNewsFeed {
    type Error = SpecError;
    fn try_from(r: RawFeed) -> Result<Self, SpecError> {
        let mut found: Vec<&str> = Vec::new();
        for (name, set) in [
            ("top", r.top.is_some()),
            ("topic", r.topic.is_some()),
            ("topic_id", r.topic_id.is_some()),
            ("geo", r.geo.is_some()),
            ("search", r.search.is_some()),
        ] {
            if set {
                found.push(name);
            }
        }
        if found.len() != 1 {
            let what = if found.is_empty() {
                "none".to_owned()
            } else {
                found.join(", ")
            };
            return Err(SpecError::SpecCount(what));
        }
        let spec = if let Some(top) = r.top {
            if !top {
                return Err(SpecError::TopFalse);
            }
            GoogleNewsSpec::Top
        } else if let Some(t) = r.topic {
            GoogleNewsSpec::Topic(Topic::parse(&t)?)
        } else if let Some(id) = r.topic_id {
            let id = id.trim();
            let ok = !id.is_empty()
                && id.len() <= 1024
                && id
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'=');
            if !ok {
                return Err(SpecError::TopicId(id.to_owned()));
            }
            GoogleNewsSpec::TopicId(id.to_owned())
        } else if let Some(g) = r.geo {
            GoogleNewsSpec::Geo(non_empty(g, "geo")?)
        } else if let Some(q) = r.search {
            GoogleNewsSpec::Search(non_empty(q, "search")?)
        } else {
            return Err(SpecError::SpecCount("none".to_owned()));
        };
        Ok(GoogleNewsFeed {
            spec,
            edition: r.edition,
        })
    }
}

/// The default base URL, `https://news.google.com`.
pub fn default_base() -> Url {
    Url::parse(DEFAULT_BASE).unwrap_or_else(|_| unreachable!("constant URL parses"))
}

/// Builds the RSS URL of `spec` in `edition` under `base` (any scheme/host/port/path prefix,
/// e.g. `http://127.0.0.1:4321/prefix`). Path segments are percent-encoded (space as `%20`);
/// the search query is form-encoded. A base that cannot carry a path (`mailto:` and the like)
/// is replaced by [`DEFAULT_BASE`].
pub fn feed_url(base: &Url, spec: &GoogleNewsSpec, edition: &Edition) -> Url {
    let mut url = if base.cannot_be_a_base() {
        default_base()
    } else {
        base.clone()
    };
    url.set_query(None);
    url.set_fragment(None);
    if let Ok(mut segs) = url.path_segments_mut() {
        segs.pop_if_empty();
        segs.push("rss");
        match spec {
            GoogleNewsSpec::Top | GoogleNewsSpec::Search(_) => {}
            GoogleNewsSpec::Topic(t) => {
                segs.extend(["headlines", "section", "topic", t.as_str()]);
            }
            GoogleNewsSpec::TopicId(id) => {
                segs.extend(["topics", id.as_str()]);
            }
            GoogleNewsSpec::Geo(place) => {
                segs.extend(["headlines", "section", "geo", place.as_str()]);
            }
        }
        if let GoogleNewsSpec::Search(_) = spec {
            segs.push("search");
        }
    }
    let mut query = String::new();
    if let GoogleNewsSpec::Search(q) = spec {
        query.push_str("q=");
        query.extend(form_urlencoded::byte_serialize(q.as_bytes()));
        query.push('&');
    }
    query.push_str(&edition_query(edition));
    url.set_query(Some(&query));
    url
}

/// `hl=..&gl=..&ceid=..`, keeping `:` literal as Google writes it.
pub(crate) fn edition_query(edition: &Edition) -> String {
    let param = |v: &str| utf8_percent_encode(v, EDITION_VALUE).to_string();
    format!(
        "hl={}&gl={}&ceid={}",
        param(&edition.hl),
        param(&edition.gl),
        param(&edition.ceid)
    )
}

/// True when a feed fetch ended at Google's `/rss/unsupported` page (bad edition/topic).
pub fn is_unsupported_feed_url(url: &Url) -> bool {
    let path = url.path().trim_end_matches('/');
    path == "/rss/unsupported" || path.ends_with("/rss/unsupported")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn us() -> Edition {
        Edition::parse("en-US").expect("en-US parses")
    }

    fn base() -> Url {
        default_base()
    }

    #[test]
    fn short_edition_string_expands_to_hl_gl_and_ceid() {
        let e = us();
        assert_eq!(
            (e.hl.as_str(), e.gl.as_str(), e.ceid.as_str()),
            ("en-US", "US", "US:en")
        );
        let ja = Edition::parse("ja-JP").expect("ja-JP");
        assert_eq!(ja.ceid, "JP:ja");
    }

    #[test]
    fn malformed_edition_strings_are_rejected_with_the_bad_value_named() {
        for bad in ["en", "EN-US", "en-usa", "en-us", "", "pt-419", "english-US"] {
            let err = Edition::parse(bad).expect_err(bad).to_string();
            assert!(err.contains(&format!("{:?}", bad.trim())), "{err}");
        }
    }

    #[test]
    fn table_edition_with_a_mismatched_ceid_names_the_ceid() {
        let err = Edition::new("en-US", "US", "GB:en")
            .expect_err("mismatch")
            .to_string();
        assert!(err.contains("\"GB:en\""), "{err}");
        let err = Edition::new("en-US", "US", "US-en")
            .expect_err("no colon")
            .to_string();
        assert!(
            err.contains("\"US-en\"") && err.contains("<gl>:<lang>"),
            "{err}"
        );
        let err = Edition::new("en-US", "US", "US:de")
            .expect_err("lang")
            .to_string();
        assert!(err.contains("\"US:de\""), "{err}");
        assert!(Edition::new("pt-419", "BR", "BR:pt-419").is_ok());
        assert!(Edition::new("zh-CN", "CN", "CN:zh-Hans").is_ok());
    }

    #[test]
    fn topics_parse_case_insensitively_and_errors_list_the_valid_ones() {
        assert_eq!(Topic::parse("world"), Ok(Topic::World));
        assert_eq!(Topic::parse("Technology"), Ok(Topic::Technology));
        let err = Topic::parse("POLITICS").expect_err("unknown").to_string();
        assert!(err.contains("POLITICS") && err.contains("HEALTH") && err.contains("WORLD"));
    }

    #[derive(Deserialize)]
    struct Cfg {
        feeds: Vec<GoogleNewsFeed>,
    }

    #[test]
    fn config_spellings_deserialize_into_feeds_with_optional_editions() {
        let cfg: Cfg = toml::from_str(
            r#"
            feeds = [
              { top = true },
              { topic = "world", edition = "en-GB" },
              { topic_id = "CAAqJggKIiBDQkFTRWdvSUwyMHZNRGx6TVdZU0FtVnVHZ0pWVXlnQVAB" },
              { geo = "Taipei", edition = { hl = "zh-TW", gl = "TW", ceid = "TW:zh-Hant" } },
              { search = "TSMC when:1d" },
            ]
            "#,
        )
        .expect("config parses");
        let specs: Vec<_> = cfg.feeds.iter().map(|f| f.spec.clone()).collect();
        assert_eq!(
            specs,
            vec![
                GoogleNewsSpec::Top,
                GoogleNewsSpec::Topic(Topic::World),
                GoogleNewsSpec::TopicId(
                    "CAAqJggKIiBDQkFTRWdvSUwyMHZNRGx6TVdZU0FtVnVHZ0pWVXlnQVAB".into()
                ),
                GoogleNewsSpec::Geo("Taipei".into()),
                GoogleNewsSpec::Search("TSMC when:1d".into()),
            ]
        );
        assert_eq!(
            cfg.feeds[1].edition.as_ref().map(|e| e.ceid.as_str()),
            Some("GB:en")
        );
        assert_eq!(
            cfg.feeds[3].edition.as_ref().map(|e| e.hl.as_str()),
            Some("zh-TW")
        );
        assert_eq!(cfg.feeds[0].edition, None);
    }

    #[test]
    fn a_feed_can_be_flattened_into_a_larger_source_table() {
        #[derive(Deserialize)]
        struct Source {
            name: String,
            #[serde(flatten)]
            feed: GoogleNewsFeed,
        }
        let s: Source =
            toml::from_str("name = \"tw\"\ngeo = \"New Taipei\"\nedition = \"en-US\"\n")
                .expect("flattened source parses");
        assert_eq!(s.name, "tw");
        assert_eq!(s.feed.spec, GoogleNewsSpec::Geo("New Taipei".into()));
        assert_eq!(s.feed.edition, Some(us()));
    }

    #[test]
    fn config_errors_are_explained() {
        let cases = [
            (r#"feeds = [{ topic = "POLITICS" }]"#, "valid topics"),
            (r#"feeds = [{ top = true, search = "x" }]"#, "top, search"),
            (r#"feeds = [{ }]"#, "exactly one"),
            (r#"feeds = [{ top = false }]"#, "must be `true`"),
            (r#"feeds = [{ search = "  " }]"#, "search must not be empty"),
            (
                r#"feeds = [{ top = true, edition = "en-GBR" }]"#,
                "\"en-GBR\"",
            ),
            (
                r#"feeds = [{ top = true, edition = { hl = "en-US", gl = "US", ceid = "UK:en" } }]"#,
                "\"UK:en\"",
            ),
            (r#"feeds = [{ topic_id = "a/b" }]"#, "invalid topic_id"),
        ];
        for (src, want) in cases {
            let err = toml::from_str::<Cfg>(src).err().map(|e| e.to_string());
            let err = err.unwrap_or_default();
            assert!(err.contains(want), "{src}: {err}");
        }
    }

    #[test]
    fn top_stories_url_carries_the_edition() {
        let u = feed_url(&base(), &GoogleNewsSpec::Top, &us());
        assert_eq!(
            u.as_str(),
            "https://news.google.com/rss?hl=en-US&gl=US&ceid=US:en"
        );
        let pairs: Vec<_> = u.query_pairs().collect();
        assert_eq!(pairs[2].1, "US:en");
    }

    #[test]
    fn topic_and_topic_id_urls_use_their_sections() {
        let u = feed_url(&base(), &GoogleNewsSpec::Topic(Topic::World), &us());
        assert_eq!(u.path(), "/rss/headlines/section/topic/WORLD");
        let id = "CAAqJggKIiBDQkFTRWdvSUwyMHZNRGx6TVdZU0FtVnVHZ0pWVXlnQVAB";
        let u = feed_url(&base(), &GoogleNewsSpec::TopicId(id.into()), &us());
        assert_eq!(u.path(), format!("/rss/topics/{id}"));
        assert_eq!(u.query(), Some("hl=en-US&gl=US&ceid=US:en"));
    }

    #[test]
    fn geo_place_with_a_space_is_a_percent_encoded_path_segment() {
        let u = feed_url(&base(), &GoogleNewsSpec::Geo("New York/NY?".into()), &us());
        assert_eq!(u.path(), "/rss/headlines/section/geo/New%20York%2FNY%3F");
        let u = feed_url(&base(), &GoogleNewsSpec::Geo("台北".into()), &us());
        assert_eq!(u.path(), "/rss/headlines/section/geo/%E5%8F%B0%E5%8C%97");
    }

    #[test]
    fn search_queries_with_operators_and_quotes_round_trip() {
        for q in [
            "\"Bears Ears\" monument",
            "TSMC when:1d",
            "site:reuters.com chips OR semiconductors -intel +nvidia",
            "a&b=c #1 100% ünïcödé",
        ] {
            let u = feed_url(&base(), &GoogleNewsSpec::Search(q.into()), &us());
            assert_eq!(u.path(), "/rss/search");
            let pairs: Vec<(String, String)> = u.query_pairs().into_owned().collect();
            assert_eq!(pairs[0], ("q".to_owned(), q.to_owned()));
            assert_eq!(pairs.len(), 4, "{u}");
        }
        let u = feed_url(
            &base(),
            &GoogleNewsSpec::Search("\"Bears Ears\" monument".into()),
            &us(),
        );
        assert!(u.as_str().starts_with(
            "https://news.google.com/rss/search?q=%22Bears+Ears%22+monument&hl=en-US"
        ));
    }

    #[test]
    fn any_base_with_a_port_and_path_prefix_is_honoured() {
        for b in [
            "http://127.0.0.1:4321/prefix",
            "http://127.0.0.1:4321/prefix/",
        ] {
            let b = Url::parse(b).expect("base");
            let u = feed_url(&b, &GoogleNewsSpec::Topic(Topic::Health), &us());
            assert_eq!(
                u.as_str(),
                "http://127.0.0.1:4321/prefix/rss/headlines/section/topic/HEALTH?hl=en-US&gl=US&ceid=US:en"
            );
        }
        let b = Url::parse("http://127.0.0.1:4321?x=1#f").expect("base");
        let u = feed_url(&b, &GoogleNewsSpec::Top, &us());
        assert_eq!(
            u.as_str(),
            "http://127.0.0.1:4321/rss?hl=en-US&gl=US&ceid=US:en"
        );
    }

    #[test]
    fn unsupported_feed_url_is_recognised() {
        let u = Url::parse("https://news.google.com/rss/unsupported").expect("url");
        assert!(is_unsupported_feed_url(&u));
        let u = Url::parse("http://127.0.0.1:1/p/rss/unsupported?x").expect("url");
        assert!(is_unsupported_feed_url(&u));
        let u = feed_url(&base(), &GoogleNewsSpec::Top, &us());
        assert!(!is_unsupported_feed_url(&u));
    }
}
