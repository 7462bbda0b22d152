//! Conformance: the feeds role on every engine.

use chrono::Utc;

use crate::store::testing::scalar_i64;
use crate::store::time::ts;
use crate::store::{FeedRow, FeedStatus, FeedUpdate, NewFeed, StoreError, SyncReport};
use crate::store_test;

fn nf(url: &str) -> NewFeed {
    NewFeed {
        url: url.into(),
        name: None,
        interval_secs: None,
    }
}

store_test!(
    async fn config_sync_upserts_and_disables_removed_feeds_without_deleting(store) {
        let now = Utc::now();
        let r = store
            .sync_config_feeds(
                &[nf("https://a.example/rss"), nf("https://b.example/rss")],
                now,
            )
            .await
            .unwrap();
        assert_eq!(r.added, 2);
        let r = store
            .sync_config_feeds(
                &[nf("https://a.example/rss"), nf("https://b.example/rss")],
                now,
            )
            .await
            .unwrap();
        assert_eq!(r, SyncReport::default());
        let r = store
            .sync_config_feeds(&[nf("https://a.example/rss")], now)
            .await
            .unwrap();
        assert_eq!(r.disabled, 1);
        let feeds = store.list_feeds().await.unwrap();
        assert_eq!(feeds.len(), 2);
        let b = feeds.iter().find(|f| f.url.contains("b.example")).unwrap();
        assert!(!b.enabled);
        assert_eq!(b.disabled_reason.as_deref(), Some("removed_from_config"));
        let r = store
            .sync_config_feeds(
                &[nf("https://a.example/rss"), nf("https://b.example/rss")],
                now,
            )
            .await
            .unwrap();
        assert_eq!(r.updated, 1);
        assert!(
            store
                .find_feed("https://b.example/rss")
                .await
                .unwrap()
                .unwrap()
                .enabled
        );
    }
);

store_test!(
    async fn config_feeds_cannot_be_removed_from_the_cli(store) {
        store
            .sync_config_feeds(&[nf("https://a.example/rss")], Utc::now())
            .await
            .unwrap();
        let err = store
            .remove_feed("https://a.example/rss")
            .await
            .unwrap_err();
        assert!(matches!(err, StoreError::ConfigManaged(_)));
        assert!(err.to_string().contains("config"));
    }
);

store_test!(
    async fn cli_feeds_are_added_once_and_removed_by_id_or_url(store) {
        let now = Utc::now();
        let (row, new) = store
            .add_feed(&nf("https://c.example/rss"), "cli", now)
            .await
            .unwrap();
        assert!(new);
        let (_, again) = store
            .add_feed(&nf("https://c.example/rss"), "cli", now)
            .await
            .unwrap();
        assert!(!again);
        assert_eq!(store.list_feeds().await.unwrap().len(), 1);
        store.remove_feed(&row.id.to_string()).await.unwrap();
        assert!(store.list_feeds().await.unwrap().is_empty());
        assert!(matches!(
            store.remove_feed("https://nope.example/").await,
            Err(StoreError::FeedNotFound(_))
        ));
    }
);

store_test!(
    async fn due_feeds_and_next_due_follow_next_poll_at(store) {
        let now = Utc::now();
        store
            .add_feed(&nf("https://c.example/rss"), "cli", now)
            .await
            .unwrap();
        assert_eq!(store.due_feeds(now, 10).await.unwrap().len(), 1);
        assert_eq!(
            store
                .due_feeds(now - chrono::Duration::seconds(5), 10)
                .await
                .unwrap()
                .len(),
            0
        );
        assert_eq!(store.next_due_at().await.unwrap().map(ts), Some(ts(now)));
        let before = now - chrono::Duration::seconds(5);
        assert_eq!(
            store.next_due_after(before).await.unwrap().map(ts),
            Some(ts(now))
        );
        assert_eq!(store.next_due_after(now).await.unwrap(), None);
        store
            .set_feed_enabled("https://c.example/rss", false, now)
            .await
            .unwrap();
        assert_eq!(store.next_due_at().await.unwrap(), None);
        assert!(store.enabled_feeds().await.unwrap().is_empty());
    }
);

store_test!(
    async fn due_feeds_come_page_by_page_in_due_order_without_gaps_or_repeats(store) {
        let now = Utc::now();
        // Two feeds share a due time, so the id breaks the tie between pages.
        for (i, secs) in [(0, 30), (1, 10), (2, 20), (3, 20), (4, 5)] {
            store
                .add_feed(&nf(&format!("https://p{i}.example/rss")), "cli", now)
                .await
                .unwrap();
            let moved = scalar_i64(
                &store,
                &format!(
                    "UPDATE feeds SET next_poll_at = '{}' \
                     WHERE url = 'https://p{i}.example/rss' RETURNING id",
                    ts(now - chrono::Duration::seconds(secs))
                ),
            )
            .await;
            assert!(moved > 0);
        }
        let mut seen = Vec::new();
        let mut after: Option<FeedRow> = None;
        loop {
            let page = store.due_feeds_page(now, after.as_ref(), 2).await.unwrap();
            if page.is_empty() {
                break;
            }
            seen.extend(page.iter().map(|f| f.url.clone()));
            after = page.last().cloned();
        }
        let expected: Vec<String> = [0, 2, 3, 1, 4]
            .iter()
            .map(|i| format!("https://p{i}.example/rss"))
            .collect();
        assert_eq!(seen, expected);
    }
);

store_test!(
    async fn a_poll_outcome_updates_the_feed_row_and_gone_disables_it(store) {
        let now = crate::store::time::parse_ts("2026-06-01T12:00:00Z").unwrap();
        let (feed, _) = store
            .add_feed(&nf("https://g.example/rss"), "cli", now)
            .await
            .unwrap();
        let ok = FeedUpdate {
            last_status: FeedStatus::Ok,
            etag: Some("\"v1\"".into()),
            last_modified: Some("Mon, 01 Jun 2026 11:00:00 GMT".into()),
            next_poll_at: now + chrono::Duration::seconds(600),
            next_poll_reason: "interval".into(),
            polled_at: now,
            success: true,
            fetch_url: "https://g.example/feed.xml".into(),
            ttl_secs: Some(60),
            current_interval_secs: Some(600),
            new_per_poll: Some(1.5),
            title: Some("G News".into()),
            site_url: Some("https://g.example/".into()),
            ..FeedUpdate::default()
        };
        store.record_poll_outcome(feed.id, &ok).await.unwrap();
        let row = store.feed_by_id(feed.id).await.unwrap().unwrap();
        assert_eq!(row.last_status, Some(FeedStatus::Ok));
        assert_eq!(row.etag.as_deref(), Some("\"v1\""));
        assert_eq!(row.fetch_url, "https://g.example/feed.xml");
        assert_eq!(row.next_poll_at, ts(now + chrono::Duration::seconds(600)));
        assert_eq!(row.last_success_at.as_deref(), Some(ts(now).as_str()));
        assert_eq!(row.new_per_poll, Some(1.5));
        assert_eq!(row.display_name(), "G News");
        assert!(row.enabled);

        let later = now + chrono::Duration::seconds(600);
        let gone = FeedUpdate {
            last_status: FeedStatus::Gone,
            last_error: Some("HTTP 410".into()),
            error_count: 1,
            next_poll_at: later + chrono::Duration::seconds(3600),
            next_poll_reason: "gone".into(),
            polled_at: later,
            fetch_url: "https://g.example/feed.xml".into(),
            disable_reason: Some("gone".into()),
            ..FeedUpdate::default()
        };
        store.record_poll_outcome(feed.id, &gone).await.unwrap();
        let row = store.feed_by_id(feed.id).await.unwrap().unwrap();
        assert_eq!(row.last_status, Some(FeedStatus::Gone));
        assert!(!row.enabled);
        assert_eq!(row.disabled_reason.as_deref(), Some("gone"));
        assert_eq!(row.error_count, 1);
        // What an unsuccessful poll does not learn is kept.
        assert_eq!(row.last_success_at.as_deref(), Some(ts(now).as_str()));
        assert_eq!(row.title.as_deref(), Some("G News"));
        assert_eq!(row.last_polled_at.as_deref(), Some(ts(later).as_str()));
        assert!(store.enabled_feeds().await.unwrap().is_empty());

        // Re-enabling a gone feed fetches its subscribed URL again.
        let row = store
            .set_feed_enabled(&feed.id.to_string(), true, later)
            .await
            .unwrap();
        assert!(row.enabled);
        assert_eq!(row.fetch_url, "https://g.example/rss");
        assert_eq!(row.error_count, 0);
        assert_eq!(row.next_poll_reason.as_deref(), Some("re-enabled"));
    }
);

store_test!(
    async fn unknown_stored_statuses_read_as_errors(store) {
        let now = Utc::now();
        store
            .add_feed(&nf("https://s.example/rss"), "cli", now)
            .await
            .unwrap();
        scalar_i64(
            &store,
            "UPDATE feeds SET last_status = 'from_the_future' RETURNING id",
        )
        .await;
        let row = store.find_feed("https://s.example/rss").await.unwrap().unwrap();
        assert_eq!(row.last_status, Some(FeedStatus::Error));
    }
);
