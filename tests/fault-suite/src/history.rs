//! What the clients saw: every operation with the client (process) that ran it, the node it was
//! sent to, its invoke and return times and its outcome, and how an HTTP reply becomes an outcome.
//!
//! An outcome is one of three kinds, and the difference matters to the checker:
//!
//! ```text
//!   Ok(ret)   the server answered with the operation's result (201, 204, 200, 409, 404)
//!   Fail      the operation certainly did not take effect: the connection could not be made,
//!             or the server said 503 `no_leader` (metad returns it only when no attempt was
//!             proposed: it retries only attempts that were certainly not appended)
//!   Info      unknown: a client timeout, a reset after sending, a 500, a 503 `timeout` (the
//!             command may be committed and applied later)
//! ```

use std::collections::BTreeSet;
use std::fmt;
use std::time::Duration;

use crate::model::{Op, Ret};

/// The outcome of one operation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// The server answered with the operation's result.
    Ok(Ret),
    /// The operation certainly did not take effect (the reason is kept for the report).
    Fail(String),
    /// Unknown whether the operation took effect (the reason is kept for the report).
    Info(String),
}

/// How an HTTP exchange ended, before it is classified.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Reply {
    /// The server answered with `status` and, for errors, the body's `error.code`.
    Answered {
        /// HTTP status.
        status: u16,
        /// `error.code` of an error body.
        code: Option<String>,
    },
    /// The request was certainly not sent: no connection could be made.
    NotSent(String),
    /// The request may have been sent, but no answer came (timeout, reset, closed connection).
    Lost(String),
}

/// Classifies a reply to `op`. An `Err` is a reply the API should never give to this
/// operation (its text says which); the caller records it as [`Outcome::Info`] and fails the run.
pub fn classify(op: &Op, reply: &Reply) -> Result<Outcome, String> {
    let (status, code) = match reply {
        Reply::NotSent(why) => return Ok(Outcome::Fail(format!("not sent: {why}"))),
        Reply::Lost(why) => return Ok(Outcome::Info(format!("no answer: {why}"))),
        Reply::Answered { status, code } => (*status, code.as_deref()),
    };
    let outcome = match (op, status, code) {
        (Op::Create(_), 201, _) => Outcome::Ok(Ret::Created),
        (Op::Create(_), 409, Some("database_exists")) => Outcome::Ok(Ret::AlreadyExists),
        (Op::Drop(_), 204, _) => Outcome::Ok(Ret::Dropped),
        (Op::Drop(_) | Op::Get(_), 404, Some("database_not_found")) => Outcome::Ok(Ret::NotFound),
        (Op::Get(_), 200, _) => Outcome::Ok(Ret::Found),
        (_, 503, Some("no_leader")) => Outcome::Fail("503 no_leader".to_owned()),
        (_, 503, Some("timeout")) => Outcome::Info("503 timeout".to_owned()),
        (_, 500, code) => Outcome::Info(format!("500 {}", code.unwrap_or("-"))),
        (op, status, code) => return Err(format!("{op}: unexpected reply {status} {}", code.unwrap_or("-"))),
    };
    Ok(outcome)
}

/// One operation as a client saw it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    /// The client that ran it (clients run one operation at a time).
    pub process: usize,
    /// The node the request was sent to.
    pub node: u64,
    /// The operation.
    pub op: Op,
    /// When the client sent it, since the start of the run.
    pub invoke: Duration,
    /// When the client had its outcome, since the start of the run.
    pub complete: Duration,
    /// What happened.
    pub outcome: Outcome,
}

impl fmt::Display for Entry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let outcome = match &self.outcome {
            Outcome::Ok(ret) => ret.to_string(),
            Outcome::Fail(why) => format!("FAIL ({why})"),
            Outcome::Info(why) => format!("INFO ({why})"),
        };
        write!(
            f,
            "[{:>8.3}s .. {:>8.3}s] p{:<3} node {} {:<16} -> {outcome}",
            self.invoke.as_secs_f64(),
            self.complete.as_secs_f64(),
            self.process,
            self.node,
            self.op.to_string()
        )
    }
}

/// How many operations ended in each kind of outcome.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Counts {
    /// Answered with a result.
    pub ok: usize,
    /// Certainly not applied.
    pub fail: usize,
    /// Unknown.
    pub info: usize,
}

impl fmt::Display for Counts {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ops: {} ok, {} fail, {} info", self.ok + self.fail + self.info, self.ok, self.fail, self.info)
    }
}

/// Every operation of a run.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct History {
    /// The operations, in no particular order.
    pub entries: Vec<Entry>,
}

impl History {
    /// A history of `entries`.
    pub fn new(entries: Vec<Entry>) -> Self {
        History { entries }
    }

    /// Outcome counts.
    pub fn counts(&self) -> Counts {
        let mut counts = Counts::default();
        for entry in &self.entries {
            match entry.outcome {
                Outcome::Ok(_) => counts.ok += 1,
                Outcome::Fail(_) => counts.fail += 1,
                Outcome::Info(_) => counts.info += 1,
            }
        }
        counts
    }

    /// Every database name an operation touched.
    pub fn keys(&self) -> BTreeSet<&str> {
        self.entries.iter().map(|e| e.op.name()).collect()
    }

    /// The operations on `key`, by invoke time.
    pub fn for_key(&self, key: &str) -> Vec<&Entry> {
        let mut entries: Vec<&Entry> = self.entries.iter().filter(|e| e.op.name() == key).collect();
        entries.sort_by_key(|e| (e.invoke, e.complete));
        entries
    }

    /// The operations on `key`, one per line, by invoke time.
    pub fn render_key(&self, key: &str) -> String {
        self.for_key(key).iter().map(|e| format!("  {e}\n")).collect()
    }

    /// The whole history, one operation per line, by invoke time.
    pub fn render(&self) -> String {
        let mut entries: Vec<&Entry> = self.entries.iter().collect();
        entries.sort_by_key(|e| (e.invoke, e.complete));
        entries.iter().map(|e| format!("{e}\n")).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answered(status: u16, code: Option<&str>) -> Reply {
        Reply::Answered { status, code: code.map(str::to_owned) }
    }

    fn create() -> Op {
        Op::Create("db".to_owned())
    }

    #[test]
    fn results_are_ok_with_the_operations_answer() {
        assert_eq!(classify(&create(), &answered(201, None)), Ok(Outcome::Ok(Ret::Created)));
        assert_eq!(classify(&create(), &answered(409, Some("database_exists"))), Ok(Outcome::Ok(Ret::AlreadyExists)));
        let drop = Op::Drop("db".to_owned());
        assert_eq!(classify(&drop, &answered(204, None)), Ok(Outcome::Ok(Ret::Dropped)));
        assert_eq!(classify(&drop, &answered(404, Some("database_not_found"))), Ok(Outcome::Ok(Ret::NotFound)));
        let get = Op::Get("db".to_owned());
        assert_eq!(classify(&get, &answered(200, None)), Ok(Outcome::Ok(Ret::Found)));
        assert_eq!(classify(&get, &answered(404, Some("database_not_found"))), Ok(Outcome::Ok(Ret::NotFound)));
    }

    #[test]
    fn only_errors_that_prove_nothing_was_applied_are_fail() {
        let fail = |reply: Reply| matches!(classify(&create(), &reply), Ok(Outcome::Fail(_)));
        let info = |reply: Reply| matches!(classify(&create(), &reply), Ok(Outcome::Info(_)));
        assert!(fail(Reply::NotSent("connection refused".into())));
        assert!(fail(answered(503, Some("no_leader"))));
        assert!(info(answered(503, Some("timeout"))), "committed, maybe applied later");
        assert!(info(answered(500, Some("internal"))), "a forwarded write whose answer was lost");
        assert!(info(Reply::Lost("timed out".into())));
        assert!(info(Reply::Lost("connection reset".into())));
    }

    #[test]
    fn replies_the_api_never_gives_are_reported() {
        assert!(classify(&create(), &answered(200, None)).is_err(), "create answers 201");
        assert!(classify(&create(), &answered(404, Some("database_not_found"))).is_err());
        assert!(classify(&Op::Get("db".into()), &answered(409, Some("database_exists"))).is_err());
        assert!(classify(&create(), &answered(400, Some("invalid_field"))).is_err());
        assert!(classify(&create(), &answered(503, Some("not_ready"))).is_err());
    }

    #[test]
    fn counts_and_per_key_views() {
        let entry = |process, name: &str, at: u64, outcome| Entry {
            process,
            node: 1,
            op: Op::Get(name.to_owned()),
            invoke: Duration::from_millis(at),
            complete: Duration::from_millis(at + 5),
            outcome,
        };
        let history = History::new(vec![
            entry(0, "b", 10, Outcome::Ok(Ret::Found)),
            entry(1, "a", 20, Outcome::Fail("x".into())),
            entry(2, "a", 5, Outcome::Info("y".into())),
        ]);
        assert_eq!(history.counts(), Counts { ok: 1, fail: 1, info: 1 });
        assert_eq!(history.keys(), BTreeSet::from(["a", "b"]));
        let a: Vec<usize> = history.for_key("a").iter().map(|e| e.process).collect();
        assert_eq!(a, [2, 1], "by invoke time");
        assert!(history.render_key("a").contains("INFO (y)"));
    }
}
