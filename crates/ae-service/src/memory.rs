//! [`MemoryPort`]: a meta node in memory, for tests and benchmarks of the service: it applies each
//! command at once to a real [`MetaState`] and tells the service what it touched, as the Raft
//! state machine does; its wall clock follows tokio's clock (so a paused test clock drives it).

use std::sync::{Arc, Mutex, RwLock};

use meta_model::{Command, CommandResult, MetaState, Timestamp};

use crate::port::{MetaPort, PortError};
use crate::AntiEntropy;

/// The wall clock at the start of every memory port: 2023-11-14T22:13:20Z.
const EPOCH: Timestamp = 1_700_000_000_000_000_000;

/// A single meta node in memory that leads (term 1) until told otherwise.
pub struct MemoryPort {
    state: RwLock<MetaState>,
    term: Mutex<Option<u64>>,
    service: Arc<AntiEntropy>,
    started: tokio::time::Instant,
    proposed: Mutex<Vec<Command>>,
}

impl MemoryPort {
    /// A node holding `state`, leading in term 1, reporting applied changes to `service`.
    pub fn new(state: MetaState, service: Arc<AntiEntropy>) -> Self {
        MemoryPort {
            state: RwLock::new(state),
            term: Mutex::new(Some(1)),
            service,
            started: tokio::time::Instant::now(),
            proposed: Mutex::new(Vec::new()),
        }
    }

    /// Makes the node lead in `term` (`None`: follow); the service is woken, as `metad` does.
    pub fn set_term(&self, term: Option<u64>) {
        *self.term.lock().unwrap_or_else(|p| p.into_inner()) = term;
        self.service.wake();
    }

    /// Every command proposed so far, accepted or not, in order.
    pub fn proposed(&self) -> Vec<Command> {
        self.proposed.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }
}

impl MetaPort for MemoryPort {
    fn leader_term(&self) -> Option<u64> {
        *self.term.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn read<R>(&self, read: impl FnOnce(&MetaState) -> R) -> R {
        read(&self.state.read().unwrap_or_else(|p| p.into_inner()))
    }

    async fn propose(&self, command: Command) -> Result<CommandResult, PortError> {
        if self.leader_term().is_none() {
            return Err(PortError::NotLeader);
        }
        let mut state = self.state.write().unwrap_or_else(|p| p.into_inner());
        let (result, changes) = state.apply_tracked(&command);
        self.service.applied(changes);
        self.proposed.lock().unwrap_or_else(|p| p.into_inner()).push(command);
        Ok(result)
    }

    fn wall_clock(&self) -> Timestamp {
        EPOCH.saturating_add(i64::try_from(self.started.elapsed().as_nanos()).unwrap_or(i64::MAX))
    }
}
