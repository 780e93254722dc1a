//! The one error type of the HTTP API: a status, a stable code and a message, rendered as
//! `{"error": {"code": "...", "message": "..."}}`. Internal causes are logged, never returned.

use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::de::DeserializeOwned;

use meta_model::{parse_duration, ApplyError, MAX_TIMESTAMP, MIN_TIMESTAMP};
use meta_wire::{ErrorDetail, ErrorReply};

use crate::service::ServiceError;
use crate::whole_numbers::whole_numbers_as_integers;
use meta_wire::AeError;

/// An API error: HTTP status, stable machine-readable code, human message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ApiError {
    /// HTTP status.
    pub status: StatusCode,
    /// Stable code, e.g. `database_not_found`.
    pub code: &'static str,
    /// What went wrong, naming the field or object.
    pub message: String,
}

impl ApiError {
    /// A 400 with code `invalid_request`.
    pub fn bad_request(message: impl Into<String>) -> Self {
        ApiError { status: StatusCode::BAD_REQUEST, code: "invalid_request", message: message.into() }
    }

    /// A 400 naming an invalid field.
    pub fn invalid_field(field: &str, problem: impl std::fmt::Display) -> Self {
        ApiError { status: StatusCode::BAD_REQUEST, code: "invalid_field", message: format!("{field}: {problem}") }
    }

    /// A 500 whose cause is logged, not returned.
    pub fn internal(cause: impl std::fmt::Display) -> Self {
        tracing::error!(%cause, "request failed");
        ApiError {
            status: StatusCode::INTERNAL_SERVER_ERROR,
            code: "internal",
            message: "internal error; see the meta node's log".to_owned(),
        }
    }

    /// A 404 with code `not_found`.
    pub fn not_found(message: impl Into<String>) -> Self {
        ApiError { status: StatusCode::NOT_FOUND, code: "not_found", message: message.into() }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = ErrorReply { error: ErrorDetail { code: self.code.to_owned(), message: self.message } };
        let mut response = (self.status, axum::Json(body)).into_response();
        if self.status == StatusCode::SERVICE_UNAVAILABLE {
            response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
        }
        response
    }
}

impl From<ApplyError> for ApiError {
    /// `404` for what does not exist; `409` for what conflicts with the state as it is now, a
    /// request that could succeed in another state (a replication factor above the active data
    /// nodes, a point's time outside what its policy takes at the leader's clock); `400` for what
    /// no state makes valid.
    fn from(error: ApplyError) -> Self {
        let status = match &error {
            e if e.is_not_found() => StatusCode::NOT_FOUND,
            ApplyError::InvalidTimestamp { timestamp } if !(MIN_TIMESTAMP..=MAX_TIMESTAMP).contains(timestamp) => {
                StatusCode::BAD_REQUEST
            }
            ApplyError::DatabaseExists { .. }
            | ApplyError::RetentionPolicyExists { .. }
            | ApplyError::AddressInUse { .. }
            | ApplyError::NodeIdInUse { .. }
            | ApplyError::ShardOwnerExists { .. }
            | ApplyError::ShardWritten { .. }
            | ApplyError::LastMetaNode { .. }
            | ApplyError::NoActiveDataNodes
            | ApplyError::DataNodeNotActive { .. }
            | ApplyError::ShardGroupDeleted { .. }
            | ApplyError::NotShardOwner { .. }
            | ApplyError::NotEmpty { .. }
            | ApplyError::TaskNotClaimed { .. }
            | ApplyError::StaleAttempt { .. }
            | ApplyError::TaskNotOpen { .. }
            | ApplyError::CopyTaskExists { .. }
            | ApplyError::ReplicationFactorExceedsNodes { .. }
            | ApplyError::TimestampExpired { .. }
            | ApplyError::TimestampTooFarAhead { .. }
            | ApplyError::InvalidTimestamp { .. } => StatusCode::CONFLICT,
            // Only the leader's proposer makes these: reaching a client, they are a bug.
            ApplyError::NotStamped { .. } | ApplyError::NestedStamp => StatusCode::INTERNAL_SERVER_ERROR,
            _ => StatusCode::BAD_REQUEST,
        };
        ApiError { status, code: error.code(), message: error.to_string() }
    }
}

impl From<ServiceError> for ApiError {
    fn from(error: ServiceError) -> Self {
        match error {
            ServiceError::NoLeader => {
                ApiError { status: StatusCode::SERVICE_UNAVAILABLE, code: "no_leader", message: error.to_string() }
            }
            ServiceError::Timeout(_) => {
                ApiError { status: StatusCode::SERVICE_UNAVAILABLE, code: "timeout", message: error.to_string() }
            }
            ServiceError::Refused(message) => {
                ApiError { status: StatusCode::CONFLICT, code: "membership_refused", message }
            }
            ServiceError::Internal(cause) => ApiError::internal(cause),
            ServiceError::AntiEntropy(error) => error.into(),
        }
    }
}

impl From<AeError> for ApiError {
    fn from(error: AeError) -> Self {
        let message = error.to_string();
        match error {
            AeError::Apply(apply) => apply.into(),
            AeError::AddressMismatch { .. } => {
                ApiError { status: StatusCode::CONFLICT, code: "address_mismatch", message }
            }
            AeError::NotTrustedYet { .. } => {
                ApiError { status: StatusCode::SERVICE_UNAVAILABLE, code: "not_trusted_yet", message }
            }
            AeError::Disabled => ApiError { status: StatusCode::CONFLICT, code: "anti_entropy_disabled", message },
            AeError::SourceLacksShard { .. } => {
                ApiError { status: StatusCode::CONFLICT, code: "source_lacks_shard", message }
            }
            AeError::TargetDead { .. } => ApiError { status: StatusCode::CONFLICT, code: "target_dead", message },
        }
    }
}

/// Parses a duration field of a request, naming the field on error.
pub(crate) fn duration_field(field: &str, value: &str) -> Result<u64, ApiError> {
    parse_duration(value).map_err(|e| ApiError::invalid_field(field, e))
}

/// A JSON body whose rejections (malformed JSON, wrong types, unknown fields, wrong content
/// type, too large) come back as [`ApiError`]s naming the problem. Whole numbers are read as
/// integers however they are written (`5`, `5.0`, `5e0`).
#[derive(Debug)]
pub struct ApiJson<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        let bytes = json_bytes(request, state).await?;
        parse_json(&bytes).map(ApiJson)
    }
}

/// The body of a request that says it is JSON (`415` otherwise; `413` past the body limit).
async fn json_bytes<S: Send + Sync>(request: Request, state: &S) -> Result<axum::body::Bytes, ApiError> {
    let content_type = request.headers().get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok());
    let json = content_type.and_then(|t| t.split(';').next()).is_some_and(|essence| {
        let essence = essence.trim();
        essence.eq_ignore_ascii_case("application/json") || essence.ends_with("+json")
    });
    if !json {
        return Err(unsupported_media_type());
    }
    axum::body::Bytes::from_request(request, state).await.map_err(|rejection| {
        let status = rejection.status();
        if status == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError { status, code: "body_too_large", message: "request body is too large".to_owned() }
        } else {
            ApiError { status, code: "invalid_body", message: rejection.body_text() }
        }
    })
}

/// Parses a JSON body, whole numbers read as integers. Every body of the API is an object:
/// serde would read a struct from an array of its fields' values too (`[1, 2, 3]`), which no
/// client means.
fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    let value = match axum::Json::<T>::from_bytes(&whole_numbers_as_integers(bytes)) {
        Ok(axum::Json(value)) => value,
        Err(rejection) => return Err(json_rejection(rejection)),
    };
    if bytes.iter().find(|b| !b.is_ascii_whitespace()) != Some(&b'{') {
        return Err(ApiError {
            status: StatusCode::UNPROCESSABLE_ENTITY,
            code: "invalid_body",
            message: "invalid request body: expected a JSON object".to_owned(),
        });
    }
    Ok(value)
}

/// [`ApiJson`] for bodies so large that parsing them would hold up one of the runtime's few
/// threads, which Raft's heartbeats need (a backup of a million shards is ~50 MB of JSON): read
/// as bytes, parsed on the blocking pool, rejected alike.
#[derive(Debug)]
pub(crate) struct LargeApiJson<T>(pub(crate) T);

impl<S: Send + Sync, T: DeserializeOwned + Send + 'static> FromRequest<S> for LargeApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        let bytes = json_bytes(request, state).await?;
        let parsed = tokio::task::spawn_blocking(move || parse_json(&bytes));
        parsed.await.map_err(ApiError::internal)?.map(LargeApiJson)
    }
}

fn unsupported_media_type() -> ApiError {
    ApiError {
        status: StatusCode::UNSUPPORTED_MEDIA_TYPE,
        code: "unsupported_media_type",
        message: "expected a body with Content-Type: application/json".to_owned(),
    }
}

fn json_rejection(rejection: JsonRejection) -> ApiError {
    let status = rejection.status();
    let (code, message) = match &rejection {
        JsonRejection::JsonDataError(e) => ("invalid_body", format!("invalid request body: {}", source_text(e))),
        JsonRejection::JsonSyntaxError(e) => ("malformed_json", format!("malformed JSON: {}", source_text(e))),
        _ if status == StatusCode::PAYLOAD_TOO_LARGE => ("body_too_large", "request body is too large".to_owned()),
        other => ("invalid_body", other.body_text()),
    };
    ApiError { status, code, message }
}

/// serde's message (with the field path) without axum's prefix.
fn source_text(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(inner) = source {
        text = inner.to_string();
        source = inner.source();
    }
    text
}

/// Path parameters whose rejections become [`ApiError`]s.
#[derive(Debug)]
pub struct ApiPath<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned + Send> FromRequestParts<S> for ApiPath<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        match axum::extract::Path::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Path(value)) => Ok(ApiPath(value)),
            Err(rejection) => Err(path_rejection(rejection)),
        }
    }
}

fn path_rejection(rejection: PathRejection) -> ApiError {
    ApiError { status: StatusCode::BAD_REQUEST, code: "invalid_path", message: rejection.body_text() }
}

/// Query parameters whose rejections become [`ApiError`]s.
#[derive(Debug)]
pub struct ApiQuery<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequestParts<S> for ApiQuery<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        match axum::extract::Query::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Query(value)) => Ok(ApiQuery(value)),
            Err(rejection) => Err(query_rejection(rejection)),
        }
    }
}

fn query_rejection(rejection: QueryRejection) -> ApiError {
    ApiError { status: StatusCode::BAD_REQUEST, code: "invalid_query", message: rejection.body_text() }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refusals_by_state_are_conflicts_and_bad_input_is_a_bad_request() {
        let status = |error: ApplyError| ApiError::from(error).status;
        let conflicts = [
            ApplyError::ReplicationFactorExceedsNodes { replication_factor: 3, active_nodes: 1 },
            ApplyError::TimestampExpired { timestamp: 0, earliest: 1 },
            ApplyError::TimestampTooFarAhead { timestamp: 2, latest: 1 },
            // In the representable range, but its group's window would leave it: the policy's
            // shard-group duration decides.
            ApplyError::InvalidTimestamp { timestamp: MAX_TIMESTAMP },
        ];
        for error in conflicts {
            assert_eq!(status(error.clone()), StatusCode::CONFLICT, "{error:?}");
        }
        for timestamp in [i64::MAX, i64::MIN, MIN_TIMESTAMP - 1] {
            assert_eq!(status(ApplyError::InvalidTimestamp { timestamp }), StatusCode::BAD_REQUEST, "{timestamp}");
        }
    }
}
