//! `newsd rules apply`: the `[[rules]]` of the config re-applied to stored
//! articles; and [`reapply`], the same for one article when its full text
//! arrives or its Google link resolves (the decisions are `crate::rules`'s,
//! the writes the store's).

use chrono::{DateTime, Utc};

use crate::rules::{Change, RuleSet};
use crate::store::{Removal, RuledArticle, Store};

/// Articles read per page.
const PAGE: i64 = 500;

/// What a pass changed (or would, for a dry run).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Applied {
    pub articles: u64,
    /// Articles the rules changed.
    pub changed: u64,
    /// Articles removed, each with its tombstones.
    pub removed: u64,
    /// Articles unlinked from some of their feeds, kept for the others.
    pub unlinked: u64,
    /// Articles that got tags.
    pub tagged: u64,
}

/// Re-applies `rules` to the articles first seen since `since`, in id
/// order, calling `show` with each change before it is written; with
/// `dry_run` nothing is written.
pub async fn apply(
    store: &Store,
    rules: &RuleSet,
    since: Option<DateTime<Utc>>,
    dry_run: bool,
    now: DateTime<Utc>,
    mut show: impl FnMut(&RuledArticle, &Change),
) -> crate::store::Result<Applied> {
    let progress = crate::progress::Progress::new("articles", 0);
    let last = store.max_article_id().await?;
    let mut done = Applied::default();
    let mut after = 0;
    loop {
        let page = store.ruled_articles(since, after, PAGE).await?;
        let Some(a) = page.last() else { break };
        after = a.id;
        for a in &page {
            done.articles += 1;
            let Some(change) = rules.plan(a) else {
                continue;
            };
            show(a, &change);
            done.changed += 1;
            if change.removes_article {
                done.removed += 1;
            } else if !change.unlink.is_empty() {
                done.unlinked += 1;
            }
            if !change.removes_article && !change.add_tags.is_empty() {
                done.tagged += 1;
            }
            if dry_run {
                continue;
            }
            if write(store, a, &change, now).await? == Removal::Unlinked && change.removes_article {
                // A feed linked it since it was read: it stays for that one.
                done.removed -= 1;
                done.unlinked += 1;
            }
        }
        progress.set(
            u64::try_from(after).unwrap_or(0),
            u64::try_from(last).unwrap_or(0),
        );
    }
    progress.finish();
    Ok(done)
}

/// Writes one change: the tags, then the links (or the article) it removes.
/// `Missing` when it removes nothing.
async fn write(
    store: &Store,
    a: &RuledArticle,
    change: &Change,
    now: DateTime<Utc>,
) -> crate::store::Result<Removal> {
    if !change.add_tags.is_empty() && !change.removes_article {
        store.add_tags(a.id, &change.add_tags).await?;
    }
    if change.removed_by.is_none() {
        return Ok(Removal::Missing);
    }
    let feeds: Vec<i64> = if change.removes_article {
        a.feeds.iter().map(|f| f.0).collect()
    } else {
        change.unlink.clone()
    };
    store.remove_article_links(a.id, &feeds, now).await
}

/// The rules applied again to one article whose full text arrived or whose
/// Google link resolved to its publisher URL: what they changed, if
/// anything.
pub async fn reapply(
    store: &Store,
    rules: &RuleSet,
    article_id: i64,
    now: DateTime<Utc>,
) -> crate::store::Result<Option<(Change, Removal)>> {
    let Some(a) = store.ruled_article(article_id).await? else {
        return Ok(None);
    };
    let Some(change) = rules.plan(&a) else {
        return Ok(None);
    };
    let removal = write(store, &a, &change, now).await?;
    Ok(Some((change, removal)))
}

/// One change as `newsd rules apply` prints it.
pub fn describe(a: &RuledArticle, c: &Change, dry_run: bool) -> String {
    let title = a.title.as_deref().unwrap_or("(untitled)");
    let mut parts = Vec::new();
    let (remove, unlink, tag) = if dry_run {
        ("would remove", "would unlink from feed", "would tag")
    } else {
        ("removed", "unlinked from feed", "tagged")
    };
    if let Some(rule) = &c.removed_by {
        if c.removes_article {
            parts.push(format!("{remove} ({rule})"));
        } else {
            let feeds: Vec<String> = c.unlink.iter().map(i64::to_string).collect();
            parts.push(format!("{unlink} {} ({rule})", feeds.join(", ")));
        }
    }
    if !c.removes_article && !c.add_tags.is_empty() {
        parts.push(format!("{tag} {}", c.add_tags.join(", ")));
    }
    format!("article {} {title:?}: {}", a.id, parts.join("; "))
}
