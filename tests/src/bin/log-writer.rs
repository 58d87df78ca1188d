//! Test helper for `it/crash.rs`: records events in a store from two threads until it is killed.
//!
//! Usage: `log-writer <store dir> <round>`. Creates (or reuses) the dataset group `crash` with
//! an Interactions dataset and an event tracker, then loops: thread 0 sends one-event PutEvents
//! calls, thread 1 three-event calls. After each call returns (its events are on disk) it
//! prints `ack <call id> <events>` and flushes stdout. The events of call `<call id>` have the
//! eventIds `<call id>/0`, `<call id>/1`, ...

use std::io::Write;
use std::process::ExitCode;

use attune::events::{Event, PutEventsRequest, Recorder};
use attune::{DatasetType, Error, Store};

const SCHEMA: &str = r#"{
  "type": "record", "name": "Interactions",
  "namespace": "com.amazonaws.personalize.schema",
  "fields": [
    { "name": "USER_ID", "type": "string" },
    { "name": "ITEM_ID", "type": "string" },
    { "name": "TIMESTAMP", "type": "long" },
    { "name": "EVENT_TYPE", "type": "string" }
  ],
  "version": "1.0"
}"#;

/// The group the writer records into.
const GROUP: &str = "crash";

fn existing_is_fine<T>(r: attune::Result<T>) -> attune::Result<()> {
    match r {
        Ok(_) | Err(Error::AlreadyExists { .. }) => Ok(()),
        Err(e) => Err(e),
    }
}

fn run(dir: &str, round: &str) -> attune::Result<()> {
    let store = Store::open(dir)?;
    existing_is_fine(store.create_schema("crash-interactions", SCHEMA, None))?;
    existing_is_fine(store.create_dataset_group(GROUP, None))?;
    existing_is_fine(store.create_dataset(
        GROUP,
        DatasetType::Interactions,
        "crash-interactions",
        "crash-interactions",
    ))?;
    existing_is_fine(store.create_event_tracker(GROUP, "crash-tracker"))?;
    let tracking_id = store
        .event_tracker_of_group(GROUP)?
        .expect("the tracker was just created")
        .tracking_id;
    let recorder = Recorder::new(store);
    std::thread::scope(|s| {
        let workers: Vec<_> = (0..2usize)
            .map(|t| {
                let (recorder, tracking_id) = (&recorder, &tracking_id);
                s.spawn(move || -> attune::Result<()> {
                    let events_per_call = if t == 0 { 1 } else { 3 };
                    for call in 0u64.. {
                        let id = format!("r{round}-t{t}-{call}");
                        let event_list = (0..events_per_call)
                            .map(|k| Event {
                                event_type: "click".into(),
                                sent_at: call as f64,
                                item_id: Some(format!("{id}/{k}")),
                                event_id: Some(format!("{id}/{k}")),
                                ..Event::default()
                            })
                            .collect();
                        recorder.put_events(&PutEventsRequest {
                            tracking_id: tracking_id.clone(),
                            session_id: format!("session-{t}"),
                            user_id: Some(format!("user-{t}")),
                            event_list,
                        })?;
                        let mut out = std::io::stdout().lock();
                        writeln!(out, "ack {id} {events_per_call}")
                            .and_then(|()| out.flush())
                            .map_err(|e| Error::io("stdout", e))?;
                    }
                    Ok(())
                })
            })
            .collect();
        workers
            .into_iter()
            .try_for_each(|w| w.join().expect("a writer thread panicked"))
    })
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().collect();
    let [_, dir, round] = args.as_slice() else {
        eprintln!("usage: log-writer <store dir> <round>");
        return ExitCode::from(2);
    };
    match run(dir, round) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("log-writer: {e}");
            ExitCode::FAILURE
        }
    }
}
