//! Conformance: the full-text queue on every engine.

use chrono::{DateTime, Duration, Utc};

use crate::extract::PageKind;
use crate::store::testing::{scalar_i64, strings};
use crate::store::time::{parse_ts, ts};
use crate::store::{ArticleContent, FulltextStatus, Store};
use crate::store_test;

fn at(s: &str) -> DateTime<Utc> {
    parse_ts(s).unwrap()
}

/// When the test jobs fall due.
const DUE: &str = "2026-06-01T00:00:00Z";

/// Articles `ids` (`url` NULL for those in `without_url`) each with a
/// pending job due at `DUE`, written directly so these tests do not
/// depend on the ingest path.
async fn queue(store: &Store, ids: &[i64], without_url: &[i64]) {
    for id in ids {
        let url = if without_url.contains(id) {
            "NULL".to_owned()
        } else {
            format!("'https://news.example/{id}'")
        };
        scalar_i64(
            store,
            &format!(
                "INSERT INTO articles (id, url, url_key, title, summary, first_seen_at, updated_at) \
                 VALUES ({id}, {url}, 'news.example/{id}', 'Title {id}', 'Summary {id}', '{DUE}', '{DUE}') \
                 RETURNING id"
            ),
        )
        .await;
        scalar_i64(
            store,
            &format!(
                "INSERT INTO fulltext_jobs (article_id, status, next_try_at, created_at, updated_at) \
                 VALUES ({id}, 'pending', '{DUE}', '{DUE}', '{DUE}') RETURNING article_id"
            ),
        )
        .await;
    }
}

async fn job_column(store: &Store, column: &str) -> Vec<Option<String>> {
    strings(
        store,
        &format!("SELECT {column} FROM fulltext_jobs ORDER BY article_id"),
    )
    .await
}

store_test!(
    async fn leased_jobs_are_taken_again_only_once_their_lease_expires(store) {
        queue(&store, &[1, 2, 3], &[3]).await;
        let now = at("2026-06-01T12:00:00Z");
        let until = now + Duration::seconds(60);
        assert!(store
            .lease_fulltext_jobs(at("2026-05-31T23:59:59Z"), until, 10)
            .await
            .unwrap()
            .is_empty());
        let first = store.lease_fulltext_jobs(now, until, 1).await.unwrap();
        assert_eq!(first.len(), 1);
        assert_eq!(first[0].article_id, 1);
        assert_eq!(first[0].url, "https://news.example/1");
        assert_eq!(first[0].summary.as_deref(), Some("Summary 1"));
        assert_eq!(first[0].attempts, 1);
        // An article without a URL is leased but has nothing to fetch.
        let rest = store.lease_fulltext_jobs(now, until, 10).await.unwrap();
        assert_eq!(
            rest.iter().map(|j| j.article_id).collect::<Vec<_>>(),
            vec![2]
        );
        assert!(store
            .lease_fulltext_jobs(now + Duration::seconds(59), until, 10)
            .await
            .unwrap()
            .is_empty());
        let again = store
            .lease_fulltext_jobs(until, until + Duration::seconds(60), 10)
            .await
            .unwrap();
        assert_eq!(
            again
                .iter()
                .map(|j| (j.article_id, j.attempts))
                .collect::<Vec<_>>(),
            vec![(1, 2), (2, 2)]
        );
        assert_eq!(
            job_column(&store, "lease_until").await,
            vec![Some(ts(until + Duration::seconds(60))); 3]
        );
    }
);

store_test!(
    async fn workers_leasing_at_once_never_take_the_same_job(store) {
        let ids: Vec<i64> = (1..=20).collect();
        queue(&store, &ids, &[]).await;
        let now = at("2026-06-01T12:00:00Z");
        let until = now + Duration::seconds(60);
        let (a, b, c) = tokio::join!(
            store.lease_fulltext_jobs(now, until, 8),
            store.lease_fulltext_jobs(now, until, 8),
            store.lease_fulltext_jobs(now, until, 8),
        );
        let mut taken: Vec<i64> = [a.unwrap(), b.unwrap(), c.unwrap()]
            .into_iter()
            .flatten()
            .map(|j| j.article_id)
            .collect();
        let leased = taken.len();
        taken.sort_unstable();
        taken.dedup();
        assert_eq!(taken.len(), leased, "a job went to two workers");
        assert_eq!(leased, 20);
        assert_eq!(
            scalar_i64(
                &store,
                "SELECT COUNT(*) FROM fulltext_jobs WHERE attempts <> 1"
            )
            .await,
            0
        );
    }
);

store_test!(
    async fn finished_jobs_keep_their_status_and_retried_ones_fall_due_again(store) {
        queue(&store, &[1, 2, 3], &[]).await;
        let now = at("2026-06-01T12:00:00Z");
        let until = now + Duration::seconds(60);
        assert_eq!(store.lease_fulltext_jobs(now, until, 10).await.unwrap().len(), 3);
        store
            .finish_fulltext_job(1, FulltextStatus::NotFound, Some("HTTP 404"), Some(404), None, now)
            .await
            .unwrap();
        let retry = now + Duration::seconds(3600);
        store
            .finish_fulltext_job(2, FulltextStatus::Failed, Some("HTTP 503"), Some(503), Some(retry), now)
            .await
            .unwrap();
        store
            .finish_fulltext_job(3, FulltextStatus::Teaser, None, None, None, now)
            .await
            .unwrap();
        assert_eq!(
            job_column(&store, "status").await,
            vec![
                Some("not_found".to_owned()),
                Some("pending".to_owned()),
                Some("teaser".to_owned())
            ]
        );
        assert_eq!(job_column(&store, "last_error").await[..2], [
            Some("HTTP 404".to_owned()),
            Some("HTTP 503".to_owned())
        ]);
        assert_eq!(
            scalar_i64(&store, "SELECT http_status FROM fulltext_jobs WHERE article_id = 1").await,
            404
        );
        assert_eq!(job_column(&store, "lease_until").await, vec![None, None, None]);
        assert_eq!(job_column(&store, "next_try_at").await[1], Some(ts(retry)));

        let stats = store.fulltext_stats().await.unwrap();
        assert_eq!((stats.pending, stats.done), (1, 0));
        assert_eq!(
            stats.other,
            vec![("not_found".to_owned(), 1), ("teaser".to_owned(), 1)]
        );

        assert!(store
            .lease_fulltext_jobs(retry - Duration::seconds(1), retry, 10)
            .await
            .unwrap()
            .is_empty());
        let again = store
            .lease_fulltext_jobs(retry, retry + Duration::seconds(60), 10)
            .await
            .unwrap();
        assert_eq!(
            again
                .iter()
                .map(|j| (j.article_id, j.attempts))
                .collect::<Vec<_>>(),
            vec![(2, 2)]
        );
    }
);

store_test!(
    async fn a_deferred_job_waits_without_spending_an_attempt(store) {
        queue(&store, &[1], &[]).await;
        let now = at("2026-06-01T12:00:00Z");
        let leased = store
            .lease_fulltext_jobs(now, now + Duration::seconds(60), 10)
            .await
            .unwrap();
        assert_eq!(leased[0].attempts, 1);
        let until = now + Duration::seconds(300);
        store.defer_fulltext_job(1, until).await.unwrap();
        assert_eq!(job_column(&store, "lease_until").await, vec![None]);
        assert_eq!(
            scalar_i64(&store, "SELECT attempts FROM fulltext_jobs").await,
            0
        );
        assert!(store
            .lease_fulltext_jobs(until - Duration::seconds(1), until, 10)
            .await
            .unwrap()
            .is_empty());
        let again = store
            .lease_fulltext_jobs(until, until + Duration::seconds(60), 10)
            .await
            .unwrap();
        assert_eq!(again[0].attempts, 1);
        // Deferring a job never leased does not count below zero.
        store.defer_fulltext_job(1, until).await.unwrap();
        store.defer_fulltext_job(1, until).await.unwrap();
        assert_eq!(
            scalar_i64(&store, "SELECT attempts FROM fulltext_jobs").await,
            0
        );
    }
);

store_test!(
    async fn stored_full_text_completes_the_job_and_keeps_the_raw_page(store) {
        queue(&store, &[1, 2], &[]).await;
        let now = at("2026-06-01T12:00:00Z");
        store
            .lease_fulltext_jobs(now, now + Duration::seconds(60), 10)
            .await
            .unwrap();
        let content = ArticleContent {
            text: "The whole story, at length.".into(),
            html: Some("<p>The whole story, at length.</p>".into()),
            title: Some("Another title".into()),
            authors: vec!["A. Writer".into()],
            published_at: Some(at("2026-05-31T08:00:00Z")),
            modified_at: Some(at("2026-05-31T09:00:00Z")),
            lang: Some("en".into()),
            lead_image: Some("https://news.example/1.jpg".into()),
            canonical_url: Some("https://news.example/1".into()),
            site_name: Some("News".into()),
            word_count: 5,
            page_kind: Some(PageKind::LiveBlog),
        };
        let raw = (
            "https://news.example/1?final",
            Some("text/html; charset=utf-8"),
            b"<html>page one</html>".to_vec(),
        );
        let survivor = store
            .store_fulltext(1, &content, "https://news.example/1?final", None, Some(raw), now)
            .await
            .unwrap();
        assert_eq!(survivor, 1);
        let row = |col: &str| {
            let sql = format!("SELECT {col} FROM articles WHERE id = 1");
            let store = &store;
            async move { strings(store, &sql).await.remove(0) }
        };
        assert_eq!(row("text").await.as_deref(), Some("The whole story, at length."));
        // The feed's title stands; the page fills what the feed left empty.
        assert_eq!(row("title").await.as_deref(), Some("Title 1"));
        assert_eq!(row("authors").await.as_deref(), Some("[\"A. Writer\"]"));
        assert_eq!(row("published_at").await, Some("2026-05-31T08:00:00Z".to_owned()));
        assert_eq!(row("lang").await.as_deref(), Some("en"));
        assert_eq!(row("extracted_at").await, Some(ts(now)));
        assert_eq!(row("page_kind").await.as_deref(), Some("live_blog"));
        assert_eq!(
            scalar_i64(&store, "SELECT word_count FROM articles WHERE id = 1").await,
            5
        );
        assert_eq!(
            job_column(&store, "status").await,
            vec![Some("done".to_owned()), Some("pending".to_owned())]
        );
        assert_eq!(
            job_column(&store, "final_url").await[0].as_deref(),
            Some("https://news.example/1?final")
        );
        assert_eq!(
            scalar_i64(&store, "SELECT http_status FROM fulltext_jobs WHERE article_id = 1").await,
            200
        );
        let stats = store.fulltext_stats().await.unwrap();
        assert_eq!((stats.pending, stats.done), (1, 1));

        let pages = store.raw_pages(None, 0, 10).await.unwrap();
        assert_eq!(
            pages,
            vec![(
                1,
                "https://news.example/1?final".to_owned(),
                Some("text/html; charset=utf-8".to_owned()),
                b"<html>page one</html>".to_vec()
            )]
        );
        assert!(store.raw_pages(None, 1, 10).await.unwrap().is_empty());
        assert!(store
            .raw_pages(Some(now + Duration::seconds(1)), 0, 10)
            .await
            .unwrap()
            .is_empty());
        // Extracting again replaces the raw page.
        let later = now + Duration::seconds(10);
        store
            .store_fulltext(
                1,
                &content,
                "https://news.example/1",
                None,
                Some(("https://news.example/1", None, b"again".to_vec())),
                later,
            )
            .await
            .unwrap();
        let pages = store.raw_pages(Some(later), 0, 10).await.unwrap();
        assert_eq!(
            pages,
            vec![(1, "https://news.example/1".to_owned(), None, b"again".to_vec())]
        );
    }
);

store_test!(
    async fn robots_and_host_backoffs_round_trip(store) {
        let now = at("2026-06-01T12:00:00Z");
        assert_eq!(store.robots_cached("news.example").await.unwrap(), None);
        store
            .cache_robots("news.example", Some("User-agent: *\nDisallow: /private"), now)
            .await
            .unwrap();
        assert_eq!(
            store.robots_cached("news.example").await.unwrap(),
            Some((Some("User-agent: *\nDisallow: /private".to_owned()), now))
        );
        let later = now + Duration::seconds(3600);
        store.cache_robots("news.example", None, later).await.unwrap();
        assert_eq!(
            store.robots_cached("news.example").await.unwrap(),
            Some((None, later))
        );

        assert!(store.host_backoffs(now).await.unwrap().is_empty());
        let soon = now + Duration::seconds(60);
        store
            .save_host_backoffs(&[
                ("a.example".to_owned(), soon),
                ("b.example".to_owned(), now - Duration::seconds(60)),
            ])
            .await
            .unwrap();
        assert_eq!(
            store.host_backoffs(now).await.unwrap(),
            vec![("a.example".to_owned(), soon)]
        );
        // Saving replaces the whole set.
        store
            .save_host_backoffs(&[("c.example".to_owned(), soon)])
            .await
            .unwrap();
        assert_eq!(
            store.host_backoffs(now).await.unwrap(),
            vec![("c.example".to_owned(), soon)]
        );
        store.save_host_backoffs(&[]).await.unwrap();
        assert!(store.host_backoffs(now).await.unwrap().is_empty());
    }
);

store_test!(
    async fn a_refused_page_keeps_its_kind_and_loses_the_text_an_earlier_extraction_stored(store) {
        let now = at("2026-06-01T00:00:00Z");
        queue(&store, &[1], &[]).await;
        let content = ArticleContent {
            text: "Text an older extractor kept.".into(),
            html: Some("<p>Text an older extractor kept.</p>".into()),
            word_count: 5,
            page_kind: Some(PageKind::Article),
            ..ArticleContent::default()
        };
        store
            .store_fulltext(1, &content, "https://news.example/1", None, None, now)
            .await
            .unwrap();
        let before = store.text_state(1).await.unwrap().unwrap();
        assert_eq!(before.text.as_deref(), Some("Text an older extractor kept."));

        store.refuse_fulltext(1, PageKind::Product, now).await.unwrap();
        let after = store.text_state(1).await.unwrap().unwrap();
        assert_eq!(after.text, None);
        assert_eq!(after.summary.as_deref(), Some("Summary 1"), "the feed's summary stays");
        assert_eq!(
            strings(&store, "SELECT page_kind FROM articles WHERE id = 1").await,
            vec![Some("product".to_owned())]
        );
        assert_eq!(
            strings(&store, "SELECT html FROM articles WHERE id = 1").await,
            vec![None]
        );
        assert!(store.text_state(999).await.unwrap().is_none());
    }
);
