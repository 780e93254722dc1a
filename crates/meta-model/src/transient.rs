//! [`Transient`]: state that lives only while one command is applied (what it touched, the
//! leader's facts it carries). Never persisted, equal in every state, empty in a clone.

/// A value kept only while a command is applied.
#[derive(Debug)]
pub(crate) struct Transient<T>(pub(crate) Option<T>);

impl<T> Default for Transient<T> {
    fn default() -> Self {
        Transient(None)
    }
}

impl<T> Clone for Transient<T> {
    fn clone(&self) -> Self {
        Transient(None)
    }
}

impl<T> PartialEq for Transient<T> {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}

impl<T> Eq for Transient<T> {}
