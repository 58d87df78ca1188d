//! Individual records through the public SDK: PutEvents and PutItems with a recorder, read back
//! after reopening the store, and the one-writer rule of the PUT log.

use apache_avro::types::Value;
use attune::events::{Event, Item, PutEventsRequest, PutItemsRequest, Recorder};
use attune::{DatasetType, Error, Store};

const INTERACTIONS: &str = r#"{
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

const ITEMS: &str = r#"{
  "type": "record", "name": "Items",
  "namespace": "com.amazonaws.personalize.schema",
  "fields": [
    { "name": "ITEM_ID", "type": "string" },
    { "name": "GENRES", "type": ["null", "string"], "categorical": true }
  ],
  "version": "1.0"
}"#;

fn setup(dir: &std::path::Path) -> (Store, String) {
    let store = Store::open(dir).unwrap();
    store.create_dataset_group("shop", None).unwrap();
    store
        .create_schema("interactions", INTERACTIONS, None)
        .unwrap();
    store.create_schema("items", ITEMS, None).unwrap();
    store
        .create_dataset("shop", DatasetType::Interactions, "events", "interactions")
        .unwrap();
    store
        .create_dataset("shop", DatasetType::Items, "catalog", "items")
        .unwrap();
    let tracker = store.create_event_tracker("shop", "web").unwrap();
    (store, tracker.tracking_id)
}

fn view(event: &str, item: &str, at: f64) -> Event {
    Event {
        event_type: event.into(),
        sent_at: at,
        item_id: Some(item.into()),
        ..Event::default()
    }
}

#[test]
fn recorded_records_are_read_back_after_reopening_the_store() {
    let dir = tempfile::tempdir().unwrap();
    let (store, tracking_id) = setup(dir.path());
    let recorder = Recorder::new(store.clone());
    std::thread::scope(|s| {
        for t in 0..4 {
            let (recorder, tracking_id) = (&recorder, &tracking_id);
            s.spawn(move || {
                for c in 0..10 {
                    recorder
                        .put_events(&PutEventsRequest {
                            tracking_id: tracking_id.clone(),
                            session_id: format!("s{t}"),
                            user_id: Some(format!("u{t}")),
                            event_list: vec![
                                view("view", &format!("i{c}"), 1000.0 + c as f64),
                                view("buy", &format!("i{c}"), 1000.0 + c as f64),
                            ],
                        })
                        .unwrap();
                }
            });
        }
    });
    let items_arn = store
        .dataset("shop", DatasetType::Items)
        .unwrap()
        .info()
        .dataset_arn
        .clone();
    recorder
        .put_items(&PutItemsRequest {
            dataset_arn: items_arn,
            items: vec![Item {
                item_id: "i1".into(),
                properties: Some(r#"{"genres": "Toys|Games"}"#.into()),
            }],
        })
        .unwrap();
    drop(recorder);

    let store = Store::open(dir.path()).unwrap();
    let interactions = store.dataset("shop", DatasetType::Interactions).unwrap();
    let rows = interactions.effective_records().unwrap();
    assert_eq!(rows.len(), 80);
    for t in 0..4 {
        let user = Value::String(format!("u{t}"));
        assert_eq!(rows.iter().filter(|r| r[0] == user).count(), 20);
    }
    let items = store
        .dataset("shop", DatasetType::Items)
        .unwrap()
        .effective_records()
        .unwrap();
    assert_eq!(
        items,
        [vec![
            Value::String("i1".into()),
            Value::String("Toys|Games".into())
        ]]
    );

    // A new recorder appends after the records of the first.
    let recorder = Recorder::new(store.clone());
    recorder
        .put_events(&PutEventsRequest {
            tracking_id,
            session_id: "s9".into(),
            user_id: None,
            event_list: vec![view("view", "i1", 2000.0)],
        })
        .unwrap();
    let all = interactions.effective().unwrap();
    assert_eq!(all.len(), 81);
    assert!(all.last().unwrap().anonymous);
}

#[test]
fn one_writer_per_dataset_until_released() {
    let dir = tempfile::tempdir().unwrap();
    let (store, tracking_id) = setup(dir.path());
    let request = PutEventsRequest {
        tracking_id,
        session_id: "s".into(),
        user_id: Some("u".into()),
        event_list: vec![view("view", "i1", 1.0)],
    };
    let first = Recorder::new(store.clone());
    let second = Recorder::new(store.clone());
    first.put_events(&request).unwrap();
    let err = second.put_events(&request).unwrap_err();
    assert!(matches!(err, Error::ResourceInUse(_)), "{err}");
    let arn = store
        .dataset("shop", DatasetType::Interactions)
        .unwrap()
        .info()
        .dataset_arn
        .clone();
    first.release(&arn);
    second.put_events(&request).unwrap();
    // Two identical events: both stored, one in the effective view.
    let ds = store.dataset("shop", DatasetType::Interactions).unwrap();
    let mut stored = 0;
    attune::store::log::read(&ds, |_| {
        stored += 1;
        Ok(())
    })
    .unwrap();
    assert_eq!(stored, 2);
    assert_eq!(ds.effective_records().unwrap().len(), 1);
}
