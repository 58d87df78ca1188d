//! In-process tests of the server: requests go through [`crate::app`] (the same service a
//! connection uses) against a real store in a temporary directory, with small hand-built models
//! written as solution versions.

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use attune::model::{foldin, Body, IdTable, Model, ModelHeader, Recipe};
use attune::store::campaigns::CampaignConfig;
use attune::store::solutions::{SolutionConfig, SolutionVersionInfo};
use attune::{DatasetType, Store};
use bytes::Bytes;
use http::{Request, Response, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper::body::Frame;
use hyper::service::Service;
use serde_json::{json, Value};

use crate::config::{Config, RawConfig};
use crate::state::AppState;

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
    { "name": "GENRES", "type": ["null", "string"], "categorical": true },
    { "name": "TITLE", "type": ["null", "string"] }
  ],
  "version": "1.0"
}"#;

pub(crate) const RANK: &str = "arn:aws:personalize:local:000000000000:campaign/rank";
pub(crate) const SIM: &str = "arn:aws:personalize:local:000000000000:campaign/sim";
pub(crate) const POP: &str = "arn:aws:personalize:local:000000000000:campaign/pop";
const ITEMS_ARN: &str = "arn:aws:personalize:local:000000000000:dataset/g/ITEMS";

/// Items i0..i3 in 2-D: i0, i1 along x; i2, i3 along y. User "a" likes x, "b" likes y.
fn factor_model(trained_at: f64, flip: bool) -> Model {
    let items = if flip {
        vec![0.0, 1.0, 0.1, 0.9, 1.0, 0.0, 0.9, 0.1]
    } else {
        vec![1.0, 0.0, 0.9, 0.1, 0.0, 1.0, 0.1, 0.9]
    };
    let gram = foldin::gram(&items, 2);
    Model {
        header: header(Recipe::PersonalizedRanking, "ials", trained_at),
        items: IdTable::new(&["i0", "i1", "i2", "i3"]),
        users: IdTable::new(&["a", "b"]),
        popularity: vec![1, 5, 3, 2],
        popular_order: vec![1, 2, 3, 0],
        hist_indptr: vec![0, 1, 2],
        hist_items: vec![0, 2],
        hist_weights: vec![1.0, 1.0],
        body: Body::Factors {
            d: 2,
            users: vec![1.0, 0.0, 0.0, 1.0],
            items,
            gram,
            regularization: 0.1,
            alpha: 10.0,
        },
    }
}

fn header(recipe: Recipe, algorithm: &str, trained_at: f64) -> ModelHeader {
    ModelHeader {
        recipe,
        algorithm: algorithm.into(),
        hyperparameters: BTreeMap::new(),
        event_type_weights: BTreeMap::from([("click".to_owned(), 1.0)]),
        default_event_weight: 1.0,
        interactions: 4,
        trained_at,
    }
}

fn neighbour_model(recipe: Recipe, trained_at: f64) -> Model {
    let mut m = factor_model(trained_at, false);
    m.header = header(
        recipe,
        if recipe == Recipe::SimilarItems {
            "sims"
        } else {
            "popularity"
        },
        trained_at,
    );
    m.body = if recipe == Recipe::SimilarItems {
        // i0 <-> i1, i2 <-> i3.
        Body::Neighbours {
            indptr: vec![0, 1, 2, 3, 4],
            items: vec![1, 0, 3, 2],
            scores: vec![0.9, 0.9, 0.8, 0.8],
        }
    } else {
        Body::Popularity
    };
    m
}

/// Writes an ACTIVE solution version with a model, as training would.
pub(crate) fn write_version(
    store: &Store,
    solution: &str,
    id: &str,
    model: &Model,
    at: f64,
) -> String {
    let s = store.solution(solution).unwrap();
    let dir = store
        .root()
        .join("solutions")
        .join(solution)
        .join("versions")
        .join(id);
    std::fs::create_dir_all(&dir).unwrap();
    model.save(&dir.join("model.bin")).unwrap();
    let v = SolutionVersionInfo {
        solution_version_arn: format!("{}/{id}", s.solution_arn),
        solution_arn: s.solution_arn.clone(),
        dataset_group_arn: s.dataset_group_arn.clone(),
        recipe_arn: s.recipe_arn.clone(),
        event_type: None,
        solution_config: SolutionConfig::default(),
        training_mode: "FULL".into(),
        training_type: "MANUAL".into(),
        status: attune::store::Status::Active,
        failure_reason: None,
        training_hours: 0.0,
        creation_date_time: at,
        last_updated_date_time: at,
        tuned_hpo_params: None,
    };
    std::fs::write(dir.join("version.json"), serde_json::to_vec(&v).unwrap()).unwrap();
    v.solution_version_arn
}

/// A store with dataset group `g` (Interactions, Items with i0..i3), an event tracker and three
/// campaigns: `rank` (metadata enabled), `sim`, `pop`.
pub(crate) struct Fixture {
    pub dir: tempfile::TempDir,
    pub store: Store,
    pub tracking_id: String,
}

pub(crate) fn now() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64()
}

pub(crate) fn fixture() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path().join("data")).unwrap();
    store.create_dataset_group("g", None).unwrap();
    store.create_schema("si", INTERACTIONS, None).unwrap();
    store.create_schema("sitems", ITEMS, None).unwrap();
    store
        .create_dataset("g", DatasetType::Interactions, "di", "si")
        .unwrap();
    store
        .create_dataset("g", DatasetType::Items, "ditems", "sitems")
        .unwrap();
    let tracker = store.create_event_tracker("g", "t").unwrap();
    // Items through the PUT log (what PutItems writes), so the catalog has them.
    let recorder = attune::events::Recorder::new(store.clone());
    recorder
        .put_items(&attune::events::PutItemsRequest {
            dataset_arn: ITEMS_ARN.into(),
            items: [
                "i0:Action:Zero",
                "i1:Action|Comedy:One",
                "i2:Drama:Two",
                "i3:Drama:Three",
            ]
            .iter()
            .map(|s| {
                let p: Vec<&str> = s.split(':').collect();
                attune::events::Item {
                    item_id: p[0].into(),
                    properties: Some(json!({"genres": p[1], "title": p[2]}).to_string()),
                }
            })
            .collect(),
        })
        .unwrap();
    drop(recorder);
    let trained = now() - 60.0;
    for (name, recipe) in [
        ("rank", Recipe::PersonalizedRanking),
        ("sim", Recipe::SimilarItems),
        ("pop", Recipe::PopularityCount),
    ] {
        store
            .create_solution(name, "g", recipe, None, SolutionConfig::default())
            .unwrap();
        let model = match recipe {
            Recipe::PersonalizedRanking => factor_model(trained, false),
            r => neighbour_model(r, trained),
        };
        let v = write_version(&store, name, "v1", &model, 1.0);
        let config = CampaignConfig {
            enable_metadata_with_recommendations: name != "pop",
            ..CampaignConfig::default()
        };
        store.create_campaign(name, &v, None, config).unwrap();
    }
    Fixture {
        dir,
        store,
        tracking_id: tracker.tracking_id,
    }
}

impl Fixture {
    pub fn config(&self) -> Config {
        Config::for_data_dir(self.dir.path().join("data"))
    }

    pub fn state_with(&self, config: Config) -> Arc<AppState> {
        let state = AppState::open(config).unwrap();
        state.reload_campaigns().unwrap();
        Arc::new(state)
    }

    pub fn state(&self) -> Arc<AppState> {
        self.state_with(self.config())
    }
}

/// A response, read.
#[derive(Debug)]
pub(crate) struct Reply {
    pub status: StatusCode,
    pub headers: http::HeaderMap,
    pub body: Bytes,
}

impl Reply {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {:?}", self.body))
    }

    pub fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .map(|v| v.to_str().unwrap())
            .unwrap_or("")
    }

    /// Asserts an AWS-shaped error.
    #[track_caller]
    pub fn assert_error(&self, status: u16, kind: &str, needle: &str) {
        assert_eq!(self.status.as_u16(), status, "{:?}", self.body);
        let body = self.json();
        assert_eq!(body["__type"], kind, "{body}");
        assert_eq!(self.header("x-amzn-errortype"), kind);
        let message = body["message"].as_str().unwrap();
        assert!(message.contains(needle), "{message:?} lacks {needle:?}");
        assert!(!self.header("x-amzn-requestid").is_empty());
    }

    #[track_caller]
    pub fn assert_ok(&self) -> &Self {
        assert_eq!(self.status, StatusCode::OK, "{:?}", self.body);
        assert!(!self.header("x-amzn-requestid").is_empty());
        self
    }
}

async fn read(resp: Response<Full<Bytes>>) -> Reply {
    let (parts, body) = resp.into_parts();
    Reply {
        status: parts.status,
        headers: parts.headers,
        body: body.collect().await.unwrap().to_bytes(),
    }
}

pub(crate) async fn call(state: &Arc<AppState>, req: Request<Full<Bytes>>) -> Reply {
    let svc = crate::app::<Full<Bytes>>(Arc::clone(state));
    read(svc.call(req).await.unwrap()).await
}

pub(crate) async fn post(state: &Arc<AppState>, path: &str, body: impl Into<Bytes>) -> Reply {
    let req = Request::post(path)
        .header("content-type", "application/json")
        .body(Full::new(body.into()))
        .unwrap();
    call(state, req).await
}

pub(crate) async fn post_json(state: &Arc<AppState>, path: &str, body: Value) -> Reply {
    post(state, path, body.to_string()).await
}

async fn get(state: &Arc<AppState>, path: &str) -> Reply {
    call(state, Request::get(path).body(Full::default()).unwrap()).await
}

fn ranked_ids(reply: &Reply) -> Vec<String> {
    reply.json()["personalizedRanking"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["itemId"].as_str().unwrap().to_owned())
        .collect()
}

fn listed_ids(reply: &Reply) -> Vec<String> {
    reply.json()["itemList"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["itemId"].as_str().unwrap().to_owned())
        .collect()
}

async fn rank(state: &Arc<AppState>, user: &str, items: &[&str]) -> Reply {
    post_json(
        state,
        "/personalize-ranking",
        json!({"campaignArn": RANK, "userId": user, "inputList": items}),
    )
    .await
}

// ---------------------------------------------------------------------------------------------
// Routing and error shapes

#[tokio::test]
async fn health_metrics_and_unknown_routes() {
    let f = fixture();
    let s = f.state();
    let r = get(&s, "/health").await;
    r.assert_ok();
    assert_eq!(&r.body[..], b"ok");
    let r = get(&s, "/metrics").await;
    r.assert_ok();
    let text = String::from_utf8(r.body.to_vec()).unwrap();
    assert!(text.contains("attune_model_versions_loaded 3"), "{text}");
    assert!(
        text.contains("attune_http_requests_total{route=\"health\"} 1"),
        "{text}"
    );

    get(&s, "/nope")
        .await
        .assert_error(404, "UnknownOperationException", "GET /nope");
    get(&s, "/events")
        .await
        .assert_error(405, "UnknownOperationException", "POST");
    post(&s, "/", "{}")
        .await
        .assert_error(400, "UnknownOperationException", "X-Amz-Target");
    let bad_target = Request::post("/")
        .header("x-amz-target", "Other.Thing")
        .body(Full::new(Bytes::from_static(b"{}")))
        .unwrap();
    let r = call(&s, bad_target).await;
    r.assert_error(400, "UnknownOperationException", "Other.Thing");
    assert_eq!(r.header("content-type"), "application/x-amz-json-1.1");
}

#[tokio::test]
async fn control_plane_goes_through_dispatch() {
    let f = fixture();
    let s = f.state();
    let req = Request::post("/")
        .header("x-amz-target", "AmazonPersonalize.NoSuchOperation")
        .header("content-type", "application/x-amz-json-1.1")
        .body(Full::new(Bytes::from_static(b"{}")))
        .unwrap();
    let r = call(&s, req).await;
    r.assert_error(400, "UnknownOperationException", "NoSuchOperation");
    assert_eq!(r.header("content-type"), "application/x-amz-json-1.1");
}

#[tokio::test]
async fn api_key_guards_every_route() {
    let f = fixture();
    let mut config = f.config();
    config.api_key = Some("s3cret-key".into());
    let s = f.state_with(config);
    get(&s, "/health")
        .await
        .assert_error(403, "AccessDeniedException", "API key");
    let with = |name: &str, value: &str| {
        Request::get("/health")
            .header(name, value)
            .body(Full::default())
            .unwrap()
    };
    call(&s, with("authorization", "Bearer s3cret-key"))
        .await
        .assert_ok();
    call(&s, with("x-api-key", "s3cret-key")).await.assert_ok();
    call(&s, with("x-api-key", "s3cret-kez"))
        .await
        .assert_error(403, "AccessDeniedException", "API key");
    call(
        &s,
        with(
            "authorization",
            "AWS4-HMAC-SHA256 Credential=AKID/20240501/us-west-2/personalize/aws4_request",
        ),
    )
    .await
    .assert_error(403, "AccessDeniedException", "API key");
    rank(&s, "a", &["i0"])
        .await
        .assert_error(403, "AccessDeniedException", "API key");
}

#[tokio::test]
async fn sigv4_headers_are_accepted_without_a_key() {
    let f = fixture();
    let s = f.state();
    let req = Request::post("/personalize-ranking")
        .header(
            "authorization",
            "AWS4-HMAC-SHA256 Credential=AKID/20240501/us-west-2/personalize/aws4_request, \
             SignedHeaders=content-type;host;x-amz-date, Signature=abc",
        )
        .body(Full::new(Bytes::from(
            json!({"campaignArn": RANK, "userId": "a", "inputList": ["i0"]}).to_string(),
        )))
        .unwrap();
    call(&s, req).await.assert_ok();
}

#[tokio::test]
async fn oversized_bodies_are_refused() {
    let f = fixture();
    let mut config = f.config();
    config.max_body_bytes = 1024;
    let s = f.state_with(config);
    post(&s, "/events", vec![b' '; 2000]).await.assert_error(
        413,
        "RequestEntityTooLargeException",
        "over the limit of 1024 bytes",
    );
    let declared = Request::post("/events")
        .header("content-length", "2000")
        .body(Full::new(Bytes::from(vec![b' '; 2000])))
        .unwrap();
    call(&s, declared).await.assert_error(
        413,
        "RequestEntityTooLargeException",
        "the request body is 2000 bytes; the limit is 1024 bytes",
    );
}

/// A body that never delivers.
struct Stalled;

impl hyper::body::Body for Stalled {
    type Data = Bytes;
    type Error = Infallible;
    fn poll_frame(
        self: Pin<&mut Self>,
        _: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        Poll::Pending
    }
}

#[tokio::test(start_paused = true)]
async fn slow_requests_time_out() {
    let f = fixture();
    let mut config = f.config();
    config.request_timeout = std::time::Duration::from_millis(200);
    let s = f.state_with(config);
    let svc = crate::app::<Stalled>(Arc::clone(&s));
    let resp = svc
        .call(Request::post("/events").body(Stalled).unwrap())
        .await
        .unwrap();
    read(resp)
        .await
        .assert_error(408, "RequestTimeoutException", "200 ms");
}

// ---------------------------------------------------------------------------------------------
// GetPersonalizedRanking

#[tokio::test]
async fn ranking_scores_sum_to_one_and_unknown_items_come_last() {
    let f = fixture();
    let s = f.state();
    let r = rank(&s, "a", &["i3", "new", "i1", "i0", "i2", "i0"]).await;
    r.assert_ok();
    assert_eq!(r.header("content-type"), "application/json");
    assert_eq!(ranked_ids(&r), ["i0", "i1", "i3", "i2", "new"]);
    let body = r.json();
    let list = body["personalizedRanking"].as_array().unwrap();
    let sum: f64 = list.iter().filter_map(|i| i["score"].as_f64()).sum();
    assert!((sum - 1.0).abs() < 1e-6, "{sum}");
    assert!(list[4].get("score").is_none());
    let rid = body["recommendationId"].as_str().unwrap();
    assert!(rid.starts_with("RID-") && rid.len() <= 40, "{rid}");
    // An unknown user without events: popularity order.
    assert_eq!(
        ranked_ids(&rank(&s, "stranger", &["i0", "i3", "i2", "i1"]).await),
        ["i1", "i2", "i3", "i0"]
    );
}

#[tokio::test]
async fn ranking_limits() {
    let f = fixture();
    let s = f.state();
    let items: Vec<String> = (0..501).map(|i| format!("x{i}")).collect();
    let r = post_json(
        &s,
        "/personalize-ranking",
        json!({"campaignArn": RANK, "userId": "a", "inputList": items}),
    )
    .await;
    r.assert_error(
        400,
        "InvalidInputException",
        "inputList: must have 1-500 items, found 501",
    );
    post_json(
        &s,
        "/personalize-ranking",
        json!({"campaignArn": RANK, "userId": "a", "inputList": items[..500]}),
    )
    .await
    .assert_ok();
    post_json(
        &s,
        "/personalize-ranking",
        json!({"campaignArn": RANK, "userId": "a", "inputList": items[..51], "metadataColumns": {"ITEMS": ["TITLE"]}}),
    )
    .await
    .assert_error(400, "InvalidInputException", "1-50 items with metadataColumns");
    rank(&s, "a", &[]).await.assert_error(
        400,
        "InvalidInputException",
        "inputList: must have 1-500",
    );
    let long = "x".repeat(257);
    rank(&s, &long, &["i0"]).await.assert_error(
        400,
        "InvalidInputException",
        "userId: must have 1-256 characters, found 257",
    );
    rank(&s, "a", &["i0", &long]).await.assert_error(
        400,
        "InvalidInputException",
        "inputList[1]: must have 1-256",
    );
    post_json(
        &s,
        "/personalize-ranking",
        json!({"campaignArn": RANK, "inputList": ["i0"]}),
    )
    .await
    .assert_error(400, "InvalidInputException", "userId: required");
    post_json(
        &s,
        "/personalize-ranking",
        json!({"userId": "a", "inputList": ["i0"]}),
    )
    .await
    .assert_error(400, "InvalidInputException", "campaignArn: required");
    post_json(
        &s,
        "/personalize-ranking",
        json!({"campaignArn": "rank", "userId": "a", "inputList": ["i0"]}),
    )
    .await
    .assert_error(400, "InvalidInputException", "not a Personalize ARN");
    post_json(
        &s,
        "/personalize-ranking",
        json!({"campaignArn": "arn:aws:personalize:local:000000000000:campaign/gone", "userId": "a", "inputList": ["i0"]}),
    )
    .await
    .assert_error(404, "ResourceNotFoundException", "campaign/gone");
    let context: serde_json::Map<String, Value> =
        (0..151).map(|i| (format!("K{i}"), json!("v"))).collect();
    post_json(
        &s,
        "/personalize-ranking",
        json!({"campaignArn": RANK, "userId": "a", "inputList": ["i0"], "context": context}),
    )
    .await
    .assert_error(400, "InvalidInputException", "context: at most 150 entries");
    post_json(&s, "/personalize-ranking", json!({"campaignArn": RANK, "userId": "a", "inputList": ["i0"], "context": {"DEVICE": "x".repeat(1001)}}))
        .await
        .assert_error(400, "InvalidInputException", "context.DEVICE: must have 0-1000");
    post_json(&s, "/personalize-ranking", json!({"campaignArn": RANK, "userId": "a", "inputList": ["i0"], "context": {"DEVICE": "mobile"}}))
        .await
        .assert_ok();
    let values: serde_json::Map<String, Value> =
        (0..26).map(|i| (format!("V{i}"), json!("\"x\""))).collect();
    post_json(
        &s,
        "/personalize-ranking",
        json!({"campaignArn": RANK, "userId": "a", "inputList": ["i0"], "filterValues": values}),
    )
    .await
    .assert_error(400, "InvalidInputException", "filterValues: at most 25");
    post_json(&s, "/personalize-ranking", json!({"campaignArn": RANK, "userId": "a", "inputList": ["i0"], "metadataColumns": {"ITEMS": ["A","B","C","D","E","F","G","H","I","J","K"]}}))
        .await
        .assert_error(400, "InvalidInputException", "at most 10 columns");
    post_json(&s, "/personalize-ranking", json!({"campaignArn": RANK, "userId": "a", "inputList": ["i0"], "metadataColumns": {"USERS": ["AGE"]}}))
        .await
        .assert_error(400, "InvalidInputException", "use ITEMS");
    post_json(
        &s,
        "/personalize-ranking",
        json!({"campaignArn": SIM, "userId": "a", "inputList": ["i0"]}),
    )
    .await
    .assert_error(
        400,
        "InvalidInputException",
        "needs a PERSONALIZED_RANKING campaign",
    );
    post(&s, "/personalize-ranking", r#"{"campaignArn": "#)
        .await
        .assert_error(400, "InvalidInputException", "line 1 column");
    // null members count as absent; unknown members are ignored.
    post_json(&s, "/personalize-ranking", json!({"campaignArn": RANK, "userId": "a", "inputList": ["i0"], "filterArn": null, "rankingInfluence": {"x": 1}}))
        .await
        .assert_ok();
}

#[tokio::test]
async fn ranking_returns_requested_metadata() {
    let f = fixture();
    let s = f.state();
    let r = post_json(
        &s,
        "/personalize-ranking",
        json!({"campaignArn": RANK, "userId": "a", "inputList": ["i0", "zz"], "metadataColumns": {"ITEMS": ["TITLE", "genres"]}}),
    )
    .await;
    r.assert_ok();
    let body = r.json();
    assert_eq!(
        body["personalizedRanking"][0]["metadata"],
        json!({"TITLE": "Zero", "genres": "Action"})
    );
    assert_eq!(body["personalizedRanking"][1]["metadata"], json!({}));
    post_json(
        &s,
        "/personalize-ranking",
        json!({"campaignArn": RANK, "userId": "a", "inputList": ["i0"], "metadataColumns": {"ITEMS": ["PRICE"]}}),
    )
    .await
    .assert_error(400, "InvalidInputException", "not a column of the Items schema (columns: GENRES, TITLE)");
}

// ---------------------------------------------------------------------------------------------
// Real time

async fn put_events(
    s: &Arc<AppState>,
    f: &Fixture,
    user: Option<&str>,
    session: &str,
    items: &[&str],
) -> Reply {
    let events: Vec<Value> = items
        .iter()
        .map(|i| json!({"eventType": "click", "itemId": i, "sentAt": 1714564800}))
        .collect();
    let mut body = json!({"trackingId": f.tracking_id, "sessionId": session, "eventList": events});
    if let Some(u) = user {
        body["userId"] = json!(u);
    }
    post_json(s, "/events", body).await
}

#[tokio::test]
async fn events_change_the_next_ranking_and_survive_a_restart() {
    let f = fixture();
    let s = f.state();
    let input = ["i0", "i1", "i2", "i3"];
    assert_eq!(ranked_ids(&rank(&s, "a", &input).await)[0], "i0");
    let r = put_events(&s, &f, Some("a"), "s1", &["i2", "i3", "i2", "i3"]).await;
    r.assert_ok();
    assert!(r.body.is_empty());
    let after = ranked_ids(&rank(&s, "a", &input).await);
    assert_ne!(after[0], "i0", "{after:?}");
    // An anonymous session, used as userId.
    put_events(&s, &f, None, "sess-9", &["i2", "i3"])
        .await
        .assert_ok();
    assert_eq!(
        ranked_ids(&rank(&s, "sess-9", &input).await)[..2],
        ["i2", "i3"]
    );
    assert_eq!(ranked_ids(&rank(&s, "other", &input).await)[0], "i1");
    // Restart: the cache is rebuilt from the event log.
    drop(s);
    let s = f.state();
    assert_eq!(ranked_ids(&rank(&s, "a", &input).await), after);
    assert_eq!(
        ranked_ids(&rank(&s, "sess-9", &input).await)[..2],
        ["i2", "i3"]
    );
    let text = String::from_utf8(get(&s, "/metrics").await.body.to_vec()).unwrap();
    assert!(
        text.contains("attune_realtime_users{dataset_group=\"g\"} 2"),
        "{text}"
    );
}

#[tokio::test]
async fn events_limits_and_errors() {
    let f = fixture();
    let s = f.state();
    let many: Vec<&str> = vec!["i0"; 11];
    put_events(&s, &f, Some("a"), "s", &many)
        .await
        .assert_error(400, "InvalidInputException", "eventList");
    post_json(&s, "/events", json!({"trackingId": "nope", "sessionId": "s", "eventList": [{"eventType": "click", "itemId": "i0", "sentAt": 1}]}))
        .await
        .assert_error(400, "InvalidInputException", "trackingId");
    post_json(&s, "/events", json!({"sessionId": "s", "eventList": []}))
        .await
        .assert_error(400, "InvalidInputException", "trackingId");
    post_json(&s, "/items", json!({"datasetArn": "arn:aws:personalize:local:000000000000:dataset/nope/ITEMS", "items": [{"itemId": "x"}]}))
        .await
        .assert_error(404, "ResourceNotFoundException", "nope");
    post_json(&s, "/users", json!({"datasetArn": "arn:aws:personalize:local:000000000000:dataset/g/USERS", "users": [{"userId": "x"}]}))
        .await
        .assert_error(404, "ResourceNotFoundException", "Users in dataset group g");
}

// ---------------------------------------------------------------------------------------------
// GetRecommendations

#[tokio::test]
async fn recommendations_by_recipe() {
    let f = fixture();
    let s = f.state();
    let r = post_json(
        &s,
        "/recommendations",
        json!({"campaignArn": SIM, "itemId": "i0", "numResults": 2}),
    )
    .await;
    r.assert_ok();
    assert_eq!(listed_ids(&r), ["i1", "i2"]);
    assert!(r.json()["itemList"][0].get("score").is_none());
    let r = post_json(
        &s,
        "/recommendations",
        json!({"campaignArn": POP, "userId": "a"}),
    )
    .await;
    r.assert_ok();
    assert_eq!(listed_ids(&r), ["i1", "i2", "i3", "i0"]);
    let r = post_json(
        &s,
        "/recommendations",
        json!({"campaignArn": POP, "numResults": 0}),
    )
    .await;
    assert!(listed_ids(r.assert_ok()).is_empty());
    post_json(
        &s,
        "/recommendations",
        json!({"campaignArn": RANK, "userId": "a"}),
    )
    .await
    .assert_error(400, "InvalidInputException", "use GetPersonalizedRanking");
    post_json(&s, "/recommendations", json!({"campaignArn": SIM}))
        .await
        .assert_error(400, "InvalidInputException", "itemId: required");
    post_json(
        &s,
        "/recommendations",
        json!({"campaignArn": POP, "numResults": 501}),
    )
    .await
    .assert_error(400, "InvalidInputException", "numResults: must be 0-500");
    post_json(
        &s,
        "/recommendations",
        json!({"campaignArn": POP, "numResults": -1}),
    )
    .await
    .assert_error(400, "InvalidInputException", "numResults");
    post_json(&s, "/recommendations", json!({"campaignArn": SIM, "itemId": "i0", "numResults": 51, "metadataColumns": {"ITEMS": ["TITLE"]}}))
        .await
        .assert_error(400, "InvalidInputException", "0-50 with metadataColumns");
    post_json(
        &s,
        "/recommendations",
        json!({"campaignArn": POP, "metadataColumns": {"ITEMS": ["TITLE"]}}),
    )
    .await
    .assert_error(
        400,
        "InvalidInputException",
        "enableMetadataWithRecommendations",
    );
    post_json(
        &s,
        "/recommendations",
        json!({"recommenderArn": "arn:aws:personalize:local:000000000000:recommender/r"}),
    )
    .await
    .assert_error(
        400,
        "InvalidInputException",
        "recommenders are not supported",
    );
    post_json(
        &s,
        "/recommendations",
        json!({"campaignArn": POP, "promotions": [{}, {}]}),
    )
    .await
    .assert_error(400, "InvalidInputException", "at most 1 promotion");
}

#[tokio::test]
async fn new_items_get_metadata_neighbours() {
    let f = fixture();
    let s = f.state();
    let r = post_json(
        &s,
        "/items",
        json!({"datasetArn": ITEMS_ARN, "items": [{"itemId": "fresh", "properties": json!({"genres": "Drama", "title": "Fresh"}).to_string()}]}),
    )
    .await;
    r.assert_ok();
    let r = post_json(
        &s,
        "/recommendations",
        json!({"campaignArn": SIM, "itemId": "fresh", "numResults": 3, "metadataColumns": {"ITEMS": ["GENRES"]}}),
    )
    .await;
    r.assert_ok();
    let body = r.json();
    let ids = listed_ids(&r);
    assert_eq!(ids[..2], ["i2", "i3"], "{body}");
    assert_eq!(body["itemList"][0]["metadata"], json!({"GENRES": "Drama"}));
    // The new item's own metadata is served too.
    let r = post_json(
        &s,
        "/personalize-ranking",
        json!({"campaignArn": RANK, "userId": "a", "inputList": ["fresh"], "metadataColumns": {"ITEMS": ["TITLE"]}}),
    )
    .await;
    assert_eq!(
        r.json()["personalizedRanking"][0]["metadata"],
        json!({"TITLE": "Fresh"})
    );
}

// ---------------------------------------------------------------------------------------------
// Campaign updates

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn updates_swap_the_model_without_failing_requests() {
    let f = fixture();
    let s = f.state();
    let flipped = write_version(
        &f.store,
        "rank",
        "v2",
        &factor_model(now() - 30.0, true),
        2.0,
    );
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let mut load = Vec::new();
    for _ in 0..4 {
        let (s, stop) = (Arc::clone(&s), Arc::clone(&stop));
        load.push(tokio::spawn(async move {
            let mut seen = std::collections::HashSet::new();
            let mut n = 0;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) || n < 20 {
                let r = rank(&s, "a", &["i0", "i1", "i2", "i3"]).await;
                r.assert_ok();
                seen.insert(ranked_ids(&r)[0].clone());
                n += 1;
                tokio::task::yield_now().await;
            }
            seen
        }));
    }
    let s2 = Arc::clone(&s);
    let store = f.store.clone();
    tokio::task::spawn_blocking(move || {
        store
            .update_campaign("rank", Some(flipped), None, None)
            .unwrap();
        s2.reload_campaigns().unwrap();
    })
    .await
    .unwrap();
    assert_eq!(
        ranked_ids(&rank(&s, "a", &["i0", "i1", "i2", "i3"]).await)[0],
        "i2"
    );
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    for l in load {
        let seen = l.await.unwrap();
        assert!(seen.iter().all(|i| i == "i0" || i == "i2"), "{seen:?}");
    }
    // Deleting the campaign stops serving it.
    let store = f.store.clone();
    let s2 = Arc::clone(&s);
    tokio::task::spawn_blocking(move || {
        store.delete_campaign("rank").unwrap();
        s2.reload_campaigns().unwrap();
    })
    .await
    .unwrap();
    rank(&s, "a", &["i0"])
        .await
        .assert_error(404, "ResourceNotFoundException", "campaign/rank");
}

#[tokio::test]
async fn latest_campaigns_follow_new_versions() {
    let f = fixture();
    let solution = f.store.solution("rank").unwrap().solution_arn;
    let config = CampaignConfig {
        sync_with_latest_solution_version: true,
        ..CampaignConfig::default()
    };
    f.store
        .create_campaign("follow", &format!("{solution}/$LATEST"), None, config)
        .unwrap();
    let s = f.state();
    let follow = "arn:aws:personalize:local:000000000000:campaign/follow";
    let body = json!({"campaignArn": follow, "userId": "a", "inputList": ["i0", "i2"]});
    assert_eq!(
        ranked_ids(&post_json(&s, "/personalize-ranking", body.clone()).await)[0],
        "i0"
    );
    write_version(
        &f.store,
        "rank",
        "v2",
        &factor_model(now() - 30.0, true),
        2.0,
    );
    s.reload_campaigns().unwrap();
    assert_eq!(
        ranked_ids(&post_json(&s, "/personalize-ranking", body).await)[0],
        "i2"
    );
}

// ---------------------------------------------------------------------------------------------
// Over a socket: run, serve and graceful shutdown

#[tokio::test]
async fn run_serves_until_shutdown() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let f = fixture();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(crate::run(listener, f.config(), async {
        let _ = rx.await;
    }));
    let mut conn = tokio::net::TcpStream::connect(addr).await.unwrap();
    let body = json!({"campaignArn": RANK, "userId": "a", "inputList": ["i0", "i2"]}).to_string();
    let req = format!(
        "POST /personalize-ranking HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    );
    conn.write_all(req.as_bytes()).await.unwrap();
    let mut text = String::new();
    conn.read_to_string(&mut text).await.unwrap();
    assert!(text.starts_with("HTTP/1.1 200"), "{text}");
    assert!(text.contains("personalizedRanking"), "{text}");
    tx.send(()).unwrap();
    server.await.unwrap().unwrap();
    assert!(tokio::net::TcpStream::connect(addr).await.is_err());
}

#[test]
fn config_from_file_and_flags() {
    let raw = RawConfig::from_toml("data_dir = \"d\"\nlisten = \"0.0.0.0:9\"").unwrap();
    let c = Config::from_raw(raw).unwrap();
    assert!(!c.listens_on_loopback());
}
