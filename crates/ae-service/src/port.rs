//! The port: the few things the service needs from its meta node, so the service runs in memory
//! in tests (a real [`MetaState`] applying commands) and over Raft in `metad`.

use std::future::Future;
use std::time::Duration;

use meta_model::{Command, CommandResult, FromResponse, MetaState, Timestamp};
use meta_wire::AeError;

/// What the anti-entropy service needs from the meta node it runs on.
///
/// The node also tells the service what every applied command touched
/// ([`crate::AntiEntropy::applied`]), while the applied state is still write-locked, so a
/// [`MetaPort::read`] afterwards has been told of every change it sees.
pub trait MetaPort: Send + Sync + 'static {
    /// The current Raft term if this node leads, else `None`.
    fn leader_term(&self) -> Option<u64>;

    /// Runs `read` over the applied metadata, consistent for its duration.
    fn read<R>(&self, read: impl FnOnce(&MetaState) -> R) -> R;

    /// Commits `command` through Raft and returns its result once this node applied it.
    fn propose(&self, command: Command) -> impl Future<Output = Result<CommandResult, PortError>> + Send;

    /// The leader's wall clock in nanoseconds since the Unix epoch: what task commands are
    /// stamped with (lease deadlines, retry times).
    fn wall_clock(&self) -> Timestamp;
}

/// Why the node could not commit a command.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum PortError {
    /// This node does not lead (any more), or no leader is known.
    #[error("not the leader")]
    NotLeader,
    /// The cluster did not commit in time; the command may still be applied.
    #[error("the cluster did not answer within {0:?}")]
    Timeout(Duration),
    /// Raft or storage failed.
    #[error("{0}")]
    Failed(String),
}

/// Why a call to the service failed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum CallError {
    /// Refused as such: retrying the same call will not help.
    #[error(transparent)]
    Refused(#[from] AeError),
    /// The cluster could not take the call now.
    #[error(transparent)]
    Cluster(#[from] PortError),
}

/// Commits `command` and returns its answer in the shape its kind of command answers; a
/// rejection becomes [`CallError::Refused`].
pub(crate) async fn commit<P: MetaPort, T: FromResponse>(port: &P, command: Command) -> Result<T, CallError> {
    let name = command.name();
    let response = port.propose(command).await?.map_err(AeError::Apply)?;
    T::from_response(response)
        .map_err(|other| CallError::Cluster(PortError::Failed(format!("{name} answered {other:?}"))))
}
