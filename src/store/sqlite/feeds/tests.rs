use super::*;
use crate::store::testing::temp_store;

fn nf(url: &str) -> NewFeed {
    NewFeed {
        url: url.into(),
        name: None,
        interval_secs: None,
    }
}

#[tokio::test]
async fn config_sync_upserts_and_disables_removed_feeds_without_deleting() {
    let (store, _d) = temp_store().await;
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

#[tokio::test]
async fn config_feeds_cannot_be_removed_from_the_cli() {
    let (store, _d) = temp_store().await;
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

#[tokio::test]
async fn cli_feeds_are_added_once_and_removed_by_id_or_url() {
    let (store, _d) = temp_store().await;
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

#[tokio::test]
async fn due_feeds_and_next_due_follow_next_poll_at() {
    let (store, _d) = temp_store().await;
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

#[tokio::test]
async fn due_feeds_come_page_by_page_in_due_order_without_gaps_or_repeats() {
    let (store, _d) = temp_store().await;
    let now = Utc::now();
    // Two feeds share a due time, so the id breaks the tie between pages.
    for (i, secs) in [(0, 30), (1, 10), (2, 20), (3, 20), (4, 5)] {
        store
            .add_feed(&nf(&format!("https://p{i}.example/rss")), "cli", now)
            .await
            .unwrap();
        sqlx::query("UPDATE feeds SET next_poll_at = ? WHERE url = ?")
            .bind(ts(now - chrono::Duration::seconds(secs)))
            .bind(format!("https://p{i}.example/rss"))
            .execute(store.pool())
            .await
            .unwrap();
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
