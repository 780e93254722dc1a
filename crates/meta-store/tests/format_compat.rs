//! Raft log entries written by format 2 (before tasks had kinds) read back by this build as the
//! log store reads them. The fixture holds three entries that build wrote: a node registration, a
//! batch of copy tasks and a restore (whose record is of format 2).

use meta_model::{codec, Command};
use meta_store::storage::LogEntry;
use openraft::EntryPayload;

#[test]
fn format_2_log_entries_read_back() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/log-entries-v2.bin");
    let bytes = std::fs::read(path).expect("fixture");
    assert_eq!(bytes[..2], 2u16.to_le_bytes(), "the fixture is of format 2");
    let entries: Vec<LogEntry> = codec::decode("log entry", &bytes).expect("format-2 entries read");
    let indexes: Vec<u64> = entries.iter().map(|e| e.log_id.index).collect();
    assert_eq!(indexes, [10, 11, 12]);
    let commands: Vec<&Command> = entries
        .iter()
        .map(|e| match &e.payload {
            EntryPayload::Normal(command) => command,
            other => panic!("not a command: {other:?}"),
        })
        .collect();
    assert!(matches!(commands[0], Command::AddDataNode { tcp_addr, .. } if tcp_addr == "data-9:8088"));
    assert!(matches!(commands[1], Command::CreateCopyTasks { tasks, .. } if tasks.len() == 4));
    let Command::RestoreMetadataV2 { backup } = commands[2] else { panic!("not a restore: {:?}", commands[2]) };
    assert_eq!(backup.copy_tasks.len(), 4);
    assert_eq!(backup.data_nodes.len(), 4);
}
