//! Google's side of the resolution protocol, for the stand-ins that tests
//! and benchmarks run on 127.0.0.1 (behind the `test-support` feature): the
//! article page carrying a signature, the calls a batchexecute POST holds
//! and the answer Google gives. The mirror of [`super::resolve`]'s request
//! and parser, so every stand-in speaks the same protocol.

use serde_json::{json, Value};

/// An article page as Google serves it, with the signature `SIG_<id>`.
pub fn article_page(id: &str) -> String {
    format!(
        "<!doctype html><html><head><title>Google News</title></head><body><c-wiz>\
         <div jscontroller=\"aLI87\" jsaction=\"rcuQ6b:npT2md\" data-n-a-id=\"{id}\" \
         data-n-a-ts=\"1772798585\" data-n-a-sg=\"SIG_{id}\" data-n-vlb=\"0\"></div>\
         </c-wiz></body></html>"
    )
}

/// One `Fbv4je` call of a batchexecute POST.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BatchCall {
    pub id: String,
    pub signature: String,
    /// Echoed with the call's answer.
    pub tag: String,
}

/// The calls of a form-encoded batchexecute body (`f.req=…`), in the order
/// sent; what does not parse is left out.
pub fn batch_calls(body: &str) -> Vec<BatchCall> {
    let freq = url::form_urlencoded::parse(body.as_bytes())
        .find(|(k, _)| k == "f.req")
        .map(|(_, v)| v.into_owned())
        .unwrap_or_default();
    let envelope: Value = serde_json::from_str(&freq).unwrap_or_default();
    envelope[0]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default()
        .iter()
        .map(|call| {
            let inner: Value =
                serde_json::from_str(call[1].as_str().unwrap_or_default()).unwrap_or_default();
            let text = |v: &Value| v.as_str().unwrap_or_default().to_owned();
            BatchCall {
                id: text(&inner[2]),
                signature: text(&inner[4]),
                tag: text(&call[3]),
            }
        })
        .collect()
}

/// Google's answer to a batchexecute POST: a `garturlres` frame per
/// `(tag, publisher URL)`, then the trailer frames real answers end with.
pub fn batch_answer<T: AsRef<str>, U: AsRef<str>>(
    answers: impl IntoIterator<Item = (T, U)>,
) -> String {
    let mut frames: Vec<Value> = answers
        .into_iter()
        .map(|(tag, url)| {
            let payload = json!(["garturlres", url.as_ref(), 1]).to_string();
            json!(["wrb.fr", "Fbv4je", payload, null, null, null, tag.as_ref()])
        })
        .collect();
    frames.push(json!(["di", 13]));
    frames.push(json!(["af.httprm", 12, "-1", 7]));
    format!(")]}}'\n\n{}", Value::Array(frames))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::google_news::resolve::{batchexecute_body, parse_article_page, parse_batchexecute};

    #[test]
    fn the_stand_in_speaks_the_protocol_newsd_sends_and_parses() {
        let a = parse_article_page(&article_page("CBMiA")).unwrap();
        let b = parse_article_page(&article_page("CBMiB")).unwrap();
        assert_eq!(a.signature, "SIG_CBMiA");
        let body = batchexecute_body(&[("1", "CBMiA", &a), ("2", "CBMiB", &b)]);
        let call = |id: &str, tag: &str| BatchCall {
            id: id.into(),
            signature: format!("SIG_{id}"),
            tag: tag.into(),
        };
        assert_eq!(batch_calls(&body), [call("CBMiA", "1"), call("CBMiB", "2")]);
        let answer = batch_answer([("2", "https://b.example/x"), ("1", "https://a.example/y")]);
        let base = url::Url::parse("https://news.google.com/").unwrap();
        let parsed = parse_batchexecute(&answer, &base).unwrap();
        assert_eq!(
            parsed,
            [
                ("2".to_owned(), Ok("https://b.example/x".to_owned())),
                ("1".to_owned(), Ok("https://a.example/y".to_owned())),
            ]
        );
    }
}
