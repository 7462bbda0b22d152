//! Email alerts over SMTP (lettre, rustls on the ring provider). The server's
//! address comes from the fetch layer's guard, and the connection dials that
//! checked address while TLS verifies the host name the URL gave.

use lettre::message::header::{HeaderName, HeaderValue};
use lettre::message::{Mailbox, MultiPart};
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Tls, TlsParameters};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use url::Url;

use super::Sent;
use crate::config::{EmailChannel, SmtpTls, SmtpUrl};
use crate::fetch::{FetchError, Fetcher};

/// Sends `payload` of event `event_id` as one email to every `to` address.
pub async fn send(
    fetcher: &Fetcher,
    channel: &str,
    email: &EmailChannel,
    event_id: &str,
    payload: &str,
) -> Sent {
    let impossible = |error: String| Sent::Impossible {
        error: format!("channel {channel}: {error}"),
    };
    let Some(raw) = email.smtp_url() else {
        return impossible(match &email.smtp_url_env {
            Some(var) => format!("smtp_url_env {var} is not set"),
            None => "no smtp_url".to_owned(),
        });
    };
    let smtp = match SmtpUrl::parse(raw.expose()) {
        Ok(s) => s,
        Err(e) => return impossible(format!("smtp_url {e}")),
    };
    let message = match message(email, event_id, payload) {
        Ok(m) => m,
        Err(e) => return impossible(e),
    };
    // Named in errors, so it carries no credentials.
    let target = match Url::parse(&format!("smtp://{}:{}", url_host(&smtp.host), smtp.port)) {
        Ok(u) => u,
        Err(e) => return impossible(format!("smtp_url has a bad host ({e})")),
    };
    let addr = match fetcher.public_addr(&target, smtp.port).await {
        Ok(a) => a,
        Err(e @ (FetchError::Blocked { .. } | FetchError::InvalidUrl { .. })) => {
            return impossible(e.to_string())
        }
        Err(e) => {
            return Sent::Unreachable {
                error: format!("channel {channel}: {e}"),
            }
        }
    };
    let tls = match smtp.tls {
        SmtpTls::None => Tls::None,
        SmtpTls::Implicit | SmtpTls::StartTls => match TlsParameters::new(smtp.host.clone()) {
            Ok(p) if smtp.tls == SmtpTls::Implicit => Tls::Wrapper(p),
            Ok(p) => Tls::Required(p),
            Err(e) => return impossible(format!("cannot set up TLS: {e}")),
        },
    };
    let mut transport =
        AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(addr.ip().to_string())
            .port(addr.port())
            .tls(tls)
            .timeout(Some(fetcher.timeout()));
    if let Some(user) = &smtp.user {
        let password = smtp.password.as_ref().map(|p| p.expose().to_owned());
        transport =
            transport.credentials(Credentials::new(user.clone(), password.unwrap_or_default()));
    }
    match transport.build().send(message).await {
        Ok(response) => Sent::Accepted {
            status: u16::from(response.code()),
        },
        // A 5xx answer (no such mailbox, authentication refused) says the
        // same on every try.
        Err(e) if e.is_permanent() => impossible(e.to_string()),
        Err(e) => match e.status() {
            Some(code) if e.is_transient() => Sent::Refused {
                status: u16::from(code),
                retry_after: None,
            },
            _ => Sent::Unreachable {
                error: format!("channel {channel}: {e}"),
            },
        },
    }
}

/// An IPv6 literal goes in brackets inside a URL.
fn url_host(host: &str) -> String {
    if host.contains(':') {
        format!("[{host}]")
    } else {
        host.to_owned()
    }
}

fn message(email: &EmailChannel, event_id: &str, payload: &str) -> Result<Message, String> {
    let body =
        super::payload::email_message(payload).map_err(|e| format!("unreadable payload: {e}"))?;
    let mailbox = |s: &str| {
        s.parse::<Mailbox>()
            .map_err(|e| format!("bad address {s:?}: {e}"))
    };
    let mut builder = Message::builder()
        .from(mailbox(&email.from)?)
        .subject(body.subject)
        // The same id on every retry, so a mail client shows a resent alert once.
        .message_id(Some(format!("<{event_id}@newsd>")))
        .raw_header(HeaderValue::new(
            HeaderName::new_from_ascii_str("X-Newsd-Delivery"),
            event_id.to_owned(),
        ));
    for to in &email.to {
        builder = builder.to(mailbox(to)?);
    }
    builder
        .multipart(MultiPart::alternative_plain_html(body.text, body.html))
        .map_err(|e| format!("cannot build the message: {e}"))
}
