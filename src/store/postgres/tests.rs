use crate::store::{EngineKind, Store, StoreError};
use crate::store_test;

store_test!(
    async fn a_new_archive_is_migrated_empty_and_at_the_expected_version(store) {
        let stats = store.stats().await.unwrap();
        assert_eq!((stats.feeds, stats.articles, stats.feed_items), (0, 0, 0));
        store.check_schema_version().await.unwrap();
    }
);

#[tokio::test]
async fn writers_share_a_postgres_archive_but_a_copy_into_it_excludes_them() {
    let Some((_store, archive)) =
        crate::store::testing::temp_store_on(EngineKind::Postgres, "shared writers").await
    else {
        return;
    };
    let first = crate::store::lock_writer(&archive.url).await.unwrap();
    let second = crate::store::lock_writer(&archive.url).await.unwrap();
    let err = crate::store::lock_exclusive(&archive.url)
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::WriterBusy { .. }), "{err}");
    assert!(
        err.to_string().contains("stop them before copying"),
        "{err}"
    );
    drop((first, second));
    // The server ends the session (and its lock) once the connection closes.
    let mut copy = None;
    for _ in 0..50 {
        if let Ok(lock) = crate::store::lock_exclusive(&archive.url).await {
            copy = Some(lock);
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert!(
        copy.is_some(),
        "the copy got the archive once the writers left"
    );
    let err = crate::store::lock_writer(&archive.url).await.unwrap_err();
    assert!(matches!(err, StoreError::BeingCopied { .. }), "{err}");
    assert!(err.to_string().contains("newsd copy"), "{err}");
}

#[tokio::test]
async fn a_read_only_postgres_store_refuses_writes_and_messages_hide_the_password() {
    let Some((_store, archive)) =
        crate::store::testing::temp_store_on(EngineKind::Postgres, "read only").await
    else {
        return;
    };
    let reader = Store::open_read_only(&archive.url, std::time::Duration::from_secs(5))
        .await
        .unwrap();
    let write = sqlx::query("INSERT INTO stories (first_seen_at, updated_at) VALUES ('x', 'x')")
        .execute(reader.pg_pool().unwrap())
        .await
        .unwrap_err();
    assert!(write.to_string().contains("read-only"), "{write}");
    if let Ok(u) = url::Url::parse(&archive.url) {
        if let Some(pw) = u.password() {
            assert!(
                !reader.location().contains(&format!(":{pw}@")),
                "{}",
                reader.location()
            );
            assert!(reader.location().contains(":***@"));
        }
    }
}

#[tokio::test]
async fn a_read_only_postgres_store_refuses_an_archive_at_another_schema_version() {
    let Some((store, archive)) =
        crate::store::testing::temp_store_on(EngineKind::Postgres, "schema version").await
    else {
        return;
    };
    sqlx::query(
        "UPDATE _sqlx_migrations SET version = 999999 \
         WHERE version = (SELECT MAX(version) FROM _sqlx_migrations)",
    )
    .execute(store.pg_pool().unwrap())
    .await
    .unwrap();
    store.close().await;
    let err = Store::open_read_only(&archive.url, std::time::Duration::from_secs(1))
        .await
        .unwrap_err();
    assert!(
        matches!(err, StoreError::SchemaVersion { found: 999999, .. }),
        "{err}"
    );
}

/// Two instances' handles on one archive, each claiming as itself.
async fn two_holders(test: &str) -> Option<(Store, Store, crate::store::testing::TestArchive)> {
    let (a, archive) = crate::store::testing::temp_store_on(EngineKind::Postgres, test).await?;
    let b = archive.open().await;
    let lease = std::time::Duration::from_secs(30);
    a.set_holder(crate::store::Holder {
        name: "a".into(),
        lease,
    });
    b.set_holder(crate::store::Holder {
        name: "b".into(),
        lease,
    });
    Some((a, b, archive))
}

#[tokio::test]
async fn a_feed_claimed_by_one_instance_is_not_polled_by_another_until_recorded_or_run_out() {
    use crate::store::conformance::ingest::update;
    use chrono::Duration;
    let Some((a, b, _archive)) = two_holders("feed claims").await else {
        return;
    };
    let f = crate::store::conformance::ingest::feed(&a, "https://f.example/rss").await;
    let now = chrono::Utc::now();
    assert!(a.claim_feed(f, now, true).await.unwrap());
    assert!(!b.claim_feed(f, now, true).await.unwrap(), "held by a");
    assert!(
        !b.claim_feed(f, now, false).await.unwrap(),
        "not even for poll --once"
    );
    assert!(
        b.due_feeds_page(now, None, 10).await.unwrap().is_empty(),
        "b does not even see it"
    );
    assert_eq!(a.due_feeds_page(now, None, 10).await.unwrap().len(), 1);
    // Recording the poll gives the claim back and reschedules the feed.
    a.record_poll_outcome(f, &update(now)).await.unwrap();
    let rescheduled = a.feed_by_id(f).await.unwrap().unwrap();
    if rescheduled.next_poll().is_some_and(|t| t > now) {
        assert!(!b.claim_feed(f, now, true).await.unwrap(), "no longer due");
    }
    assert!(
        b.claim_feed(f, now, false).await.unwrap(),
        "free for poll --once"
    );
    // b dies holding it: a takes it once the lease has run out.
    assert!(!a
        .claim_feed(f, now + Duration::seconds(29), false)
        .await
        .unwrap());
    assert!(a
        .claim_feed(f, now + Duration::seconds(31), false)
        .await
        .unwrap());
}

#[tokio::test]
async fn a_google_link_and_a_delivery_go_to_one_instance_and_a_heartbeat_keeps_them() {
    use crate::store::conformance::ingest::{feed, google, update};
    use chrono::Duration;
    let Some((a, b, _archive)) = two_holders("link claims").await else {
        return;
    };
    let f = feed(&a, "https://f.example/rss").await;
    let now = chrono::Utc::now();
    a.record_poll(
        f,
        vec![google("k1", "G1", None), google("k2", "G2", None)],
        now,
        update(now),
    )
    .await
    .unwrap();
    let me = crate::store::NewInstance {
        name: "a".into(),
        token: "t".into(),
        host: "h".into(),
        pid: 1,
        scope: "h/pid:[1]".into(),
        version: "test".into(),
        feed_urls: vec![],
    };
    assert!(a
        .register_instance(&me, now, now + Duration::seconds(30), None)
        .await
        .unwrap());
    let ids = vec!["G1".to_string(), "G2".to_string()];
    assert_eq!(a.claim_google_links(&ids[..1], now).await.unwrap(), ["G1"]);
    assert_eq!(
        b.claim_google_links(&ids, now).await.unwrap(),
        ["G2"],
        "G1 is a's"
    );
    let pending_b: Vec<String> = b
        .pending_google_links(now, false, 10)
        .await
        .unwrap()
        .into_iter()
        .map(|l| l.google_id)
        .collect();
    assert_eq!(pending_b, ["G2"], "b only sees what is free or its own");
    // a heartbeats at +20 s: its claim holds past the first lease's end.
    let t1 = now + Duration::seconds(20);
    assert!(a
        .heartbeat("a", "t", t1, t1 + Duration::seconds(30))
        .await
        .unwrap());
    assert!(b
        .claim_google_links(&ids, now + Duration::seconds(40))
        .await
        .unwrap()
        .iter()
        .all(|g| g != "G1"));
    assert_eq!(
        a.live_instances(now + Duration::seconds(40)).await.unwrap()[0].google_links,
        1
    );
    a.deregister_instance("a", "t").await.unwrap();
    assert!(b
        .claim_google_links(&ids, now + Duration::seconds(41))
        .await
        .unwrap()
        .contains(&"G1".to_string()));

    let (s, _) = a
        .add_search(
            &crate::store::NewSearch {
                name: "s".into(),
                query: "x".into(),
                ..Default::default()
            },
            crate::store::SearchOrigin::Cli,
            now,
        )
        .await
        .unwrap();
    let promotion = crate::store::Promotion {
        decisions: vec![],
        events: vec![crate::store::NewEvent {
            event_id: "e1".into(),
            search_id: s.id,
            payload: "{}".into(),
            channels: vec!["hook".into()],
            match_ids: vec![],
        }],
    };
    a.apply_promotion(&promotion, None, now).await.unwrap();
    let (da, db) = tokio::join!(a.due_deliveries(now, 10), b.due_deliveries(now, 10));
    let (da, db) = (da.unwrap(), db.unwrap());
    assert_eq!(da.len() + db.len(), 1, "one delivery, sent by one instance");
    // The instance that got it dies without sending.
    let loser = if da.is_empty() { &a } else { &b };
    assert!(loser
        .due_deliveries(now + Duration::seconds(29), 10)
        .await
        .unwrap()
        .is_empty());
    assert_eq!(
        loser
            .due_deliveries(now + Duration::seconds(31), 10)
            .await
            .unwrap()
            .len(),
        1,
        "the winner died without sending: the other sends it after the lease"
    );
}
