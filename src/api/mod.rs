//! The HTTP API: JSON over the archive, feeds out (Atom, JSON Feed),
//! health, readiness and Prometheus metrics.
//!
//! `newsd run` serves it beside the scheduler (read-write: feeds can be added
//! and removed); `newsd serve` serves it alone over a read-only store (writes
//! answer 405). Handlers are thin: parameters are parsed here, every query
//! lives in `store`.

mod articles;
mod error;
mod feeds;
mod openapi;
mod ops;
mod params;
mod searches;
mod stories;
mod syndication;

use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{header, Method};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, MethodRouter};
use axum::Router;
use sha2::{Digest, Sha256};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tracing::{debug, info};

pub use error::ApiError;
pub use openapi::openapi;

use crate::config::Settings;
use crate::metrics::PollMetrics;
use crate::store::Store;

/// Whether the API may change the archive.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// `newsd run`: feeds can be added and removed.
    ReadWrite,
    /// `newsd serve`: every write answers 405.
    ReadOnly,
}

/// What every handler shares.
#[derive(Clone)]
pub struct ApiState {
    inner: Arc<StateInner>,
}

struct StateInner {
    store: Store,
    settings: Settings,
    access: Access,
    /// SHA-256 of the bearer token, compared in constant time.
    token_digest: Option<[u8; 32]>,
    /// The scheduler's counters when the API runs inside `newsd run`.
    polls: Option<Arc<PollMetrics>>,
}

impl ApiState {
    pub fn new(store: Store, settings: Settings, access: Access) -> Self {
        Self::with_poll_metrics(store, settings, access, None)
    }

    /// Also serves the running scheduler's poll counters on `/metrics`.
    pub fn with_poll_metrics(
        store: Store,
        settings: Settings,
        access: Access,
        polls: Option<Arc<PollMetrics>>,
    ) -> Self {
        let token_digest = settings
            .api
            .token
            .as_ref()
            .map(|t| digest(t.expose().trim()));
        ApiState {
            inner: Arc::new(StateInner {
                store,
                settings,
                access,
                token_digest,
                polls,
            }),
        }
    }

    pub(crate) fn poll_metrics(&self) -> Option<&PollMetrics> {
        self.inner.polls.as_deref()
    }

    pub(crate) fn store(&self) -> &Store {
        &self.inner.store
    }

    pub(crate) fn settings(&self) -> &Settings {
        &self.inner.settings
    }

    /// Fails with 405 unless the API may write.
    pub(crate) fn require_writable(&self) -> Result<(), ApiError> {
        match self.inner.access {
            Access::ReadWrite => Ok(()),
            Access::ReadOnly => Err(ApiError::ReadOnly),
        }
    }
}

fn digest(s: &str) -> [u8; 32] {
    Sha256::digest(s.as_bytes()).into()
}

/// Compares fixed-size digests without an early exit.
fn constant_time_eq(a: &[u8; 32], b: &[u8; 32]) -> bool {
    let diff = a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y));
    std::hint::black_box(diff) == 0
}

/// One route: the router path, its methods and handlers, and the paths the
/// OpenAPI document lists for it (one router path can serve several
/// documented ones, e.g. `/feeds/{file}` serves `.atom` and `.json`).
pub struct Route {
    pub path: &'static str,
    pub methods: &'static [Method],
    pub documented_as: &'static [&'static str],
    handler: MethodRouter<ApiState>,
}

/// Every route the API serves: the router is built from this table, and a
/// test checks it against the OpenAPI document.
pub fn routes() -> Vec<Route> {
    fn route(
        path: &'static str,
        methods: &'static [Method],
        documented_as: &'static [&'static str],
        handler: MethodRouter<ApiState>,
    ) -> Route {
        Route {
            path,
            methods,
            documented_as,
            handler,
        }
    }
    vec![
        route("/healthz", &[Method::GET], &["/healthz"], get(ops::healthz)),
        route("/readyz", &[Method::GET], &["/readyz"], get(ops::readyz)),
        route("/metrics", &[Method::GET], &["/metrics"], get(ops::metrics)),
        route(
            "/api/v1/openapi.json",
            &[Method::GET],
            &["/api/v1/openapi.json"],
            get(openapi::serve),
        ),
        route(
            "/api/v1/articles",
            &[Method::GET],
            &["/api/v1/articles"],
            get(articles::list),
        ),
        route(
            "/api/v1/articles/{id}",
            &[Method::GET],
            &["/api/v1/articles/{id}"],
            get(articles::one),
        ),
        route(
            "/api/v1/stories",
            &[Method::GET],
            &["/api/v1/stories"],
            get(stories::list),
        ),
        route(
            "/api/v1/stories/{id}",
            &[Method::GET],
            &["/api/v1/stories/{id}"],
            get(stories::one),
        ),
        route(
            "/api/v1/feeds",
            &[Method::GET, Method::POST],
            &["/api/v1/feeds"],
            get(feeds::list).post(feeds::add),
        ),
        route(
            "/api/v1/feeds/{id}",
            &[Method::GET, Method::DELETE],
            &["/api/v1/feeds/{id}"],
            get(feeds::one).delete(feeds::remove),
        ),
        route(
            "/feeds/{file}",
            &[Method::GET],
            &["/feeds/{feed_id}.atom", "/feeds/{feed_id}.json"],
            get(syndication::feed),
        ),
        route(
            "/api/v1/searches",
            &[Method::GET, Method::POST],
            &["/api/v1/searches"],
            get(searches::list).post(searches::add),
        ),
        route(
            "/api/v1/searches/{id}",
            &[Method::GET, Method::DELETE],
            &["/api/v1/searches/{id}"],
            get(searches::one).delete(searches::remove),
        ),
        route(
            "/searches/{file}",
            &[Method::GET],
            &["/searches/{search_id}.atom", "/searches/{search_id}.json"],
            get(syndication::saved_search),
        ),
        route(
            "/search.atom",
            &[Method::GET],
            &["/search.atom"],
            get(syndication::search_atom),
        ),
    ]
}

/// The API as an axum router.
pub fn router(state: ApiState) -> Router {
    let mut router = Router::new();
    for r in routes() {
        router = router.route(r.path, r.handler);
    }
    router
        .fallback(|| async { ApiError::NotFound("no such route".into()) })
        .method_not_allowed_fallback(|| async { ApiError::MethodNotAllowed })
        .layer(axum::middleware::from_fn_with_state(state.clone(), auth))
        .layer(axum::middleware::from_fn(log_request))
        .with_state(state)
}

/// One debug line per request: method, path (never the query or headers,
/// which may carry the token or private searches), status and duration.
async fn log_request(req: Request, next: Next) -> Response {
    let method = req.method().clone();
    let path = req.uri().path().to_owned();
    let started = std::time::Instant::now();
    let resp = next.run(req).await;
    debug!(
        %method,
        %path,
        status = resp.status().as_u16(),
        ms = started.elapsed().as_millis() as u64,
        "API request"
    );
    resp
}

/// Bearer-token check for every route but the probes.
async fn auth(State(state): State<ApiState>, req: Request, next: Next) -> Response {
    let Some(expected) = &state.inner.token_digest else {
        return next.run(req).await;
    };
    if matches!(req.uri().path(), "/healthz" | "/readyz") {
        return next.run(req).await;
    }
    let given = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            let (scheme, token) = v.trim().split_once(' ')?;
            scheme
                .eq_ignore_ascii_case("bearer")
                .then(|| token.trim().to_owned())
        });
    match given {
        Some(t) if constant_time_eq(&digest(&t), expected) => next.run(req).await,
        Some(_) => ApiError::Unauthorized("the bearer token is not valid").into_response(),
        None => ApiError::Unauthorized("this route needs `Authorization: Bearer <token>`")
            .into_response(),
    }
}

/// Binds the listen address; fails with the address named.
pub async fn bind(addr: SocketAddr) -> std::io::Result<TcpListener> {
    TcpListener::bind(addr).await.map_err(|e| {
        std::io::Error::new(
            e.kind(),
            format!("cannot listen on {addr} (api.listen): {e}"),
        )
    })
}

/// Serves the API on `listener` until `shutdown` fires, then lets requests
/// in flight finish.
pub async fn serve(
    listener: TcpListener,
    state: ApiState,
    shutdown: CancellationToken,
) -> std::io::Result<()> {
    let addr = listener.local_addr()?;
    let access = state.inner.access;
    info!(%addr, ?access, auth = state.inner.token_digest.is_some(), "HTTP API listening");
    axum::serve(listener, router(state))
        .with_graceful_shutdown(shutdown.cancelled_owned())
        .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_digests_compare_equal_only_for_the_same_token() {
        assert!(constant_time_eq(&digest("abc"), &digest("abc")));
        assert!(!constant_time_eq(&digest("abc"), &digest("abd")));
        assert!(!constant_time_eq(&digest("abc"), &digest("")));
    }
}
