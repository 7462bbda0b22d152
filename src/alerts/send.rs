//! Sending one delivery to its channel: webhooks and ntfy through the one
//! HTTP client (its SSRF guard, timeouts and limits) without following
//! redirects, email through SMTP to an address the same guard allowed.

use url::Url;

use super::Sent;
use crate::config::{ChannelKind, ChannelSettings};
use crate::fetch::{FetchError, FetchRequest, Fetcher};

/// Sends `payload` of event `event_id` to `channel`.
pub async fn send(
    fetcher: &Fetcher,
    channel: &ChannelSettings,
    event_id: &str,
    payload: &str,
) -> Sent {
    match (&channel.kind, channel.kind.http_url()) {
        (ChannelKind::Email(email), _) => {
            super::email::send(fetcher, &channel.name, email, event_id, payload).await
        }
        (_, Some(url)) => send_http(fetcher, channel, url, event_id, payload).await,
        (_, None) => Sent::Impossible {
            error: format!("channel {} has no URL", channel.name),
        },
    }
}

async fn send_http(
    fetcher: &Fetcher,
    channel: &ChannelSettings,
    raw_url: &str,
    event_id: &str,
    payload: &str,
) -> Sent {
    let url = match Url::parse(raw_url) {
        Ok(u) => u,
        Err(e) => {
            return Sent::Impossible {
                error: format!("channel {}: bad url: {e}", channel.name),
            }
        }
    };
    let url_text = url.to_string();
    let mut req = match &channel.kind {
        ChannelKind::Ntfy { .. } => {
            let msg = match super::payload::ntfy_message(payload) {
                Ok(m) => m,
                Err(e) => {
                    return Sent::Impossible {
                        error: format!("unreadable payload: {e}"),
                    }
                }
            };
            let mut req =
                FetchRequest::post(url, "text/plain; charset=utf-8", msg.message.into_bytes());
            // Header values must be visible ASCII: ntfy decodes RFC 2047.
            req.headers.push(("Title".to_owned(), rfc2047(&msg.title)));
            if let Some(click) = msg.click {
                req.headers.push(("Click".to_owned(), click));
            }
            req.headers
                .push(("X-Newsd-Delivery".to_owned(), event_id.to_owned()));
            if let Some(token) = channel.kind.credential() {
                req.headers.push((
                    "Authorization".to_owned(),
                    format!("Bearer {}", token.expose()),
                ));
            }
            req
        }
        // Webhooks (email never gets here).
        _ => {
            let mut req = FetchRequest::post(url, "application/json", payload.as_bytes().to_vec());
            req.headers
                .push(("X-Newsd-Delivery".to_owned(), event_id.to_owned()));
            if let Some(secret) = channel.kind.credential() {
                req.headers.push((
                    "X-Newsd-Signature".to_owned(),
                    super::payload::signature(secret.expose(), payload.as_bytes()),
                ));
            }
            req
        }
    };
    req.follow_redirects = false;
    // Retries are this delivery's own, by its backoff and Retry-After.
    req.ignore_host_backoff = true;
    // Hook URLs often carry a credential in their path or query: errors,
    // which are logged and stored, name the channel instead.
    let redact = |e: FetchError| {
        e.to_string()
            .replace(url_text.as_str(), &format!("<channel {}>", channel.name))
            .replace(raw_url, &format!("<channel {}>", channel.name))
    };
    match fetcher.fetch(req).await {
        Ok(resp) if (200..300).contains(&resp.status) => Sent::Accepted {
            status: resp.status,
        },
        Ok(resp) => Sent::Refused {
            status: resp.status,
            retry_after: resp.retry_after,
        },
        Err(
            e @ (FetchError::Blocked { .. }
            | FetchError::InvalidUrl { .. }
            | FetchError::InvalidHeader { .. }),
        ) => Sent::Impossible { error: redact(e) },
        Err(e) => Sent::Unreachable { error: redact(e) },
    }
}

/// A header value in RFC 2047 form when it is not plain ASCII.
fn rfc2047(s: &str) -> String {
    if s.bytes().all(|b| (0x20..0x7f).contains(&b)) {
        return s.to_owned();
    }
    use base64::Engine as _;
    format!(
        "=?UTF-8?B?{}?=",
        base64::engine::general_purpose::STANDARD.encode(s.as_bytes())
    )
}
