//! Feeds as they are in the wild (`tests/fixtures/feeds/`), polled through
//! the daemon: what feed-rs alone refuses or garbles is stored, and clean.

use chrono::Utc;
use newsd::app::PollStatus;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::helpers::spawn_app;

struct Polled {
    status: PollStatus,
    feed_title: Option<String>,
    last_status: Option<String>,
    last_error: Option<String>,
    /// `(title, url)` of every stored article, in insertion order.
    articles: Vec<(Option<String>, Option<String>)>,
    /// `published_at` of every stored article, in insertion order, to the second.
    published: Vec<Option<String>>,
    /// `summary` of every stored article, in insertion order.
    summaries: Vec<Option<String>>,
}

impl Polled {
    fn titles(&self) -> Vec<&str> {
        self.articles
            .iter()
            .filter_map(|(t, _)| t.as_deref())
            .collect()
    }

    fn urls(&self) -> Vec<Option<&str>> {
        self.articles.iter().map(|(_, u)| u.as_deref()).collect()
    }
}

fn fixture(name: &str) -> Vec<u8> {
    let path = format!("{}/tests/fixtures/feeds/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

async fn poll(name: &str, content_type: &str) -> Polled {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/feed"))
        .respond_with(ResponseTemplate::new(200).set_body_raw(fixture(name), content_type))
        .mount(&server)
        .await;
    let t = spawn_app(&[format!("{}/feed", server.uri())]).await;
    let status = t
        .app
        .poll_all_once(Utc::now())
        .await
        .unwrap()
        .remove(0)
        .status;
    let pool = t.app.store().pool();
    let (feed_title, last_status, last_error) =
        sqlx::query_as("SELECT title, last_status, last_error FROM feeds")
            .fetch_one(pool)
            .await
            .unwrap();
    let articles = sqlx::query_as("SELECT title, url FROM articles ORDER BY id")
        .fetch_all(pool)
        .await
        .unwrap();
    let published: Vec<Option<String>> =
        sqlx::query_scalar("SELECT published_at FROM articles ORDER BY id")
            .fetch_all(pool)
            .await
            .unwrap();
    let summaries = sqlx::query_scalar("SELECT summary FROM articles ORDER BY id")
        .fetch_all(pool)
        .await
        .unwrap();
    Polled {
        summaries,
        status,
        feed_title,
        last_status,
        last_error,
        articles,
        published: published
            .into_iter()
            .map(|d| d.map(|d| d.chars().take(19).collect()))
            .collect(),
    }
}

async fn poll_xml(name: &str) -> Polled {
    poll(name, "application/xml").await
}

fn stored(p: &Polled, n: usize) {
    assert_eq!(
        p.status,
        PollStatus::Ok {
            new_items: n,
            new_articles: n
        },
        "last error: {:?}",
        p.last_error
    );
}

#[tokio::test]
async fn feeds_with_bare_ampersands_are_stored_whole_and_their_status_says_they_were_repaired() {
    let p = poll_xml("bare_ampersand.xml").await;
    stored(&p, 2);
    assert_eq!(p.feed_title.as_deref(), Some("Q&A with AT&T"));
    assert_eq!(p.titles(), ["Fish & Chips & more", "Is 1 < 2? Yes"]);
    assert_eq!(
        p.urls(),
        [
            Some("https://news.example/story?id=1&ref=rss"),
            Some("https://news.example/story?id=2")
        ]
    );
    assert_eq!(p.last_status.as_deref(), Some("ok"));
    let note = p.last_error.unwrap_or_default();
    assert!(note.starts_with("repaired: stray '&' escaped"), "{note}");

    let p = poll_xml("gofeed/issue_305_bare_ampersand.xml").await;
    assert_eq!(p.feed_title.as_deref(), Some("Fish & Chips & more <3"));
}

#[tokio::test]
async fn feeds_whose_elements_are_never_closed_are_closed_and_stored() {
    let p = poll_xml("unclosed.xml").await;
    stored(&p, 2);
    assert_eq!(p.titles(), ["First", "Second"]);
    let note = p.last_error.unwrap_or_default();
    assert!(note.contains("unclosed elements closed: 2"), "{note}");
}

#[tokio::test]
async fn a_charset_given_only_in_the_http_header_decodes_the_feed() {
    let p = poll(
        "latin1_no_declaration.xml",
        "application/rss+xml; charset=ISO-8859-1",
    )
    .await;
    stored(&p, 1);
    assert_eq!(p.feed_title.as_deref(), Some("Café du Monde"));
    assert_eq!(p.titles(), ["Crème brûlée"]);
}

#[tokio::test]
async fn the_http_charset_overrides_the_xml_declaration() {
    let p = poll("declares_latin1_is_utf8.xml", "text/xml; charset=utf-8").await;
    stored(&p, 1);
    assert_eq!(p.feed_title.as_deref(), Some("Café du Monde"));
    assert_eq!(p.titles(), ["Crème brûlée"]);
    assert_eq!(p.last_error, None);
}

#[tokio::test]
async fn utf16_and_utf32_feeds_without_a_byte_order_mark_are_decoded() {
    for name in ["utf16le_no_bom.xml", "utf32be_no_bom.xml"] {
        let p = poll_xml(name).await;
        stored(&p, 1);
        assert_eq!(p.feed_title.as_deref(), Some("Zürich Zeitung"), "{name}");
        assert_eq!(p.titles(), ["Grüezi"], "{name}");
    }
}

#[tokio::test]
async fn licence_enclosure_and_reply_links_never_become_the_article_url() {
    let p = poll_xml("non_alternate_links.xml").await;
    stored(&p, 3);
    assert_eq!(
        p.urls(),
        [
            Some("https://news.example/one"),
            Some("https://news.example/two"),
            None
        ]
    );
}

#[tokio::test]
async fn an_rss_guid_is_the_article_url_only_when_it_is_a_permalink() {
    let p = poll_xml("rss_guids_as_links.xml").await;
    stored(&p, 3);
    assert_eq!(
        p.urls(),
        [Some("https://news.example/permalink"), None, None]
    );
}

#[tokio::test]
async fn rss_without_a_version_or_with_an_unusual_one_is_read_as_rss() {
    let p = poll_xml("rss_without_version.xml").await;
    stored(&p, 1);
    assert_eq!(p.feed_title.as_deref(), Some("No version"));
    for name in [
        "gofeed/version_rss_093.xml",
        "gofeed/version_rss_094.xml",
        "gofeed/version_rss_201.xml",
    ] {
        let p = poll_xml(name).await;
        assert_eq!(
            p.last_status.as_deref(),
            Some("ok"),
            "{name}: {:?}",
            p.last_error
        );
    }
}

#[tokio::test]
async fn atom_0_3_feeds_keep_their_entries_titles_and_dates() {
    let p = poll_xml("atom03_entries.xml").await;
    stored(&p, 1);
    assert_eq!(p.feed_title.as_deref(), Some("Atom 0.3 weblog"));
    assert_eq!(p.titles(), ["Atom 0.3 entry"]);
    assert_eq!(p.urls(), [Some("https://news.example/2004/07/08/entry")]);
    let p = poll_xml("gofeed/atom03_feed.xml").await;
    assert_eq!(p.feed_title.as_deref(), Some("Feed Title"));
}

#[tokio::test]
async fn rss_0_90_and_rss_2_0_in_a_default_namespace_keep_their_entries() {
    let p = poll_xml("rss_090.xml").await;
    stored(&p, 2);
    assert_eq!(p.feed_title.as_deref(), Some("Netscape era"));
    assert_eq!(p.titles(), ["First 0.90 item", "Second 0.90 item"]);
    let p = poll_xml("rss2_default_namespace.xml").await;
    stored(&p, 1);
    assert_eq!(p.feed_title.as_deref(), Some("Userland namespace"));
    assert_eq!(p.urls(), [Some("https://news.example/ns/1")]);
}

#[tokio::test]
async fn rss_1_0_items_without_a_link_are_kept_by_their_title() {
    let p = poll_xml("rdf_items_without_link.xml").await;
    stored(&p, 3);
    assert_eq!(
        p.titles(),
        ["A title, no link", "Another title, no link", "With a link"]
    );
    assert_eq!(p.urls(), [None, None, Some("https://news.example/linked")]);
}

#[tokio::test]
async fn html_named_entities_are_decoded_in_feed_and_entry_titles() {
    let p = poll_xml("html_entities.xml").await;
    stored(&p, 1);
    assert_eq!(p.feed_title.as_deref(), Some("Café naïve — ♥"));
    assert_eq!(p.titles(), ["Señor Álvarez & the ½ marathon"]);
}

#[tokio::test]
async fn plain_text_titles_keep_their_characters_and_html_titles_become_text() {
    let p = poll_xml("typed_titles.xml").await;
    stored(&p, 3);
    assert_eq!(p.feed_title.as_deref(), Some("The Chemistry Desk"));
    assert_eq!(
        p.titles(),
        [
            "Use the <br> element",
            "Is x < y? Ask the <<experts>>",
            "H2O & CO2"
        ]
    );
}

#[tokio::test]
async fn feed_and_entry_titles_lose_markup_scripts_and_control_characters() {
    let p = poll_xml("markup_in_rss_titles.xml").await;
    stored(&p, 2);
    assert_eq!(p.feed_title.as_deref(), Some("Bold news"));
    assert_eq!(p.titles(), ["Bell in the title", "Breaking: cats & dogs"]);
}

#[tokio::test]
async fn json_feed_1_0_with_numeric_ids_and_a_bare_version_is_read() {
    let p = poll("json_feed_1_0_numeric_ids.json", "application/feed+json").await;
    stored(&p, 2);
    assert_eq!(p.feed_title.as_deref(), Some("JSON Feed as published"));
    assert_eq!(p.titles(), ["Numeric id", "String id"]);
    let p = poll("gofeed/version_json_11.json", "application/feed+json").await;
    assert_eq!(p.last_status.as_deref(), Some("ok"), "{:?}", p.last_error);
    assert_eq!(p.feed_title.as_deref(), Some("title"));
}

#[tokio::test]
async fn dates_without_a_zone_are_stored_as_utc_and_no_date_is_invented() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/feed"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_raw(fixture("zoneless_dates.xml"), "application/rss+xml"),
        )
        .mount(&server)
        .await;
    let t = spawn_app(&[format!("{}/feed", server.uri())]).await;
    let status = t
        .app
        .poll_all_once(Utc::now())
        .await
        .unwrap()
        .remove(0)
        .status;
    assert!(
        matches!(status, PollStatus::Ok { new_items: 3, .. }),
        "{status:?}"
    );
    let dates: Vec<Option<String>> =
        sqlx::query_scalar("SELECT published_at FROM articles ORDER BY id")
            .fetch_all(t.app.store().pool())
            .await
            .unwrap();
    let dates: Vec<Option<&str>> = dates
        .iter()
        .map(|d| d.as_deref().map(|d| &d[..19]))
        .collect();
    assert_eq!(
        dates,
        [
            Some("2004-07-08T23:56:58"),
            Some("2004-07-09T08:00:00"),
            None
        ]
    );
}

#[tokio::test]
async fn an_atom_entry_with_only_an_updated_date_is_published_then() {
    let p = poll_xml("atom_updated_only.xml").await;
    stored(&p, 2);
    assert_eq!(
        p.published,
        [
            Some("2026-11-01T06:30:00".to_owned()),
            Some("2026-10-31T12:00:00".to_owned())
        ]
    );
}

#[tokio::test]
async fn rss_items_take_dublin_core_and_atom_titles_and_dates_their_own_lack() {
    let p = poll_xml("dublin_core_items.xml").await;
    stored(&p, 3);
    assert_eq!(
        p.titles(),
        [
            "Dublin Core title & date",
            "RSS title wins",
            "Published before updated"
        ]
    );
    assert_eq!(
        p.published,
        [
            Some("2004-07-08T23:56:58".to_owned()),
            Some("2004-07-09T06:00:00".to_owned()),
            Some("2004-07-10T00:00:00".to_owned())
        ]
    );
    let p = poll_xml("rss091_dublin_core.xml").await;
    stored(&p, 1);
    assert_eq!(p.titles(), ["A 0.91 item titled and dated by Dublin Core"]);
    assert_eq!(p.published, [Some("2004-07-08T23:56:58".to_owned())]);
}

#[tokio::test]
async fn common_malformed_dates_are_read_and_text_that_is_no_date_gives_none() {
    let p = poll_xml("malformed_dates.xml").await;
    stored(&p, 6);
    let at = |d: &str| Some(d.to_owned());
    assert_eq!(
        p.published,
        [
            at("2004-07-09T04:56:58"),
            at("2004-07-08T21:56:58"),
            at("2004-07-08T23:56:58"),
            at("2004-07-08T23:56:00"),
            at("2004-07-01T00:00:00"),
            None
        ]
    );
}

#[tokio::test]
async fn a_feed_whose_entries_cannot_be_identified_says_why_none_was_stored() {
    let p = poll_xml("entries_without_identity.xml").await;
    stored(&p, 0);
    assert_eq!(p.last_status.as_deref(), Some("ok"));
    let note = p.last_error.unwrap_or_default();
    assert!(
        note.starts_with("none of the 2 entries was stored"),
        "{note}"
    );
}

#[tokio::test]
async fn unusual_atom_text_types_and_base64_titles_are_read_not_refused() {
    let p = poll_xml("atom_unusual_text_types.xml").await;
    stored(&p, 5);
    assert_eq!(p.feed_title.as_deref(), Some("Unusual types"));
    assert_eq!(
        p.titles(),
        [
            "Upper-case HTML",
            "Empty type",
            "XHTML+XML type",
            "Base64 & title",
            "Unknown type"
        ]
    );
    for name in [
        "gofeed/atom10_feed_title_base64.xml",
        "gofeed/atom03_feed_title_base64.xml",
    ] {
        let p = poll_xml(name).await;
        assert_eq!(p.feed_title.as_deref(), Some("Feed Title"), "{name}");
    }
}

#[tokio::test]
async fn untyped_atom_titles_with_html_elements_and_base64_of_escaped_html_are_stored_as_text() {
    let p = poll_xml("atom_untyped_markup.xml").await;
    stored(&p, 5);
    assert_eq!(p.feed_title.as_deref(), Some("The Untyped Desk"));
    assert_eq!(
        p.titles(),
        [
            "A paragraph as a title",
            "H2O on Mars",
            "Use the <p> element",
            "Escaped <b> stays written",
            "Base64 & escaped"
        ]
    );
    assert_eq!(p.summaries[4].as_deref(), Some("Base64 & escaped"));
    for name in [
        "gofeed/atom03_feed_title_naked_markup.xml",
        "gofeed/atom10_feed_title_base64_escaped_markup.xml",
    ] {
        let p = poll_xml(name).await;
        assert_eq!(p.feed_title.as_deref(), Some("Feed Title"), "{name}");
    }
}

#[tokio::test]
async fn rss_1_0_items_take_a_dublin_core_title_and_a_named_european_zone() {
    let p = poll_xml("rdf_dublin_core_titles.xml").await;
    stored(&p, 2);
    assert_eq!(p.titles(), ["Only a Dublin Core title", "Its own title"]);
    assert_eq!(p.published[0].as_deref(), Some("2026-11-01T08:00:00"));
}

#[tokio::test]
async fn a_channel_definition_format_document_is_refused_by_its_name() {
    let p = poll_xml("cdf_channel.xml").await;
    let error = p.last_error.unwrap_or_default();
    assert!(error.contains("Channel Definition Format (CDF)"), "{error}");
    assert!(p.articles.is_empty());
}

#[tokio::test]
async fn a_channel_without_a_title_is_named_by_its_own_dublin_core_title_not_its_images() {
    let p = poll_xml("rss_channel_dublin_core_title.xml").await;
    stored(&p, 1);
    assert_eq!(p.feed_title.as_deref(), Some("The Dublin Core Desk & Co"));
    assert_eq!(p.titles(), ["A story"]);
}

#[tokio::test]
async fn titles_reduced_from_html_are_one_line() {
    let p = poll_xml("titles_with_line_breaks.xml").await;
    stored(&p, 3);
    assert_eq!(p.feed_title.as_deref(), Some("The Desk Evening edition"));
    assert_eq!(
        p.titles(),
        [
            "Council approves budget Schools gain most",
            "Storm warning for the coast",
            "A line break folded like any whitespace"
        ]
    );
}
