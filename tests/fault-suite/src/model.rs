//! The sequential specification the recorded histories are checked against: the API's database
//! routes seen as a set of names. `POST /v1/databases` is [`Op::Create`], `DELETE
//! /v1/databases/{name}` is [`Op::Drop`], a linearizable `GET /v1/databases/{name}` is
//! [`Op::Get`].

use std::collections::BTreeSet;
use std::fmt;

use consistency_model::SequentialSpec;

/// An operation a client performs on one database name.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Op {
    /// `POST /v1/databases {"name": ...}`.
    Create(String),
    /// `DELETE /v1/databases/{name}`.
    Drop(String),
    /// `GET /v1/databases/{name}` (linearizable).
    Get(String),
}

impl Op {
    /// The database name the operation is about (the key histories are partitioned by).
    pub fn name(&self) -> &str {
        match self {
            Op::Create(name) | Op::Drop(name) | Op::Get(name) => name,
        }
    }

    /// Whether the operation may change the state.
    pub fn is_write(&self) -> bool {
        !matches!(self, Op::Get(_))
    }
}

impl fmt::Display for Op {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Op::Create(name) => write!(f, "create {name}"),
            Op::Drop(name) => write!(f, "drop {name}"),
            Op::Get(name) => write!(f, "get {name}"),
        }
    }
}

/// What an operation returned, as the sequential object would answer it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Ret {
    /// `Create` of a missing name (201).
    Created,
    /// `Create` of an existing name (409 `database_exists`).
    AlreadyExists,
    /// `Drop` of an existing name (204).
    Dropped,
    /// `Drop` or `Get` of a missing name (404 `database_not_found`).
    NotFound,
    /// `Get` of an existing name (200).
    Found,
}

impl fmt::Display for Ret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let text = match self {
            Ret::Created => "created",
            Ret::AlreadyExists => "already exists",
            Ret::Dropped => "dropped",
            Ret::NotFound => "not found",
            Ret::Found => "found",
        };
        f.write_str(text)
    }
}

/// The set of databases: the sequential object every history must be explainable by.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct Databases {
    names: BTreeSet<String>,
}

impl Databases {
    /// A set holding `names`.
    pub fn new(names: impl IntoIterator<Item = String>) -> Self {
        Databases { names: names.into_iter().collect() }
    }

    /// Whether `name` exists.
    pub fn contains(&self, name: &str) -> bool {
        self.names.contains(name)
    }

    /// Applies `op` and returns its answer.
    pub fn apply(&mut self, op: &Op) -> Ret {
        match op {
            Op::Create(name) if self.names.insert(name.clone()) => Ret::Created,
            Op::Create(_) => Ret::AlreadyExists,
            Op::Drop(name) if self.names.remove(name) => Ret::Dropped,
            Op::Drop(_) => Ret::NotFound,
            Op::Get(name) if self.names.contains(name) => Ret::Found,
            Op::Get(_) => Ret::NotFound,
        }
    }
}

impl SequentialSpec for Databases {
    type Op = Op;
    type Ret = Ret;

    fn invoke(&mut self, op: &Op) -> Ret {
        self.apply(op)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn create(name: &str) -> Op {
        Op::Create(name.to_owned())
    }

    #[test]
    fn create_drop_and_get_follow_the_set_semantics() {
        let mut db = Databases::default();
        assert_eq!(db.apply(&Op::Get("a".into())), Ret::NotFound);
        assert_eq!(db.apply(&Op::Drop("a".into())), Ret::NotFound);
        assert_eq!(db.apply(&create("a")), Ret::Created);
        assert_eq!(db.apply(&create("a")), Ret::AlreadyExists);
        assert_eq!(db.apply(&Op::Get("a".into())), Ret::Found);
        assert_eq!(db.apply(&Op::Get("b".into())), Ret::NotFound, "names are independent");
        assert_eq!(db.apply(&Op::Drop("a".into())), Ret::Dropped);
        assert_eq!(db.apply(&Op::Get("a".into())), Ret::NotFound);
        assert!(!db.contains("a"));
    }

    #[test]
    fn a_sequential_history_is_valid_only_with_the_right_answers() {
        let ok = [(create("a"), Ret::Created), (Op::Get("a".into()), Ret::Found), (create("a"), Ret::AlreadyExists)];
        assert!(Databases::default().is_valid_history(ok));
        let stale = [(create("a"), Ret::Created), (Op::Get("a".into()), Ret::NotFound)];
        assert!(!Databases::default().is_valid_history(stale));
        let preexisting = [(create("a"), Ret::AlreadyExists)];
        assert!(Databases::new(["a".to_owned()]).is_valid_history(preexisting));
    }

    #[test]
    fn ops_name_their_key_and_kind() {
        assert_eq!(Op::Drop("x".into()).name(), "x");
        assert!(create("x").is_write() && Op::Drop("x".into()).is_write());
        assert!(!Op::Get("x".into()).is_write());
        assert_eq!(create("x").to_string(), "create x");
    }
}
