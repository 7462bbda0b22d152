//! Rules at ingest (`[[rules]]`), as pure functions: which entries are not
//! stored (`block`, or no `keep` rule of their feed matched) and which tags
//! an article gets (`tag`). Compiled once from the validated settings
//! ([`RuleSet::compile`]); judging takes plain data and does no IO, so the
//! poll, the full-text worker and `newsd rules apply` decide alike.
//!
//! A rule's patterns must all match (a rule with `title` and `url` needs
//! both); regular expressions are case-insensitive unless the rule sets
//! `case_sensitive`. A `query` is the plain-words language of `newsd
//! search`, over the title, summary and full text. A rule on `text` (or a
//! `query` whose words the title and summary lack) cannot be decided before
//! the full text arrives, nor one on `url` before a Google item's link
//! resolves: until then a `block` or `tag` rule on it does not match, and a
//! `keep` rule on it keeps the entry, so the decision waits rather than
//! losing the entry.

use std::cell::OnceCell;

use regex::{Regex, RegexBuilder};
use serde::Deserialize;

use crate::alerts::{Doc, Matcher};
use crate::domain::FeedUrl;
use crate::store::{AlertCandidate, RuledArticle, SearchOrigin, SearchRow};

/// One `[[rules]]` entry of the config, as written.
#[derive(Debug, Clone, Deserialize)]
pub struct RuleSettings {
    /// Names the rule in errors and in `newsd rules apply`; else its index.
    pub name: Option<String>,
    pub action: RuleAction,
    /// The tag a `tag` rule adds.
    pub tag: Option<String>,
    /// Feed ids or feed URLs; empty: every feed.
    #[serde(default)]
    pub feeds: Vec<String>,
    /// Regular expressions, all of those given must match.
    pub title: Option<String>,
    pub url: Option<String>,
    pub publisher: Option<String>,
    pub summary: Option<String>,
    pub text: Option<String>,
    /// Plain words as in `newsd search` (title, summary and full text).
    pub query: Option<String>,
    #[serde(default)]
    pub case_sensitive: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RuleAction {
    /// Not stored; a tombstone keeps the entry from coming back.
    Block,
    /// A feed with keep rules stores only the entries one of them matches.
    Keep,
    /// Adds `tag` to the article.
    Tag,
}

/// A rule that cannot be compiled, named by its `name` or its index.
#[derive(Debug, thiserror::Error)]
#[error("rule {rule}: `{field}` {reason}")]
pub struct RuleError {
    pub index: usize,
    /// `rules[i]`, or `rules[i] ("name")` when the rule has a name.
    pub rule: String,
    pub field: &'static str,
    pub reason: String,
}

/// What an entry or article is judged on. `text` is `None` until the full
/// text arrives.
#[derive(Debug, Clone, Copy, Default)]
pub struct Subject<'a> {
    pub title: Option<&'a str>,
    /// The publisher's URL of the article (for a Google item, once its link
    /// is resolved).
    pub url: Option<&'a str>,
    pub publisher: Option<&'a str>,
    pub summary: Option<&'a str>,
    pub text: Option<&'a str>,
}

/// The feed an entry arrived through, or one of an article's feeds.
#[derive(Debug, Clone, Copy)]
pub struct FeedRef<'a> {
    pub id: i64,
    pub url: &'a str,
}

/// What the rules decided for one subject seen through one feed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Verdict {
    /// Why the entry is not stored (the rule that blocked it, or that no
    /// keep rule of its feed matched); `None`: it is stored.
    pub removed_by: Option<String>,
    /// Tags to add, in rule order, without repeats.
    pub tags: Vec<String>,
}

#[derive(Debug, Clone)]
struct Rule {
    label: String,
    action: RuleAction,
    tag: Option<String>,
    /// The feeds given by id and by (normalized) URL; both empty: every feed.
    feed_ids: Vec<i64>,
    feed_urls: Vec<String>,
    title: Option<Regex>,
    url: Option<Regex>,
    publisher: Option<Regex>,
    summary: Option<Regex>,
    text: Option<Regex>,
    query: Option<Matcher>,
}

/// Whether a pattern, if the rule has one, matches the field's value.
fn field(re: &Option<Regex>, value: Option<&str>) -> bool {
    re.as_ref()
        .is_none_or(|re| value.is_some_and(|v| re.is_match(v)))
}

impl Rule {
    fn applies_to(&self, feed: FeedRef<'_>) -> bool {
        (self.feed_ids.is_empty() && self.feed_urls.is_empty())
            || self.feed_ids.contains(&feed.id)
            || self.feed_urls.iter().any(|u| u == feed.url)
    }

    /// Whether the rule's patterns all match: `None` while that depends on
    /// what has not arrived: the full text (a `text` pattern, or a `query`
    /// the title and summary do not match) or a Google item's publisher URL.
    /// `doc` holds the subject's words, split once for all its rules.
    fn matches(&self, s: &Subject<'_>, doc: &OnceCell<Doc>) -> Option<bool> {
        let fields = field(&self.title, s.title)
            && field(&self.publisher, s.publisher)
            && field(&self.summary, s.summary);
        if !fields {
            return Some(false);
        }
        if (self.url.is_some() && s.url.is_none()) || (self.text.is_some() && s.text.is_none()) {
            return None;
        }
        if !field(&self.url, s.url) {
            return Some(false);
        }
        if !field(&self.text, s.text) {
            return Some(false);
        }
        let Some(m) = &self.query else {
            return Some(true);
        };
        let doc = doc.get_or_init(|| {
            Doc::new(&AlertCandidate {
                title: s.title.map(str::to_owned),
                summary: s.summary.map(str::to_owned),
                text: s.text.map(str::to_owned),
                ..Default::default()
            })
        });
        match (m.words_match(doc), s.text) {
            (false, None) => None,
            (matched, _) => Some(matched),
        }
    }
}

/// The compiled `[[rules]]`.
#[derive(Debug, Clone, Default)]
pub struct RuleSet {
    rules: Vec<Rule>,
}

impl RuleSet {
    /// Compiles the rules; the first invalid one is the error.
    pub fn compile(settings: &[RuleSettings]) -> Result<Self, RuleError> {
        let rules = settings
            .iter()
            .enumerate()
            .map(|(i, r)| compile_rule(i, r))
            .collect::<Result<_, _>>()?;
        Ok(RuleSet { rules })
    }

    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }

    /// Whether any rule looks at `url` (a Google item is judged again when
    /// its link resolves) or at the full text (judged when it arrives).
    pub fn needs_url(&self) -> bool {
        self.rules.iter().any(|r| r.url.is_some())
    }

    pub fn needs_text(&self) -> bool {
        self.rules
            .iter()
            .any(|r| r.text.is_some() || r.query.is_some())
    }

    /// Judges `s` seen through `feed`. Block wins over keep; a feed with
    /// keep rules stores only what one of them matches.
    pub fn judge(&self, feed: FeedRef<'_>, s: &Subject<'_>) -> Verdict {
        let mut verdict = Verdict::default();
        let mut blocked = None;
        let mut keep_rules = false;
        let mut kept = false;
        let doc = OnceCell::new();
        for rule in self.rules.iter().filter(|r| r.applies_to(feed)) {
            let m = rule.matches(s, &doc);
            match rule.action {
                RuleAction::Block => {
                    if m == Some(true) && blocked.is_none() {
                        blocked = Some(rule.label.clone());
                    }
                }
                RuleAction::Keep => {
                    keep_rules = true;
                    // Undecided until the text arrives: kept meanwhile.
                    kept |= m != Some(false);
                }
                RuleAction::Tag => {
                    if let (Some(true), Some(tag)) = (m, &rule.tag) {
                        if !verdict.tags.contains(tag) {
                            verdict.tags.push(tag.clone());
                        }
                    }
                }
            }
        }
        verdict.removed_by = blocked.or_else(|| {
            (keep_rules && !kept).then(|| "no keep rule of the feed matched".to_owned())
        });
        if verdict.removed_by.is_some() {
            verdict.tags.clear();
        }
        verdict
    }
}

/// What re-applying the rules changes of one stored article.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Change {
    pub article_id: i64,
    /// Feeds whose links go (each leaves an entry tombstone).
    pub unlink: Vec<i64>,
    /// No feed keeps it: the article goes, with its tombstones.
    pub removes_article: bool,
    /// The rule that removed it from the first of those feeds.
    pub removed_by: Option<String>,
    /// Tags it does not have yet.
    pub add_tags: Vec<String>,
}

impl RuleSet {
    /// What the rules change of a stored article (`newsd rules apply`):
    /// judged once per feed linking it, since rules are scoped by feed; an
    /// article no feed links is judged as of no feed (only rules for every
    /// feed apply). `None` when nothing changes.
    pub fn plan(&self, a: &RuledArticle) -> Option<Change> {
        let subject = Subject {
            title: a.title.as_deref(),
            url: a.url.as_deref(),
            publisher: a.publisher.as_deref(),
            summary: a.summary.as_deref(),
            text: a.text.as_deref(),
        };
        let unlinked = [(0, String::new())];
        let feeds = if a.feeds.is_empty() {
            &unlinked[..]
        } else {
            &a.feeds[..]
        };
        let mut change = Change {
            article_id: a.id,
            ..Default::default()
        };
        let mut kept = false;
        for (id, url) in feeds {
            let v = self.judge(FeedRef { id: *id, url }, &subject);
            match v.removed_by {
                Some(rule) => {
                    change.removed_by.get_or_insert(rule);
                    change.unlink.push(*id);
                }
                None => {
                    kept = true;
                    for tag in v.tags {
                        if !a.tags.contains(&tag) && !change.add_tags.contains(&tag) {
                            change.add_tags.push(tag);
                        }
                    }
                }
            }
        }
        change.removes_article = !kept;
        if a.feeds.is_empty() {
            change.unlink.clear();
        }
        (change.removed_by.is_some() || !change.add_tags.is_empty()).then_some(change)
    }
}

fn compile_rule(i: usize, r: &RuleSettings) -> Result<Rule, RuleError> {
    let label = match &r.name {
        Some(n) => format!("rules[{i}] ({n:?})"),
        None => format!("rules[{i}]"),
    };
    let error = |field: &'static str, reason: String| RuleError {
        index: i,
        rule: label.clone(),
        field,
        reason,
    };
    let pattern = |field: &'static str, p: &Option<String>| -> Result<Option<Regex>, RuleError> {
        p.as_ref()
            .map(|p| {
                RegexBuilder::new(p)
                    .case_insensitive(!r.case_sensitive)
                    .build()
                    .map_err(|e| error(field, format!("is not a valid regular expression: {e}")))
            })
            .transpose()
    };
    let query = match &r.query {
        Some(q) if q.split_whitespace().next().is_none() => {
            return Err(error("query", "must hold at least one word".into()))
        }
        Some(q) => Some(Matcher::new(&query_search(q))),
        None => None,
    };
    let rule = Rule {
        action: r.action,
        tag: r.tag.clone(),
        feed_ids: r.feeds.iter().filter_map(|f| f.parse().ok()).collect(),
        feed_urls: r
            .feeds
            .iter()
            .filter(|f| f.parse::<i64>().is_err())
            .map(|f| {
                FeedUrl::parse(f)
                    .map(|u| u.as_str().to_owned())
                    .map_err(|e| error("feeds", format!("names no feed id or URL ({f:?}: {e})")))
            })
            .collect::<Result<_, _>>()?,
        title: pattern("title", &r.title)?,
        url: pattern("url", &r.url)?,
        publisher: pattern("publisher", &r.publisher)?,
        summary: pattern("summary", &r.summary)?,
        text: pattern("text", &r.text)?,
        query,
        label: label.clone(),
    };
    let has_pattern = [
        &rule.title,
        &rule.url,
        &rule.publisher,
        &rule.summary,
        &rule.text,
    ]
    .iter()
    .any(|p| p.is_some())
        || rule.query.is_some();
    if !has_pattern {
        return Err(error(
            "title",
            "(or url, publisher, summary, text, query) is needed: a rule matches on at least one"
                .into(),
        ));
    }
    match (r.action, &r.tag) {
        (RuleAction::Tag, Some(t)) if !t.trim().is_empty() => {}
        (RuleAction::Tag, _) => return Err(error("tag", "must name the tag to add".into())),
        (_, Some(_)) => {
            return Err(error(
                "tag",
                "is only for rules with `action = \"tag\"`".into(),
            ))
        }
        (_, None) => {}
    }
    Ok(rule)
}

/// A rule's `query` as a saved search, so it matches exactly as searches
/// and `newsd search` do.
fn query_search(query: &str) -> SearchRow {
    SearchRow {
        id: 0,
        name: String::new(),
        query: query.to_owned(),
        fts: false,
        feeds: Vec::new(),
        publishers: Vec::new(),
        lang: None,
        channels: Vec::new(),
        digest_secs: None,
        backfill: true,
        origin: SearchOrigin::Config,
        enabled: true,
        disabled_reason: None,
        matches_since: None,
        digest_at: None,
        created_at: String::new(),
        updated_at: String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(action: RuleAction) -> RuleSettings {
        RuleSettings {
            name: None,
            action,
            tag: None,
            feeds: Vec::new(),
            title: None,
            url: None,
            publisher: None,
            summary: None,
            text: None,
            query: None,
            case_sensitive: false,
        }
    }

    const FEED: FeedRef<'static> = FeedRef {
        id: 1,
        url: "https://a.example/feed.xml",
    };
    const OTHER: FeedRef<'static> = FeedRef {
        id: 2,
        url: "https://b.example/feed.xml",
    };

    fn titled(title: &str) -> Subject<'_> {
        Subject {
            title: Some(title),
            url: Some("https://news.example/a"),
            ..Default::default()
        }
    }

    #[test]
    fn a_block_rule_removes_a_matching_entry_case_insensitively() {
        let mut r = rule(RuleAction::Block);
        r.title = Some("sponsored".into());
        let rules = RuleSet::compile(&[r]).unwrap();
        assert_eq!(
            rules
                .judge(FEED, &titled("SPONSORED: buy now"))
                .removed_by
                .as_deref(),
            Some("rules[0]")
        );
        assert_eq!(rules.judge(FEED, &titled("Elections")), Verdict::default());
    }

    #[test]
    fn a_case_sensitive_rule_only_matches_its_case() {
        let mut r = rule(RuleAction::Block);
        r.title = Some("AI".into());
        r.case_sensitive = true;
        let rules = RuleSet::compile(&[r]).unwrap();
        assert!(rules.judge(FEED, &titled("AI wins")).removed_by.is_some());
        assert!(rules.judge(FEED, &titled("Mail wins")).removed_by.is_none());
    }

    #[test]
    fn keep_rules_store_only_what_one_of_them_matches_in_their_feeds() {
        let mut r = rule(RuleAction::Keep);
        r.title = Some(r"\bchips?\b".into());
        r.feeds = vec!["1".into()];
        let rules = RuleSet::compile(&[r]).unwrap();
        assert!(rules
            .judge(FEED, &titled("New chip plant"))
            .removed_by
            .is_none());
        assert!(rules.judge(FEED, &titled("Football")).removed_by.is_some());
        // Another feed has no keep rule: everything is stored.
        assert!(rules.judge(OTHER, &titled("Football")).removed_by.is_none());
    }

    #[test]
    fn block_wins_over_keep() {
        let mut keep = rule(RuleAction::Keep);
        keep.title = Some("chip".into());
        let mut block = rule(RuleAction::Block);
        block.title = Some("sponsored".into());
        block.name = Some("ads".into());
        let rules = RuleSet::compile(&[keep, block]).unwrap();
        let v = rules.judge(FEED, &titled("Sponsored chip deals"));
        assert_eq!(v.removed_by.as_deref(), Some("rules[1] (\"ads\")"));
    }

    #[test]
    fn tag_rules_add_their_tags_once_and_a_removed_entry_gets_none() {
        let mut a = rule(RuleAction::Tag);
        a.url = Some(r"^https://news\.example/".into());
        a.tag = Some("example".into());
        let mut b = a.clone();
        b.publisher = Some("^Example News$".into());
        let mut c = rule(RuleAction::Tag);
        c.title = Some("chip".into());
        c.tag = Some("example".into());
        let rules = RuleSet::compile(&[a, b, c]).unwrap();
        let mut s = titled("chips");
        s.publisher = Some("example news");
        assert_eq!(rules.judge(FEED, &s).tags, vec!["example".to_owned()]);

        let mut block = rule(RuleAction::Block);
        block.title = Some("chips".into());
        let mut tag = rule(RuleAction::Tag);
        tag.title = Some("chips".into());
        tag.tag = Some("t".into());
        let rules = RuleSet::compile(&[tag, block]).unwrap();
        assert!(rules.judge(FEED, &s).tags.is_empty());
    }

    #[test]
    fn a_rule_scoped_by_feed_url_applies_to_that_feed_only() {
        let mut r = rule(RuleAction::Block);
        r.title = Some("x".into());
        r.feeds = vec!["https://B.example/feed.xml".into()];
        let rules = RuleSet::compile(&[r]).unwrap();
        assert!(rules.judge(FEED, &titled("x")).removed_by.is_none());
        assert!(rules.judge(OTHER, &titled("x")).removed_by.is_some());
    }

    #[test]
    fn a_rule_on_the_text_waits_for_it() {
        let mut block = rule(RuleAction::Block);
        block.text = Some("paywall".into());
        let mut keep = rule(RuleAction::Keep);
        keep.text = Some("chip".into());
        let rules = RuleSet::compile(&[block, keep]).unwrap();
        let mut s = titled("Story");
        assert_eq!(rules.judge(FEED, &s), Verdict::default());
        s.text = Some("Subscribe: paywall");
        assert_eq!(
            rules.judge(FEED, &s).removed_by.as_deref(),
            Some("rules[0]")
        );
        s.text = Some("nothing of interest");
        assert!(rules.judge(FEED, &s).removed_by.is_some());
        s.text = Some("a chip plant");
        assert!(rules.judge(FEED, &s).removed_by.is_none());
        assert!(rules.needs_text() && !rules.needs_url());
    }

    #[test]
    fn a_rule_on_the_url_waits_for_a_google_items_publisher_url() {
        let mut keep = rule(RuleAction::Keep);
        keep.url = Some(r"^https://paper\.example/".into());
        let rules = RuleSet::compile(&[keep]).unwrap();
        let mut s = titled("Story");
        s.url = None;
        assert!(
            rules.judge(FEED, &s).removed_by.is_none(),
            "kept until resolved"
        );
        s.url = Some("https://spam.example/x");
        assert!(rules.judge(FEED, &s).removed_by.is_some());
        s.url = Some("https://paper.example/x");
        assert!(rules.judge(FEED, &s).removed_by.is_none());
    }

    #[test]
    fn a_query_rule_matches_words_as_newsd_search_does() {
        let mut r = rule(RuleAction::Tag);
        r.query = Some("export controls".into());
        r.tag = Some("trade".into());
        let rules = RuleSet::compile(&[r]).unwrap();
        let mut s = titled("New Export rules");
        s.summary = Some("Controls on chips");
        assert_eq!(rules.judge(FEED, &s).tags, vec!["trade".to_owned()]);
        assert!(rules.judge(FEED, &titled("Export")).tags.is_empty());

        // A keep rule's words may be in the body only: kept until it arrives.
        let mut keep = rule(RuleAction::Keep);
        keep.query = Some("lithium".into());
        let rules = RuleSet::compile(&[keep]).unwrap();
        let mut s = titled("Mining news");
        assert!(rules.judge(FEED, &s).removed_by.is_none());
        s.text = Some("Copper prices rose.");
        assert!(rules.judge(FEED, &s).removed_by.is_some());
        s.text = Some("Lithium prices rose.");
        assert!(rules.judge(FEED, &s).removed_by.is_none());
    }

    #[test]
    fn a_stored_article_is_unlinked_from_the_feeds_a_rule_removes_it_from() {
        let mut block = rule(RuleAction::Block);
        block.title = Some("football".into());
        block.feeds = vec!["1".into()];
        let mut tag = rule(RuleAction::Tag);
        tag.title = Some("football".into());
        tag.tag = Some("sport".into());
        let rules = RuleSet::compile(&[block, tag]).unwrap();
        let mut a = RuledArticle {
            id: 7,
            title: Some("Football results".into()),
            feeds: vec![(1, FEED.url.into()), (2, OTHER.url.into())],
            ..Default::default()
        };
        let change = rules.plan(&a).unwrap();
        assert_eq!(change.unlink, [1]);
        assert!(!change.removes_article);
        assert_eq!(change.add_tags, ["sport"]);

        a.feeds.truncate(1);
        let change = rules.plan(&a).unwrap();
        assert!(change.removes_article && change.add_tags.is_empty());
        assert_eq!(change.removed_by.as_deref(), Some("rules[0]"));

        // Tags it already has change nothing.
        a.feeds = vec![(2, OTHER.url.into())];
        a.tags = vec!["sport".into()];
        assert_eq!(rules.plan(&a), None);
    }

    #[test]
    fn invalid_rules_are_named_with_what_is_wrong() {
        let mut r = rule(RuleAction::Block);
        r.name = Some("bad".into());
        r.title = Some("(unclosed".into());
        let err = RuleSet::compile(&[rule(RuleAction::Keep), r.clone()]).unwrap_err();
        assert_eq!(err.rule, "rules[0]");
        let err = RuleSet::compile(&[r]).unwrap_err();
        assert_eq!(
            (err.rule.as_str(), err.field),
            ("rules[0] (\"bad\")", "title")
        );
        assert!(err.to_string().contains("regular expression"), "{err}");

        let mut tag = rule(RuleAction::Tag);
        tag.title = Some("x".into());
        assert_eq!(RuleSet::compile(&[tag]).unwrap_err().field, "tag");
    }
}
