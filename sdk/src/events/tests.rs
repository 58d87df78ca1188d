use super::*;
use crate::store::Origin;

const INTERACTIONS: &str = r#"{
  "type": "record", "name": "Interactions",
  "namespace": "com.amazonaws.personalize.schema",
  "fields": [
    { "name": "USER_ID", "type": "string" },
    { "name": "ITEM_ID", "type": "string" },
    { "name": "TIMESTAMP", "type": "long" },
    { "name": "EVENT_TYPE", "type": "string" },
    { "name": "EVENT_VALUE", "type": ["null", "float"] },
    { "name": "IMPRESSION", "type": ["null", "string"] },
    { "name": "RECOMMENDATION_ID", "type": ["null", "string"] },
    { "name": "EVENT_ATTRIBUTION_SOURCE", "type": ["null", "string"] },
    { "name": "NUM_RATINGS", "type": ["null", "int"] },
    { "name": "DEVICE", "type": ["null", "string"], "categorical": true }
  ],
  "version": "1.0"
}"#;

const ITEMS: &str = r#"{
  "type": "record", "name": "Items",
  "namespace": "com.amazonaws.personalize.schema",
  "fields": [
    { "name": "ITEM_ID", "type": "string" },
    { "name": "GENRES", "type": ["null", "string"], "categorical": true },
    { "name": "PRICE", "type": ["null", "float"] },
    { "name": "DESCRIPTION", "type": ["null", "string"], "textual": true }
  ],
  "version": "1.0"
}"#;

const USERS: &str = r#"{
  "type": "record", "name": "Users",
  "namespace": "com.amazonaws.personalize.schema",
  "fields": [
    { "name": "USER_ID", "type": "string" },
    { "name": "MEMBERSHIP_TYPE", "type": "string", "categorical": true },
    { "name": "AGE", "type": ["null", "int"] }
  ],
  "version": "1.0"
}"#;

struct Fixture {
    _dir: tempfile::TempDir,
    store: Store,
    recorder: Recorder,
    tracking_id: String,
}

fn fixture() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    store.create_dataset_group("g", None).unwrap();
    for (name, json, ty) in [
        ("interactions", INTERACTIONS, DatasetType::Interactions),
        ("items", ITEMS, DatasetType::Items),
        ("users", USERS, DatasetType::Users),
    ] {
        store.create_schema(name, json, None).unwrap();
        store.create_dataset("g", ty, name, name).unwrap();
    }
    let tracker = store.create_event_tracker("g", "tracker").unwrap();
    Fixture {
        _dir: dir,
        recorder: Recorder::new(store.clone()),
        store,
        tracking_id: tracker.tracking_id,
    }
}

impl Fixture {
    fn request(&self, events: Vec<Event>) -> PutEventsRequest {
        PutEventsRequest {
            tracking_id: self.tracking_id.clone(),
            session_id: "session-1".into(),
            user_id: Some("user-1".into()),
            event_list: events,
        }
    }

    fn put(&self, events: Vec<Event>) -> Result<()> {
        self.recorder.put_events(&self.request(events))
    }

    fn dataset(&self, ty: DatasetType) -> Dataset {
        self.store.dataset("g", ty).unwrap()
    }

    /// Every record in the PUT log of a dataset.
    fn logged(&self, ty: DatasetType) -> usize {
        let mut n = 0;
        crate::store::log::read(&self.dataset(ty), |_| {
            n += 1;
            Ok(())
        })
        .unwrap();
        n
    }

    /// The effective view as (field name -> value) maps, for readable assertions.
    fn effective(&self, ty: DatasetType) -> Vec<Vec<(String, Value)>> {
        let ds = self.dataset(ty);
        let names: Vec<String> = ds
            .schema()
            .fields()
            .iter()
            .map(|f| f.name.clone())
            .collect();
        ds.effective_records()
            .unwrap()
            .into_iter()
            .map(|values| names.iter().cloned().zip(values).collect())
            .collect()
    }
}

fn click(item: &str, sent_at: f64) -> Event {
    Event {
        event_type: "click".into(),
        sent_at,
        item_id: Some(item.into()),
        ..Event::default()
    }
}

fn get<'a>(row: &'a [(String, Value)], name: &str) -> &'a Value {
    &row.iter().find(|(n, _)| n == name).unwrap().1
}

fn s(v: &str) -> Value {
    Value::String(v.into())
}

#[track_caller]
fn invalid(result: Result<()>, needle: &str) {
    match result {
        Err(Error::InvalidInput(msg)) => assert!(msg.contains(needle), "{msg:?} lacks {needle:?}"),
        other => panic!("expected InvalidInput containing {needle:?}, got {other:?}"),
    }
}

#[test]
fn put_events_maps_every_field() {
    let f = fixture();
    let mut event = click("item-1", 1_719_511_760.9);
    event.event_id = Some("e1".into());
    event.event_value = Some(4.5);
    event.impression = Some(vec!["item-1".into(), "item-2".into()]);
    event.recommendation_id = Some("rec-1".into());
    event.metric_attribution = Some(MetricAttribution {
        event_attribution_source: "email campaign".into(),
    });
    event.properties = Some(r#"{"numRatings": "12", "DEVICE": "phone| tablet"}"#.into());
    f.put(vec![event]).unwrap();

    let rows = f.effective(DatasetType::Interactions);
    assert_eq!(rows.len(), 1);
    let row = &rows[0];
    assert_eq!(get(row, "USER_ID"), &s("user-1"));
    assert_eq!(get(row, "ITEM_ID"), &s("item-1"));
    assert_eq!(get(row, "TIMESTAMP"), &Value::Long(1_719_511_760));
    assert_eq!(get(row, "EVENT_TYPE"), &s("click"));
    assert_eq!(get(row, "EVENT_VALUE"), &Value::Float(4.5));
    assert_eq!(get(row, "IMPRESSION"), &s("item-1|item-2"));
    assert_eq!(get(row, "RECOMMENDATION_ID"), &s("rec-1"));
    assert_eq!(get(row, "EVENT_ATTRIBUTION_SOURCE"), &s("email campaign"));
    assert_eq!(get(row, "NUM_RATINGS"), &Value::Int(12));
    assert_eq!(get(row, "DEVICE"), &s("phone|tablet"));

    let mut internal = Vec::new();
    crate::store::log::read(&f.dataset(DatasetType::Interactions), |e| {
        internal.push((
            e.session_id.map(str::to_owned),
            e.event_id.map(str::to_owned),
            e.anonymous,
        ));
        Ok(())
    })
    .unwrap();
    assert_eq!(
        internal,
        [(Some("session-1".into()), Some("e1".into()), false)]
    );
}

#[test]
fn eleven_events_are_invalid() {
    let f = fixture();
    let events = (0..11).map(|i| click(&format!("i{i}"), 1.0)).collect();
    invalid(f.put(events), "eventList: must have 1-10 entries, found 11");
    invalid(f.put(Vec::new()), "found 0");
    f.put((0..10).map(|i| click(&format!("i{i}"), 1.0)).collect())
        .unwrap();
}

#[test]
fn forbidden_property_keys_are_invalid_in_any_case() {
    let f = fixture();
    for key in [
        "userId",
        "USERID",
        "USER_ID",
        "sessionId",
        "eventType",
        "Timestamp",
        "recommendationId",
        "impression",
    ] {
        let mut event = click("i1", 1.0);
        event.properties = Some(format!(r#"{{"{key}": "x"}}"#));
        invalid(f.put(vec![event]), "eventList[0].properties: key");
    }
    assert_eq!(f.logged(DatasetType::Interactions), 0);
}

#[test]
fn impression_limits() {
    let f = fixture();
    let list = |n: usize| (0..n).map(|i| format!("item-{i}")).collect::<Vec<_>>();
    let mut event = click("i1", 1.0);
    event.impression = Some(list(26));
    invalid(
        f.put(vec![event.clone()]),
        "eventList[0].impression: must list 1-25 items, found 26",
    );
    event.impression = Some(Vec::new());
    invalid(f.put(vec![event.clone()]), "found 0");
    event.impression = Some(vec!["a|b".into()]);
    invalid(f.put(vec![event.clone()]), "eventList[0].impression[0]");
    // 25 ids of 40 characters: 1024 characters once joined, over the 1000 of IMPRESSION.
    event.impression = Some((0..25).map(|i| format!("{i:040}")).collect());
    invalid(f.put(vec![event.clone()]), "IMPRESSION");
    event.impression = Some(list(25));
    f.put(vec![event]).unwrap();
}

#[test]
fn recommendation_id_limits() {
    let f = fixture();
    let mut event = click("i1", 1.0);
    event.recommendation_id = Some("r".repeat(41));
    invalid(
        f.put(vec![event.clone()]),
        "eventList[0].recommendationId: must have 1-40 characters, found 41",
    );
    event.recommendation_id = Some("r".repeat(40));
    f.put(vec![event]).unwrap();
}

#[test]
fn event_field_limits() {
    let f = fixture();
    let mut event = click("i1", 1.0);
    event.metric_attribution = Some(MetricAttribution {
        event_attribution_source: "   ".into(),
    });
    invalid(
        f.put(vec![event.clone()]),
        "eventAttributionSource: must be printable",
    );
    event.metric_attribution = Some(MetricAttribution {
        event_attribution_source: "caf\u{e9}".into(),
    });
    invalid(f.put(vec![event]), "printable ASCII");

    let mut event = click("i1", 1.0);
    event.event_type = String::new();
    invalid(
        f.put(vec![event]),
        "eventList[0].eventType: must have 1-256 characters",
    );
    let mut event = click("i1", 1.0);
    event.event_id = Some("e".repeat(257));
    invalid(f.put(vec![event]), "eventList[0].eventId");
    invalid(f.put(vec![click("i1", -5.0)]), "eventList[0].sentAt");
    invalid(f.put(vec![click("i1", f64::NAN)]), "eventList[0].sentAt");
    invalid(f.put(vec![click("a\"b", 1.0)]), "eventList[0].itemId");

    let mut req = f.request(vec![click("i1", 1.0)]);
    req.session_id = String::new();
    invalid(f.recorder.put_events(&req), "sessionId: must have 1-256");
    let mut req = f.request(vec![click("i1", 1.0)]);
    req.user_id = Some("u".repeat(257));
    invalid(f.recorder.put_events(&req), "userId: must have 1-256");
    assert_eq!(f.logged(DatasetType::Interactions), 0);
}

#[test]
fn properties_limits_and_keys() {
    let f = fixture();
    let with = |props: &str| {
        let mut event = click("i1", 1.0);
        event.properties = Some(props.into());
        vec![click("i0", 1.0), event]
    };
    let long = format!(r#"{{"device": "{}"}}"#, "x".repeat(1020));
    invalid(
        f.put(with(&long)),
        "eventList[1].properties: must have 1-1024 characters",
    );
    invalid(f.put(with("")), "eventList[1].properties: must have 1-1024");
    invalid(f.put(with("[1]")), "must be a JSON object");
    invalid(f.put(with("{nope")), "not valid JSON");
    invalid(
        f.put(with(r#"{"color": "red"}"#)),
        r#"key "color" is not a field"#,
    );
    invalid(
        f.put(with(r#"{"numRatings": "many"}"#)),
        "eventList[1].properties.numRatings",
    );
    invalid(
        f.put(with(r#"{"numRatings": [1]}"#)),
        "cannot hold an array",
    );
    // Nothing of the valid first event was stored either.
    assert_eq!(f.logged(DatasetType::Interactions), 0);
    f.put(with(r#"{"NUM_RATINGS": 3, "device": null}"#))
        .unwrap();
    assert_eq!(f.logged(DatasetType::Interactions), 2);
}

#[test]
fn events_over_10_kb_are_invalid() {
    let f = fixture();
    let mut event = click("i1", 1.0);
    // 25 ids of 200 two-byte characters: 10,000 bytes of impressions alone.
    event.impression = Some(
        (0..25)
            .map(|i| format!("{i}{}", "\u{e9}".repeat(200)))
            .collect(),
    );
    event.properties = Some(format!(r#"{{"device": "{}"}}"#, "y".repeat(1000)));
    event.metric_attribution = Some(MetricAttribution {
        event_attribution_source: "z".repeat(1024),
    });
    invalid(f.put(vec![event]), "eventList[0]: the event is");
}

#[test]
fn item_id_and_event_value_may_come_in_properties() {
    let f = fixture();
    let legacy = Event {
        event_type: "rating".into(),
        sent_at: 100.0,
        properties: Some(r#"{"itemId": "i9", "eventValue": 4}"#.into()),
        ..Event::default()
    };
    f.put(vec![legacy.clone()]).unwrap();
    let rows = f.effective(DatasetType::Interactions);
    assert_eq!(get(&rows[0], "ITEM_ID"), &s("i9"));
    assert_eq!(get(&rows[0], "EVENT_VALUE"), &Value::Float(4.0));

    let mut same = legacy.clone();
    same.item_id = Some("i9".into());
    same.sent_at = 101.0;
    f.put(vec![same]).unwrap();
    let mut conflict = legacy;
    conflict.item_id = Some("i8".into());
    invalid(
        f.put(vec![conflict]),
        "eventList[0].properties.itemId: conflicts with eventList[0].itemId",
    );

    let missing = Event {
        event_type: "click".into(),
        sent_at: 1.0,
        ..Event::default()
    };
    invalid(f.put(vec![missing]), "eventList[0]: no value for ITEM_ID");
}

#[test]
fn unknown_tracking_id_is_invalid() {
    let f = fixture();
    let mut req = f.request(vec![click("i1", 1.0)]);
    req.tracking_id = "not-a-tracker".into();
    invalid(
        f.recorder.put_events(&req),
        "trackingId: \"not-a-tracker\" is not",
    );
    req.tracking_id = String::new();
    invalid(f.recorder.put_events(&req), "trackingId: must have 1-256");
}

#[test]
fn duplicate_events_are_kept_once() {
    let f = fixture();
    let mut event = click("i1", 50.0);
    event.properties = Some(r#"{"device": "phone"}"#.into());
    f.put(vec![event.clone()]).unwrap();
    f.put(vec![event.clone()]).unwrap();
    // Same timestamp, different properties: a different event.
    let mut other = event.clone();
    other.properties = Some(r#"{"device": "tv"}"#.into());
    f.put(vec![other]).unwrap();
    // The same second, a fraction later: still the same TIMESTAMP, so a duplicate.
    let mut later = event;
    later.sent_at = 50.7;
    f.put(vec![later]).unwrap();
    assert_eq!(f.logged(DatasetType::Interactions), 4);
    let rows = f.effective(DatasetType::Interactions);
    let devices: Vec<&Value> = rows.iter().map(|r| get(r, "DEVICE")).collect();
    assert_eq!(devices, [&s("phone"), &s("tv")]);
}

#[test]
fn a_repeated_event_id_is_excluded() {
    let f = fixture();
    let mut first = click("i1", 10.0);
    first.event_id = Some("e-1".into());
    let mut again = click("i2", 20.0);
    again.event_id = Some("e-1".into());
    let mut other = click("i3", 30.0);
    other.event_id = Some("e-2".into());
    f.put(vec![first]).unwrap();
    f.put(vec![again, other]).unwrap();
    let items: Vec<Value> = f
        .effective(DatasetType::Interactions)
        .iter()
        .map(|r| get(r, "ITEM_ID").clone())
        .collect();
    assert_eq!(items, [s("i1"), s("i3")]);
}

#[test]
fn anonymous_events_are_stitched_to_their_sessions_user() {
    let f = fixture();
    let anonymous = |session: &str, events: Vec<Event>| PutEventsRequest {
        tracking_id: f.tracking_id.clone(),
        session_id: session.into(),
        user_id: None,
        event_list: events,
    };
    f.recorder
        .put_events(&anonymous("s1", vec![click("i1", 1.0)]))
        .unwrap();
    f.recorder
        .put_events(&anonymous("s2", vec![click("i2", 2.0)]))
        .unwrap();
    let mut known = anonymous("s1", vec![click("i3", 3.0)]);
    known.user_id = Some("u1".into());
    f.recorder.put_events(&known).unwrap();

    let ds = f.dataset(DatasetType::Interactions);
    let all = ds.effective().unwrap();
    let view: Vec<(Value, Value, bool)> = all
        .iter()
        .map(|r| (r.values[0].clone(), r.values[1].clone(), r.anonymous))
        .collect();
    assert_eq!(
        view,
        [
            (s("u1"), s("i1"), false),
            (s("s2"), s("i2"), true),
            (s("u1"), s("i3"), false)
        ]
    );
    assert!(all.iter().all(|r| r.origin == Origin::Put));
    // Training leaves the never-associated session out.
    let users: Vec<Value> = ds
        .effective_records()
        .unwrap()
        .into_iter()
        .map(|v| v[0].clone())
        .collect();
    assert_eq!(users, [s("u1"), s("u1")]);
}

#[test]
fn put_items_upserts_by_id() {
    let f = fixture();
    let arn = f.dataset(DatasetType::Items).info().dataset_arn.clone();
    let item = |id: &str, props: &str| Item {
        item_id: id.into(),
        properties: Some(props.into()),
    };
    f.recorder
        .put_items(&PutItemsRequest {
            dataset_arn: arn.clone(),
            items: vec![
                item("i1", r#"{"genres": "Horror|Action", "price": 9.99}"#),
                item("i2", r#"{"genres": "Drama"}"#),
            ],
        })
        .unwrap();
    f.recorder
        .put_items(&PutItemsRequest {
            dataset_arn: arn,
            items: vec![
                item("i1", r#"{"genres": "Comedy", "description": "A film"}"#),
                Item {
                    item_id: "i3".into(),
                    properties: None,
                },
            ],
        })
        .unwrap();
    let rows = f.effective(DatasetType::Items);
    let view: Vec<(Value, Value, Value)> = rows
        .iter()
        .map(|r| {
            (
                get(r, "ITEM_ID").clone(),
                get(r, "GENRES").clone(),
                get(r, "PRICE").clone(),
            )
        })
        .collect();
    assert_eq!(
        view,
        [
            (s("i2"), s("Drama"), Value::Null),
            (s("i1"), s("Comedy"), Value::Null),
            (s("i3"), Value::Null, Value::Null),
        ]
    );
}

#[test]
fn put_users_upserts_by_id_and_needs_non_null_fields() {
    let f = fixture();
    let arn = f.dataset(DatasetType::Users).info().dataset_arn.clone();
    let put = |users: Vec<(&str, Option<&str>)>| {
        f.recorder.put_users(&PutUsersRequest {
            dataset_arn: arn.clone(),
            users: users
                .into_iter()
                .map(|(id, p)| User {
                    user_id: id.into(),
                    properties: p.map(str::to_owned),
                })
                .collect(),
        })
    };
    put(vec![(
        "u1",
        Some(r#"{"membershipType": "Premium Class|Legacy Member", "age": "30"}"#),
    )])
    .unwrap();
    put(vec![("u1", Some(r#"{"MEMBERSHIP_TYPE": "Basic"}"#))]).unwrap();
    invalid(
        put(vec![("u2", None)]),
        "users[0]: no value for MEMBERSHIP_TYPE",
    );
    invalid(
        put(vec![(
            "u2",
            Some(r#"{"membershipType": "Basic", "shoeSize": 9}"#),
        )]),
        r#"users[0].properties: key "shoeSize" is not a field of the Users schema"#,
    );
    invalid(
        put(vec![(
            "u2",
            Some(r#"{"membershipType": "Basic", "age": 30.5}"#),
        )]),
        "users[0].properties.age",
    );
    invalid(
        put(vec![(
            "u2",
            Some(r#"{"membershipType": "x", "userId": "u3"}"#),
        )]),
        "conflicts with users[0].userId",
    );
    invalid(put(vec![("", None)]), "users[0].userId: must have 1-256");
    let rows = f.effective(DatasetType::Users);
    assert_eq!(rows.len(), 1);
    assert_eq!(get(&rows[0], "MEMBERSHIP_TYPE"), &s("Basic"));
    assert_eq!(get(&rows[0], "AGE"), &Value::Null);
}

#[test]
fn eleven_records_are_invalid() {
    let f = fixture();
    let items = (0..11)
        .map(|i| Item {
            item_id: format!("i{i}"),
            properties: None,
        })
        .collect();
    let arn = f.dataset(DatasetType::Items).info().dataset_arn.clone();
    invalid(
        f.recorder.put_items(&PutItemsRequest {
            dataset_arn: arn,
            items,
        }),
        "items: must have 1-10 entries, found 11",
    );
}

#[test]
fn unknown_and_wrong_datasets() {
    let f = fixture();
    let item = vec![Item {
        item_id: "i1".into(),
        properties: None,
    }];
    let missing_group = arn::dataset("nope", DatasetType::Items);
    let err = f
        .recorder
        .put_items(&PutItemsRequest {
            dataset_arn: missing_group,
            items: item.clone(),
        })
        .unwrap_err();
    assert!(matches!(err, Error::NotFound { .. }), "{err}");
    f.store.create_dataset_group("empty", None).unwrap();
    let err = f
        .recorder
        .put_items(&PutItemsRequest {
            dataset_arn: arn::dataset("empty", DatasetType::Items),
            items: item.clone(),
        })
        .unwrap_err();
    assert!(matches!(err, Error::NotFound { .. }), "{err}");
    let users_arn = f.dataset(DatasetType::Users).info().dataset_arn.clone();
    invalid(
        f.recorder.put_items(&PutItemsRequest {
            dataset_arn: users_arn,
            items: item,
        }),
        "is a Users dataset; PutItems needs a Items dataset",
    );
}

#[test]
fn properties_over_the_limits_are_invalid() {
    let f = fixture();
    let items_arn = f.dataset(DatasetType::Items).info().dataset_arn.clone();
    let users_arn = f.dataset(DatasetType::Users).info().dataset_arn.clone();
    let padded = |body: &str, len: usize| format!("{body}{}", " ".repeat(len - body.len()));
    let put_item = |props: String| {
        f.recorder.put_items(&PutItemsRequest {
            dataset_arn: items_arn.clone(),
            items: vec![Item {
                item_id: "i1".into(),
                properties: Some(props),
            }],
        })
    };
    invalid(
        put_item(padded(r#"{"genres": "A"}"#, 32_001)),
        "items[0].properties: must have 1-32000 characters, found 32001",
    );
    put_item(padded(r#"{"genres": "A"}"#, 32_000)).unwrap();
    // A long textual value is truncated, not rejected.
    put_item(format!(r#"{{"description": "{}"}}"#, "w".repeat(31_000))).unwrap();

    let put_user = |props: String| {
        f.recorder.put_users(&PutUsersRequest {
            dataset_arn: users_arn.clone(),
            users: vec![User {
                user_id: "u1".into(),
                properties: Some(props),
            }],
        })
    };
    invalid(
        put_user(padded(r#"{"membershipType": "A"}"#, 24_001)),
        "users[0].properties: must have 1-24000 characters, found 24001",
    );
    put_user(padded(r#"{"membershipType": "A"}"#, 24_000)).unwrap();
}

#[test]
fn event_trackers() {
    let f = fixture();
    let tracker = f.store.event_tracker("tracker").unwrap();
    assert_eq!(tracker.tracking_id, f.tracking_id);
    assert_eq!(tracker.status, "ACTIVE");
    assert_eq!(tracker.tracking_id.len(), 36);
    assert_eq!(
        f.store.event_tracker(&tracker.event_tracker_arn).unwrap(),
        tracker
    );
    let err = f.store.create_event_tracker("g", "another").unwrap_err();
    assert!(matches!(err, Error::AlreadyExists { .. }), "{err}");

    // A group without an Interactions dataset cannot have one.
    f.store.create_dataset_group("g2", None).unwrap();
    let err = f.store.create_event_tracker("g2", "t2").unwrap_err();
    assert!(matches!(err, Error::NotFound { .. }), "{err}");
    f.store
        .create_dataset("g2", DatasetType::Interactions, "i2", "interactions")
        .unwrap();
    // Names are unique in the store.
    let err = f.store.create_event_tracker("g2", "tracker").unwrap_err();
    assert!(matches!(err, Error::AlreadyExists { .. }), "{err}");
    let t2 = f.store.create_event_tracker("g2", "t2").unwrap();
    assert_ne!(t2.tracking_id, tracker.tracking_id);
    assert_eq!(f.store.list_event_trackers(None).unwrap().len(), 2);
    let in_g2: Vec<String> = f
        .store
        .list_event_trackers(Some("g2"))
        .unwrap()
        .into_iter()
        .map(|t| t.tracking_id)
        .collect();
    assert_eq!(in_g2, std::slice::from_ref(&t2.tracking_id));

    // Events follow the trackingId to its group; a deleted tracker takes no more events.
    f.put(vec![click("i1", 1.0)]).unwrap();
    f.store
        .delete_event_tracker(&tracker.event_tracker_arn)
        .unwrap();
    invalid(
        f.put(vec![click("i1", 1.0)]),
        "is not the trackingId of any event tracker",
    );
    assert!(f.store.event_tracker_of_group("g").unwrap().is_none());
    let err = f.store.delete_event_tracker("tracker").unwrap_err();
    assert!(matches!(err, Error::NotFound { .. }), "{err}");
    // The records stay.
    assert_eq!(f.logged(DatasetType::Interactions), 1);
}

#[test]
fn requests_deserialize_from_aws_json_bodies() {
    let body = r#"{
        "trackingId": "t", "sessionId": "s", "userId": "u",
        "eventList": [{
            "eventType": "click", "sentAt": 1719511760, "itemId": "i",
            "eventId": "e", "eventValue": 2.5, "impression": ["a", "b"],
            "recommendationId": "r",
            "metricAttribution": {"eventAttributionSource": "src"},
            "properties": "{\"numRatings\": 3}"
        }]
    }"#;
    let req: PutEventsRequest = serde_json::from_str(body).unwrap();
    assert_eq!(req.user_id.as_deref(), Some("u"));
    let e = &req.event_list[0];
    assert_eq!(e.sent_at, 1_719_511_760.0);
    assert_eq!(
        e.impression.as_deref(),
        Some(&["a".to_owned(), "b".to_owned()][..])
    );
    assert_eq!(
        e.metric_attribution
            .as_ref()
            .unwrap()
            .event_attribution_source,
        "src"
    );
    let items: PutItemsRequest = serde_json::from_str(
        r#"{"datasetArn": "arn", "items": [{"itemId": "i", "properties": "{}"}]}"#,
    )
    .unwrap();
    assert_eq!(items.items[0].item_id, "i");
    let users: PutUsersRequest =
        serde_json::from_str(r#"{"datasetArn": "arn", "users": [{"userId": "u"}]}"#).unwrap();
    assert_eq!(users.users[0].properties, None);
    let err = serde_json::from_str::<PutEventsRequest>(r#"{"trackingId": "t"}"#).unwrap_err();
    assert!(err.to_string().contains("sessionId"), "{err}");
}

#[test]
fn concurrent_calls_are_all_recorded() {
    let f = fixture();
    std::thread::scope(|scope| {
        for t in 0..4 {
            let f = &f;
            scope.spawn(move || {
                for c in 0..25 {
                    let mut req = f.request(vec![click(&format!("t{t}-{c}"), c as f64)]);
                    req.user_id = Some(format!("user-{t}"));
                    f.recorder.put_events(&req).unwrap();
                }
            });
        }
    });
    assert_eq!(f.effective(DatasetType::Interactions).len(), 100);
}

#[cfg(feature = "import")]
mod with_bulk {
    use super::*;
    use crate::import::{ImportRequest, NoProgress};
    use crate::store::ImportMode;

    fn import(ds: &Dataset, name: &str, csv: &str, mode: ImportMode) {
        let path = ds.dir().join(format!("{name}.csv"));
        fs::write(&path, csv).unwrap();
        ds.import(
            &ImportRequest {
                job_name: name.into(),
                data_location: path.display().to_string(),
                mode,
            },
            &NoProgress,
        )
        .unwrap();
    }

    #[test]
    fn put_records_survive_a_full_import_and_upsert_across_partitions() {
        let f = fixture();
        let items = f.dataset(DatasetType::Items);
        import(
            &items,
            "bulk1",
            "ITEM_ID,GENRES,PRICE,DESCRIPTION\ni1,Drama,1.5,\ni2,Horror,,\n",
            ImportMode::Full,
        );
        f.recorder
            .put_items(&PutItemsRequest {
                dataset_arn: items.info().dataset_arn.clone(),
                items: vec![Item {
                    item_id: "i1".into(),
                    properties: Some(r#"{"genres": "Comedy"}"#.into()),
                }],
            })
            .unwrap();
        let genres = |f: &Fixture| -> Vec<(Value, Value)> {
            f.effective(DatasetType::Items)
                .iter()
                .map(|r| (get(r, "ITEM_ID").clone(), get(r, "GENRES").clone()))
                .collect()
        };
        assert_eq!(genres(&f), [(s("i2"), s("Horror")), (s("i1"), s("Comedy"))]);
        // A later bulk record replaces the PUT one.
        import(
            &items,
            "bulk2",
            "ITEM_ID,GENRES,PRICE,DESCRIPTION\ni1,Western,,\n",
            ImportMode::Incremental,
        );
        assert_eq!(
            genres(&f),
            [(s("i2"), s("Horror")), (s("i1"), s("Western"))]
        );

        // FULL replaces the bulk rows only: PutEvents rows survive (spec 13.4).
        let interactions = f.dataset(DatasetType::Interactions);
        let mut csv = String::from(
            "USER_ID,ITEM_ID,TIMESTAMP,EVENT_TYPE,EVENT_VALUE,IMPRESSION,RECOMMENDATION_ID,\
             EVENT_ATTRIBUTION_SOURCE,NUM_RATINGS,DEVICE\n",
        );
        for i in 0..1000 {
            csv.push_str(&format!("u{},i{},{},watch,,,,,,\n", i % 7, i, 1000 + i));
        }
        import(&interactions, "events1", &csv, ImportMode::Full);
        f.put(vec![click("put-item", 5000.0)]).unwrap();
        import(
            &interactions,
            "events2",
            &csv.replace("watch", "view"),
            ImportMode::Full,
        );
        let all = interactions.effective().unwrap();
        assert_eq!(all.len(), 1001);
        assert_eq!(all.iter().filter(|r| r.origin == Origin::Put).count(), 1);
        assert!(all
            .iter()
            .filter(|r| r.origin == Origin::Bulk)
            .all(|r| r.values[3] == s("view")));
    }
}
