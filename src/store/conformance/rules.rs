//! Conformance: what `[[rules]]` write, on every engine. Entries arrive
//! through `record_poll`, as a poll's do; the decisions are `crate::rules`'s.

use chrono::Utc;

use super::ingest::{entry, feed, update};
use crate::store::testing::{scalar_i64, strings};
use crate::store::{Removal, Rulings};
use crate::store_test;

store_test!(
    async fn a_blocked_entry_leaves_a_tombstone_and_stays_out_when_the_feed_shows_it_again(store) {
        let f = feed(&store, "https://f.example/rss").await;
        let now = Utc::now();
        let rulings = Rulings {
            blocked: vec!["ad".into()],
            tagged: vec![("a".into(), "chips".into()), ("a".into(), "trade".into())],
        };
        store
            .record_poll(f, vec![entry("a", "https://n.example/1")], now, update(now))
            .await
            .unwrap();
        store.record_rulings(f, &rulings, now).await.unwrap();
        // Twice changes nothing.
        store.record_rulings(f, &rulings, now).await.unwrap();
        assert_eq!(
            strings(&store, "SELECT kind || ' ' || key FROM tombstones").await,
            [Some("entry ad".to_owned())]
        );
        assert_eq!(
            strings(&store, "SELECT tag FROM article_tags ORDER BY tag").await,
            [Some("chips".to_owned()), Some("trade".to_owned())]
        );
        // Were the rule gone, the tombstone still keeps the entry out.
        let stored = store
            .record_poll(f, vec![entry("ad", "https://ads.example/1")], now, update(now))
            .await
            .unwrap();
        assert_eq!(stored.new_articles, 0);
        assert_eq!(scalar_i64(&store, "SELECT COUNT(*) FROM articles").await, 1);
        let listed = store.ruled_articles(None, 0, 10).await.unwrap();
        assert_eq!(listed.len(), 1);
        assert_eq!(listed[0].feeds, [(f, "https://f.example/rss".to_owned())]);
        assert_eq!(listed[0].tags, ["chips", "trade"]);
    }
);

store_test!(
    async fn removing_one_feeds_links_keeps_an_article_another_feed_links(store) {
        let (a, b) = (
            feed(&store, "https://a.example/rss").await,
            feed(&store, "https://b.example/rss").await,
        );
        let now = Utc::now();
        for f in [a, b] {
            store
                .record_poll(f, vec![entry("x", "https://n.example/1")], now, update(now))
                .await
                .unwrap();
        }
        let id = scalar_i64(&store, "SELECT MAX(id) FROM articles").await;
        store.add_tags(id, &["t".to_owned()]).await.unwrap();
        assert_eq!(
            store.remove_article_links(id, &[a], now).await.unwrap(),
            Removal::Unlinked
        );
        assert_eq!(scalar_i64(&store, "SELECT COUNT(*) FROM articles").await, 1);
        assert_eq!(
            scalar_i64(&store, "SELECT COUNT(*) FROM feed_items").await,
            1,
            "only feed b's item is left"
        );
        assert_eq!(
            store.remove_article_links(id, &[b], now).await.unwrap(),
            Removal::Deleted
        );
        assert_eq!(scalar_i64(&store, "SELECT COUNT(*) FROM articles").await, 0);
        assert_eq!(scalar_i64(&store, "SELECT COUNT(*) FROM article_tags").await, 0);
        assert_eq!(
            strings(
                &store,
                "SELECT kind || ' ' || feed_id || ' ' || key FROM tombstones ORDER BY kind, feed_id"
            )
            .await
            .len(),
            3,
            "an entry tombstone per feed and the URL's"
        );
        assert_eq!(
            store.remove_article_links(id, &[b], now).await.unwrap(),
            Removal::Missing
        );
        // The URL's tombstone keeps it out of every feed now.
        let c = feed(&store, "https://c.example/rss").await;
        store
            .record_poll(c, vec![entry("y", "https://n.example/1")], now, update(now))
            .await
            .unwrap();
        assert_eq!(scalar_i64(&store, "SELECT COUNT(*) FROM articles").await, 0);
    }
);
