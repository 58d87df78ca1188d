//! The async client (`attune::client::AsyncClient`) against a real `attune serve` over real
//! sockets: the blocking client's cases (every call, AWS error names with status and request
//! id, the API key), agreement with the blocking client, many concurrent calls on one pool, and
//! a server that has gone away. Retries on throttling and 5xx are tested in the SDK against a
//! scripted socket (the real server never throttles nor fails on demand).

use attune::api::{Event, GetRecommendationsRequest, Item, PutEventsRequest, PutItemsRequest};
use attune::client::{AsyncClient, ClientError, ErrorKind, RetryPolicy};
use serde_json::json;

use crate::server::{items, order, Fixture};

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

#[track_caller]
fn assert_kind<T: std::fmt::Debug>(result: Result<T, ClientError>, kind: ErrorKind, needle: &str) {
    let err = result.expect_err("the call should fail");
    assert_eq!(err.kind(), kind, "{err}");
    assert!(err.to_string().contains(needle), "{err} lacks {needle:?}");
}

#[test]
fn the_async_client_makes_every_call_of_the_blocking_one() {
    let key = "async-key-1";
    let fx = Fixture::start_with(&["--api-key", key]);
    let url = fx.server.base_url();
    let t = fx.t;
    let input = items(1, 40);
    runtime().block_on(async {
        let client = AsyncClient::new(&url).unwrap().with_api_key(key);
        client.health().await.unwrap();

        // The same answers as the blocking client.
        let ranking = client
            .get_personalized_ranking(&fx.campaigns.rank, "u5", &input, None)
            .await
            .unwrap();
        let blocking = fx
            .client
            .get_personalized_ranking(&fx.campaigns.rank, "u5", &input, None)
            .unwrap();
        assert_eq!(
            order(&ranking.personalized_ranking),
            order(&blocking.personalized_ranking)
        );
        assert!(ranking.recommendation_id.starts_with("RID-"));
        let similar = GetRecommendationsRequest {
            campaign_arn: Some(fx.campaigns.sims.clone()),
            item_id: Some("i7".into()),
            num_results: Some(10),
            ..Default::default()
        };
        let got = client.get_recommendations(&similar).await.unwrap();
        assert_eq!(got.item_list.len(), 10);
        assert_eq!(
            order(&got.item_list),
            order(&fx.client.get_recommendations(&similar).unwrap().item_list)
        );

        // Events and items.
        client
            .put_events(&PutEventsRequest {
                tracking_id: t.tracking_id.clone(),
                session_id: "s-async".into(),
                user_id: Some("u5".into()),
                event_list: vec![Event {
                    event_type: "click".into(),
                    item_id: Some("i3".into()),
                    sent_at: 1_700_000_000.0,
                    ..Event::default()
                }],
            })
            .await
            .unwrap();
        let properties = json!({"genres": "Toys", "price": 3.5, "brand": "Acme",
                                "creationTimestamp": 1_700_000_000, "title": "Async kite"});
        client
            .put_items(&PutItemsRequest {
                dataset_arn: t.items_arn.clone(),
                items: vec![Item {
                    item_id: "async-item".into(),
                    properties: Some(properties.to_string()),
                }],
            })
            .await
            .unwrap();

        // The control plane and the server's own routes.
        let described = client
            .control(
                "DescribeCampaign",
                &json!({ "campaignArn": fx.campaigns.rank }),
            )
            .await
            .unwrap();
        assert_eq!(described["campaign"]["status"], "ACTIVE");
        let metrics = client.metrics().await.unwrap();
        assert!(metrics.contains("personalize-ranking"), "{metrics}");

        // AWS errors: name, status, request id, message; converted into the SDK's Error.
        let missing = format!("{}-missing", fx.campaigns.rank);
        let err = client
            .get_personalized_ranking(&missing, "u5", &input, None)
            .await
            .unwrap_err();
        let api = err.api().unwrap();
        assert_eq!((api.status, api.kind()), (404, ErrorKind::ResourceNotFound));
        assert!(api.request_id.as_deref().is_some_and(|r| !r.is_empty()));
        assert!(matches!(
            attune::Error::from(err),
            attune::Error::NotFound { .. }
        ));
        assert_kind(
            client
                .get_personalized_ranking(&fx.campaigns.rank, "u5", &[] as &[&str], None)
                .await,
            ErrorKind::InvalidInput,
            "inputList",
        );
        assert_kind(
            client.control("DoSomethingElse", &json!({})).await,
            ErrorKind::UnknownOperation,
            "DoSomethingElse",
        );
        let err = client
            .control(
                "DescribeCampaign",
                &json!({"campaignArn": "arn:aws:personalize:us-east-1:000000000000:campaign/x"}),
            )
            .await
            .unwrap_err();
        assert_eq!(
            (err.api().unwrap().status, err.kind()),
            (400, ErrorKind::ResourceNotFound)
        );

        // The API key: missing or wrong is AccessDenied (and not retried).
        for stranger in [
            AsyncClient::new(&url).unwrap(),
            AsyncClient::new(&url).unwrap().with_api_key("wrong-key"),
        ] {
            assert_kind(
                stranger
                    .get_personalized_ranking(&fx.campaigns.rank, "u5", &input, None)
                    .await,
                ErrorKind::AccessDenied,
                "API key",
            );
            let raw = stranger
                .request(
                    "POST",
                    "/events",
                    &[("content-type", "application/json")],
                    "{}",
                )
                .await
                .unwrap();
            assert_eq!(raw.status, 403);
            assert_eq!(
                raw.header("x-amzn-ErrorType"),
                Some("AccessDeniedException")
            );
        }
    });
}

#[test]
fn one_async_client_serves_many_concurrent_calls_and_reports_a_dead_server() {
    let mut fx = Fixture::start();
    let url = fx.server.base_url();
    let campaign = fx.campaigns.rank.clone();
    let input = items(1, 50);
    let expected = order(
        &fx.client
            .get_personalized_ranking(&campaign, "u9", &input, None)
            .unwrap()
            .personalized_ranking,
    );
    let rt = runtime();
    let client = AsyncClient::new(&url).unwrap();
    rt.block_on(async {
        let calls: Vec<_> = (0..200)
            .map(|_| {
                let (client, campaign, input) = (client.clone(), campaign.clone(), input.clone());
                tokio::spawn(async move {
                    client
                        .get_personalized_ranking(&campaign, "u9", &input, None)
                        .await
                })
            })
            .collect();
        for call in calls {
            let got = call.await.unwrap().unwrap();
            assert_eq!(order(&got.personalized_ranking), expected);
        }
    });
    // The pool keeps at most 32 idle connections open (plus the blocking client's one), and
    // keeps them: the server still counts them open.
    let open = || -> u64 {
        let metrics = fx.client.metrics().unwrap();
        metrics
            .lines()
            .find_map(|l| l.strip_prefix("attune_http_connections "))
            .map_or(0, |v| v.trim().parse().unwrap())
    };
    tests::wait_until(
        std::time::Duration::from_secs(10),
        "surplus connections to close",
        || open() <= 33,
    );
    assert!(open() >= 2, "the async client kept no connection alive");

    fx.server.kill();
    rt.block_on(async {
        let client = client.with_retry(RetryPolicy {
            max_attempts: 2,
            base_delay: std::time::Duration::from_millis(10),
            ..RetryPolicy::default()
        });
        let err = client.health().await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Transport, "{err}");
        assert!(err.to_string().contains(&url), "{err}");
    });
}
