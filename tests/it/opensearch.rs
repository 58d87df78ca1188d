//! The OpenSearch endpoints over a real socket: `POST /opensearch/rerank` (the drop-in
//! processor's call, fed by the shipped pipeline's configuration and synthetic OpenSearch hits)
//! and the stock-route contract: exactly the body ML Commons renders from the shipped connector
//! template goes in, and what comes back is read the way `ml_inference` and `rerank` by_field
//! read it.

use attune::blend::{self, BlendedHit};
use attune::client::Client;
use attune::model::Model;
use plugin_config::stock::{predict_body, read_scores};
use plugin_config::{files, processors_in_pipeline, RequestParameters};
use serde_json::{json, Value};

use crate::server::{assert_error, Fixture};

/// The blend the server must give, computed in-process on the same model (the fixture's users
/// have no real-time events).
fn local_blend(model: &Model, user: &str, ids: &[Option<String>], weight: f64) -> Vec<BlendedHit> {
    let ids: Vec<Option<&str>> = ids.iter().map(|i| i.as_deref()).collect();
    blend::rerank(&ids, weight, |distinct| model.rank(user, &[], distinct))
}

fn json_of(resp: &attune::client::Response) -> Value {
    assert_eq!(resp.status, 200, "{}", resp.text());
    assert_eq!(resp.header("content-type"), Some("application/json"));
    resp.json().unwrap()
}

fn usizes(v: &Value) -> Vec<usize> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_u64().unwrap() as usize)
        .collect()
}

fn floats(v: &Value) -> Vec<f64> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_f64().unwrap())
        .collect()
}

#[track_caller]
fn assert_close(got: &[f64], expected: &[f64]) {
    assert_eq!(got.len(), expected.len());
    for (k, (g, e)) in got.iter().zip(expected).enumerate() {
        assert!((g - e).abs() < 1e-12, "score {k}: {g} vs {e}");
    }
}

/// Synthetic OpenSearch hits of the demo catalog: `item_id` in `_source`; every 7th hit lacks
/// it, every 11th names an item the model does not know.
fn hits(n: usize) -> Vec<Value> {
    (0..n)
        .map(|k| {
            let source = if k % 7 == 3 {
                json!({"title": format!("doc {k}")})
            } else if k % 11 == 5 {
                json!({"item_id": format!("new-{k}"), "title": format!("doc {k}")})
            } else {
                json!({"item_id": format!("i{}", 1 + (k * 37) % 500), "title": format!("doc {k}")})
            };
            json!({"_index": "demo-catalog", "_id": format!("doc-{k}"), "_score": 10.0 - k as f64 / 100.0,
                   "_source": source})
        })
        .collect()
}

#[test]
fn the_drop_in_processor_call_reorders_hits_like_the_sdk() {
    let fx = Fixture::start();
    let model = fx.model(&fx.t.rank_v1);
    // The processor's configuration, from the shipped pipeline (its campaign renamed to the
    // fixture's), and the user from the shipped search body's extension.
    let pipeline: Value = serde_json::from_str(files::PIPELINE).unwrap();
    let config = processors_in_pipeline(&pipeline).unwrap().remove(0);
    let search: Value = serde_json::from_str(files::SEARCH_REQUEST).unwrap();
    let params = RequestParameters::from_search_body(&search)
        .unwrap()
        .unwrap();
    assert!(model.users.index(&params.user_id).is_some());

    // 620 hits: the first 500 are re-ranked, the rest keep their order after them.
    let hits = hits(620);
    let ids: Vec<Option<String>> = hits
        .iter()
        .map(|h| config.item_id_field.extract(h).map(|c| c.into_owned()))
        .collect();
    assert!(ids.iter().any(Option::is_none));
    for weight in [config.weight, 0.0, 1.0] {
        let body = json!({
            "campaignArn": fx.campaigns.rank,
            "weight": weight,
            "userId": params.user_id,
            "context": params.context,
            "itemIds": ids,
        });
        let resp = fx.post("/opensearch/rerank", &serde_json::to_vec(&body).unwrap());
        let out = json_of(&resp);
        let expected = local_blend(&model, &params.user_id, &ids, weight);
        let order = usizes(&out["order"]);
        assert_eq!(
            order,
            expected.iter().map(|b| b.hit).collect::<Vec<_>>(),
            "weight {weight}"
        );
        assert_close(
            &floats(&out["scores"]),
            &expected.iter().map(|b| b.score).collect::<Vec<_>>(),
        );
        assert_eq!(out["reranked"], if weight == 0.0 { 0 } else { 500 });
        assert_eq!(order[500..], (500..620).collect::<Vec<_>>()[..]);
        // What the processor does with the answer: hits in the new order.
        let reordered: Vec<&Value> = order.iter().map(|&k| &hits[k]).collect();
        assert_eq!(reordered.len(), hits.len());
        if weight == 0.0 {
            assert_eq!(order, (0..620).collect::<Vec<_>>());
        }
    }
    // A later page (`from` 100): both ranks shifted by 100, below page 1's scores.
    let page: Vec<Option<String>> = ids[..100].to_vec();
    let page_ids: Vec<Option<&str>> = page.iter().map(|i| i.as_deref()).collect();
    for weight in [config.weight, 0.0, 1.0] {
        let body = json!({
            "campaignArn": fx.campaigns.rank, "weight": weight, "userId": params.user_id,
            "itemIds": page, "from": 100,
        });
        let out = json_of(&fx.post("/opensearch/rerank", &serde_json::to_vec(&body).unwrap()));
        let expected = blend::rerank_from(&page_ids, weight, 100, |distinct| {
            model.rank(&params.user_id, &[], distinct)
        });
        assert_eq!(
            usizes(&out["order"]),
            expected.iter().map(|b| b.hit).collect::<Vec<_>>(),
            "weight {weight}"
        );
        let scores = floats(&out["scores"]);
        assert_close(
            &scores,
            &expected.iter().map(|b| b.score).collect::<Vec<_>>(),
        );
        let first = local_blend(&model, &params.user_id, &page, weight);
        let first_min = first.iter().map(|b| b.score).fold(f64::INFINITY, f64::min);
        assert!(
            scores[0] < first_min,
            "weight {weight}: {} >= {first_min}",
            scores[0]
        );
    }
    // An out-of-range `from` is refused, naming it.
    let body = json!({"campaignArn": fx.campaigns.rank, "weight": 0.5, "userId": "u1",
                      "itemIds": ["i3"], "from": -3});
    let resp = fx.post("/opensearch/rerank", &serde_json::to_vec(&body).unwrap());
    assert_error(
        &resp,
        400,
        "InvalidInputException",
        "from: must be an integer",
    );
    // The processor's snake_case config names are accepted as they are.
    let body = json!({
        "campaign_arn": fx.campaigns.rank, "weight": "0.3", "user_id": "u1",
        "item_ids": ["i3", null, "i9"],
    });
    let out = json_of(&fx.post("/opensearch/rerank", &serde_json::to_vec(&body).unwrap()));
    assert_eq!(usizes(&out["order"]).len(), 3);
}

#[test]
fn the_stock_route_contract() {
    let key = "change-me";
    let fx = Fixture::start_with(&["--api-key", key]);
    let model = fx.model(&fx.t.rank_v1);
    // The shipped connector, pointed at the fixture's campaign; its credential is the server's
    // API key.
    let mut connector: Value = serde_json::from_str(files::STOCK_CONNECTOR).unwrap();
    assert_eq!(connector["credential"]["api_key"], key);
    connector["parameters"]["campaign"] = json!(fx.campaigns.rank);
    let action = connector["actions"][0].clone();
    let path = action["url"]
        .as_str()
        .unwrap()
        .strip_prefix("http://127.0.0.1:8080")
        .unwrap()
        .to_owned();
    let weight: f64 = connector["parameters"]["weight"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    let headers: Vec<(String, String)> = action["headers"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(k, v)| {
            let v = v.as_str().unwrap().replace("${credential.api_key}", key);
            (k.clone(), v)
        })
        .collect();
    let headers: Vec<(&str, &str)> = headers
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    // A client without the key: only the connector's own headers authenticate.
    let raw = Client::new(&fx.server.base_url()).unwrap();

    // ml_inference (many-to-one) collects `item_id` of every hit, in hit order; the stock
    // route needs the field on every hit, so no hit lacks it here.
    let hits: Vec<Value> = hits(60)
        .into_iter()
        .filter(|h| h["_source"]["item_id"].is_string())
        .collect();
    let item_ids: Vec<Value> = hits
        .iter()
        .map(|h| h["_source"]["item_id"].clone())
        .collect();
    let user = "u7";
    let body = predict_body(&connector, user, &item_ids).unwrap();
    let resp = raw
        .request("POST", &path, &headers, body.as_bytes())
        .unwrap();
    assert_eq!(resp.status, 200, "{}", resp.text());
    let scores = read_scores(&resp.body, hits.len()).unwrap();

    // The scores are the blend, per hit in hit order.
    let ids: Vec<Option<String>> = item_ids
        .iter()
        .map(|v| v.as_str().map(str::to_owned))
        .collect();
    let expected = local_blend(&model, user, &ids, weight);
    let mut by_hit = vec![0.0; ids.len()];
    for b in &expected {
        by_hit[b.hit] = b.score;
    }
    assert_close(&scores, &by_hit);
    // rerank by_field: hits sorted by the score, highest first (stable: ties keep hit order),
    // is the blended order.
    let mut sorted: Vec<usize> = (0..hits.len()).collect();
    sorted.sort_by(|&a, &b| scores[b].total_cmp(&scores[a]));
    assert_eq!(sorted, expected.iter().map(|b| b.hit).collect::<Vec<_>>());
    // Floats are written with a decimal point (`1.0`, never `1`): ML Commons reads Doubles.
    let text = resp.text();
    let list = text
        .split_once('[')
        .and_then(|(_, r)| r.split_once(']'))
        .unwrap()
        .0;
    assert!(list.split(',').all(|s| s.contains('.')), "{text}");

    // Numeric item ids (a numeric item_id field) are sent as JSON numbers; they are ids too.
    let body = predict_body(&connector, user, &[json!(42), json!("i3"), json!(1.5)]).unwrap();
    let resp = raw
        .request("POST", &path, &headers, body.as_bytes())
        .unwrap();
    assert_eq!(read_scores(&resp.body, 3).unwrap().len(), 3);

    // Without the connector's credential the call is refused.
    let resp = raw
        .request(
            "POST",
            &path,
            &[("Content-Type", "application/json")],
            body.as_bytes(),
        )
        .unwrap();
    assert_error(&resp, 403, "AccessDeniedException", "API key");
    // An unknown campaign in the connector's parameters: 404 with an AWS-shaped body (the
    // pipeline's ignore_failure then leaves the hits as OpenSearch ranked them).
    connector["parameters"]["campaign"] =
        json!("arn:aws:personalize:local:000000000000:campaign/missing");
    let body = predict_body(&connector, user, &item_ids).unwrap();
    let resp = raw
        .request("POST", &path, &headers, body.as_bytes())
        .unwrap();
    assert_error(&resp, 404, "ResourceNotFoundException", "missing");
}
