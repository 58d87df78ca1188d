//! A writer killed with SIGKILL loses no acknowledged event, and its PUT log reopens cleanly.
//!
//! The `log-writer` binary records events from two threads and prints `ack <call> <events>`
//! once each PutEvents call has returned. The test reads those lines, kills the writer after a
//! different number of them each round, then reopens the log in this process.

use std::collections::{HashMap, HashSet};
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

use attune::store::log::{self, PutLog};
use attune::{DatasetType, Store};

/// After how many acknowledgements each round kills the writer.
const KILL_AFTER: [usize; 6] = [1, 23, 4, 160, 57, 301];

#[test]
fn killed_writers_lose_no_acknowledged_event() {
    let dir = tempfile::tempdir().unwrap();
    // call id -> number of events, for every acknowledged call of every round.
    let mut acked: HashMap<String, usize> = HashMap::new();
    let mut discarded = Vec::new();
    for (round, &after) in KILL_AFTER.iter().enumerate() {
        let mut child = Command::new(env!("CARGO_BIN_EXE_log-writer"))
            .arg(dir.path())
            .arg(round.to_string())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let mut record = |line: String| {
            let mut parts = line.split(' ');
            assert_eq!(parts.next(), Some("ack"), "unexpected line {line:?}");
            let id = parts.next().unwrap().to_owned();
            let events: usize = parts.next().unwrap().parse().unwrap();
            acked.insert(id, events);
        };
        for _ in 0..after {
            let line = lines
                .next()
                .expect("the writer exited before it was killed")
                .unwrap();
            record(line);
        }
        child.kill().unwrap(); // SIGKILL
                               // Acks already in the pipe were printed after their calls returned: they count too.
        for line in lines {
            record(line.unwrap());
        }
        let status = child.wait().unwrap();
        assert!(
            !status.success(),
            "round {round}: the writer was not killed"
        );

        let store = Store::open(dir.path()).unwrap();
        let ds = store.dataset("crash", DatasetType::Interactions).unwrap();
        // Reopening recovers the log: a torn tail is cut off, and appending works after it.
        discarded.push(PutLog::open(&ds).unwrap().discarded_bytes());

        let mut stored: HashMap<String, HashSet<usize>> = HashMap::new();
        log::read(&ds, |e| {
            let event_id = e.event_id.expect("every event has an id");
            let (call, k) = event_id.rsplit_once('/').unwrap();
            assert!(
                stored
                    .entry(call.to_owned())
                    .or_default()
                    .insert(k.parse().unwrap()),
                "event {event_id} stored twice"
            );
            Ok(())
        })
        .unwrap();
        for (call, &events) in &acked {
            let got = stored.get(call).map_or(0, HashSet::len);
            assert_eq!(
                got, events,
                "round {round}: acknowledged call {call} lost events"
            );
        }
        // Calls are atomic: a stored call has all its events, acknowledged or not.
        for (call, ks) in &stored {
            let expected = if call.contains("-t0-") { 1 } else { 3 };
            assert_eq!(ks.len(), expected, "round {round}: call {call} is partial");
        }
    }
    eprintln!(
        "crash test: {} acknowledged calls over {} kills; torn tails discarded (bytes per \
         round): {discarded:?}",
        acked.len(),
        KILL_AFTER.len()
    );
}
