//! A live blog's updates and a discussion's posts, read from the page's
//! JSON-LD, in the order the page gives them. Readability keeps one
//! container, which on these pages is one entry (or the opening post): the
//! structured data names every entry, so the archive can keep them all.

use serde_json::Value;

/// Replies nest (a comment's comments); deeper threads are cut here.
const MAX_DEPTH: usize = 4;
/// A hostile page could list millions of entries.
const MAX_ENTRIES: usize = 2_000;

/// The entries of the first live blog or discussion among `objects` (top-level
/// JSON-LD objects, `@graph` and `mainEntity` flattened), as paragraphs: each
/// entry's author and headline on a line of their own, then its text.
pub(crate) fn from_ld(objects: &[&Value]) -> Vec<String> {
    let mut out = Vec::new();
    for o in objects {
        if has_type(o, &["LiveBlogPosting"]) {
            if let Some(updates) = o.get("liveBlogUpdate") {
                for u in as_list(updates) {
                    entry(u, &mut out);
                }
            }
        } else if has_type(o, &["DiscussionForumPosting", "SocialMediaPosting"]) {
            thread(o, 0, &mut out);
        } else if has_type(o, &["Question"]) {
            entry(o, &mut out);
            for key in ["acceptedAnswer", "suggestedAnswer"] {
                if let Some(answers) = o.get(key) {
                    for a in as_list(answers) {
                        thread(a, 1, &mut out);
                    }
                }
            }
        }
        if !out.is_empty() {
            break;
        }
    }
    out.truncate(MAX_ENTRIES);
    out
}

fn has_type(v: &Value, names: &[&str]) -> bool {
    let is = |t: &str| {
        let t = t.rsplit('/').next().unwrap_or(t);
        names.contains(&t)
    };
    match v.get("@type") {
        Some(Value::String(t)) => is(t),
        Some(Value::Array(ts)) => ts.iter().filter_map(Value::as_str).any(is),
        _ => false,
    }
}

fn as_list(v: &Value) -> Vec<&Value> {
    match v {
        Value::Array(a) => a.iter().collect(),
        other => vec![other],
    }
}

/// A post and its replies, depth first, as a thread reads on the page.
fn thread(post: &Value, depth: usize, out: &mut Vec<String>) {
    if depth > MAX_DEPTH || out.len() >= MAX_ENTRIES {
        return;
    }
    entry(post, out);
    if let Some(comments) = post.get("comment") {
        for c in as_list(comments) {
            thread(c, depth + 1, out);
        }
    }
}

fn entry(v: &Value, out: &mut Vec<String>) {
    let Some(text) = v
        .get("articleBody")
        .or_else(|| v.get("text"))
        .and_then(Value::as_str)
        .map(paragraphs)
        .filter(|p| !p.is_empty())
    else {
        return;
    };
    let author = v.get("author").and_then(name_of);
    let headline = v.get("headline").and_then(Value::as_str).map(one_line);
    out.extend(author.into_iter().chain(headline).filter(|s| !s.is_empty()));
    out.extend(text);
}

fn name_of(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(one_line(s)),
        Value::Array(a) => a.first().and_then(name_of),
        Value::Object(o) => o.get("name").and_then(Value::as_str).map(one_line),
        _ => None,
    }
}

fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Text fields carry line breaks (and on some engines markup): paragraphs
/// are what lies between breaks and block tags; inline tags just go.
fn paragraphs(s: &str) -> Vec<String> {
    let mut plain = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(open) = rest.find('<') {
        plain.push_str(&rest[..open]);
        let Some(close) = rest[open..].find('>') else {
            rest = &rest[open..];
            break;
        };
        let name: String = rest[open + 1..open + close]
            .trim_start_matches('/')
            .chars()
            .take_while(char::is_ascii_alphanumeric)
            .collect::<String>()
            .to_ascii_lowercase();
        if name == "br" || super::text::is_block(&name) {
            plain.push('\n');
        }
        rest = &rest[open + close + 1..];
    }
    plain.push_str(rest);
    plain
        .split('\n')
        .map(one_line)
        .filter(|p| !p.is_empty())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn entries(v: Value) -> Vec<String> {
        from_ld(&[&v])
    }

    #[test]
    fn a_discussion_reads_as_its_opening_post_then_every_reply_in_order() {
        let v = json!({
            "@type": "DiscussionForumPosting",
            "headline": "Best first telescope?",
            "author": {"@type": "Person", "name": "stargazer"},
            "text": "I'm new to astronomy.\n\nWhat should I buy?",
            "comment": [
                {"@type": "Comment", "author": {"name": "ann"}, "text": "A small refractor.",
                 "comment": [{"@type": "Comment", "author": "bob", "text": "<p>Or a <b>dobsonian</b>.</p>"}]},
                {"@type": "Comment", "author": {"name": "cy"}, "text": "Binoculars first."}
            ]
        });
        assert_eq!(
            entries(v),
            [
                "stargazer",
                "Best first telescope?",
                "I'm new to astronomy.",
                "What should I buy?",
                "ann",
                "A small refractor.",
                "bob",
                "Or a dobsonian.",
                "cy",
                "Binoculars first."
            ]
        );
    }

    #[test]
    fn a_live_blog_reads_as_its_updates_in_the_order_given() {
        let v = json!({
            "@type": "LiveBlogPosting",
            "headline": "Election night",
            "liveBlogUpdate": [
                {"@type": "BlogPosting", "headline": "Polls close", "articleBody": "Counting begins."},
                {"@type": "BlogPosting", "headline": "First result", "articleBody": "The north declares."}
            ]
        });
        assert_eq!(
            entries(v),
            [
                "Polls close",
                "Counting begins.",
                "First result",
                "The north declares."
            ]
        );
    }

    #[test]
    fn a_question_reads_as_itself_then_its_answers() {
        let v = json!({
            "@type": "Question", "name": "How?", "text": "How do I start?",
            "acceptedAnswer": {"@type": "Answer", "text": "Read the guide."},
            "suggestedAnswer": [{"@type": "Answer", "text": "Ask here."}]
        });
        assert_eq!(
            entries(v),
            ["How do I start?", "Read the guide.", "Ask here."]
        );
    }

    #[test]
    fn an_article_or_a_page_without_entries_gives_none() {
        assert!(entries(json!({"@type": "NewsArticle", "articleBody": "Text."})).is_empty());
        assert!(entries(json!({"@type": "LiveBlogPosting", "headline": "Soon"})).is_empty());
    }

    #[test]
    fn a_thread_nested_past_the_depth_limit_is_cut_not_followed() {
        let mut v = json!({"@type": "Comment", "text": "deepest"});
        for i in 0..50 {
            v = json!({"@type": "Comment", "text": format!("level {i}"), "comment": [v]});
        }
        let root = json!({"@type": "DiscussionForumPosting", "text": "root", "comment": [v]});
        assert_eq!(entries(root).len(), 1 + MAX_DEPTH);
    }
}
