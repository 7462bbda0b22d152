//! Conformance: the export role on every engine.

use super::query::{start, Row, Rows};
use crate::store_test;

store_test!(
    async fn export_pages_follow_ids_from_a_cursor_and_carry_feeds_and_links(store) {
        let mut rows = Rows::new(&store).await;
        for minute in [0, 5, 10] {
            rows.add(Row {
                title: Some("Chips"),
                publisher: Some("Example News"),
                minute,
                ..Default::default()
            })
            .await;
        }
        let page = store.export_page(None, 1, 10).await.unwrap();
        assert_eq!(page.iter().map(|a| a.id).collect::<Vec<_>>(), vec![2, 3]);
        assert_eq!(page[0].feeds, vec!["https://f.example/rss".to_owned()]);
        assert_eq!(page[0].links, vec!["https://n.example/2".to_owned()]);
        assert_eq!(page[0].authors, Vec::<String>::new());
        assert_eq!(page[0].first_seen_at, "2026-01-01T00:05:00Z");
        let since = store
            .export_page(Some(start() + chrono::Duration::minutes(5)), 0, 1)
            .await
            .unwrap();
        assert_eq!(since.iter().map(|a| a.id).collect::<Vec<_>>(), vec![2]);
        assert!(store.export_page(None, 3, 10).await.unwrap().is_empty());
    }
);
