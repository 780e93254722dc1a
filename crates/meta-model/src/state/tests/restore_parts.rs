//! Table tests of restores in parts ([`Command::RestoreMetadataPart`]): the last part restores
//! what one entry would, a snapshot between parts carries the parts received, and parts out of
//! order, into a cluster that is not empty, or that do not decode are refused without a trace.

use super::*;

/// A backup of 4 data nodes, RF 2, twenty hourly groups (40 shards).
fn backup() -> MetaState {
    let mut old = cluster(4, 2);
    for i in 0..20 {
        create_group(&mut old, i * H);
    }
    old
}

fn parts_of(backup: &MetaState, upload: u64, part_bytes: usize) -> Vec<Command> {
    Command::restore_in_parts(&backup.to_record(), upload, part_bytes).expect("encodes")
}

fn restored_whole(backup: &MetaState) -> MetaState {
    let mut whole = MetaState::new();
    ok(&mut whole, Command::restore(&backup.to_record()).expect("encodes"));
    whole
}

#[test]
fn the_last_part_restores_what_one_entry_restores_whatever_the_part_size() {
    let old = backup();
    let whole = restored_whole(&old);
    let len = crate::codec::encode("record", &old.to_record()).expect("encodes").len();
    for part_bytes in [1, 7, 100, len - 1, len, len + 1] {
        let parts = parts_of(&old, 42, part_bytes);
        if part_bytes >= len {
            assert!(
                matches!(parts.as_slice(), [Command::RestoreMetadata { .. }]),
                "a backup that fits is one entry any release applies ({part_bytes} bytes a part)"
            );
        } else {
            assert_eq!(parts.len(), len.div_ceil(part_bytes), "{part_bytes} bytes a part");
        }
        let mut fresh = MetaState::new();
        let (last, staged) = parts.split_last().expect("at least one part");
        for part in staged {
            ok(&mut fresh, part.clone());
            assert!(
                fresh.databases().is_empty() && fresh.data_nodes().is_empty(),
                "nothing shows before the last part"
            );
        }
        ok(&mut fresh, last.clone());
        assert_eq!(fresh, whole, "{part_bytes} bytes a part");
        assert_eq!(fresh.staged_restore, None, "the last part clears what was staged");
    }
}

#[test]
fn a_snapshot_between_parts_carries_them_and_the_restore_completes_from_it() {
    let old = backup();
    let parts = parts_of(&old, 7, 64);
    assert!(parts.len() > 3);
    let mut leader = MetaState::new();
    for part in &parts[..parts.len() / 2] {
        ok(&mut leader, part.clone());
    }
    let snapshot = crate::codec::encode("snapshot", &leader).expect("encodes");
    let mut installed = MetaState::decode("snapshot", &snapshot).expect("decodes");
    assert_eq!(installed, leader, "the snapshot holds the parts received");
    for part in &parts[parts.len() / 2..] {
        ok(&mut installed, part.clone());
    }
    assert_eq!(installed, restored_whole(&old));
}

#[test]
fn parts_out_of_order_of_another_upload_or_into_a_used_cluster_are_refused() {
    let old = backup();
    let first = parts_of(&old, 1, 64);
    let second = parts_of(&old, 2, 64);
    let out_of_order = |state: &mut MetaState, part: &Command| {
        assert!(
            matches!(state.apply(part), Err(ApplyError::InvalidBackup { ref reason }) if reason.contains("not the part expected")),
            "{part:?}"
        );
    };

    let mut fresh = MetaState::new();
    out_of_order(&mut fresh, &first[1]);
    ok(&mut fresh, first[0].clone());
    out_of_order(&mut fresh, &first[2]);
    out_of_order(&mut fresh, &second[1]);
    ok(&mut fresh, first[1].clone());
    // A new upload's first part replaces the one not finished: its later parts are refused.
    ok(&mut fresh, second[0].clone());
    out_of_order(&mut fresh, &first[2]);
    for part in &second[1..] {
        ok(&mut fresh, part.clone());
    }
    assert_eq!(fresh, restored_whole(&old));

    // Into a cluster that is not empty: refused at the first part, nothing staged.
    rejected(&mut fresh, second[0].clone(), ApplyError::NotEmpty { what: "data nodes".to_owned() });
    assert_eq!(fresh.staged_restore, None);
    let invalid = Command::RestoreMetadataPart { upload: 3, part: 2, parts: 2, bytes: Vec::new() };
    assert!(matches!(MetaState::new().apply(&invalid), Err(ApplyError::InvalidBackup { .. })));
}

#[test]
fn a_last_part_that_does_not_decode_is_refused_and_leaves_the_cluster_empty() {
    let mut fresh = MetaState::new();
    let garbage = |part| Command::RestoreMetadataPart { upload: 9, part, parts: 2, bytes: vec![7; 10] };
    ok(&mut fresh, garbage(0));
    assert!(matches!(fresh.apply(&garbage(1)), Err(ApplyError::InvalidBackup { .. })));
    assert_eq!(fresh, MetaState::new(), "nothing restored, nothing left staged");
}

#[test]
fn a_byte_string_encodes_as_the_sequence_of_bytes_earlier_releases_wrote() {
    // Restore entries of earlier releases carry the record as a `Vec<u8>` sequence; now as a
    // byte string. The bytes must be the same both ways, or those entries would not replay.
    let record: Vec<u8> = (0..=255).cycle().take(1000).collect();
    let as_sequence = crate::codec::encode("bytes", &record).expect("encodes");
    let as_string = crate::codec::encode("bytes", &serde_bytes::Bytes::new(&record)).expect("encodes");
    assert_eq!(as_sequence, as_string);
    let read: serde_bytes::ByteBuf = crate::codec::decode("bytes", &as_sequence).expect("decodes");
    assert_eq!(read.into_vec(), record);
}

#[test]
fn a_restore_prepared_ahead_applies_as_one_decoded_in_place() {
    let old = backup();
    let whole = restored_whole(&old);
    // Every part size, in one entry or several: the last entry prepared from a shared reference.
    for part_bytes in [64, 100_000] {
        let parts = parts_of(&old, 5, part_bytes);
        let mut fresh = MetaState::new();
        for part in &parts {
            let prepared = fresh.prepare(part);
            let last = std::ptr::eq(part, parts.last().expect("a part"));
            assert_eq!(prepared.is_some(), last, "only the entry that restores is prepared");
            let (result, _) = fresh.apply_prepared_tracked(part, prepared);
            result.expect("applies");
        }
        assert_eq!(fresh, whole, "{part_bytes} bytes a part");
    }
    // Prepared from other bytes (misuse), the apply decodes its own and is not fooled.
    let other = {
        let mut other = cluster(2, 1);
        create_group(&mut other, 0);
        Command::restore(&other.to_record()).expect("encodes")
    };
    let mut fresh = MetaState::new();
    let wrong = MetaState::new().prepare(&other);
    let (result, _) = fresh.apply_prepared_tracked(&Command::restore(&old.to_record()).expect("encodes"), wrong);
    result.expect("applies");
    assert_eq!(fresh, whole);
    // A part out of order is not prepared, and is refused as before.
    let parts = parts_of(&old, 6, 64);
    assert!(MetaState::new().prepare(&parts[parts.len() - 1]).is_none());
    assert!(MetaState::new()
        .prepare(&Command::CreateDatabase { name: "x".into(), default_retention_policy: None })
        .is_none());
}

#[test]
fn the_first_part_reserves_the_whole_backup_and_a_bogus_part_count_reserves_no_more_than_the_limit() {
    let old = backup();
    let len = crate::codec::encode("record", &old.to_record()).expect("encodes").len();
    let parts = parts_of(&old, 5, 100);
    let mut fresh = MetaState::new();
    for (i, part) in parts.iter().enumerate().take(parts.len() - 1) {
        ok(&mut fresh, part.clone());
        let staged = fresh.staged_restore().expect("staged");
        assert!(staged.bytes.capacity() >= len, "part {i}: room for all {len} bytes from the first part on");
        assert!(staged.bytes.capacity() < len + 100, "part {i}: no more than one part's worth beyond them");
    }

    // A first part claiming four billion parts of 64 KiB does not reserve a quarter pebibyte.
    let mut fresh = MetaState::new();
    ok(&mut fresh, Command::RestoreMetadataPart { upload: 1, part: 0, parts: u32::MAX, bytes: vec![0; 64 * 1024] });
    let staged = fresh.staged_restore().expect("staged");
    assert!(staged.bytes.capacity() <= super::super::STAGED_RESERVE_LIMIT, "{}", staged.bytes.capacity());
}
