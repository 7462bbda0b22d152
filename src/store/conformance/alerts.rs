//! Conformance: saved searches, the matching queue, held matches and the
//! outbox, on every engine.

use chrono::{Duration, Utc};

use super::stories::{exec, lit};
use crate::store::testing::scalar_i64;
use crate::store::time::ts;
use crate::store::{
    DeliveryOutcome, MatchState, NewEvent, NewMatch, NewSearch, Promotion, SearchOrigin,
    SearchRemoval, Store, SyncReport,
};
use crate::store_test;

fn ns(name: &str, query: &str) -> NewSearch {
    NewSearch {
        name: name.into(),
        query: query.into(),
        channels: vec!["hook".into()],
        ..Default::default()
    }
}

async fn article(store: &Store, key: &str, title: &str) -> i64 {
    let at = lit(&ts(Utc::now()));
    scalar_i64(
        store,
        &format!(
            "INSERT INTO articles (url_key, title, first_seen_at, updated_at) \
             VALUES ({}, {}, {at}, {at}) RETURNING id",
            lit(key),
            lit(title)
        ),
    )
    .await
}

store_test!(
    async fn config_searches_sync_by_name_and_an_edit_applies_from_then_on(store) {
        let t0 = Utc::now() - Duration::hours(1);
        let r = store
            .sync_config_searches(&[ns("a", "chips"), ns("b", "rain")], t0)
            .await
            .unwrap();
        assert_eq!(r.added, 2);
        let same = store
            .sync_config_searches(&[ns("a", "chips"), ns("b", "rain")], Utc::now())
            .await
            .unwrap();
        assert_eq!(same, SyncReport::default(), "never duplicated");
        let t1 = Utc::now();
        let r = store
            .sync_config_searches(&[ns("a", "chips export")], t1)
            .await
            .unwrap();
        assert_eq!((r.updated, r.disabled), (1, 1));
        let a = store.find_search("a").await.unwrap().unwrap();
        assert_eq!(a.query, "chips export");
        assert_eq!(a.matches_since, Some(ts(t1)), "the edit applies to what follows it");
        let b = store.find_search("b").await.unwrap().unwrap();
        assert!(!b.enabled);
        assert_eq!(b.disabled_reason.as_deref(), Some("removed_from_config"));
        assert_eq!(store.list_searches().await.unwrap().len(), 2, "nothing deleted");
        assert!(store.remove_search("a").await.is_err(), "config searches are the config's");
        let (cli, created) = store
            .add_search(&ns("c", "floods"), SearchOrigin::Cli, Utc::now())
            .await
            .unwrap();
        assert!(created);
        assert_eq!(store.find_search(&cli.id.to_string()).await.unwrap().unwrap().name, "c");
        assert!(matches!(store.remove_search("c").await.unwrap(), SearchRemoval::Removed(_)));
        assert_eq!(store.remove_search("c").await.unwrap(), SearchRemoval::NotFound);
    }
);

store_test!(
    async fn new_articles_and_arriving_text_wait_for_matching_and_a_match_is_recorded_once(store) {
        let (s, _) = store
            .add_search(&ns("a", "chips"), SearchOrigin::Cli, Utc::now())
            .await
            .unwrap();
        let id = article(&store, "x.example/1", "Chips").await;
        store.index_pending().await.unwrap();
        let pending = store.pending_alert_articles(10).await.unwrap();
        assert_eq!(pending.iter().map(|c| c.article_id).collect::<Vec<_>>(), vec![id]);
        assert_eq!(pending[0].title.as_deref(), Some("Chips"));
        let now = Utc::now();
        let m = [NewMatch { search_id: s.id, article_id: id }];
        assert_eq!(store.record_matches(&[id], &m, now, now).await.unwrap(), 1);
        assert!(store.pending_alert_articles(10).await.unwrap().is_empty());
        exec(&store, &format!("UPDATE articles SET text = 'Body' WHERE id = {id}")).await;
        store.index_pending().await.unwrap();
        assert_eq!(store.pending_alert_articles(10).await.unwrap().len(), 1, "text arrived");
        assert_eq!(store.record_matches(&[id], &m, now, now).await.unwrap(), 0, "once");
    }
);

store_test!(
    async fn a_held_match_waits_for_its_hold_and_clustering_and_claims_its_story(store) {
        let (s, _) = store
            .add_search(&ns("a", "chips"), SearchOrigin::Cli, Utc::now())
            .await
            .unwrap();
        let one = article(&store, "x.example/1", "Chips").await;
        let two = article(&store, "y.example/1", "Chips").await;
        let now = Utc::now();
        let due = now + Duration::minutes(2);
        let m = [
            NewMatch { search_id: s.id, article_id: one },
            NewMatch { search_id: s.id, article_id: two },
        ];
        store.record_matches(&[one, two], &m, now, due).await.unwrap();
        assert!(store.held_matches(now, 10).await.unwrap().is_empty(), "on hold");
        let held = store.held_matches(due, 10).await.unwrap();
        assert_eq!(held.len(), 2);
        assert!(held.iter().all(|h| h.story.is_none()), "not clustered yet");
        store.cluster_pending(due, Duration::hours(72)).await.unwrap();
        let held = store.held_matches(due, 10).await.unwrap();
        let story = held[0].story.clone().expect("clustered");
        assert!(!held[0].story_claimed);
        let promotion = Promotion {
            decisions: vec![(held[0].match_id, MatchState::Notified, Some(story.id))],
            events: vec![NewEvent {
                event_id: "e1".into(),
                search_id: s.id,
                payload: "{}".into(),
                channels: vec!["hook".into()],
                match_ids: vec![held[0].match_id],
            }],
        };
        store.apply_promotion(&promotion, None, due).await.unwrap();
        let left = store.held_matches(due, 10).await.unwrap();
        assert_eq!(left.len(), 1);
        if left[0].story.as_ref().map(|s| s.id) == Some(story.id) {
            assert!(left[0].story_claimed, "the story was notified by this search");
        }
        let d = store.due_deliveries(due, 10).await.unwrap();
        assert_eq!((d.len(), d[0].event_id.as_str(), d[0].attempts), (1, "e1", 0));
    }
);

store_test!(
    async fn a_delivery_is_retried_when_due_and_counted_once_failed(store) {
        let (s, _) = store
            .add_search(&ns("a", "chips"), SearchOrigin::Cli, Utc::now())
            .await
            .unwrap();
        let now = Utc::now();
        let event = |id: &str| NewEvent {
            event_id: id.into(),
            search_id: s.id,
            payload: "{}".into(),
            channels: vec!["hook".into()],
            match_ids: vec![],
        };
        let promotion = Promotion {
            decisions: vec![],
            events: vec![event("e1"), event("e2")],
        };
        store.apply_promotion(&promotion, None, now).await.unwrap();
        let d = store.due_deliveries(now, 10).await.unwrap();
        assert_eq!(d.len(), 2);
        let later = now + Duration::minutes(1);
        let retry = DeliveryOutcome::Retry { at: later, error: "HTTP 503".into(), status: Some(503) };
        store.finish_delivery(d[0].id, &retry, now).await.unwrap();
        let failed = DeliveryOutcome::Failed { error: "blocked".into(), status: None };
        store.finish_delivery(d[1].id, &failed, now).await.unwrap();
        assert!(store.due_deliveries(now, 10).await.unwrap().is_empty());
        let again = store.due_deliveries(later, 10).await.unwrap();
        assert_eq!((again.len(), again[0].attempts), (1, 1));
        store
            .finish_delivery(again[0].id, &DeliveryOutcome::Sent { status: 204 }, later)
            .await
            .unwrap();
        let stats = store.alert_stats().await.unwrap();
        assert_eq!(
            (stats.events, stats.deliveries_pending, stats.deliveries_sent, stats.deliveries_failed),
            (2, 0, 1, 1)
        );
    }
);

store_test!(
    async fn raw_syntax_searches_see_only_the_articles_asked_about_and_a_bad_one_fails_alone(store) {
        let a = article(&store, "a.example/1", "Lithium prices climb").await;
        let b = article(&store, "a.example/2", "Lithium mines close").await;
        let c = article(&store, "a.example/3", "Rain in Spain").await;
        let found = store
            .fts_matches(&[(1, "lithium"), (2, "lithium ) ("), (3, "spain")], &[a, c])
            .await
            .unwrap();
        assert_eq!(found.len(), 3);
        assert_eq!(found[0].0, 1);
        assert_eq!(found[0].1.as_ref().unwrap(), &vec![a], "{b} was not asked about");
        assert!(
            matches!(found[1].1, Err(crate::store::StoreError::SearchSyntax { .. })),
            "{:?}",
            found[1]
        );
        assert_eq!(found[2].1.as_ref().unwrap(), &vec![c]);
        // Asked again: nothing of the first batch is left behind.
        let again = store.fts_matches(&[(1, "lithium")], &[b]).await.unwrap();
        assert_eq!(again[0].1.as_ref().unwrap(), &vec![b]);
    }
);
