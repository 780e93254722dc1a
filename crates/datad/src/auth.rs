//! Tokens on a data node's routes.
//!
//! - Internal routes (appends between owners, shard reads, digests, content and repair
//!   exchanges, comparisons) require the cluster's node token (`--token`, the one data nodes
//!   present to the meta service) as `Authorization: Bearer TOKEN` when the node has one; this
//!   node's own calls to its peers carry it.
//! - `POST /write` requires the write token (`--write-token`) when one is set, in any form
//!   InfluxDB 1.x clients send credentials: `Authorization: Bearer TOKEN` or `Token TOKEN`, the
//!   password of Basic authentication, or the `p` query parameter.
//! - `/health`, `/ping`, `/status` and `/metrics` stay open for probes and scrapers.
//!
//! A request without the token, or with another, is answered `401` with a JSON error and
//! changes nothing. Tokens are compared in constant time (`subtle`).

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use base64::Engine;
use subtle::ConstantTimeEq;

use crate::error::ApiError;

/// Requires the node token on the routes it guards (open when the node has none).
pub(crate) async fn require_node_token(
    State(token): State<Arc<Option<String>>>,
    request: Request,
    next: Next,
) -> Response {
    let Some(expected) = token.as_deref() else { return next.run(request).await };
    match bearer(request.headers()) {
        Some(given) if same(given, expected) => next.run(request).await,
        Some(_) => unauthorized("the node token is not valid"),
        None => unauthorized("this internal route needs the cluster's node token (Authorization: Bearer ...)"),
    }
}

/// Requires the write token on `POST /write` (open when the node has none).
pub(crate) async fn require_write_token(
    State(token): State<Arc<Option<String>>>,
    request: Request,
    next: Next,
) -> Response {
    let Some(expected) = token.as_deref() else { return next.run(request).await };
    let given = write_credential(request.headers(), request.uri().query());
    match given {
        Some(given) if same(&given, expected) => next.run(request).await,
        Some(_) => unauthorized("the write token is not valid"),
        None => unauthorized(
            "writes need the write token: Authorization: Bearer TOKEN (or Token TOKEN), Basic authentication with \
             it as the password, or the p query parameter",
        ),
    }
}

/// The `Authorization: Bearer ...` credential, if any.
fn bearer(headers: &HeaderMap) -> Option<&str> {
    headers.get(header::AUTHORIZATION)?.to_str().ok()?.strip_prefix("Bearer ")
}

/// The credential of a write, in whichever form the client sent it.
fn write_credential(headers: &HeaderMap, query: Option<&str>) -> Option<String> {
    if let Some(value) = headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()) {
        let (scheme, rest) = value.split_once(' ').unwrap_or((value, ""));
        return match scheme.to_ascii_lowercase().as_str() {
            "bearer" | "token" => Some(rest.trim().to_owned()),
            "basic" => basic_password(rest.trim()),
            // An unknown scheme is a credential that cannot match: refused, not ignored.
            _ => Some(String::new()),
        };
    }
    let query = query?;
    form_urlencoded::parse(query.as_bytes()).find(|(key, _)| key == "p").map(|(_, value)| value.into_owned())
}

/// The password of a Basic credential (`base64(user:password)`); an undecodable one is empty.
fn basic_password(encoded: &str) -> Option<String> {
    let decoded = base64::engine::general_purpose::STANDARD.decode(encoded).unwrap_or_default();
    let text = String::from_utf8(decoded).unwrap_or_default();
    Some(text.split_once(':').map(|(_, password)| password.to_owned()).unwrap_or_default())
}

/// Equal, compared without an early exit (the time taken reveals no matching prefix).
fn same(given: &str, expected: &str) -> bool {
    given.as_bytes().ct_eq(expected.as_bytes()).into()
}

fn unauthorized(message: &str) -> Response {
    let mut response = ApiError::new(StatusCode::UNAUTHORIZED, "unauthorized", message).into_response();
    response.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
    response
}

/// The `Authorization` header this node's calls to its peers carry (none without a node token).
///
/// # Errors
/// A message when the token cannot be sent as a header value (e.g. it holds a line break).
pub(crate) fn peer_headers(token: Option<&str>) -> Result<HeaderMap, String> {
    let mut headers = HeaderMap::new();
    if let Some(token) = token {
        let mut value = HeaderValue::from_str(&format!("Bearer {token}"))
            .map_err(|_| "--token holds characters an HTTP header cannot carry".to_owned())?;
        value.set_sensitive(true);
        headers.insert(header::AUTHORIZATION, value);
    }
    Ok(headers)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(authorization: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(header::AUTHORIZATION, HeaderValue::from_str(authorization).expect("header"));
        headers
    }

    #[test]
    fn a_write_credential_is_read_from_every_form_influxdb_clients_send() {
        let basic = base64::engine::general_purpose::STANDARD.encode("admin:s3cret");
        let cases: [(HeaderMap, Option<&str>, Option<&str>); 8] = [
            (headers("Bearer s3cret"), None, Some("s3cret")),
            (headers("Token s3cret"), None, Some("s3cret")),
            (headers(&format!("Basic {basic}")), None, Some("s3cret")),
            (headers("Basic !!notbase64"), None, Some("")),
            (headers("Digest s3cret"), None, Some("")),
            (HeaderMap::new(), Some("db=telegraf&u=admin&p=s3cret"), Some("s3cret")),
            (HeaderMap::new(), Some("db=telegraf&p=s%33cret"), Some("s3cret")),
            (HeaderMap::new(), Some("db=telegraf"), None),
        ];
        for (headers, query, expected) in cases {
            assert_eq!(write_credential(&headers, query).as_deref(), expected, "{headers:?} {query:?}");
        }
        // A header wins over the query: a wrong header is not rescued by a right `p`.
        assert_eq!(write_credential(&headers("Bearer wrong"), Some("p=s3cret")).as_deref(), Some("wrong"));
    }

    #[test]
    fn tokens_compare_whole() {
        assert!(same("s3cret", "s3cret"));
        for other in ["", "s3cre", "s3cret ", "S3cret", "s3cret\0"] {
            assert!(!same(other, "s3cret"), "{other:?}");
        }
    }

    #[test]
    fn peer_calls_carry_the_node_token_as_a_sensitive_header() {
        assert!(peer_headers(None).expect("no token").is_empty());
        let headers = peer_headers(Some("n0de")).expect("a token");
        let value = headers.get(header::AUTHORIZATION).expect("authorization");
        assert_eq!(value.to_str().ok(), Some("Bearer n0de"));
        assert!(value.is_sensitive(), "kept out of debug output");
        assert!(peer_headers(Some("bad\ntoken")).is_err());
    }
}
