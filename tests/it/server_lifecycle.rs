//! The server across its lifetime: campaigns, trackers and real-time state survive a restart
//! (the state is rebuilt from the PUT log), UpdateCampaign swaps models under concurrent load
//! without a failed request, and a SIGKILL during a PutEvents load loses no acknowledged event.

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use apache_avro::types::Value as Avro;
use attune::api::{Event, PutEventsRequest};
use attune::client::{Client, ClientError};
use attune::store::log;
use attune::DatasetType;
use serde_json::json;
use tests::wait_until;

use crate::server::{items, local_order, order, Fixture, GROUP};

fn event(event_type: &str, item: &str) -> Event {
    Event {
        event_type: event_type.into(),
        sent_at: 1.8e9,
        item_id: Some(item.into()),
        ..Event::default()
    }
}

fn ranking(client: &Client, campaign: &str, user: &str, input: &[String]) -> Vec<String> {
    order(
        &client
            .get_personalized_ranking(campaign, user, input, None)
            .unwrap()
            .personalized_ranking,
    )
}

#[test]
fn campaigns_trackers_and_realtime_state_survive_a_restart() {
    let mut fx = Fixture::start();
    let v2 = fx.model(&fx.t.rank_v2);
    let rank = fx.campaigns.rank.clone();
    let input = items(200, 50);
    let (user, session) = ("u9", "session-9");
    let baseline = ranking(&fx.client, &rank, user, &input);
    let bought: Vec<String> = baseline[45..].to_vec();
    let put = |client: &Client, user_id: Option<&str>, session_id: &str, list: &[String]| {
        client
            .put_events(&PutEventsRequest {
                tracking_id: fx.t.tracking_id.clone(),
                session_id: session_id.into(),
                user_id: user_id.map(str::to_owned),
                event_list: list.iter().map(|i| event("purchase", i)).collect(),
            })
            .unwrap();
    };
    put(&fx.client, Some(user), "s-9", &bought);
    put(&fx.client, None, session, &input[..3]);
    // Deploy version 2; the events recorded before still count (they are newer than it).
    fx.client
        .control(
            "UpdateCampaign",
            &json!({"campaignArn": rank, "solutionVersionArn": fx.t.rank_v2}),
        )
        .unwrap();
    let w = v2.event_weight("purchase");
    let user_recent: Vec<(&str, f32)> = bought.iter().map(|i| (i.as_str(), w)).collect();
    let session_recent: Vec<(&str, f32)> = input[..3].iter().map(|i| (i.as_str(), w)).collect();
    let expected_user = local_order(&v2, user, &user_recent, &input);
    let expected_session = local_order(&v2, session, &session_recent, &input);
    assert_eq!(ranking(&fx.client, &rank, user, &input), expected_user);
    assert_eq!(
        ranking(&fx.client, &rank, session, &input),
        expected_session
    );
    assert_ne!(expected_user, local_order(&v2, user, &[], &input));

    for round in ["SIGTERM", "SIGKILL"] {
        if round == "SIGTERM" {
            fx.restart();
        } else {
            fx.crash_and_restart();
        }
        let campaign = fx.describe_campaign(&rank);
        assert_eq!(campaign["status"], "ACTIVE", "{round}");
        assert_eq!(
            campaign["solutionVersionArn"],
            fx.t.rank_v2.as_str(),
            "{round}"
        );
        let trackers = fx.client.control("ListEventTrackers", &json!({})).unwrap();
        assert_eq!(trackers["eventTrackers"].as_array().unwrap().len(), 1);
        let tracker = fx
            .client
            .control(
                "DescribeEventTracker",
                &json!({"eventTrackerArn": trackers["eventTrackers"][0]["eventTrackerArn"]}),
            )
            .unwrap();
        assert_eq!(
            tracker["eventTracker"]["trackingId"],
            fx.t.tracking_id.as_str()
        );
        // The real-time state was rebuilt from the log.
        assert_eq!(
            ranking(&fx.client, &rank, user, &input),
            expected_user,
            "after {round}"
        );
        assert_eq!(
            ranking(&fx.client, &rank, session, &input),
            expected_session,
            "after {round}"
        );
    }
    // The tracker still records, and the new event counts at once.
    put(&fx.client, Some("u10"), "s-10", &input[49..]);
    let recent = [(input[49].as_str(), w)];
    assert_eq!(
        ranking(&fx.client, &rank, "u10", &input),
        local_order(&v2, "u10", &recent, &input)
    );
}

#[test]
fn update_campaign_swaps_models_under_concurrent_load_without_failures() {
    let fx = Fixture::start();
    let (m1, m2) = (fx.model(&fx.t.rank_v1), fx.model(&fx.t.rank_v2));
    let user = "u11";
    let input = items(1, 100);
    let expected = [
        local_order(&m1, user, &[], &input),
        local_order(&m2, user, &[], &input),
    ];
    assert_ne!(
        expected[0], expected[1],
        "the versions must rank differently"
    );
    let versions = [fx.t.rank_v1.as_str(), fx.t.rank_v2.as_str()];
    let seen = [AtomicU64::new(0), AtomicU64::new(0)];
    let failures = Mutex::new(Vec::<String>::new());
    let stop = AtomicBool::new(false);
    const SWAPS: usize = 10;
    std::thread::scope(|s| {
        for _ in 0..4 {
            s.spawn(|| {
                let client = Client::new(&fx.server.base_url()).unwrap();
                while !stop.load(Ordering::Relaxed) {
                    match client.get_personalized_ranking(&fx.campaigns.rank, user, &input, None) {
                        Ok(r) => match expected
                            .iter()
                            .position(|e| *e == order(&r.personalized_ranking))
                        {
                            Some(v) => {
                                seen[v].fetch_add(1, Ordering::Relaxed);
                            }
                            None => failures
                                .lock()
                                .unwrap()
                                .push("a ranking from neither version".into()),
                        },
                        Err(e) => failures.lock().unwrap().push(e.to_string()),
                    }
                }
            });
        }
        wait_until(Duration::from_secs(60), "load on version 1", || {
            seen[0].load(Ordering::Relaxed) >= 10
        });
        for k in 0..SWAPS {
            let to = (k + 1) % 2;
            let before = seen[to].load(Ordering::Relaxed);
            fx.client
                .control(
                    "UpdateCampaign",
                    &json!({"campaignArn": fx.campaigns.rank, "solutionVersionArn": versions[to]}),
                )
                .unwrap();
            wait_until(
                Duration::from_secs(60),
                "rankings from the new version",
                || seen[to].load(Ordering::Relaxed) >= before + 5,
            );
        }
        stop.store(true, Ordering::Relaxed);
    });
    let failures = failures.into_inner().unwrap();
    assert!(
        failures.is_empty(),
        "{} failed requests: {:?}",
        failures.len(),
        &failures[..failures.len().min(5)]
    );
    let counts = [
        seen[0].load(Ordering::Relaxed),
        seen[1].load(Ordering::Relaxed),
    ];
    eprintln!(
        "hot swap: {} rankings over {SWAPS} swaps, none failed (version 1: {}, version 2: {})",
        counts[0] + counts[1],
        counts[0],
        counts[1]
    );
}

#[test]
fn a_crash_during_put_events_loses_no_acknowledged_event() {
    let mut fx = Fixture::start();
    let acked = Mutex::new(Vec::<String>::new());
    let api_errors = Mutex::new(Vec::<String>::new());
    let transport_errors = AtomicU64::new(0);
    const THREADS: usize = 4;
    let (url, tracking_id) = (fx.server.base_url(), fx.t.tracking_id.clone());
    std::thread::scope(|s| {
        for t in 0..THREADS {
            let (url, tracking_id, acked, api_errors, transport_errors) =
                (&url, &tracking_id, &acked, &api_errors, &transport_errors);
            s.spawn(move || {
                let client = Client::new(url).unwrap();
                for call in 0.. {
                    let ids: Vec<String> = (0..2).map(|k| format!("t{t}-c{call}-{k}")).collect();
                    let req = PutEventsRequest {
                        tracking_id: tracking_id.clone(),
                        session_id: format!("crash-s{t}"),
                        user_id: Some(format!("crash-u{t}")),
                        event_list: ids
                            .iter()
                            .enumerate()
                            .map(|(k, id)| Event {
                                event_id: Some(id.clone()),
                                ..event("click", &format!("i{}", 1 + (call * 2 + k) % 500))
                            })
                            .collect(),
                    };
                    match client.put_events(&req) {
                        Ok(()) => acked.lock().unwrap().extend(ids),
                        Err(ClientError::Api(e)) => {
                            api_errors.lock().unwrap().push(e.to_string());
                            return;
                        }
                        Err(_) => {
                            // The server is gone.
                            transport_errors.fetch_add(1, Ordering::Relaxed);
                            return;
                        }
                    }
                }
            });
        }
        wait_until(Duration::from_secs(60), "400 acknowledged events", || {
            acked.lock().unwrap().len() >= 400
        });
        fx.server.kill();
    });
    let acked = acked.into_inner().unwrap();
    let api_errors = api_errors.into_inner().unwrap();
    assert!(api_errors.is_empty(), "{api_errors:?}");
    assert_eq!(transport_errors.load(Ordering::Relaxed), THREADS as u64);

    // The server restarts on the crashed data and accepts events again.
    fx.crash_and_restart();
    fx.client
        .put_events(&PutEventsRequest {
            tracking_id: fx.t.tracking_id.clone(),
            session_id: "after".into(),
            user_id: Some("after-crash".into()),
            event_list: vec![Event {
                event_id: Some("after-crash".into()),
                ..event("click", "i1")
            }],
        })
        .unwrap();

    // Every acknowledged event is in the log, once.
    let ds = fx
        .store()
        .dataset(GROUP, DatasetType::Interactions)
        .unwrap();
    let mut stored = HashSet::new();
    let mut per_user: std::collections::HashMap<String, Vec<String>> = Default::default();
    log::read(&ds, |e| {
        if let Some(id) = e.event_id {
            assert!(stored.insert(id.to_owned()), "event {id} stored twice");
        }
        if let (Some(Avro::String(u)), Some(Avro::String(i))) = (e.values.first(), e.values.get(1))
        {
            per_user.entry(u.clone()).or_default().push(i.clone());
        }
        Ok(())
    })
    .unwrap();
    let lost: Vec<&String> = acked.iter().filter(|id| !stored.contains(*id)).collect();
    assert!(
        lost.is_empty(),
        "{} acknowledged events lost: {lost:?}",
        lost.len()
    );
    assert!(stored.contains("after-crash"));
    eprintln!(
        "crash: {} events acknowledged before SIGKILL, {} stored (unacknowledged calls may be \
         stored too), none lost",
        acked.len(),
        stored.len() - 1
    );

    // The real-time state was rebuilt from the log: a user's last 50 events count.
    let model = fx.model(&fx.t.rank_v1);
    let w = model.event_weight("click");
    let history = &per_user["crash-u0"];
    let recent: Vec<(&str, f32)> = history[history.len().saturating_sub(50)..]
        .iter()
        .map(|i| (i.as_str(), w))
        .collect();
    let input = items(1, 60);
    assert_eq!(
        ranking(&fx.client, &fx.campaigns.rank, "crash-u0", &input),
        local_order(&model, "crash-u0", &recent, &input)
    );
}
