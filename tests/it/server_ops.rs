//! The server's operational surface over a real socket: `/health`, `/metrics` after traffic,
//! request ids and error headers, routing errors, control-plane errors and the API key.

use std::collections::HashSet;

use attune::client::{Client, ErrorKind};
use serde_json::json;

use crate::server::{assert_client_error, assert_error, items, Fixture};

#[test]
fn health_metrics_request_ids_and_routing() {
    let fx = Fixture::start();
    fx.client.health().unwrap();
    let health = fx.client.request("GET", "/health", &[], b"").unwrap();
    assert_eq!((health.status, health.text().as_str()), (200, "ok"));

    // Traffic: 3 rankings, a ranking for an unknown campaign, a PutEvents call of 2 events.
    let mut request_ids = HashSet::new();
    for user in ["u1", "u2", "u3"] {
        let body = json!({"campaignArn": fx.campaigns.rank, "userId": user,
                          "inputList": items(1, 10)});
        let r = fx.post("/personalize-ranking", body.to_string().as_bytes());
        assert_eq!(r.status, 200);
        request_ids.insert(r.header("x-amzn-RequestId").unwrap().to_owned());
    }
    let missing = json!({"campaignArn": "arn:aws:personalize:us-east-1:000000000000:campaign/x",
                         "userId": "u1", "inputList": ["i1"]});
    let r = fx.post("/personalize-ranking", missing.to_string().as_bytes());
    assert_error(&r, 404, "ResourceNotFoundException", "campaign/x");
    request_ids.insert(r.header("x-amzn-RequestId").unwrap().to_owned());
    let events = json!({"trackingId": fx.t.tracking_id, "sessionId": "s", "userId": "u1",
                        "eventList": [{"eventType": "view", "itemId": "i1", "sentAt": 1.8e9},
                                      {"eventType": "view", "itemId": "i2", "sentAt": 1.8e9}]});
    let r = fx.post("/events", events.to_string().as_bytes());
    assert_eq!(r.status, 200, "{}", r.text());
    request_ids.insert(r.header("x-amzn-RequestId").unwrap().to_owned());
    assert_eq!(request_ids.len(), 5, "request ids are unique");

    let metrics = fx.client.metrics().unwrap();
    let v1 = &fx.t.rank_v1;
    for line in [
        "attune_http_requests_total{route=\"personalize-ranking\",campaign=\"rank\"} 3".to_owned(),
        "attune_http_errors_total{route=\"personalize-ranking\",campaign=\"rank\",class=\"4xx\"} 0"
            .to_owned(),
        "attune_http_errors_total{route=\"personalize-ranking\",class=\"4xx\"} 1".to_owned(),
        "attune_http_request_duration_seconds_count{route=\"personalize-ranking\",campaign=\"rank\"} 3"
            .to_owned(),
        "attune_http_requests_total{route=\"events\"} 1".to_owned(),
        "attune_events_accepted_total{operation=\"PutEvents\"} 2".to_owned(),
        "attune_model_versions_loaded 3".to_owned(),
        format!("attune_campaign_model_info{{campaign=\"rank\",solution_version=\"{v1}\"}} 1"),
        "attune_realtime_users{dataset_group=\"shop\"} 1".to_owned(),
    ] {
        assert!(
            metrics.lines().any(|l| l == line),
            "/metrics lacks {line}:\n{metrics}"
        );
    }
    assert!(metrics.contains("# TYPE attune_http_request_duration_seconds histogram"));

    // Routing: unknown paths, wrong methods, unknown or missing operations.
    let r = fx.client.request("GET", "/nope", &[], b"").unwrap();
    assert_eq!(r.status, 404);
    assert!(r.header("x-amzn-ErrorType").is_some());
    let r = fx
        .client
        .request("GET", "/personalize-ranking", &[], b"")
        .unwrap();
    assert_eq!(r.status, 405);
    let r = fx
        .client
        .request(
            "POST",
            "/",
            &[("X-Amz-Target", "AmazonPersonalize.DoSomethingElse")],
            b"{}",
        )
        .unwrap();
    assert_eq!(r.status, 400);
    assert_eq!(
        r.header("x-amzn-ErrorType"),
        Some("UnknownOperationException")
    );
    assert_eq!(r.header("content-type"), Some("application/x-amz-json-1.1"));
    assert_client_error(
        fx.client.control("DoSomethingElse", &json!({})),
        ErrorKind::UnknownOperation,
        "DoSomethingElse",
    );
    // The control plane answers ResourceNotFound with 400 (awsJson), unlike the runtime.
    let err = fx
        .client
        .control(
            "DescribeCampaign",
            &json!({"campaignArn": "arn:aws:personalize:us-east-1:000000000000:campaign/x"}),
        )
        .unwrap_err();
    let api = err.api().unwrap();
    assert_eq!((api.status, api.kind()), (400, ErrorKind::ResourceNotFound));
    assert!(api.request_id.is_some());
    let listed = fx.client.control("ListCampaigns", &json!({})).unwrap();
    assert_eq!(listed["campaigns"].as_array().unwrap().len(), 3);
}

#[test]
fn an_api_key_is_required_when_configured() {
    let key = "s3cret-key";
    let fx = Fixture::start_with(&["--api-key", key]);
    let anonymous = Client::new(&fx.server.base_url()).unwrap();
    let wrong = Client::new(&fx.server.base_url())
        .unwrap()
        .with_api_key("wrong-key");
    for client in [&anonymous, &wrong] {
        assert_client_error(
            client.get_personalized_ranking(&fx.campaigns.rank, "u1", &["i1"], None),
            ErrorKind::AccessDenied,
            "API key",
        );
        assert_client_error(
            client.control("ListCampaigns", &json!({})),
            ErrorKind::AccessDenied,
            "API key",
        );
        let r = client
            .request(
                "POST",
                "/events",
                &[("Content-Type", "application/json")],
                b"{}",
            )
            .unwrap();
        assert_eq!(r.status, 403);
    }
    // `Authorization: Bearer` (the client) and `x-api-key` both work.
    fx.client
        .get_personalized_ranking(&fx.campaigns.rank, "u1", &["i1"], None)
        .unwrap();
    let body = json!({"campaignArn": fx.campaigns.rank, "userId": "u1", "inputList": ["i1"]});
    let r = anonymous
        .request(
            "POST",
            "/personalize-ranking",
            &[("Content-Type", "application/json"), ("x-api-key", key)],
            body.to_string().as_bytes(),
        )
        .unwrap();
    assert_eq!(r.status, 200, "{}", r.text());
}
