//! Conformance: the instance registry, singleton jobs and config feed syncs
//! on every engine.

use std::time::Duration as StdDuration;

use chrono::{DateTime, Duration, Utc};

use crate::store::instances::host_name;
use crate::store::{Holder, NewFeed, NewInstance, Singleton};
use crate::store_test;

fn at(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

fn instance(name: &str, token: &str, feeds: &[&str]) -> NewInstance {
    NewInstance {
        name: name.into(),
        token: token.into(),
        host: host_name(),
        pid: std::process::id(),
        scope: crate::store::instances::process_scope(),
        version: "test".into(),
        feed_urls: feeds.iter().map(|f| f.to_string()).collect(),
    }
}

store_test!(
    async fn a_live_name_is_refused_until_its_lease_runs_out_and_a_dead_holder_is_taken_over(
        store
    ) {
        let t0 = at("2026-06-01T00:00:00Z");
        let lease = Duration::seconds(30);
        let a = instance("a", "run-1", &[]);
        assert!(store.register_instance(&a, t0, t0 + lease, None).await.unwrap());
        let again = instance("a", "run-2", &[]);
        assert!(
            !store.register_instance(&again, t0, t0 + lease, None).await.unwrap(),
            "a live instance keeps its name"
        );
        let live = store.instance_by_name("a").await.unwrap().unwrap();
        assert_eq!((live.token.as_str(), live.pid), ("run-1", i64::from(std::process::id())));
        // Known dead (its process is gone on this machine): taken at once.
        assert!(store
            .register_instance(&again, t0, t0 + lease, Some("run-1"))
            .await
            .unwrap());
        // Its heartbeat now fails: the name belongs to another run.
        assert!(!store.heartbeat("a", "run-1", t0, t0 + lease).await.unwrap());
        assert!(store.heartbeat("a", "run-2", t0, t0 + lease).await.unwrap());
        let b = instance("a", "run-3", &[]);
        let late = t0 + lease + Duration::seconds(1);
        assert!(
            store.register_instance(&b, late, late + lease, None).await.unwrap(),
            "a name whose heartbeats stopped is free after the lease"
        );
        assert_eq!(
            store.live_instances(late).await.unwrap().iter().map(|i| i.name.as_str()).collect::<Vec<_>>(),
            ["a"]
        );
        store.deregister_instance("a", "run-3").await.unwrap();
        assert!(store.live_instances(late).await.unwrap().is_empty());
    }
);

store_test!(
    async fn a_singleton_job_runs_on_one_holder_and_moves_once_its_lease_runs_out(store) {
        let t0 = at("2026-06-01T00:00:00Z");
        let lease = StdDuration::from_secs(30);
        store.set_holder(Holder { name: "a".into(), lease });
        assert!(store.claim_singleton(Singleton::Cluster, t0).await.unwrap());
        assert!(store.claim_singleton(Singleton::Cluster, t0 + Duration::seconds(5)).await.unwrap(), "still ours");
        store.set_holder(Holder { name: "b".into(), lease });
        assert!(!store.claim_singleton(Singleton::Cluster, t0 + Duration::seconds(20)).await.unwrap());
        assert!(store.claim_singleton(Singleton::Retention, t0).await.unwrap(), "another job is free");
        assert!(
            store.claim_singleton(Singleton::Cluster, t0 + Duration::seconds(36)).await.unwrap(),
            "a's claim ran out 30 s after its last renewal"
        );
        store.set_holder(Holder { name: "a".into(), lease });
        assert!(!store.claim_singleton(Singleton::Cluster, t0 + Duration::seconds(40)).await.unwrap());
    }
);

store_test!(
    async fn a_heartbeat_keeps_singleton_jobs_and_a_clean_stop_frees_them(store) {
        let t0 = at("2026-06-01T00:00:00Z");
        let lease = StdDuration::from_secs(30);
        let a = instance("a", "run-1", &[]);
        assert!(store.register_instance(&a, t0, t0 + Duration::seconds(30), None).await.unwrap());
        store.set_holder(Holder { name: "a".into(), lease });
        assert!(store.claim_singleton(Singleton::Alerts, t0).await.unwrap());
        let t1 = t0 + Duration::seconds(25);
        assert!(store.heartbeat("a", "run-1", t1, t1 + Duration::seconds(30)).await.unwrap());
        store.set_holder(Holder { name: "b".into(), lease });
        assert!(
            !store.claim_singleton(Singleton::Alerts, t0 + Duration::seconds(40)).await.unwrap(),
            "renewed by the heartbeat"
        );
        let rows = store.live_instances(t0 + Duration::seconds(40)).await.unwrap();
        assert_eq!(rows[0].singletons, ["alerts"]);
        store.deregister_instance("a", "run-1").await.unwrap();
        assert!(store.claim_singleton(Singleton::Alerts, t0 + Duration::seconds(41)).await.unwrap());
    }
);

store_test!(
    async fn a_config_feed_another_live_instance_lists_is_not_disabled_by_a_shorter_list(store) {
        let now = Utc::now();
        let nf = |url: &str| NewFeed { url: url.into(), name: None, interval_secs: None };
        let (f1, f2) = ("https://a.example/rss", "https://b.example/rss");
        let a = instance("a", "run-a", &[f1, f2]);
        let b = instance("b", "run-b", &[f1]);
        let until = now + Duration::seconds(30);
        assert!(store.register_instance(&a, now, until, None).await.unwrap());
        assert!(store.register_instance(&b, now, until, None).await.unwrap());
        store.sync_config_feeds_keeping(&[nf(f1), nf(f2)], &[f1.to_string()], now).await.unwrap();
        store.save_feed_sync(&[f1.into(), f2.into()], "a", now).await.unwrap();
        let others = store.other_feed_lists("b", now).await.unwrap();
        assert_eq!(others, [f1, f2]);
        let r = store.sync_config_feeds_keeping(&[nf(f1)], &others, now).await.unwrap();
        assert_eq!(r.disabled, 0, "a still lists b.example");
        assert_eq!(
            store.last_feed_sync().await.unwrap(),
            Some((vec![f1.to_string(), f2.to_string()], "a".to_string()))
        );
        store.deregister_instance("a", "run-a").await.unwrap();
        let others = store.other_feed_lists("b", now).await.unwrap();
        assert!(others.is_empty());
        let r = store.sync_config_feeds_keeping(&[nf(f1)], &others, now).await.unwrap();
        assert_eq!(r.disabled, 1, "with a gone, only b's list counts");
    }
);

store_test!(
    async fn the_live_instances_of_one_scope_are_listed_for_the_dead_to_be_found(store) {
        let t0 = at("2026-06-01T00:00:00Z");
        let until = t0 + Duration::seconds(30);
        let mut here = instance("here", "run-1", &[]);
        here.pid = u32::MAX;
        let mut there = instance("there", "run-2", &[]);
        there.scope = "elsewhere/pid:[1]".into();
        assert!(store.register_instance(&here, t0, until, None).await.unwrap());
        assert!(store.register_instance(&there, t0, until, None).await.unwrap());
        let mine = store
            .instances_in_scope(&crate::store::instances::process_scope(), t0)
            .await
            .unwrap();
        assert_eq!(mine.len(), 1);
        assert_eq!((mine[0].name.as_str(), mine[0].pid), ("here", i64::from(u32::MAX)));
        assert!(store.instances_in_scope(&here.scope, until).await.unwrap().is_empty(), "lease over");
    }
);
