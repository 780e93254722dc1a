//! The refusals every operation of the document shares, as reusable responses
//! (`#/components/responses/...`): what a schema-valid request may still get, and why.

use meta_wire::ErrorReply;
use utoipa::ToResponse;

/// Refused: the body names the problem (the field, the ID). A request the document admits gets
/// `400` only for what the document cannot state: a rule between two fields, or a name longer
/// than 255 bytes in UTF-8 though not in characters.
#[derive(ToResponse)]
#[allow(dead_code, reason = "describes a response in the document; never built")]
#[response(description = "Refused; the body names the problem (the field, the ID)")]
pub(crate) struct Refused(ErrorReply);

/// Not found: an ID or name in the path or body names nothing (or nothing any more).
#[derive(ToResponse)]
#[allow(dead_code, reason = "describes a response in the document; never built")]
#[response(description = "Not found: an ID or name the request gives names nothing (any more)")]
pub(crate) struct NotFound(ErrorReply);

/// Refused by the state as it is now: the same request may succeed in another state (the body's
/// code says which: `address_in_use`, `database_exists`, `last_owner`, `stale_attempt`, ...).
#[derive(ToResponse)]
#[allow(dead_code, reason = "describes a response in the document; never built")]
#[response(description = "Conflicts with the state as it is now; the code names how (the same request may succeed \
                          later or in another state)")]
pub(crate) struct Conflict(ErrorReply);

/// No leader, a timeout, or the leader's anti-entropy service not trusted yet (its grace period
/// after a takeover): retry after `Retry-After`.
#[derive(ToResponse)]
#[allow(dead_code, reason = "describes a response in the document; never built")]
#[response(
    description = "Unavailable: no leader, a timeout, or (anti-entropy calls) the leader's grace period after a \
                          takeover; retry after Retry-After"
)]
pub(crate) struct Unavailable(ErrorReply);
