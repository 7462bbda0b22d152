//! The messages alerts send: the webhook's JSON (fixed when the event is
//! made, so every retry sends the same bytes), its signature, and the ntfy
//! and email messages read back from it.

use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;

use crate::store::{AlertArticle, AlertStory, SearchRow};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SearchRef {
    pub id: i64,
    pub name: String,
}

/// One story and the matching articles it is told by.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoryEntry {
    pub story: AlertStory,
    pub articles: Vec<AlertArticle>,
}

/// The webhook body: one story (`story`, `articles`), or a digest
/// (`stories`, a list of those).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Payload {
    pub event_id: String,
    pub search: SearchRef,
    #[serde(flatten)]
    pub body: Body,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Body {
    Story(StoryEntry),
    Digest { stories: Vec<StoryEntry> },
}

fn entry(story: &AlertStory, articles: &[AlertArticle]) -> StoryEntry {
    StoryEntry {
        story: story.clone(),
        articles: articles.to_vec(),
    }
}

fn search_ref(search: &SearchRow) -> SearchRef {
    SearchRef {
        id: search.id,
        name: search.name.clone(),
    }
}

fn to_json(p: &Payload) -> String {
    // A struct of strings and numbers always serializes.
    serde_json::to_string(p).unwrap_or_default()
}

pub fn story_payload(
    event_id: &str,
    search: &SearchRow,
    story: &AlertStory,
    articles: &[AlertArticle],
) -> String {
    to_json(&Payload {
        event_id: event_id.to_owned(),
        search: search_ref(search),
        body: Body::Story(entry(story, articles)),
    })
}

pub fn digest_payload(
    event_id: &str,
    search: &SearchRow,
    stories: &[(AlertStory, Vec<AlertArticle>)],
) -> String {
    to_json(&Payload {
        event_id: event_id.to_owned(),
        search: search_ref(search),
        body: Body::Digest {
            stories: stories.iter().map(|(s, a)| entry(s, a)).collect(),
        },
    })
}

/// `X-Newsd-Signature`: `sha256=` and the hex HMAC-SHA256 of the body.
pub fn signature(secret: &str, body: &[u8]) -> String {
    // HMAC takes a key of any length.
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes())
        .unwrap_or_else(|_| unreachable!("HMAC accepts every key length"));
    mac.update(body);
    let hex: String = mac
        .finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    format!("sha256={hex}")
}

/// What an ntfy notification shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NtfyMessage {
    pub title: String,
    pub message: String,
    /// The publisher's article, opened by a tap.
    pub click: Option<String>,
}

fn read(payload: &str) -> Result<Payload, serde_json::Error> {
    serde_json::from_str(payload)
}

fn entries(p: &Payload) -> &[StoryEntry] {
    match &p.body {
        Body::Story(e) => std::slice::from_ref(e),
        Body::Digest { stories } => stories.as_slice(),
    }
}

fn headline(e: &StoryEntry) -> String {
    e.articles
        .first()
        .and_then(|a| a.title.clone())
        .or_else(|| e.story.title.clone())
        .unwrap_or_else(|| "(untitled)".to_owned())
}

fn title(p: &Payload) -> String {
    match &p.body {
        Body::Story(_) => format!("newsd: {}", p.search.name),
        Body::Digest { stories } => {
            format!("newsd: {} ({} stories)", p.search.name, stories.len())
        }
    }
}

/// The ntfy message of a stored payload: headline and publisher per story.
pub fn ntfy_message(payload: &str) -> Result<NtfyMessage, serde_json::Error> {
    let p = read(payload)?;
    let line = |e: &StoryEntry| match e.articles.first().and_then(|a| a.publisher.as_deref()) {
        Some(publisher) => format!("{} — {publisher}", headline(e)),
        None => headline(e),
    };
    Ok(NtfyMessage {
        title: title(&p),
        message: entries(&p).iter().map(line).collect::<Vec<_>>().join("\n"),
        click: entries(&p)
            .first()
            .and_then(|e| e.articles.first())
            .and_then(|a| a.url.clone()),
    })
}

/// What an email alert says, as plain text and as HTML.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EmailMessage {
    pub subject: String,
    pub text: String,
    pub html: String,
}

/// The email of a stored payload: per story its headline, then each
/// matching article's publisher, link and snippet.
pub fn email_message(payload: &str) -> Result<EmailMessage, serde_json::Error> {
    use html_escape::{encode_double_quoted_attribute as attr, encode_text as esc};
    let p = read(payload)?;
    let subject = match &p.body {
        Body::Story(e) => format!("{}: {}", title(&p), headline(e)),
        Body::Digest { .. } => title(&p),
    };
    let mut text = String::new();
    let mut html = format!("<html><body>\n<h1>{}</h1>\n", esc(&title(&p)));
    for e in entries(&p) {
        text.push_str(&headline(e));
        text.push('\n');
        html.push_str(&format!("<h2>{}</h2>\n<ul>\n", esc(&headline(e))));
        for a in &e.articles {
            let who = a.publisher.as_deref().unwrap_or("(unknown publisher)");
            let what = a.title.as_deref().unwrap_or("(untitled)");
            text.push_str(&format!("  {who}: {what}\n"));
            html.push_str("<li>");
            match &a.url {
                Some(url) => {
                    text.push_str(&format!("  {url}\n"));
                    html.push_str(&format!("<a href=\"{}\">{}</a>", attr(url), esc(what)));
                }
                None => html.push_str(&esc(what)),
            }
            html.push_str(&format!(" — {}", esc(who)));
            if let Some(snippet) = &a.snippet {
                text.push_str(&format!("  {snippet}\n"));
                html.push_str(&format!("<br>{}", esc(snippet)));
            }
            html.push_str("</li>\n");
        }
        text.push('\n');
        html.push_str("</ul>\n");
    }
    text.push_str(&format!("-- \nnewsd saved search {:?}\n", p.search.name));
    html.push_str("</body></html>\n");
    Ok(EmailMessage {
        subject,
        text,
        html,
    })
}
