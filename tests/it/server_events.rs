//! The events API over a real socket: PutEvents, PutItems and PutUsers with their AWS errors,
//! and the real-time loop: an event recorded over HTTP changes the next ranking (also for an
//! anonymous session), and a new item gets similar items from its metadata.

use std::collections::HashSet;

use apache_avro::types::Value as Avro;
use attune::api::{
    Event, GetRecommendationsRequest, Item, PutEventsRequest, PutItemsRequest, PutUsersRequest,
    User,
};
use attune::client::ErrorKind;
use attune::store::log;
use attune::DatasetType;
use serde_json::{json, Value};

use crate::server::{assert_client_error, assert_error, items, local_order, order, Fixture, GROUP};

fn event(event_type: &str, item: &str, at: f64) -> Event {
    Event {
        event_type: event_type.into(),
        sent_at: at,
        item_id: Some(item.into()),
        ..Event::default()
    }
}

fn body(v: Value) -> Vec<u8> {
    serde_json::to_vec(&v).unwrap()
}

/// The first value of every record of a dataset's PUT log (the id column).
fn logged_ids(fx: &Fixture, ty: DatasetType) -> Vec<String> {
    let ds = fx.store().dataset(GROUP, ty).unwrap();
    let mut ids = Vec::new();
    log::read(&ds, |e| {
        if let Some(Avro::String(s)) = e.values.first() {
            ids.push(s.clone());
        }
        Ok(())
    })
    .unwrap();
    ids
}

#[test]
fn put_events_items_and_users_record_durably_or_fail_with_aws_errors() {
    let fx = Fixture::start();
    let t = fx.t;
    let events = PutEventsRequest {
        tracking_id: t.tracking_id.clone(),
        session_id: "s-1".into(),
        user_id: Some("u1".into()),
        event_list: vec![
            event("click", "i1", 1.7e9),
            event("purchase", "i2", 1.7e9 + 1.0),
        ],
    };
    fx.client.put_events(&events).unwrap();
    let raw = fx.post("/events", &serde_json::to_vec(&events).unwrap());
    assert_eq!((raw.status, raw.body.len()), (200, 0), "{}", raw.text());
    assert!(raw.header("x-amzn-RequestId").is_some());

    let post = |path: &str, v: Value| fx.post(path, &body(v));
    let ev = json!({"eventType": "click", "itemId": "i1", "sentAt": 1.7e9});
    assert_error(
        &post(
            "/events",
            json!({"trackingId": "no-such-tracker", "sessionId": "s", "eventList": [ev]}),
        ),
        400,
        "InvalidInputException",
        "trackingId",
    );
    assert_error(
        &post(
            "/events",
            json!({"trackingId": t.tracking_id, "sessionId": "s",
                                "eventList": vec![ev.clone(); 11]}),
        ),
        400,
        "InvalidInputException",
        "eventList",
    );
    assert_error(
        &post(
            "/events",
            json!({"trackingId": t.tracking_id, "sessionId": "s", "eventList": []}),
        ),
        400,
        "InvalidInputException",
        "eventList",
    );
    assert_error(
        &post(
            "/events",
            json!({"trackingId": t.tracking_id, "eventList": [ev]}),
        ),
        400,
        "InvalidInputException",
        "sessionId",
    );
    assert_error(
        &post(
            "/events",
            json!({"trackingId": t.tracking_id, "sessionId": "s",
                                "eventList": [{"eventType": "click", "itemId": "x".repeat(257),
                                               "sentAt": 1.7e9}]}),
        ),
        400,
        "InvalidInputException",
        "itemId",
    );
    assert_error(
        &post(
            "/events",
            json!({"trackingId": t.tracking_id, "sessionId": "s",
                                "eventList": [{"eventType": "click", "itemId": "i1"}]}),
        ),
        400,
        "InvalidInputException",
        "sentAt",
    );
    assert_error(
        &fx.post("/events", b"{\"trackingId\": "),
        400,
        "InvalidInputException",
        "",
    );

    let properties = json!({"genres": "Action|Comedy", "price": 9.5, "brand": "Acme",
                            "creationTimestamp": 1_700_000_000, "title": "A new thing"});
    fx.client
        .put_items(&PutItemsRequest {
            dataset_arn: t.items_arn.clone(),
            items: vec![Item {
                item_id: "new-item".into(),
                properties: Some(properties.to_string()),
            }],
        })
        .unwrap();
    fx.client
        .put_users(&PutUsersRequest {
            dataset_arn: t.users_arn.clone(),
            users: vec![User {
                user_id: "new-user".into(),
                properties: Some(json!({"age": 30, "membership": "free"}).to_string()),
            }],
        })
        .unwrap();
    let missing = "arn:aws:personalize:us-east-1:000000000000:dataset/nope/ITEMS";
    assert_client_error(
        fx.client.put_items(&PutItemsRequest {
            dataset_arn: missing.into(),
            items: vec![Item {
                item_id: "x".into(),
                properties: Some(properties.to_string()),
            }],
        }),
        ErrorKind::ResourceNotFound,
        "nope",
    );
    let r = post(
        "/items",
        json!({"datasetArn": missing, "items": [{"itemId": "x"}]}),
    );
    assert_error(&r, 404, "ResourceNotFoundException", "nope");
    assert_error(
        &post("/items", json!({"datasetArn": t.items_arn, "items": []})),
        400,
        "InvalidInputException",
        "items",
    );
    assert_error(
        &post(
            "/items",
            json!({"datasetArn": t.items_arn,
                               "items": [{"itemId": "y", "properties": "{\"noSuchField\": 1}"}]}),
        ),
        400,
        "InvalidInputException",
        "noSuchField",
    );
    assert_error(
        &post(
            "/users",
            json!({"datasetArn": t.users_arn,
                               "users": [{"userId": "x".repeat(257)}]}),
        ),
        400,
        "InvalidInputException",
        "userId",
    );

    // Acknowledged means durable: the records are in the PUT logs.
    let interactions = logged_ids(&fx, DatasetType::Interactions);
    assert_eq!(interactions, ["u1", "u1", "u1", "u1"]);
    assert_eq!(logged_ids(&fx, DatasetType::Items), ["new-item"]);
    assert_eq!(logged_ids(&fx, DatasetType::Users), ["new-user"]);
}

/// The candidates' ranking for `user`, as the server gives it.
fn ranking(fx: &Fixture, user: &str, input: &[String]) -> Vec<String> {
    order(
        &fx.client
            .get_personalized_ranking(&fx.campaigns.rank, user, input, None)
            .unwrap()
            .personalized_ranking,
    )
}

#[test]
fn an_event_changes_the_next_ranking() {
    let fx = Fixture::start();
    let model = fx.model(&fx.t.rank_v1);
    let user = "u5";
    let input = items(100, 60);
    let before = ranking(&fx, user, &input);
    assert_eq!(before, local_order(&model, user, &[], &input));
    // The user now buys the five items ranked last.
    let bought: Vec<&str> = before[55..].iter().map(String::as_str).collect();
    fx.client
        .put_events(&PutEventsRequest {
            tracking_id: fx.t.tracking_id.clone(),
            session_id: "s-5".into(),
            user_id: Some(user.into()),
            event_list: bought
                .iter()
                .map(|item| event("purchase", item, 1.8e9))
                .collect(),
        })
        .unwrap();
    let after = ranking(&fx, user, &input);
    let recent: Vec<(&str, f32)> = bought
        .iter()
        .map(|&item| (item, model.event_weight("purchase")))
        .collect();
    assert_eq!(after, local_order(&model, user, &recent, &input));
    assert_ne!(after, before, "the events changed nothing");
    let lifted = bought
        .iter()
        .filter(|i| after.iter().position(|a| a == *i) < before.iter().position(|b| b == *i))
        .count();
    assert!(lifted >= 3, "only {lifted} of the bought items moved up");
    // Another user's ranking is untouched.
    assert_eq!(
        ranking(&fx, "u6", &input),
        local_order(&model, "u6", &[], &input)
    );
}

#[test]
fn a_session_id_as_user_id_personalizes_an_anonymous_user() {
    let fx = Fixture::start();
    let model = fx.model(&fx.t.rank_v1);
    let session = "anonymous-session-1";
    let input = items(1, 80);
    let popular = ranking(&fx, session, &input);
    assert_eq!(popular, local_order(&model, "nobody", &[], &input));
    let viewed = ["i3", "i17", "i42", "i77"];
    fx.client
        .put_events(&PutEventsRequest {
            tracking_id: fx.t.tracking_id.clone(),
            session_id: session.into(),
            user_id: None,
            event_list: viewed.iter().map(|i| event("view", i, 1.8e9)).collect(),
        })
        .unwrap();
    let personal = ranking(&fx, session, &input);
    let recent: Vec<(&str, f32)> = viewed
        .iter()
        .map(|&i| (i, model.event_weight("view")))
        .collect();
    assert_eq!(personal, local_order(&model, session, &recent, &input));
    assert_ne!(personal, popular);
}

#[test]
fn a_new_item_gets_similar_items_from_its_metadata() {
    let fx = Fixture::start();
    let genres = fx.t.item_genres();
    let similar = |item: &str| {
        fx.client
            .get_recommendations(&GetRecommendationsRequest {
                campaign_arn: Some(fx.campaigns.sims.clone()),
                item_id: Some(item.into()),
                num_results: Some(10),
                ..Default::default()
            })
            .unwrap()
            .item_list
    };
    let before = order(&similar("brand-new"));
    // Same genres as i10 (a rare combination is not needed: any shared genre counts).
    let tokens: HashSet<&str> = genres["i10"].split('|').collect();
    let properties = json!({"genres": genres["i10"], "price": 12.0, "brand": "Nobrand",
                            "creationTimestamp": 1_700_000_000, "title": "Brand new"});
    fx.client
        .put_items(&PutItemsRequest {
            dataset_arn: fx.t.items_arn.clone(),
            items: vec![Item {
                item_id: "brand-new".into(),
                properties: Some(properties.to_string()),
            }],
        })
        .unwrap();
    let after = similar("brand-new");
    assert_ne!(order(&after), before);
    let sharing: Vec<&String> = after
        .iter()
        .map(|p| &p.item_id)
        .filter(|id| genres[*id].split('|').any(|g| tokens.contains(g)))
        .collect();
    assert!(
        sharing.len() >= 8,
        "only {sharing:?} of {:?} share a genre with {tokens:?}",
        order(&after)
    );
}
