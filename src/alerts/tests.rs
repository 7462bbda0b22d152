use std::collections::HashMap;
use std::time::Duration;

use chrono::{TimeZone, Utc};

use super::*;
use crate::store::{AlertArticle, AlertStory, SearchOrigin};

fn search(id: i64, query: &str) -> SearchRow {
    SearchRow {
        id,
        name: format!("s{id}"),
        query: query.to_owned(),
        fts: false,
        feeds: Vec::new(),
        publishers: Vec::new(),
        lang: None,
        channels: vec!["hook".to_owned()],
        digest_secs: None,
        backfill: false,
        origin: SearchOrigin::Cli,
        enabled: true,
        disabled_reason: None,
        matches_since: Some("2026-01-01T00:00:00Z".to_owned()),
        digest_at: None,
        created_at: "2026-01-01T00:00:00Z".to_owned(),
        updated_at: "2026-01-01T00:00:00Z".to_owned(),
    }
}

fn article(id: i64, title: &str) -> AlertCandidate {
    AlertCandidate {
        article_id: id,
        title: Some(title.to_owned()),
        first_seen_at: "2026-02-01T00:00:00Z".to_owned(),
        feed_ids: vec![1],
        ..Default::default()
    }
}

fn matches(q: &str, c: &AlertCandidate) -> Option<bool> {
    Matcher::new(&search(1, q)).matches(c, &Doc::new(c))
}

#[test]
fn every_plain_word_must_occur_in_any_case_and_without_accents() {
    let c = article(1, "Café owners protest new Semiconductor tariffs");
    assert_eq!(matches("semiconductor cafe", &c), Some(true));
    assert_eq!(matches("semiconductor weather", &c), Some(false));
}

#[test]
fn a_word_with_punctuation_is_a_phrase_of_its_parts() {
    let c = article(1, "New COVID-19 wave");
    assert_eq!(matches("covid-19", &c), Some(true));
    let c = article(1, "19 reasons covid is back");
    assert_eq!(matches("covid-19", &c), Some(false));
}

#[test]
fn a_word_only_in_the_body_matches_once_the_text_is_there() {
    let mut c = article(1, "Markets today");
    assert_eq!(matches("lithium", &c), Some(false));
    c.text = Some("Lithium prices rose.".to_owned());
    assert_eq!(matches("lithium", &c), Some(true));
}

#[test]
fn words_of_scripts_without_spaces_are_found_as_substrings() {
    let c = article(1, "東京で地震が発生");
    assert_eq!(matches("地震", &c), Some(true));
    assert_eq!(matches("台風", &c), Some(false));
}

#[test]
fn filters_and_the_age_limit_exclude_articles() {
    let mut s = search(1, "chips");
    s.publishers = vec!["Reuters".to_owned()];
    s.lang = Some("en".to_owned());
    s.feeds = vec![1];
    let mut c = article(1, "chips");
    c.publisher = Some("reuters".to_owned());
    c.lang = Some("en-US".to_owned());
    let m = Matcher::new(&s);
    assert!(m.admits(&c));
    c.lang = Some("eng".to_owned());
    assert!(!m.admits(&c));
    c.lang = Some("en".to_owned());
    c.feed_ids = vec![2];
    assert!(!m.admits(&c));
    c.feed_ids = vec![1];
    c.first_seen_at = "2025-12-31T23:59:59Z".to_owned();
    assert!(!m.admits(&c), "first seen before the search existed");
}

#[test]
fn a_raw_syntax_search_is_left_to_the_index() {
    let mut s = search(1, "chip* OR wafer");
    s.fts = true;
    let c = article(1, "chips");
    assert_eq!(Matcher::new(&s).matches(&c, &Doc::new(&c)), None);
    assert_eq!(Matcher::new(&s).engine_query(), Some("chip* OR wafer"));
}

fn held(match_id: i64, search_id: i64, story: Option<i64>, claimed: bool) -> HeldMatch {
    HeldMatch {
        match_id,
        search_id,
        article: Some(AlertArticle {
            id: match_id,
            url: Some(format!("https://p.example/{match_id}")),
            title: Some("Chips".to_owned()),
            publisher: Some("P".to_owned()),
            first_seen_at: "2026-02-01T00:00:00Z".to_owned(),
            snippet: None,
        }),
        story: story.map(|id| AlertStory {
            id,
            title: Some("Chips".to_owned()),
            first_seen_at: "2026-02-01T00:00:00Z".to_owned(),
        }),
        story_claimed: claimed,
    }
}

fn ids() -> impl FnMut() -> String {
    let mut n = 0;
    move || {
        n += 1;
        format!("e{n}")
    }
}

#[test]
fn two_copies_of_one_story_make_one_event_listing_both() {
    let searches = HashMap::from([(1, search(1, "chips"))]);
    let p = plan_promotion(
        &[held(10, 1, Some(7), false), held(11, 1, Some(7), false)],
        &searches,
        ids(),
    );
    assert_eq!(p.events.len(), 1);
    assert_eq!(p.events[0].match_ids, vec![10, 11]);
    assert_eq!(
        p.decisions,
        vec![
            (10, MatchState::Notified, Some(7)),
            (11, MatchState::Duplicate, Some(7))
        ]
    );
}

#[test]
fn a_story_already_notified_sends_nothing_again() {
    let searches = HashMap::from([(1, search(1, "chips"))]);
    let p = plan_promotion(&[held(10, 1, Some(7), true)], &searches, ids());
    assert!(p.events.is_empty());
    assert_eq!(p.decisions, vec![(10, MatchState::Duplicate, Some(7))]);
}

#[test]
fn an_article_not_yet_clustered_stays_held() {
    let searches = HashMap::from([(1, search(1, "chips"))]);
    let p = plan_promotion(&[held(10, 1, None, false)], &searches, ids());
    assert_eq!(p, Promotion::default());
}

#[test]
fn a_disabled_search_drops_its_held_matches() {
    let mut s = search(1, "chips");
    s.enabled = false;
    let p = plan_promotion(
        &[held(10, 1, Some(7), false)],
        &HashMap::from([(1, s)]),
        ids(),
    );
    assert!(p.events.is_empty());
    assert_eq!(p.decisions, vec![(10, MatchState::Dropped, None)]);
}

#[test]
fn a_digest_search_queues_a_story_and_sends_one_message_for_all() {
    let mut s = search(1, "chips");
    s.digest_secs = Some(3600);
    let p = plan_promotion(
        &[held(10, 1, Some(7), false)],
        &HashMap::from([(1, s.clone())]),
        ids(),
    );
    assert!(p.events.is_empty());
    assert_eq!(p.decisions, vec![(10, MatchState::Queued, Some(7))]);
    let now = Utc.with_ymd_and_hms(2026, 2, 1, 12, 0, 0).unwrap();
    assert!(digest_due(&s, now));
    s.digest_at = Some("2026-02-01T11:30:00Z".to_owned());
    assert!(!digest_due(&s, now));
    let q = |id, story| QueuedMatch {
        match_id: id,
        story: held(id, 1, Some(story), false).story.unwrap(),
        article: held(id, 1, Some(story), false).article.unwrap(),
    };
    let d = plan_digest(&s, &[q(10, 7), q(11, 8)], "e1".to_owned());
    let body: payload::Payload = serde_json::from_str(&d.events[0].payload).unwrap();
    match body.body {
        payload::Body::Digest { stories } => assert_eq!(stories.len(), 2),
        other => panic!("not a digest: {other:?}"),
    }
}

#[test]
fn retries_double_from_the_interval_and_wait_for_retry_after() {
    let now = Utc.with_ymd_and_hms(2026, 2, 1, 12, 0, 0).unwrap();
    let base = Duration::from_secs(60);
    assert_eq!(
        retry_at(1, base, 0.5, None, now),
        now + chrono::Duration::seconds(60)
    );
    assert_eq!(
        retry_at(3, base, 0.5, None, now),
        now + chrono::Duration::seconds(240)
    );
    let low = retry_at(1, base, 0.0, None, now);
    let high = retry_at(1, base, 0.999, None, now);
    assert!(
        low >= now + chrono::Duration::seconds(54) && high <= now + chrono::Duration::seconds(66)
    );
    assert!(low < high, "jitter spreads retries");
    let later = now + chrono::Duration::hours(1);
    assert_eq!(retry_at(1, base, 0.5, Some(later), now), later);
    assert!(retry_at(60, base, 0.5, None, now) <= now + chrono::Duration::hours(27));
}

#[test]
fn the_signature_is_the_hmac_sha256_of_the_body() {
    // RFC 4231 test case 2.
    assert_eq!(
        payload::signature("Jefe", b"what do ya want for nothing?"),
        "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
    );
}

#[test]
fn an_ntfy_message_has_the_headline_publisher_and_link() {
    let s = search(1, "chips");
    let h = held(10, 1, Some(7), false);
    let body = payload::story_payload(
        "e1",
        &s,
        h.story.as_ref().unwrap(),
        &[h.article.clone().unwrap()],
    );
    let m = payload::ntfy_message(&body).unwrap();
    assert_eq!(m.title, "newsd: s1");
    assert_eq!(m.message, "Chips — P");
    assert_eq!(m.click.as_deref(), Some("https://p.example/10"));
}

#[test]
fn an_email_lists_each_article_as_text_and_as_escaped_html() {
    let s = search(1, "chips");
    let story = AlertStory {
        id: 7,
        title: Some("Chips & <b>tariffs</b>".to_owned()),
        first_seen_at: "2026-02-01T00:00:00Z".to_owned(),
    };
    let article = AlertArticle {
        id: 10,
        url: Some("https://p.example/a?x=1&y=\"2\"".to_owned()),
        title: Some("Chips & <b>tariffs</b>".to_owned()),
        publisher: Some("P".to_owned()),
        first_seen_at: "2026-02-01T00:00:00Z".to_owned(),
        snippet: Some("Makers <warn>".to_owned()),
    };
    let m = payload::email_message(&payload::story_payload("e1", &s, &story, &[article])).unwrap();
    assert_eq!(m.subject, "newsd: s1: Chips & <b>tariffs</b>");
    assert!(
        m.text.contains(
            "  P: Chips & <b>tariffs</b>\n  https://p.example/a?x=1&y=\"2\"\n  Makers <warn>\n"
        ),
        "{}",
        m.text
    );
    assert!(
        !m.html.contains("<b>") && !m.html.contains("<warn>"),
        "{}",
        m.html
    );
    assert!(m.html.contains("<a href=\"https://p.example/a?x=1&amp;y=&quot;2&quot;\">Chips &amp; &lt;b&gt;tariffs&lt;/b&gt;</a> — P"), "{}", m.html);

    let digest = payload::digest_payload(
        "e2",
        &s,
        &[(story.clone(), Vec::new()), (story, Vec::new())],
    );
    assert_eq!(
        payload::email_message(&digest).unwrap().subject,
        "newsd: s1 (2 stories)"
    );
}

#[test]
fn the_search_set_finds_what_each_search_alone_finds_and_asks_the_engine_only_what_it_admits() {
    let mut fts = search(4, "chip* OR wafer");
    fts.fts = true;
    let mut other_lang = search(5, "chip* OR wafer");
    other_lang.fts = true;
    other_lang.lang = Some("de".to_owned());
    let rows = vec![
        search(1, "export chips"),
        search(2, "lithium"),
        search(3, "清华大学"),
        fts,
        other_lang,
        search(6, "e-mail chips"),
    ];
    let set = Searches::new(&rows);
    let articles = [
        article(1, "Chips export curbs widen"),
        article(2, "Lithium and chips, by e-mail"),
        article(3, "清华大学 opens a chips lab"),
        article(4, "Nothing to see"),
    ];
    for c in &articles {
        let doc = Doc::new(c);
        let alone: Vec<i64> = rows
            .iter()
            .filter(|s| Matcher::new(s).matches(c, &doc) == Some(true))
            .map(|s| s.id)
            .collect();
        let v = set.check(c, &doc);
        assert_eq!(v.matched, alone, "article {}", c.article_id);
        assert_eq!(
            v.ask_engine,
            [4],
            "the German-only search admits no English article"
        );
    }
    assert_eq!(
        set.check(&articles[1], &Doc::new(&articles[1])).matched,
        [2, 6]
    );
    assert_eq!(
        set.get(4).and_then(Matcher::engine_query),
        Some("chip* OR wafer")
    );
}
