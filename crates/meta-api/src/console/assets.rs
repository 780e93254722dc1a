//! The console's page, script and style, compiled into the binary (no CDN: the console works on
//! a network with no internet). They hold no data, so they need no token.

use axum::http::{header, HeaderName, HeaderValue};
use axum::response::IntoResponse;
use axum::routing::get;
use axum::Router;

const INDEX_HTML: &str = include_str!("../../ui/index.html");
const CONSOLE_JS: &str = include_str!("../../ui/console.js");
const CONSOLE_CSS: &str = include_str!("../../ui/console.css");

/// Scripts, styles and requests only from this origin; the page may not be framed.
const CONTENT_SECURITY_POLICY: &str =
    "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self'; \
     base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/// `/ui`, `/ui/`, `/ui/console.js` and `/ui/console.css`.
pub(crate) fn routes<S: Clone + Send + Sync + 'static>() -> Router<S> {
    Router::new()
        .route("/ui", get(|| asset("text/html; charset=utf-8", INDEX_HTML)))
        .route("/ui/", get(|| asset("text/html; charset=utf-8", INDEX_HTML)))
        .route("/ui/console.js", get(|| asset("text/javascript; charset=utf-8", CONSOLE_JS)))
        .route("/ui/console.css", get(|| asset("text/css; charset=utf-8", CONSOLE_CSS)))
}

/// One embedded file with its type and the headers that keep the page to itself.
async fn asset(content_type: &'static str, body: &'static str) -> impl IntoResponse {
    let headers: [(HeaderName, HeaderValue); 5] = [
        (header::CONTENT_TYPE, HeaderValue::from_static(content_type)),
        (header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(CONTENT_SECURITY_POLICY)),
        (header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff")),
        (header::REFERRER_POLICY, HeaderValue::from_static("no-referrer")),
        // A new binary serves new files at the same paths: browsers check before reusing theirs.
        (header::CACHE_CONTROL, HeaderValue::from_static("no-cache")),
    ];
    (headers, body)
}
