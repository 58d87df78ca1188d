use std::collections::HashMap;
use std::thread;

use super::*;
use crate::store::{Origin, Store};

const INTERACTIONS: &str = r#"{
  "type": "record", "name": "Interactions",
  "namespace": "com.amazonaws.personalize.schema",
  "fields": [
    { "name": "USER_ID", "type": "string" },
    { "name": "ITEM_ID", "type": "string" },
    { "name": "TIMESTAMP", "type": "long" },
    { "name": "EVENT_TYPE", "type": "string" },
    { "name": "EVENT_VALUE", "type": ["null", "float"] }
  ],
  "version": "1.0"
}"#;

const ITEMS: &str = r#"{
  "type": "record", "name": "Items",
  "namespace": "com.amazonaws.personalize.schema",
  "fields": [
    { "name": "ITEM_ID", "type": "string" },
    { "name": "GENRES", "type": ["null", "string"], "categorical": true }
  ],
  "version": "1.0"
}"#;

fn store(dir: &Path) -> Store {
    let store = Store::open(dir).unwrap();
    store.create_dataset_group("g", None).unwrap();
    store
}

fn interactions(dir: &Path) -> Dataset {
    let store = store(dir);
    store.create_schema("s", INTERACTIONS, None).unwrap();
    store
        .create_dataset("g", DatasetType::Interactions, "d", "s")
        .unwrap();
    store.dataset("g", DatasetType::Interactions).unwrap()
}

fn event(user: &str, item: &str, ts: i64) -> LogRecord {
    LogRecord {
        values: vec![
            Value::String(user.into()),
            Value::String(item.into()),
            Value::Long(ts),
            Value::String("click".into()),
            Value::Null,
        ],
        session_id: Some(format!("session-{user}")),
        event_id: Some(format!("{user}/{item}")),
        anonymous: false,
    }
}

/// (seq, USER_ID, ITEM_ID) of every record in the log, in file order.
fn contents(ds: &Dataset) -> Vec<(u64, String, String)> {
    let mut out = Vec::new();
    read(ds, |e| {
        let s = |v: &Value| match v {
            Value::String(s) => s.clone(),
            other => panic!("not a string: {other:?}"),
        };
        out.push((e.seq, s(&e.values[0]), s(&e.values[1])));
        Ok(())
    })
    .unwrap();
    out
}

fn items(ds: &Dataset) -> Vec<String> {
    contents(ds).into_iter().map(|(_, _, item)| item).collect()
}

fn len(path: &Path) -> u64 {
    fs::metadata(path).unwrap().len()
}

#[test]
fn appends_and_reads_back_values_and_internal_fields() {
    let dir = tempfile::tempdir().unwrap();
    let ds = interactions(dir.path());
    let log = PutLog::open(&ds).unwrap();
    let mut anonymous = event("s9", "i3", 30);
    anonymous.anonymous = true;
    anonymous.event_id = None;
    anonymous.values[4] = Value::Float(2.5);
    log.append(vec![event("u1", "i1", 10), event("u2", "i2", 20)])
        .unwrap();
    log.append(vec![anonymous]).unwrap();

    let mut entries = Vec::new();
    read(&ds, |e| {
        entries.push((
            e.seq,
            e.values.to_vec(),
            e.session_id.map(str::to_owned),
            e.event_id.map(str::to_owned),
            e.anonymous,
        ));
        Ok(())
    })
    .unwrap();
    assert_eq!(entries.len(), 3);
    assert!(entries.windows(2).all(|w| w[0].0 < w[1].0), "seq increases");
    assert_eq!(entries[0].1, event("u1", "i1", 10).values);
    assert_eq!(entries[0].2.as_deref(), Some("session-u1"));
    assert_eq!(entries[0].3.as_deref(), Some("u1/i1"));
    assert!(!entries[0].4);
    assert_eq!(entries[2].1[4], Value::Float(2.5));
    assert_eq!(entries[2].3, None);
    assert!(entries[2].4);

    // Dataset::scan sees them as the PUT partition.
    let mut origins = Vec::new();
    ds.scan(|origin, _, values| {
        origins.push((origin, values.len()));
        Ok(())
    })
    .unwrap();
    assert_eq!(origins, vec![(Origin::Put, 5); 3]);
}

#[test]
fn the_log_is_a_standard_avro_container_file() {
    let dir = tempfile::tempdir().unwrap();
    let ds = interactions(dir.path());
    let log = PutLog::open(&ds).unwrap();
    log.append(vec![event("u1", "i1", 10)]).unwrap();
    log.append(vec![event("u2", "i2", 20), event("u3", "i3", 30)])
        .unwrap();
    let file = File::open(log.path()).unwrap();
    let reader = apache_avro::Reader::new(BufReader::new(file)).unwrap();
    let records: Vec<Value> = reader.map(|r| r.unwrap()).collect();
    assert_eq!(records.len(), 3);
    let Value::Record(fields) = &records[2] else {
        panic!("not a record")
    };
    let names: Vec<&str> = fields.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(
        names,
        [
            "USER_ID",
            "ITEM_ID",
            "TIMESTAMP",
            "EVENT_TYPE",
            "EVENT_VALUE",
            SEQ_FIELD,
            SESSION_ID_FIELD,
            EVENT_ID_FIELD,
            ANONYMOUS_FIELD
        ]
    );
    assert_eq!(fields[1].1, Value::String("i3".into()));
}

#[test]
fn group_commit_keeps_every_record_and_each_threads_order() {
    let dir = tempfile::tempdir().unwrap();
    let ds = interactions(dir.path());
    let log = PutLog::open(&ds).unwrap();
    const THREADS: usize = 8;
    const CALLS: usize = 40;
    thread::scope(|s| {
        for t in 0..THREADS {
            let log = log.clone();
            s.spawn(move || {
                for c in 0..CALLS {
                    // 1-3 records per call.
                    let batch = (0..1 + c % 3)
                        .map(|r| event(&format!("t{t}"), &format!("{c:03}-{r}"), c as i64))
                        .collect();
                    log.append(batch).unwrap();
                }
            });
        }
    });
    let all = contents(&ds);
    let expected: usize = THREADS * (0..CALLS).map(|c| 1 + c % 3).sum::<usize>();
    assert_eq!(all.len(), expected);
    assert!(
        all.windows(2).all(|w| w[0].0 < w[1].0),
        "seq increases in file order"
    );
    let mut per_thread: HashMap<String, Vec<String>> = HashMap::new();
    for (_, user, item) in all {
        per_thread.entry(user).or_default().push(item);
    }
    assert_eq!(per_thread.len(), THREADS);
    for (user, items) in per_thread {
        let mut sorted = items.clone();
        sorted.sort();
        assert_eq!(items, sorted, "{user}'s records are out of order");
    }
    // Blocks are whole groups: a call's records are never split across blocks.
    let mut blocks = 0;
    let file = File::open(log.path()).unwrap();
    let file_len = file.metadata().unwrap().len();
    let mut r = Pos::new(BufReader::new(file));
    let header = read_header(&mut r, log.path(), file_len).unwrap();
    while let Next::Block { .. } = next_block(&mut r, file_len, &header.marker).unwrap() {
        blocks += 1;
    }
    assert!(blocks <= THREADS * CALLS, "{blocks} blocks");
}

#[test]
fn a_torn_last_block_is_discarded_at_every_byte_offset() {
    let dir = tempfile::tempdir().unwrap();
    let ds = interactions(dir.path());
    let log = PutLog::open(&ds).unwrap();
    log.append(vec![event("u1", "i1", 10), event("u2", "i2", 20)])
        .unwrap();
    log.append(vec![event("u3", "i3", 30)]).unwrap();
    let path = log.path().to_owned();
    let before_last = len(&path);
    log.append(vec![event("u4", "i4", 40), event("u5", "i5", 50)])
        .unwrap();
    drop(log);
    let whole = fs::read(&path).unwrap();
    assert!(whole.len() as u64 > before_last + 20);

    for cut in before_last..whole.len() as u64 {
        fs::write(&path, &whole[..cut as usize]).unwrap();
        let log = PutLog::open(&ds).unwrap();
        assert_eq!(log.discarded_bytes(), cut - before_last, "cut at {cut}");
        assert_eq!(len(&path), before_last, "cut at {cut}: truncated");
        assert_eq!(items(&ds), ["i1", "i2", "i3"], "cut at {cut}");
        log.append(vec![event("u6", "i6", 60)]).unwrap();
        assert_eq!(items(&ds), ["i1", "i2", "i3", "i6"], "cut at {cut}");
    }
}

#[test]
fn garbage_after_the_last_block_is_discarded() {
    let dir = tempfile::tempdir().unwrap();
    let ds = interactions(dir.path());
    let path = {
        let log = PutLog::open(&ds).unwrap();
        log.append(vec![event("u1", "i1", 10)]).unwrap();
        log.path().to_owned()
    };
    let good = len(&path);
    // A deterministic pseudo-random tail, then a zero-filled one (what a crash can leave when
    // the size reached the disk before the data).
    let mut x: u32 = 0x9e37_79b9;
    let noise: Vec<u8> = (0..3000)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            x as u8
        })
        .collect();
    for tail in [noise, vec![0u8; 4096]] {
        let mut bytes = fs::read(&path).unwrap();
        bytes.truncate(good as usize);
        bytes.extend_from_slice(&tail);
        fs::write(&path, &bytes).unwrap();
        // Readers skip the tail without a handle.
        assert_eq!(items(&ds), ["i1"]);
        let log = PutLog::open(&ds).unwrap();
        assert_eq!(log.discarded_bytes(), tail.len() as u64);
        assert_eq!(len(&path), good);
        log.append(vec![event("u2", "i2", 20)]).unwrap();
        assert_eq!(items(&ds), ["i1", "i2"]);
        drop(log);
        // Back to one record for the next round.
        let mut bytes = fs::read(&path).unwrap();
        bytes.truncate(good as usize);
        fs::write(&path, &bytes).unwrap();
    }
}

#[test]
fn damage_in_the_middle_is_reported_not_truncated() {
    let dir = tempfile::tempdir().unwrap();
    let ds = interactions(dir.path());
    let (path, second_block) = {
        let log = PutLog::open(&ds).unwrap();
        log.append(vec![event("u1", "i1", 10)]).unwrap();
        let second_block = len(log.path());
        log.append(vec![event("u2", "i2", 20)]).unwrap();
        log.append(vec![event("u3", "i3", 30)]).unwrap();
        (log.path().to_owned(), second_block)
    };
    let mut bytes = fs::read(&path).unwrap();
    let total = bytes.len() as u64;
    bytes[second_block as usize + 6] ^= 0x55;
    fs::write(&path, &bytes).unwrap();
    let err = PutLog::open(&ds).unwrap_err();
    assert!(matches!(err, Error::Corrupt { .. }), "{err}");
    assert!(err.to_string().contains("damaged in the middle"), "{err}");
    assert_eq!(len(&path), total, "nothing was truncated");
    let err = read(&ds, |_| Ok(())).unwrap_err();
    assert!(matches!(err, Error::Corrupt { .. }), "{err}");
}

#[test]
fn only_one_handle_can_write() {
    let dir = tempfile::tempdir().unwrap();
    let ds = interactions(dir.path());
    let first = PutLog::open(&ds).unwrap();
    let err = PutLog::open(&ds).unwrap_err();
    assert!(matches!(err, Error::ResourceInUse(_)), "{err}");
    let clone = first.clone();
    drop(first);
    assert!(PutLog::open(&ds).is_err(), "a clone still holds the lock");
    drop(clone);
    PutLog::open(&ds).unwrap();
}

#[test]
fn bad_records_are_refused_before_anything_is_written() {
    let dir = tempfile::tempdir().unwrap();
    let ds = interactions(dir.path());
    let log = PutLog::open(&ds).unwrap();
    let size = len(log.path());
    let mut wrong_type = event("u2", "i2", 20);
    wrong_type.values[2] = Value::String("noon".into());
    let err = log
        .append(vec![event("u1", "i1", 10), wrong_type])
        .unwrap_err();
    assert!(
        err.to_string().contains("record 1: field TIMESTAMP"),
        "{err}"
    );
    let mut short = event("u1", "i1", 10);
    short.values.pop();
    assert!(log.append(vec![short]).is_err());
    let mut null = event("u1", "i1", 10);
    null.values[0] = Value::Null;
    assert!(log.append(vec![null]).is_err());
    assert_eq!(len(log.path()), size);
    assert!(items(&ds).is_empty());
}

#[test]
fn metadata_logs_have_only_the_sequence_field() {
    let dir = tempfile::tempdir().unwrap();
    let store = store(dir.path());
    store.create_schema("items", ITEMS, None).unwrap();
    store
        .create_dataset("g", DatasetType::Items, "items", "items")
        .unwrap();
    let ds = store.dataset("g", DatasetType::Items).unwrap();
    let log = PutLog::open(&ds).unwrap();
    log.append(vec![LogRecord::new(vec![
        Value::String("i1".into()),
        Value::String("Action|Drama".into()),
    ])])
    .unwrap();
    let reader = apache_avro::Reader::new(File::open(log.path()).unwrap()).unwrap();
    let fields = match reader.writer_schema() {
        AvroSchema::Record(r) => r.fields.iter().map(|f| f.name.clone()).collect::<Vec<_>>(),
        _ => panic!("not a record"),
    };
    assert_eq!(fields, ["ITEM_ID", "GENRES", SEQ_FIELD]);
    let mut seen = Vec::new();
    read(&ds, |e| {
        seen.push((e.values.to_vec(), e.session_id.is_none()));
        Ok(())
    })
    .unwrap();
    assert_eq!(
        seen,
        [(
            vec![
                Value::String("i1".into()),
                Value::String("Action|Drama".into())
            ],
            true
        )]
    );
}

#[test]
fn a_schema_change_starts_a_new_file_and_old_records_read_by_name() {
    let dir = tempfile::tempdir().unwrap();
    let store = store(dir.path());
    store.create_schema("items", ITEMS, None).unwrap();
    store
        .create_dataset("g", DatasetType::Items, "items", "items")
        .unwrap();
    let ds = store.dataset("g", DatasetType::Items).unwrap();
    {
        let log = PutLog::open(&ds).unwrap();
        log.append(vec![LogRecord::new(vec![
            Value::String("i1".into()),
            Value::Null,
        ])])
        .unwrap();
    }
    // What UpdateDataset does: the dataset's schema gains a nullable field.
    let updated = ITEMS.replace(
        r#"{ "name": "GENRES""#,
        r#"{ "name": "PRICE", "type": ["null", "double"] },
    { "name": "GENRES""#,
    );
    fs::write(ds.dir().join("schema.avsc"), &updated).unwrap();
    let ds = store.dataset("g", DatasetType::Items).unwrap();
    assert_eq!(ds.schema().fields()[1].name, "PRICE");
    let log = PutLog::open(&ds).unwrap();
    assert!(log.path().ends_with("log-000001.avro"), "{:?}", log.path());
    log.append(vec![LogRecord::new(vec![
        Value::String("i2".into()),
        Value::Double(9.5),
        Value::String("Drama".into()),
    ])])
    .unwrap();
    let mut rows = Vec::new();
    let mut seqs = Vec::new();
    read(&ds, |e| {
        rows.push(e.values.to_vec());
        seqs.push(e.seq);
        Ok(())
    })
    .unwrap();
    assert_eq!(
        rows,
        [
            vec![Value::String("i1".into()), Value::Null, Value::Null],
            vec![
                Value::String("i2".into()),
                Value::Double(9.5),
                Value::String("Drama".into())
            ],
        ]
    );
    assert!(seqs[0] < seqs[1]);
    // Reopening stays on the new file.
    drop(log);
    let log = PutLog::open(&ds).unwrap();
    assert!(log.path().ends_with("log-000001.avro"));
}

#[test]
fn varints_round_trip() {
    for v in [
        0i64,
        1,
        -1,
        63,
        -64,
        64,
        300,
        -300,
        i64::MAX,
        i64::MIN,
        1 << 40,
    ] {
        let mut buf = Vec::new();
        write_long(&mut buf, v);
        let mut r = Pos::new(&buf[..]);
        assert_eq!(r.long().unwrap(), v);
        assert_eq!(r.pos, buf.len() as u64);
    }
}
