//! PutEvents throughput, acknowledged durably (each call returns after its group commit's
//! fsync): 1 thread x 1-event calls (the fsync latency), 8 threads x 1-event calls and
//! 8 threads x 10-event calls (group commit); then a 3-second run of each that reports how many
//! calls each block held. Run: `cargo bench -p benches --bench put_events`.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use attune::events::{Event, PutEventsRequest, Recorder};
use attune::{DatasetType, Store};
use criterion::{criterion_group, Criterion, Throughput};

const SCHEMA: &str = r#"{
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

/// A store with an Interactions dataset and its tracker; returns the recorder and trackingId.
fn setup(dir: &std::path::Path) -> (Recorder, String) {
    let store = Store::open(dir).expect("store");
    store.create_schema("s", SCHEMA, None).expect("schema");
    store.create_dataset_group("g", None).expect("group");
    store
        .create_dataset("g", DatasetType::Interactions, "d", "s")
        .expect("dataset");
    let tracker = store.create_event_tracker("g", "t").expect("tracker");
    (Recorder::new(store), tracker.tracking_id)
}

fn request(tracking_id: &str, thread: usize, call: u64, events: usize) -> PutEventsRequest {
    PutEventsRequest {
        tracking_id: tracking_id.to_owned(),
        session_id: format!("session-{thread}"),
        user_id: Some(format!("user-{thread}")),
        event_list: (0..events)
            .map(|k| Event {
                event_type: "click".into(),
                sent_at: 1_700_000_000.0 + call as f64,
                item_id: Some(format!("item-{}", (call * 7 + k as u64) % 5000)),
                event_id: Some(format!("{thread}-{call}-{k}")),
                event_value: Some(1.0),
                ..Event::default()
            })
            .collect(),
    }
}

fn put_events(c: &mut Criterion) {
    let mut group = c.benchmark_group("put_events");
    group
        .sample_size(10)
        .measurement_time(Duration::from_secs(10));
    for (threads, events) in [(1usize, 1usize), (8, 1), (8, 10)] {
        let dir = tempfile::tempdir().expect("tempdir");
        let (recorder, tracking_id) = setup(dir.path());
        let counter = AtomicU64::new(0);
        group.throughput(Throughput::Elements(events as u64));
        // One iteration is one call; the calls of an iteration batch are spread over the threads.
        group.bench_function(
            format!("{threads}_threads_x_{events}_events_per_call"),
            |b| {
                b.iter_custom(|iters| {
                    let per_thread = iters.div_ceil(threads as u64);
                    let start = Instant::now();
                    std::thread::scope(|s| {
                        for t in 0..threads {
                            let (recorder, tracking_id, counter) =
                                (&recorder, &tracking_id, &counter);
                            s.spawn(move || {
                                for _ in 0..per_thread {
                                    let call = counter.fetch_add(1, Ordering::Relaxed);
                                    recorder
                                        .put_events(&request(tracking_id, t, call, events))
                                        .expect("put_events");
                                }
                            });
                        }
                    });
                    // Report the time per call of the batch actually run.
                    start
                        .elapsed()
                        .mul_f64(iters as f64 / (per_thread * threads as u64) as f64)
                });
            },
        );
    }
    group.finish();
}

/// Runs each configuration for 3 s and prints how many calls each group commit (block) held.
fn group_commit_report() {
    for (threads, events) in [(1usize, 1usize), (8, 1), (8, 10)] {
        let dir = tempfile::tempdir().expect("tempdir");
        let (recorder, tracking_id) = setup(dir.path());
        let counter = AtomicU64::new(0);
        let start = Instant::now();
        std::thread::scope(|s| {
            for t in 0..threads {
                let (recorder, tracking_id, counter) = (&recorder, &tracking_id, &counter);
                s.spawn(move || {
                    while start.elapsed() < Duration::from_secs(3) {
                        let call = counter.fetch_add(1, Ordering::Relaxed);
                        recorder
                            .put_events(&request(tracking_id, t, call, events))
                            .expect("put_events");
                    }
                });
            }
        });
        let secs = start.elapsed().as_secs_f64();
        let calls = counter.load(Ordering::Relaxed);
        let path = dir
            .path()
            .join("groups/g/datasets/Interactions/put/log.avro");
        // Blocks end with the file's sync marker (the header's too).
        let bytes = std::fs::read(&path).expect("log");
        let marker = &bytes[bytes.len() - 16..];
        let blocks = bytes.windows(16).filter(|w| *w == marker).count() - 1;
        eprintln!(
            "group commit, {threads} threads x {events} events per call: {:.0} events/s, \
             {:.1} calls per block, {:.2} ms per block",
            (calls * events as u64) as f64 / secs,
            calls as f64 / blocks as f64,
            secs * 1e3 / blocks as f64
        );
    }
}

criterion_group!(benches, put_events);

fn main() {
    benches();
    Criterion::default().configure_from_args().final_summary();
    if !std::env::args().any(|a| a == "--test" || a == "--list") {
        group_commit_report();
    }
}
