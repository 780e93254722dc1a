//! Checks a recorded [`History`]:
//!
//! 1. **Linearizability**, with `consistency_model`'s [`LinearizabilityTester`] (the tester of
//!    stateright) on the [`Databases`] model. Operations on different names commute, so the
//!    history is split by name and each name's sub-history is checked alone (P-compositionality:
//!    a history is linearizable iff every per-object sub-history is). The tester allows one
//!    operation in flight per thread: a client's operation is on the client's thread; a write
//!    whose outcome is unknown (`Info`) is moved to a thread of its own that it never returns on,
//!    so it may take effect at any point after its invocation, or never, while its client goes
//!    on. `Fail` operations and reads without an answer impose nothing and are left out.
//! 2. **No acknowledged write lost**: a plainer, sound-but-incomplete check with a readable
//!    message, against the final linearizable read of every name (taken after healing).
//! 3. **The minority refuses**: a node cut off from its peers answers no write with a result,
//!    and no linearizable read, while it is cut off.
//!
//! ```text
//!   events sorted by time ──► per name: invoke/return ──► LinearizabilityTester ──► Some(order) | None
//!                                        Info write: invoke on a thread of its own, no return
//! ```

use std::collections::BTreeMap;
use std::fmt;
use std::panic::AssertUnwindSafe;
use std::time::{Duration, Instant};

use consistency_model::{ConsistencyTester, LinearizabilityTester, SequentialSpec};

use crate::history::{Entry, History, Outcome};
use crate::model::{Databases, Op, Ret};

/// Threads of unknown-outcome writes are numbered from here (clients use small numbers), so the
/// tester's search, which tries threads in order, places answered operations first.
const IN_FLIGHT_THREADS: u64 = 1 << 32;
/// Time of each search over a prefix when looking for the first unexplained answer.
const PROBE_BUDGET: Duration = Duration::from_secs(1);

/// A node cut off from its peers from `from` to `to` (times since the start of the run).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Isolation {
    /// The isolated node.
    pub node: u64,
    /// When the cut was complete.
    pub from: Duration,
    /// When healing began.
    pub to: Duration,
}

/// Something the history shows the service did wrong.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Violation {
    /// No order of the operations on `key` explains what the clients saw.
    NotLinearizable {
        /// The database name.
        key: String,
        /// Its operations, one per line.
        ops: String,
    },
    /// The search for an order ran out of time; with this model that almost always means there
    /// is none, so it fails the run too.
    Undecided {
        /// The database name.
        key: String,
        /// How long the search ran.
        searched: Duration,
        /// Its operations, one per line.
        ops: String,
    },
    /// An acknowledged write is not reflected by the final linearizable read.
    LostWrite {
        /// The database name.
        key: String,
        /// The acknowledged write.
        write: String,
        /// The final read.
        last_read: String,
    },
    /// A node cut off from its peers answered an operation with a result.
    MinorityAnswered {
        /// The operation.
        entry: String,
    },
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Violation::NotLinearizable { key, ops } => {
                write!(f, "the history of database {key:?} is not linearizable:\n{ops}")
            }
            Violation::Undecided { key, searched, ops } => write!(
                f,
                "the linearizability search for database {key:?} found no order in {searched:?} \
                 (probably not linearizable):\n{ops}"
            ),
            Violation::LostWrite { key, write, last_read } => write!(
                f,
                "acknowledged write lost on database {key:?}: {write}\n  and no later write can explain \
                 the final read {last_read}"
            ),
            Violation::MinorityAnswered { entry } => {
                write!(f, "a node cut off from its peers answered with a result: {entry}")
            }
        }
    }
}

/// The result of checking one history.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Verdict {
    /// Everything wrong; empty when the history is correct.
    pub violations: Vec<Violation>,
    /// How many names were checked.
    pub keys: usize,
    /// How many operations went into the linearizability check.
    pub ops_checked: usize,
}

impl Verdict {
    /// Whether nothing is wrong.
    pub fn is_ok(&self) -> bool {
        self.violations.is_empty()
    }
}

/// Checks `history` (which started from `initial`). The operations of `final_process` are the
/// final reads taken after healing; `isolations` are the partitions; the linearizability search
/// gets `budget` per name.
pub fn check(
    history: &History,
    initial: &Databases,
    final_process: usize,
    isolations: &[Isolation],
    budget: Duration,
) -> Verdict {
    let mut verdict = Verdict::default();
    verdict.violations.extend(minority_answers(history, isolations));
    let keys: Vec<&str> = history.keys().into_iter().collect();
    verdict.keys = keys.len();
    for key in &keys {
        verdict.violations.extend(lost_writes(key, &history.for_key(key), final_process));
    }
    // Names are checked in parallel, each on a thread with room for the tester's recursion.
    let results: Vec<(usize, Option<Violation>)> = std::thread::scope(|scope| {
        let handles: Vec<_> = keys
            .iter()
            .map(|key| {
                let entries = history.for_key(key);
                let exists = initial.contains(key);
                std::thread::Builder::new()
                    .stack_size(256 << 20)
                    .spawn_scoped(scope, move || {
                        let counted = entries.iter().filter(|e| checked(e)).count();
                        (counted, check_key(key, exists, &entries, budget))
                    })
                    .expect("spawn a checker thread")
            })
            .collect();
        handles.into_iter().map(|h| h.join().expect("checker thread")).collect()
    });
    for (counted, violation) in results {
        verdict.ops_checked += counted;
        verdict.violations.extend(violation);
    }
    verdict
}

/// The linearizability check of one name, with the operations around the first answer no order
/// explains when there is none.
fn check_key(key: &str, exists: bool, entries: &[&Entry], budget: Duration) -> Option<Violation> {
    let result = linearizable(exists, entries, budget);
    if result == Linearizable::Yes {
        return None;
    }
    let ops = match first_unexplained(exists, entries, PROBE_BUDGET) {
        Some(culprit) => excerpt(entries, culprit),
        None => entries.iter().map(|e| format!("  {e}\n")).collect(),
    };
    let key = key.to_owned();
    Some(match result {
        Linearizable::Undecided(searched) => Violation::Undecided { key, searched, ops },
        _ => Violation::NotLinearizable { key, ops },
    })
}

/// Whether an operation takes part in the linearizability check.
fn checked(entry: &Entry) -> bool {
    match entry.outcome {
        Outcome::Ok(_) => true,
        Outcome::Info(_) => entry.op.is_write(),
        Outcome::Fail(_) => false,
    }
}

/// The answer of the linearizability check of one name.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Linearizable {
    /// An order exists.
    Yes,
    /// No order exists.
    No,
    /// The search ran out of time after this long.
    Undecided(Duration),
}

/// An operation's invocation or return, as the tester is fed them.
enum Kind {
    Invoke(Op),
    Return(Ret),
}

/// One event of a name's history: when, invocations before returns at equal times, the
/// tester's thread, and the index of its entry.
struct Event {
    at: Duration,
    order: u8,
    thread: u64,
    kind: Kind,
    entry: usize,
}

/// The events of `entries` that the check uses, in the order they happened.
fn events(entries: &[&Entry]) -> Vec<Event> {
    // Operations of one client follow each other; make their times strictly so.
    let mut by_process: BTreeMap<usize, Vec<usize>> = BTreeMap::new();
    for (index, entry) in entries.iter().enumerate().filter(|(_, e)| checked(e)) {
        by_process.entry(entry.process).or_default().push(index);
    }
    let mut events = Vec::new();
    let mut in_flight = IN_FLIGHT_THREADS;
    for (process, mut ops) in by_process {
        ops.sort_by_key(|i| entries[*i].invoke);
        let mut previous: Option<Duration> = None;
        for index in ops {
            let entry = entries[index];
            let invoke = match previous {
                Some(done) if entry.invoke <= done => done + Duration::from_nanos(1),
                _ => entry.invoke,
            };
            let invoked =
                |thread| Event { at: invoke, order: 0, thread, kind: Kind::Invoke(entry.op.clone()), entry: index };
            match &entry.outcome {
                Outcome::Ok(ret) => {
                    let thread = process as u64;
                    let complete = entry.complete.max(invoke);
                    events.push(invoked(thread));
                    events.push(Event { at: complete, order: 1, thread, kind: Kind::Return(*ret), entry: index });
                    previous = Some(complete);
                }
                _ => {
                    events.push(invoked(in_flight));
                    in_flight += 1;
                }
            }
        }
    }
    // At equal times invocations go first: the operations then count as concurrent.
    events.sort_by_key(|e| (e.at, e.order, e.thread));
    events
}

/// Feeds `events` to a [`LinearizabilityTester`] and searches for an order.
fn run_tester(exists: bool, key: &str, events: &[Event], budget: Duration) -> Linearizable {
    let budget = Budget { deadline: Instant::now() + budget };
    let initial = if exists { Databases::new([key.to_owned()]) } else { Databases::default() };
    let mut tester = LinearizabilityTester::new(Bounded { model: initial, budget });
    for event in events {
        let fed = match &event.kind {
            Kind::Invoke(op) => tester.on_invoke(event.thread, op.clone()).map(drop),
            Kind::Return(ret) => tester.on_return(event.thread, *ret).map(drop),
        };
        // Our own bookkeeping keeps one operation in flight per thread; anything else is a bug here.
        fed.expect("a well-formed history");
    }
    let started = Instant::now();
    match std::panic::catch_unwind(AssertUnwindSafe(|| tester.serialized_history())) {
        Ok(Some(_)) => Linearizable::Yes,
        Ok(None) => Linearizable::No,
        Err(payload) if payload.is::<OutOfBudget>() => Linearizable::Undecided(started.elapsed()),
        Err(payload) => std::panic::resume_unwind(payload),
    }
}

/// Checks the operations on one name (`exists`: whether it existed at the start).
pub fn linearizable(exists: bool, entries: &[&Entry], budget: Duration) -> Linearizable {
    run_tester(exists, &entries_key(entries), &events(entries), budget)
}

/// The operation (index into `entries`) whose answer first makes the history unexplainable: the
/// last event of the shortest prefix of events that is not linearizable (a prefix of a
/// linearizable history is linearizable, so a binary search finds it). Each probe gets
/// `budget`; a probe that runs out counts as not linearizable, so with a budget too small the
/// answer may come early. `None` when the whole history is linearizable.
pub fn first_unexplained(exists: bool, entries: &[&Entry], budget: Duration) -> Option<usize> {
    let key = entries_key(entries);
    let events = events(entries);
    let explained = |len: usize| run_tester(exists, &key, &events[..len], budget) == Linearizable::Yes;
    if explained(events.len()) {
        return None;
    }
    let (mut good, mut bad) = (0, events.len());
    while bad - good > 1 {
        let middle = good + (bad - good) / 2;
        if explained(middle) {
            good = middle;
        } else {
            bad = middle;
        }
    }
    Some(events[bad - 1].entry)
}

/// The operations around `culprit` (an index into `entries`): those that overlap the second
/// before it, and every earlier write with an unknown outcome; at most 40 lines.
fn excerpt(entries: &[&Entry], culprit: usize) -> String {
    let target = entries[culprit];
    let from = target.invoke.saturating_sub(Duration::from_secs(1));
    let shown: Vec<(usize, &&Entry)> = entries
        .iter()
        .enumerate()
        .filter(|(_, e)| e.invoke <= target.complete)
        .filter(|(_, e)| e.complete >= from || (e.op.is_write() && matches!(e.outcome, Outcome::Info(_))))
        .collect();
    let skipped = shown.len().saturating_sub(40);
    let mut text = format!(
        "  ({} operations on this name; {} shown, up to the first one no order explains)\n",
        entries.len(),
        shown.len() - skipped
    );
    for (index, entry) in &shown[skipped..] {
        let mark = if *index == culprit { "   <== no order explains this answer" } else { "" };
        text.push_str(&format!("  {entry}{mark}\n"));
    }
    text
}

fn entries_key(entries: &[&Entry]) -> String {
    entries.first().map(|e| e.op.name().to_owned()).unwrap_or_default()
}

/// The search's time limit.
#[derive(Clone, Copy, Debug)]
struct Budget {
    deadline: Instant,
}

/// Unwinds the tester's search when its time is up (without the panic hook's message).
struct OutOfBudget;

impl Budget {
    fn check(self) {
        if Instant::now() >= self.deadline {
            std::panic::resume_unwind(Box::new(OutOfBudget));
        }
    }
}

/// [`Databases`] under a time limit: every step of the search checks the clock and, once the
/// limit is reached, unwinds the whole search (caught in [`linearizable`]).
#[derive(Clone, Debug)]
struct Bounded {
    model: Databases,
    budget: Budget,
}

impl SequentialSpec for Bounded {
    type Op = Op;
    type Ret = Ret;

    fn invoke(&mut self, op: &Op) -> Ret {
        self.budget.check();
        self.model.apply(op)
    }

    fn is_valid_step(&mut self, op: &Op, ret: &Ret) -> bool {
        self.budget.check();
        self.model.apply(op) == *ret
    }
}

/// The explicit lost-write check of one name: an acknowledged write whose effect the final read
/// contradicts, with no write that could have undone it in between. Sound (never reports a
/// linearizable history) but incomplete; the linearizability check covers the rest.
fn lost_writes(key: &str, entries: &[&Entry], final_process: usize) -> Vec<Violation> {
    let Some(last_read) = entries
        .iter()
        .filter(|e| e.process == final_process && matches!(e.outcome, Outcome::Ok(_)))
        .max_by_key(|e| e.invoke)
    else {
        return Vec::new();
    };
    let Outcome::Ok(read) = last_read.outcome else { return Vec::new() };
    let exists_at_end = read == Ret::Found;
    // Could `undo` take effect after `write` and before the final read answered?
    let can_follow = |undo: &Entry, write: &Entry| {
        let effective = matches!(
            (&undo.outcome, exists_at_end),
            (Outcome::Ok(Ret::Dropped), false) | (Outcome::Ok(Ret::Created), true) | (Outcome::Info(_), _)
        );
        let wanted = if exists_at_end { matches!(undo.op, Op::Create(_)) } else { matches!(undo.op, Op::Drop(_)) };
        let returned_after = matches!(undo.outcome, Outcome::Info(_)) || undo.complete > write.invoke;
        effective && wanted && returned_after && undo.invoke < last_read.complete
    };
    entries
        .iter()
        .filter(|write| write.complete < last_read.invoke)
        .filter(|write| match write.outcome {
            // A write acknowledged as leaving the name present (or absent) at its end.
            Outcome::Ok(Ret::Created | Ret::AlreadyExists) => !exists_at_end && matches!(write.op, Op::Create(_)),
            Outcome::Ok(Ret::Dropped | Ret::NotFound) => exists_at_end && matches!(write.op, Op::Drop(_)),
            _ => false,
        })
        .filter(|write| !entries.iter().any(|undo| can_follow(undo, write)))
        .map(|write| Violation::LostWrite {
            key: key.to_owned(),
            write: write.to_string(),
            last_read: last_read.to_string(),
        })
        .collect()
}

/// Operations that a cut-off node answered with a result while it was cut off.
fn minority_answers(history: &History, isolations: &[Isolation]) -> Vec<Violation> {
    history
        .entries
        .iter()
        .filter(|e| matches!(e.outcome, Outcome::Ok(_)))
        .filter(|e| isolations.iter().any(|i| i.node == e.node && e.invoke >= i.from && e.complete <= i.to))
        .map(|e| Violation::MinorityAnswered { entry: e.to_string() })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const FINAL: usize = 99;
    const BUDGET: Duration = Duration::from_secs(10);

    fn op(process: usize, op: Op, from: u64, to: u64, outcome: Outcome) -> Entry {
        Entry {
            process,
            node: 1,
            op,
            invoke: Duration::from_millis(from),
            complete: Duration::from_millis(to),
            outcome,
        }
    }

    fn create(process: usize, from: u64, to: u64, outcome: Outcome) -> Entry {
        op(process, Op::Create("a".into()), from, to, outcome)
    }

    fn drop(process: usize, from: u64, to: u64, outcome: Outcome) -> Entry {
        op(process, Op::Drop("a".into()), from, to, outcome)
    }

    fn get(process: usize, from: u64, to: u64, outcome: Outcome) -> Entry {
        op(process, Op::Get("a".into()), from, to, outcome)
    }

    fn ok(ret: Ret) -> Outcome {
        Outcome::Ok(ret)
    }

    fn info() -> Outcome {
        Outcome::Info("timed out".into())
    }

    fn verdict(entries: Vec<Entry>) -> Verdict {
        check(&History::new(entries), &Databases::default(), FINAL, &[], BUDGET)
    }

    #[test]
    fn a_linearizable_history_passes() {
        let v = verdict(vec![
            create(0, 0, 10, ok(Ret::Created)),
            // Concurrent with the create: may see either state.
            get(1, 5, 15, ok(Ret::NotFound)),
            create(1, 20, 30, ok(Ret::AlreadyExists)),
            drop(2, 25, 40, ok(Ret::Dropped)),
            get(0, 35, 45, ok(Ret::NotFound)),
            op(0, Op::Create("b".into()), 50, 60, ok(Ret::Created)),
            get(FINAL, 100, 110, ok(Ret::NotFound)),
            op(FINAL, Op::Get("b".into()), 110, 120, ok(Ret::Found)),
        ]);
        assert!(v.is_ok(), "{:?}", v.violations);
        assert_eq!((v.keys, v.ops_checked), (2, 8));
    }

    #[test]
    fn a_stale_read_after_an_acknowledged_create_fails() {
        let v = verdict(vec![create(0, 0, 10, ok(Ret::Created)), get(1, 20, 30, ok(Ret::NotFound))]);
        assert!(matches!(&v.violations[..], [Violation::NotLinearizable { key, .. }] if key == "a"), "{v:?}");
    }

    #[test]
    fn the_report_points_at_the_first_answer_no_order_explains() {
        let entries = vec![
            create(0, 0, 10, ok(Ret::Created)),
            get(1, 20, 30, ok(Ret::Found)),
            drop(0, 40, 50, ok(Ret::Dropped)),
            get(1, 60, 70, ok(Ret::Found)),
            create(2, 80, 90, ok(Ret::Created)),
            get(1, 100, 110, ok(Ret::Found)),
        ];
        let refs: Vec<&Entry> = entries.iter().collect();
        assert_eq!(first_unexplained(false, &refs, BUDGET), Some(3), "the read after the drop");
        assert_eq!(first_unexplained(false, &refs[..3], BUDGET), None);
        let v = verdict(entries.clone());
        let text = v.violations[0].to_string();
        assert!(text.contains("get a            -> found   <== no order explains"), "{text}");
        assert!(!text.contains("0.100s"), "later operations are left out: {text}");
    }

    #[test]
    fn a_lost_acknowledged_create_fails_both_checks() {
        let v = verdict(vec![
            create(0, 0, 10, ok(Ret::Created)),
            // A drop that certainly did not happen does not excuse the loss.
            drop(1, 12, 14, Outcome::Fail("503 no_leader".into())),
            get(FINAL, 100, 110, ok(Ret::NotFound)),
        ]);
        assert_eq!(v.violations.len(), 2, "{v:?}");
        assert!(matches!(&v.violations[0], Violation::LostWrite { key, .. } if key == "a"));
        assert!(matches!(&v.violations[1], Violation::NotLinearizable { .. }));
    }

    #[test]
    fn an_unknown_write_may_or_may_not_take_effect() {
        // The create timed out: the final read may find the name...
        let took_effect = verdict(vec![create(0, 0, 2_000, info()), get(FINAL, 3_000, 3_010, ok(Ret::Found))]);
        assert!(took_effect.is_ok(), "{took_effect:?}");
        // ...or not.
        let did_not = verdict(vec![create(0, 0, 2_000, info()), get(FINAL, 3_000, 3_010, ok(Ret::NotFound))]);
        assert!(did_not.is_ok(), "{did_not:?}");
        // It may even take effect long after its client gave up and went on.
        let late = verdict(vec![
            create(0, 0, 2_000, info()),
            get(0, 2_100, 2_200, ok(Ret::NotFound)),
            get(1, 2_300, 2_400, ok(Ret::Found)),
            get(FINAL, 3_000, 3_010, ok(Ret::Found)),
        ]);
        assert!(late.is_ok(), "{late:?}");
        // But not before it was invoked.
        let early = verdict(vec![get(1, 0, 10, ok(Ret::Found)), create(0, 20, 2_000, info())]);
        assert!(!early.is_ok(), "{early:?}");
        // And not twice: one unknown create cannot explain found, dropped, found again.
        let twice = verdict(vec![
            create(0, 0, 2_000, info()),
            get(1, 2_100, 2_200, ok(Ret::Found)),
            drop(1, 2_300, 2_400, ok(Ret::Dropped)),
            get(FINAL, 3_000, 3_010, ok(Ret::Found)),
        ]);
        assert!(!twice.is_ok(), "{twice:?}");
    }

    #[test]
    fn an_unknown_drop_excuses_a_missing_create_but_a_failed_one_does_not() {
        let entries = |outcome| {
            vec![
                create(0, 0, 10, ok(Ret::Created)),
                drop(1, 20, 2_020, outcome),
                get(FINAL, 3_000, 3_010, ok(Ret::NotFound)),
            ]
        };
        assert!(verdict(entries(info())).is_ok());
        assert!(!verdict(entries(Outcome::Fail("not sent".into()))).is_ok());
    }

    #[test]
    fn a_duplicate_apply_of_one_create_is_caught() {
        // What a retried proposal that was in fact committed would look like: the client's own
        // create answers "already exists" although nobody else created the name.
        let v = verdict(vec![create(0, 0, 10, ok(Ret::AlreadyExists)), get(FINAL, 100, 110, ok(Ret::Found))]);
        assert!(!v.is_ok());
    }

    #[test]
    fn the_initial_state_counts() {
        let entries = vec![create(0, 0, 10, ok(Ret::AlreadyExists))];
        let v = check(&History::new(entries), &Databases::new(["a".to_owned()]), FINAL, &[], BUDGET);
        assert!(v.is_ok(), "{v:?}");
    }

    #[test]
    fn a_cut_off_node_must_not_answer_with_a_result() {
        let mut refused = create(0, 100, 200, Outcome::Fail("503 no_leader".into()));
        refused.node = 2;
        let mut answered = get(1, 150, 160, ok(Ret::NotFound));
        answered.node = 2;
        let mut before = create(2, 10, 20, ok(Ret::Created));
        before.node = 2;
        let mut elsewhere = drop(3, 120, 130, ok(Ret::Dropped));
        elsewhere.node = 1;
        let history = History::new(vec![before, refused, answered, elsewhere]);
        let cut = Isolation { node: 2, from: Duration::from_millis(50), to: Duration::from_millis(300) };
        let v = check(&history, &Databases::default(), FINAL, &[cut], BUDGET);
        let minority: Vec<&Violation> =
            v.violations.iter().filter(|v| matches!(v, Violation::MinorityAnswered { .. })).collect();
        assert_eq!(minority.len(), 1, "{v:?}");
        assert!(minority[0].to_string().contains("get a"), "{}", minority[0]);
    }

    #[test]
    fn the_search_gives_up_at_its_budget() {
        // Many concurrent unknown writes and an impossible read: the search must end, undecided
        // or refuted, and never claim the history is linearizable.
        let mut entries: Vec<Entry> = (0..12).map(|p| create(p, 0, 2_000, info())).collect();
        entries.extend((0..12).map(|p| drop(p + 20, 0, 2_000, info())));
        entries.push(get(50, 2_100, 2_200, ok(Ret::Found)));
        entries.push(get(51, 2_300, 2_400, ok(Ret::AlreadyExists)));
        let refs: Vec<&Entry> = entries.iter().collect();
        let started = Instant::now();
        let result = linearizable(false, &refs, Duration::from_millis(200));
        assert_ne!(result, Linearizable::Yes);
        assert!(started.elapsed() < Duration::from_secs(5), "{:?}", started.elapsed());
    }
}
