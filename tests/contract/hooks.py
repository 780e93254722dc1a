"""Schemathesis hooks of the /v1 contract check (`scripts/check-api-contract.sh`).

The OpenAPI document states every rule of a request that JSON Schema can state. A few rules it
cannot; a schema-valid request that breaks one of them is rightly refused, and `RULES` below drops
exactly those refusals (the operation, the error code, and a check on the request itself), so any
other refusal of a schema-valid request still fails the run. Schemathesis reports how many it
dropped ("dropped by filter_failure").

`map_case` keeps the long polls short: a run of thousands of requests cannot wait 30 s on each
`GET /v1/metadata?index=N` nor 5 s on each idle claim. The values it sets are valid ones, so what
the request tests does not change.
"""

import json
import re

import schemathesis


def _error(response):
    try:
        error = json.loads(response.content)["error"]
        return error["code"], error["message"]
    except (ValueError, KeyError, TypeError):
        return None, ""


def _number(value):
    """A number given as JSON or as query text, else None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return value
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _whole(value):
    """An integer given as JSON (`5` or `5.0`), else None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int) or (isinstance(value, float) and value.is_integer()):
        return value
    return None


def _from_not_before_to(case):
    """`from` is not before `to`: a rule between two parameters."""
    query = case.query or {}
    start, end = _number(query.get("from")), _number(query.get("to"))
    return start is not None and end is not None and start >= end


def _done_beyond_total(case):
    """`bytes_done` exceeds `bytes_total`: a rule between two fields."""
    body = case.body if isinstance(case.body, dict) else {}
    done, total = _number(body.get("bytes_done")), _number(body.get("bytes_total"))
    return done is not None and total is not None and done > total


def _source_is_target(case):
    """A copy from a node to itself: a rule between two fields."""
    body = case.body if isinstance(case.body, dict) else {}
    return "source" in body and body.get("source") == body.get("target")


def _set_and_deleted(case):
    """A label both set and deleted in one change: a rule between two fields."""
    body = case.body if isinstance(case.body, dict) else {}
    set_, delete = body.get("set"), body.get("delete")
    return isinstance(set_, dict) and isinstance(delete, list) and any(key in set_ for key in delete)


def _message(fragment):
    """The server names the rule in its message (e.g. a shard-group duration longer than the
    retention duration, in the request or in the stored policy)."""
    return lambda case, message: fragment in message


def _over_255_bytes(case, message):
    """A name or label value of at most 255 characters but more than 255 bytes: JSON Schema's
    maxLength counts characters, the server UTF-8 bytes."""
    return "255 bytes" in message


# operation label -> [(error code, predicate on (case, message))]
RULES = {
    "GET /v1/shard-groups": [("invalid_time_range", lambda case, _: _from_not_before_to(case))],
    "POST /v1/copy-tasks/{id}/progress": [("invalid_field", lambda case, _: _done_beyond_total(case))],
    "POST /v1/copy-tasks": [("invalid_copy_task", lambda case, _: _source_is_target(case))],
}
for label in (
    "POST /v1/databases",
    "POST /v1/databases/{db}/retention-policies",
    "PATCH /v1/databases/{db}/retention-policies/{rp}",
):
    RULES[label] = [("invalid_duration", _message("must not be longer than the retention duration"))]
for label in (
    "POST /v1/databases",
    "POST /v1/databases/{db}/retention-policies",
    "POST /v1/data-nodes",
    "PUT /v1/data-nodes/{id}",
    "PATCH /v1/data-nodes/{id}/labels",
):
    RULES.setdefault(label, []).append(("invalid_name", _over_255_bytes))
RULES["PATCH /v1/data-nodes/{id}/labels"].append(("invalid_name", lambda case, _: _set_and_deleted(case)))
RULES["POST /v1/copy-tasks/{id}/fail"] = [("invalid_field", _message("longer than 4096 bytes"))]


@schemathesis.hook
def filter_failure(context, failure, case, response):
    """Drops the refusal of a schema-valid request when it is one of `RULES`."""
    if getattr(failure, "code", None) != "ST202" or response.status_code != 400:
        return True
    code, message = _error(response)
    for rule_code, applies in RULES.get(case.operation.label, []):
        if code == rule_code and applies(case, message):
            return False
    return True


def _duration_pattern(case):
    schema = case.operation.schema.raw_schema
    return re.compile(schema["components"]["schemas"]["Duration"]["pattern"])


@schemathesis.hook
def map_case(context, case):
    """Long polls answer at once: `wait=0` on a metadata poll, `wait_ms=0` on a claim."""
    label = case.operation.label
    if label == "GET /v1/metadata" and isinstance(case.query, dict) and "index" in case.query:
        wait = case.query.get("wait")
        if wait is None or (isinstance(wait, str) and _duration_pattern(case).fullmatch(wait)):
            case.query["wait"] = "0"
    if label == "POST /v1/copy-tasks/claim" and isinstance(case.body, dict):
        wait = _whole(case.body.get("wait_ms"))
        if wait is not None and 0 < wait <= 5000:
            case.body["wait_ms"] = 0
    return case
