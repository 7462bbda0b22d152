//! Conformance: the google_links role on every engine.

use std::time::Duration;

use chrono::{DateTime, Utc};

use super::ingest::{decoded, entry, feed, google, google_id_of, hinted, update};
use crate::store::testing::{scalar_i64, strings};
use crate::store::{ts, LinkStatus, PaceEvent, StoreError, TokenGrant};
use crate::store_test;

fn at(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

fn ids(links: &[crate::store::PendingLink]) -> Vec<&str> {
    links.iter().map(|l| l.google_id.as_str()).collect()
}

store_test!(
    async fn due_links_come_oldest_first_signed_apart_and_after_those_with_a_signed_sibling(
        store
    ) {
        let f = feed(&store, "https://f.example/rss").await;
        let early = at("2026-03-01T10:00:00Z");
        let later = at("2026-03-01T11:00:00Z");
        store
            .record_poll(
                f,
                vec![google("s1", "GS1", Some("p|s")), google("b", "GB", None)],
                early,
                update(early),
            )
            .await
            .unwrap();
        store
            .record_poll(
                f,
                vec![google("s2", "GS2", Some("p|s")), google("a", "GA", None)],
                later,
                update(later),
            )
            .await
            .unwrap();
        let now = at("2026-03-01T12:00:00Z");
        assert_eq!(
            ids(&store.pending_google_links(now, false, 10).await.unwrap()),
            ["GB", "GS1", "GA", "GS2"]
        );
        store.save_signature("GS2", "sig", 1_700_000_000).await.unwrap();
        // GS1 waits for its signed sibling, which may resolve the story.
        assert_eq!(
            ids(&store.pending_google_links(now, false, 10).await.unwrap()),
            ["GB", "GA", "GS1"]
        );
        let signed = store.pending_google_links(now, true, 10).await.unwrap();
        assert_eq!(ids(&signed), ["GS2"]);
        assert_eq!(signed[0].signature.as_deref(), Some("sig"));
        assert_eq!(signed[0].sig_timestamp, Some(1_700_000_000));
        assert_eq!(
            ids(&store.pending_google_links(now, false, 1).await.unwrap()),
            ["GB"]
        );
        // Nothing is due before it was seen.
        assert!(store
            .pending_google_links(early - chrono::Duration::seconds(1), false, 10)
            .await
            .unwrap()
            .is_empty());
    }
);

store_test!(
    async fn a_failing_link_backs_off_doubling_and_fails_for_good_after_its_attempts(store) {
        let f = feed(&store, "https://f.example/rss").await;
        let now = at("2026-03-01T10:00:00Z");
        store
            .record_poll(f, vec![google("a", "GA", None)], now, update(now))
            .await
            .unwrap();
        store.save_signature("GA", "sig", 1).await.unwrap();
        let base = Duration::from_secs(60);
        store
            .fail_google_link("GA", "boom", now, base, 3, false)
            .await
            .unwrap();
        assert!(store.pending_google_links(now, true, 10).await.unwrap().is_empty());
        let retry = store
            .pending_google_links(now + chrono::Duration::seconds(60), true, 10)
            .await
            .unwrap();
        assert_eq!(retry[0].attempts, 1);
        store
            .fail_google_link("GA", "boom again", now, base, 3, true)
            .await
            .unwrap();
        assert_eq!(
            strings(
                &store,
                "SELECT next_try_at || ' ' || last_error || ' ' || COALESCE(signature, '-') \
                 FROM google_links"
            )
            .await,
            [Some(format!(
                "{} boom again -",
                ts(now + chrono::Duration::seconds(120))
            ))]
        );
        store
            .fail_google_link("GA", "last", now, base, 3, false)
            .await
            .unwrap();
        assert_eq!(
            store.google_link("GA").await.unwrap().map(|(s, _)| s),
            Some(LinkStatus::Failed)
        );
        assert_eq!(store.google_link("missing").await.unwrap(), None);
        let stats = store.google_queue_stats().await.unwrap();
        assert_eq!((stats.pending, stats.failed), (0, 1));
    }
);

store_test!(
    async fn a_resolved_link_gives_its_article_an_identity_and_its_unsigned_siblings_join(
        store
    ) {
        let f = feed(&store, "https://f.example/rss").await;
        let now = Utc::now();
        store
            .record_poll(
                f,
                vec![
                    google("a", "GA", Some("p|s")),
                    google("b", "GB", Some("p|s")),
                    google("c", "GC", Some("p|s")),
                ],
                now,
                update(now),
            )
            .await
            .unwrap();
        store.save_signature("GC", "sig", 1).await.unwrap();
        let article = scalar_i64(&store, "SELECT id FROM articles").await;
        let survivor = store
            .resolve_google_link("GA", "https://pub.example/story?utm_source=x", now)
            .await
            .unwrap();
        assert_eq!(survivor, article);
        assert_eq!(
            strings(
                &store,
                "SELECT url_key || ' ' || url || ' ' || resolution FROM articles"
            )
            .await,
            [Some(
                "pub.example/story https://pub.example/story resolved".to_owned()
            )]
        );
        assert_eq!(
            strings(
                &store,
                "SELECT google_id || ' ' || status FROM google_links ORDER BY google_id"
            )
            .await,
            [
                Some("GA resolved".to_owned()),
                Some("GB joined".to_owned()),
                Some("GC pending".to_owned()),
            ]
        );
        assert_eq!(
            store.google_link("GA").await.unwrap(),
            Some((
                LinkStatus::Resolved,
                Some("https://pub.example/story?utm_source=x".to_owned())
            ))
        );
        // A later item of the story joins without a lookup of its own.
        store
            .record_poll(f, vec![google("d", "GD", Some("p|s"))], now, update(now))
            .await
            .unwrap();
        assert_eq!(
            store.google_link("GD").await.unwrap().map(|(s, _)| s),
            Some(LinkStatus::Joined)
        );
        let err = store
            .resolve_google_link("GX", "https://pub.example/x", now)
            .await
            .unwrap_err();
        assert!(matches!(err, StoreError::NotFound(_)), "{err}");
    }
);

store_test!(
    async fn a_link_resolving_to_an_archived_url_merges_into_that_article(store) {
        let f = feed(&store, "https://f.example/1").await;
        let earlier = Utc::now() - chrono::Duration::hours(1);
        let now = Utc::now();
        store
            .record_poll(f, vec![hinted(google("g", "G1", None))], earlier, update(earlier))
            .await
            .unwrap();
        store
            .record_poll(f, vec![entry("p", "https://pub.example/x")], now, update(now))
            .await
            .unwrap();
        let plain = scalar_i64(&store, "SELECT MAX(id) FROM articles").await;
        let survivor = store
            .resolve_google_link("G1", "https://pub.example/x", now)
            .await
            .unwrap();
        assert_eq!(survivor, plain);
        assert_eq!(scalar_i64(&store, "SELECT COUNT(*) FROM articles").await, 1);
        assert_eq!(
            strings(
                &store,
                "SELECT first_seen_at || ' ' || title || ' ' || resolution FROM articles"
            )
            .await,
            [Some(format!("{} Title p resolved", ts(earlier)))]
        );
        assert_eq!(
            scalar_i64(
                &store,
                &format!("SELECT COUNT(*) FROM feed_items WHERE article_id = {plain}")
            )
            .await,
            2
        );
        assert_eq!(
            scalar_i64(
                &store,
                &format!(
                    "SELECT COUNT(*) FROM story_hints WHERE article_id = {plain} AND google_id = 'H'"
                )
            )
            .await,
            1
        );
        assert_eq!(
            scalar_i64(
                &store,
                &format!("SELECT COUNT(*) FROM google_links WHERE article_id = {plain}")
            )
            .await,
            1
        );
    }
);

store_test!(
    async fn a_signed_sibling_resolving_elsewhere_splits_off_with_its_items(store) {
        let f = feed(&store, "https://f.example/rss").await;
        let now = Utc::now();
        store
            .record_poll(
                f,
                vec![google("a", "GA", Some("p|s")), google("b", "GB", Some("p|s"))],
                now,
                update(now),
            )
            .await
            .unwrap();
        store.save_signature("GB", "sig", 1).await.unwrap();
        let first = store
            .resolve_google_link("GA", "https://pub.example/a", now)
            .await
            .unwrap();
        let second = store
            .resolve_google_link("GB", "https://pub.example/b", now)
            .await
            .unwrap();
        assert_ne!(first, second);
        assert_eq!(
            strings(
                &store,
                &format!(
                    "SELECT {} || ' ' || a.url_key || ' ' || a.resolution FROM feed_items fi \
                     JOIN articles a ON a.id = fi.article_id ORDER BY fi.entry_key",
                    google_id_of("fi")
                )
            )
            .await,
            [
                Some("GA pub.example/a resolved".to_owned()),
                Some("GB pub.example/b resolved".to_owned()),
            ]
        );
        assert_eq!(
            scalar_i64(
                &store,
                "SELECT article_id FROM google_links WHERE google_id = 'GB'"
            )
            .await,
            second
        );
        // Resolving again to the same URL changes nothing.
        assert_eq!(
            store
                .resolve_google_link("GB", "https://pub.example/b", now)
                .await
                .unwrap(),
            second
        );
        // A decoded id is stored resolved.
        store
            .record_poll(
                f,
                vec![decoded("d", "GD", "https://pub.example/d", "pub.example/d")],
                now,
                update(now),
            )
            .await
            .unwrap();
        let stats = store.google_queue_stats().await.unwrap();
        assert_eq!(
            (stats.pending, stats.resolved, stats.decoded, stats.joined),
            (0, 2, 1, 0)
        );
    }
);

fn rule(burst: u32) -> crate::google_news::PaceRule {
    crate::google_news::PaceRule {
        min_interval: Duration::from_secs(30),
        max_interval: Duration::from_secs(600),
        burst,
        speedup_after: 2,
    }
}

store_test!(
    async fn the_breaker_and_the_request_counts_are_kept_per_egress(store) {
        let budget = store.google_budget("default").await.unwrap();
        assert_eq!((budget.open_until, budget.last_get_at), (None, None));
        let now = at("2026-03-01T10:00:00Z");
        let until = at("2026-03-01T11:00:00Z");
        let lockout = |rate_limited| PaceEvent::LockedOut {
            until,
            rate_limited,
        };
        store
            .record_google_pace("default", &rule(3), lockout(true), now)
            .await
            .unwrap();
        store.count_google_request("default", true, None, now).await.unwrap();
        store.count_google_request("default", true, None, now).await.unwrap();
        store.count_google_request("default", false, None, now).await.unwrap();
        store.count_google_request("eu-2", false, None, now).await.unwrap();
        let budget = store.google_budget("default").await.unwrap();
        assert_eq!((budget.open_until, budget.last_get_at), (Some(until), Some(now)));
        let other = store.google_budget("eu-2").await.unwrap();
        assert_eq!((other.open_until, other.last_get_at), (None, None));
        let stats = store.google_queue_stats().await.unwrap();
        let names: Vec<&str> = stats.egresses.iter().map(|b| b.egress.as_str()).collect();
        assert_eq!(names, ["default", "eu-2"]);
        let d = stats.egress("default").unwrap();
        assert_eq!(d.breaker_open_until, Some(ts(until)));
        assert_eq!(d.last_get_at, Some(ts(now)));
        assert_eq!((d.breaker_trips, d.gets_total, d.posts_total), (1, 2, 1));
        assert_eq!(d.rate_limited_total, 1);
        assert_eq!(d.last_lockout_at, Some(ts(now)));
        let e = stats.egress("eu-2").unwrap();
        assert_eq!((e.breaker_trips, e.gets_total, e.posts_total), (0, 0, 1));
        assert_eq!(e.last_get_at, None, "a POST is no GET");
        store
            .record_google_pace("default", &rule(3), lockout(false), now)
            .await
            .unwrap();
        let d = store.google_queue_stats().await.unwrap().egress("default").cloned().unwrap();
        assert_eq!(
            (d.breaker_trips, d.rate_limited_total),
            (2, 1),
            "a /sorry/ lockout is no 429"
        );
    }
);

store_test!(
    async fn the_learned_pace_is_kept_to_the_millisecond(store) {
        assert_eq!(store.google_budget("default").await.unwrap().pace, None, "fresh");
        let now = at("2026-03-01T10:00:00.250Z");
        let grant = store.take_google_token("default", &rule(3), now).await.unwrap();
        assert_eq!(grant, TokenGrant::Taken);
        let pace = crate::google_news::Pace {
            interval: Duration::from_secs(30),
            tokens: 2.0,
            at: now,
            successes: 0,
        };
        assert_eq!(store.google_budget("default").await.unwrap().pace, Some(pace));
        let stats = store.google_queue_stats().await.unwrap();
        let d = stats.egress("default").unwrap();
        assert_eq!(d.pace_interval_ms, Some(30_000));
        assert_eq!(d.pace().map(|p| p.tokens), Some(2.0));
    }
);

store_test!(
    async fn each_egress_spends_its_own_bucket_and_a_spent_one_says_when_the_next_token_comes(
        store
    ) {
        let now = at("2026-03-01T10:00:00Z");
        for _ in 0..2 {
            let grant = store.take_google_token("eu-1", &rule(2), now).await.unwrap();
            assert_eq!(grant, TokenGrant::Taken);
        }
        assert_eq!(
            store.take_google_token("eu-1", &rule(2), now).await.unwrap(),
            TokenGrant::NotBefore(at("2026-03-01T10:00:30Z"))
        );
        assert_eq!(
            store.take_google_token("eu-2", &rule(2), now).await.unwrap(),
            TokenGrant::Taken,
            "another egress has a bucket of its own"
        );
        let later = at("2026-03-01T10:00:30Z");
        assert_eq!(
            store.take_google_token("eu-1", &rule(2), later).await.unwrap(),
            TokenGrant::Taken
        );
        // A consent retry spends on credit, paid back before the next token.
        store
            .record_google_pace("eu-1", &rule(2), PaceEvent::Credit, later)
            .await
            .unwrap();
        assert_eq!(
            store.take_google_token("eu-1", &rule(2), later).await.unwrap(),
            TokenGrant::NotBefore(at("2026-03-01T10:01:30Z"))
        );
    }
);

store_test!(
    async fn no_token_is_given_while_the_egresss_breaker_is_open_and_one_lockout_halves_the_pace_once(
        store
    ) {
        let now = at("2026-03-01T10:00:00Z");
        let until = at("2026-03-01T10:30:00Z");
        let lockout = PaceEvent::LockedOut {
            until,
            rate_limited: true,
        };
        // Two instances on the egress both answered 429 for one lockout.
        for _ in 0..2 {
            store
                .record_google_pace("eu-1", &rule(3), lockout, now)
                .await
                .unwrap();
        }
        let pace = store.google_budget("eu-1").await.unwrap().pace.unwrap();
        assert_eq!(pace.interval, Duration::from_secs(60), "halved once");
        assert_eq!(pace.tokens, 0.0);
        assert_eq!(
            store
                .take_google_token("eu-1", &rule(3), at("2026-03-01T10:29:59Z"))
                .await
                .unwrap(),
            TokenGrant::CoolingDown(until)
        );
        assert_eq!(
            store.take_google_token("default", &rule(3), now).await.unwrap(),
            TokenGrant::Taken,
            "the breaker is the egress's"
        );
        assert_eq!(
            store.take_google_token("eu-1", &rule(3), until).await.unwrap(),
            TokenGrant::Taken,
            "tokens refilled during the cool-down"
        );
        for _ in 0..2 {
            store
                .record_google_pace("eu-1", &rule(3), PaceEvent::Succeeded, until)
                .await
                .unwrap();
        }
        let pace = store.google_budget("eu-1").await.unwrap().pace.unwrap();
        assert_eq!(pace.interval, Duration::from_secs(54), "a run of successes");
    }
);

store_test!(
    async fn instances_taking_tokens_of_one_egress_at_once_never_get_more_than_its_bucket_holds(
        store
    ) {
        let now = at("2026-03-01T10:00:00Z");
        let takers: Vec<_> = (0..16)
            .map(|_| {
                let store = store.clone();
                tokio::spawn(async move { store.take_google_token("eu-1", &rule(5), now).await })
            })
            .collect();
        let mut taken = 0;
        for t in takers {
            if t.await.unwrap().unwrap() == TokenGrant::Taken {
                taken += 1;
            }
        }
        assert_eq!(taken, 5);
        let pace = store.google_budget("eu-1").await.unwrap().pace.unwrap();
        assert_eq!(pace.tokens, 0.0);
    }
);

store_test!(
    async fn each_article_page_get_counts_in_its_links_cost(store) {
        let f = feed(&store, "https://f.example/rss").await;
        let now = at("2026-03-01T10:00:00Z");
        store
            .record_poll(f, vec![google("a", "GA", None)], now, update(now))
            .await
            .unwrap();
        for get in [true, true, false] {
            store
                .count_google_request("default", get, Some("GA"), now)
                .await
                .unwrap();
        }
        assert_eq!(
            scalar_i64(&store, "SELECT gets FROM google_links").await,
            2,
            "POSTs are shared by a batch and counted apart"
        );
    }
);

store_test!(
    async fn a_links_placement_and_the_last_days_costs_are_read_back(store) {
        let f = feed(&store, "https://f.example/rss").await;
        let day0 = at("2026-03-01T10:00:00Z");
        let day1 = at("2026-03-02T10:00:00Z");
        store
            .record_poll(f, vec![google("old", "GO", None)], day0, update(day0))
            .await
            .unwrap();
        store
            .record_poll(
                f,
                vec![google("a", "GA", None), google("b", "GB", None)],
                day1,
                update(day1),
            )
            .await
            .unwrap();
        store
            .count_google_request("default", true, Some("GA"), day1)
            .await
            .unwrap();
        store
            .resolve_google_link("GA", "https://pub.example/a", day1)
            .await
            .unwrap();
        let costs = store
            .google_link_costs(day1 - chrono::Duration::hours(1))
            .await
            .unwrap();
        assert_eq!(
            costs,
            crate::store::LinkCosts {
                new: 2,
                needed_get: 1,
                queued: 1
            }
        );
        let placed = store.google_link_placement("GA").await.unwrap().unwrap();
        assert_eq!(placed.status, LinkStatus::Resolved);
        assert_eq!(placed.gets, 1);
        assert_eq!(placed.publisher_url.as_deref(), Some("https://pub.example/a"));
        assert_eq!(placed.article_url.as_deref(), Some("https://pub.example/a"));
        let waiting = store.google_link_placement("GB").await.unwrap().unwrap();
        assert_eq!(
            (waiting.status, waiting.gets, waiting.article_url),
            (LinkStatus::Pending, 0, None)
        );
        assert_eq!(store.google_link_placement("missing").await.unwrap(), None);
    }
);

store_test!(
    async fn an_unresolved_article_joins_a_placed_one_with_its_key_and_not_one_outside_the_window(
        store
    ) {
        let plain = feed(&store, "https://pub.example/rss").await;
        let google_feed = feed(&store, "https://f.example/rss").await;
        let t0 = at("2026-03-02T10:00:00Z");
        store
            .record_poll(
                google_feed,
                vec![
                    google("g1", "G1", Some("pub.example|a headline of four words")),
                    google("g2", "G2", Some("pub.example|another headline of five words")),
                ],
                t0,
                update(t0),
            )
            .await
            .unwrap();
        // The publisher's own entries: one with the first key, seen after the
        // Google item; one with the second, seen two days before it.
        let mut e1 = entry("p1", "https://pub.example/a-headline");
        e1.title = Some("A headline of four words".into());
        e1.provisional_key = crate::store::identity::entry_provisional_key(&e1);
        let mut e2 = entry("p2", "https://pub.example/another");
        e2.title = Some("Another headline of five words".into());
        e2.provisional_key = crate::store::identity::entry_provisional_key(&e2);
        let later = t0 + chrono::Duration::minutes(1);
        store.record_poll(plain, vec![e1], later, update(later)).await.unwrap();
        let early = t0 - chrono::Duration::days(2);
        store.record_poll(plain, vec![e2], early, update(early)).await.unwrap();
        let pending = store.pending_google_links(t0, false, 10).await.unwrap();
        let articles: Vec<i64> = pending.iter().map(|l| l.article_id).collect();
        let g1_article = pending[ids(&pending).iter().position(|i| *i == "G1").unwrap()].article_id;
        let joined = store.join_placed_articles(&articles).await.unwrap();
        assert_eq!(joined, [g1_article]);
        assert_eq!(
            store.google_link("G1").await.unwrap().map(|(s, _)| s),
            Some(LinkStatus::Joined)
        );
        assert_eq!(
            store.google_link("G2").await.unwrap().map(|(s, _)| s),
            Some(LinkStatus::Pending),
            "the publisher's article is older than the window"
        );
        assert_eq!(
            strings(
                &store,
                "SELECT a.url FROM google_links g JOIN articles a ON a.id = g.article_id \
                 WHERE g.google_id = 'G1'"
            )
            .await,
            [Some("https://pub.example/a-headline".to_owned())]
        );
        assert_eq!(
            scalar_i64(&store, "SELECT COUNT(*) FROM articles").await,
            3,
            "the unresolved article merged away"
        );
        assert!(store.join_placed_articles(&articles).await.unwrap().is_empty());
    }
);
