//! Attune's OpenSearch endpoints: re-ranking search hits with a Personalized-Ranking campaign
//! (`spec/models.md` 7.7, `spec/opensearch.md` 1.3 and 2). Both blend the OpenSearch order with
//! the campaign's ranking through [`attune::blend`]:
//! `combined = (1-w)/log2(r_os+1) + w/log2(r_p+1)`, the first 500 hits re-ranked and the rest
//! kept in order after them, items the model does not know (and hits without an id) ranked
//! after the known ones, ties broken by OpenSearch rank, weight 0 leaving the order untouched
//! without consulting the model.
//!
//! - `POST /opensearch/rerank`, for the drop-in `personalized_search_ranking` processor (and
//!   the search proxy): answers the new order.
//! - `POST /opensearch/scores`, for the stock route (ML Commons connector + `ml_inference` +
//!   `rerank` by_field): answers one score per hit, in the hits' order.
//!
//! Both take the same JSON body; members in camelCase, or in the processor's and the
//! connector's snake_case:
//!
//! ```json
//! { "campaignArn": "arn:aws:personalize:local:000000000000:campaign/demo-ranking",
//!   "weight": 0.3,
//!   "userId": "u1",
//!   "context": { "DEVICE": "mobile phone" },
//!   "itemIds": ["i7", null, "i3", 42],
//!   "from": 0 }
//! ```
//!
//! - `campaignArn` (`campaign_arn`, `campaign`): required; a campaign serving a
//!   PERSONALIZED_RANKING model (404 ResourceNotFoundException when there is none).
//! - `weight`: required; a number in `0.0..=1.0` or a string holding one, with the processor
//!   configuration's rules and messages (`plugin_config::weight_from_value`).
//! - `userId` (`user_id`): required when `weight` is above 0 (1-256 characters).
//! - `context`: optional; GetPersonalizedRanking's limits; accepted, not used by the recipes.
//! - `itemIds` (`item_ids`): required; the hits' item ids in OpenSearch order, at most
//!   [`MAX_HITS`]: a string, a number (its JSON text is the id) or `null` (or `""`) for a hit
//!   without an id.
//! - `from`: optional, default 0; an integer in `0..=2147483647` (a Java `int`, as OpenSearch's
//!   own `from`; an index may raise `index.max_result_window` above 10,000): the hits are the page of the
//!   search's results starting at hit `from` (the search's own `from`). Both ranks are then
//!   shifted by it (`r_os = from + i + 1`, `r_p = from + ` the page-local personalized rank;
//!   [`attune::blend::rerank_from`]), so every score of a page lies below every score of the
//!   previous page instead of restarting at the top (`spec/opensearch.md` 2.6, bug 4). Hit
//!   indices in the answers stay page-local (`0..n`).
//!
//! Answers (`200 application/json`), for n hits:
//! - `/opensearch/rerank`: `{"order": [hit indices, best first], "scores": [combined score of
//!   each entry of order], "reranked": k}`: `order` is a permutation of `0..n`, `scores` never
//!   increase, `k` is the number of leading hits blended (`min(n, 500)`, or 0 with weight 0).
//! - `/opensearch/scores`: `{"scores": [combined score of hit i, for i in 0..n]}`; sorting the
//!   hits by it, highest first and ties by OpenSearch rank, gives the order above.
//!
//! Hits beyond the first 500 of the page score `1/log2(r_os+1)`: below the whole block and decreasing, so
//! OpenSearch's `_score` stays consistent with the order. Errors are AWS-shaped (400
//! InvalidInputException naming the member, 404 ResourceNotFoundException).

use std::borrow::Cow;
use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;

use attune::blend::{self, BlendedHit};
use serde::de::{self, Deserializer, Visitor};
use serde::Deserialize;
use serde_json::Value;

use crate::http::{check_chars, parse_json, push_f64, ApiError, Service};
use crate::metrics::Series;
use crate::ranking::{blend_hits, campaign_by_arn, check_context, check_ranking_campaign};
use crate::state::AppState;

/// The most hits a request may carry (OpenSearch's default `index.max_result_window`).
pub const MAX_HITS: usize = 10_000;

/// A hit's item id: a string, a number (as its JSON text) or none (`null`, `""`).
#[derive(Debug)]
struct ItemId<'a>(Option<Cow<'a, str>>);

impl<'de: 'a, 'a> Deserialize<'de> for ItemId<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<ItemId<'a>, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = ItemId<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an item id: a string, a number or null")
            }
            fn visit_borrowed_str<E: de::Error>(self, s: &'de str) -> Result<ItemId<'de>, E> {
                Ok(ItemId((!s.is_empty()).then_some(Cow::Borrowed(s))))
            }
            fn visit_str<E: de::Error>(self, s: &str) -> Result<ItemId<'de>, E> {
                Ok(ItemId((!s.is_empty()).then(|| Cow::Owned(s.to_owned()))))
            }
            fn visit_string<E: de::Error>(self, s: String) -> Result<ItemId<'de>, E> {
                Ok(ItemId((!s.is_empty()).then_some(Cow::Owned(s))))
            }
            fn visit_i64<E: de::Error>(self, n: i64) -> Result<ItemId<'de>, E> {
                Ok(ItemId(Some(Cow::Owned(n.to_string()))))
            }
            fn visit_u64<E: de::Error>(self, n: u64) -> Result<ItemId<'de>, E> {
                Ok(ItemId(Some(Cow::Owned(n.to_string()))))
            }
            fn visit_f64<E: de::Error>(self, n: f64) -> Result<ItemId<'de>, E> {
                // The text serde_json gives the same number (`1.5`, `1.0`).
                Ok(ItemId(Some(Cow::Owned(Value::from(n).to_string()))))
            }
            fn visit_unit<E: de::Error>(self) -> Result<ItemId<'de>, E> {
                Ok(ItemId(None))
            }
            fn visit_none<E: de::Error>(self) -> Result<ItemId<'de>, E> {
                Ok(ItemId(None))
            }
        }
        d.deserialize_any(V)
    }
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct RerankRequest<'a> {
    #[serde(borrow, default, alias = "campaign_arn", alias = "campaign")]
    campaign_arn: Option<Cow<'a, str>>,
    #[serde(default)]
    weight: Option<Value>,
    #[serde(borrow, default, alias = "user_id")]
    user_id: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    context: Option<HashMap<Cow<'a, str>, Cow<'a, str>>>,
    #[serde(borrow, default, alias = "item_ids")]
    item_ids: Option<Vec<ItemId<'a>>>,
    #[serde(default)]
    from: Option<Value>,
}

/// The largest `from` a request may carry: OpenSearch's `from` is a Java `int`, and an index may
/// raise `index.max_result_window` far above its default 10,000.
pub const MAX_FROM: usize = i32::MAX as usize;

/// The request's `from`: absent or `null` is 0; otherwise an integer in `0..=MAX_FROM`.
fn page_from(from: Option<&Value>) -> Result<usize, ApiError> {
    match from {
        None | Some(Value::Null) => Ok(0),
        Some(v) => v
            .as_u64()
            .and_then(|n| usize::try_from(n).ok())
            .filter(|&n| n <= MAX_FROM)
            .ok_or_else(|| {
                ApiError::invalid(format!(
                    "from: must be an integer in 0..={MAX_FROM} (the page's first hit), found {v}"
                ))
            }),
    }
}

/// Validates a request and blends its hits. Returns the blended order, the number of hits and
/// the number of leading hits blended.
fn blend_request(
    state: &AppState,
    body: &[u8],
    series: &mut Option<Arc<Series>>,
) -> Result<(Vec<BlendedHit>, usize, usize), ApiError> {
    let req: RerankRequest<'_> = parse_json(body)?;
    let campaign = campaign_by_arn(state, req.campaign_arn.as_deref(), Service::Attune)?;
    *series = Some(Arc::clone(&campaign.opensearch_metrics));
    let weight = plugin_config::weight_from_value(req.weight.as_ref())
        .map_err(|e| ApiError::invalid(e.to_string()))?;
    let item_ids = req
        .item_ids
        .as_deref()
        .ok_or_else(|| ApiError::invalid("itemIds: required"))?;
    if item_ids.len() > MAX_HITS {
        return Err(ApiError::invalid(format!(
            "itemIds: at most {MAX_HITS} hits, found {}",
            item_ids.len()
        )));
    }
    let from = page_from(req.from.as_ref())?;
    let user = req.user_id.as_deref();
    if let Some(user) = user {
        check_chars("userId", user, 1, 256)?;
    }
    check_context(req.context.as_ref())?;
    check_ranking_campaign(&campaign)?;
    let n = item_ids.len();
    if weight == 0.0 {
        return Ok((blend::identity_from(n, from), n, 0));
    }
    let user = user.ok_or_else(|| {
        ApiError::invalid(format!(
            "userId: required when weight is above 0 ({weight})"
        ))
    })?;
    let ids: Vec<Option<&str>> = item_ids.iter().map(|i| i.0.as_deref()).collect();
    let blended = blend_hits(&campaign, user, &ids, weight, from);
    Ok((blended, n, n.min(blend::MAX_RERANKED_HITS)))
}

/// `POST /opensearch/rerank`: the new order of the hits with their scores. Sets `series` once
/// the campaign is known.
pub fn rerank(
    state: &AppState,
    body: &[u8],
    series: &mut Option<Arc<Series>>,
) -> Result<Vec<u8>, ApiError> {
    let (blended, n, reranked) = blend_request(state, body, series)?;
    let mut out = Vec::with_capacity(48 + n * 26);
    out.extend_from_slice(b"{\"order\":[");
    for (k, b) in blended.iter().enumerate() {
        if k > 0 {
            out.push(b',');
        }
        out.extend_from_slice(b.hit.to_string().as_bytes());
    }
    out.extend_from_slice(b"],\"scores\":[");
    for (k, b) in blended.iter().enumerate() {
        if k > 0 {
            out.push(b',');
        }
        push_f64(&mut out, b.score);
    }
    out.extend_from_slice(b"],\"reranked\":");
    out.extend_from_slice(reranked.to_string().as_bytes());
    out.push(b'}');
    Ok(out)
}

/// `POST /opensearch/scores`: one score per hit, in the hits' order (the stock route). Sets
/// `series` once the campaign is known.
pub fn scores(
    state: &AppState,
    body: &[u8],
    series: &mut Option<Arc<Series>>,
) -> Result<Vec<u8>, ApiError> {
    let (blended, n, _) = blend_request(state, body, series)?;
    let mut by_hit = vec![0.0; n];
    for b in &blended {
        by_hit[b.hit] = b.score;
    }
    let mut out = Vec::with_capacity(16 + n * 20);
    out.extend_from_slice(b"{\"scores\":[");
    for (k, &s) in by_hit.iter().enumerate() {
        if k > 0 {
            out.push(b',');
        }
        push_f64(&mut out, s);
    }
    out.extend_from_slice(b"]}");
    Ok(out)
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use serde_json::{json, Value};

    use crate::state::AppState;
    use crate::tests::{fixture, post_json, Reply, RANK, SIM};

    const EPS: f64 = 1e-12;

    async fn rerank(s: &Arc<AppState>, body: Value) -> Reply {
        post_json(s, "/opensearch/rerank", body).await
    }

    fn order(r: &Reply) -> Vec<usize> {
        r.json()["order"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_u64().unwrap() as usize)
            .collect()
    }

    fn floats(v: &Value) -> Vec<f64> {
        v.as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_f64().unwrap())
            .collect()
    }

    #[track_caller]
    fn assert_close(got: &[f64], expected: &[f64]) {
        assert_eq!(got.len(), expected.len(), "{got:?} vs {expected:?}");
        for (g, e) in got.iter().zip(expected) {
            assert!((g - e).abs() < EPS, "{got:?} vs {expected:?}");
        }
    }

    #[tokio::test]
    async fn opensearch_calls_are_counted_as_opensearch_reranking() {
        let f = fixture();
        let s = f.state();
        let body = json!({"campaignArn": RANK, "weight": 0.3, "userId": "a",
                          "itemIds": ["i2", "i3"]});
        rerank(&s, body.clone()).await.assert_ok();
        rerank(&s, body).await.assert_ok();
        let text = s.render_metrics();
        for line in [
            "attune_http_requests_total{route=\"opensearch\",campaign=\"rank\"} 2",
            "attune_http_requests_total{route=\"personalize-ranking\",campaign=\"rank\"} 0",
        ] {
            assert!(text.lines().any(|l| l == line), "no {line}:\n{text}");
        }
    }

    #[tokio::test]
    async fn rerank_blends_opensearch_and_model_ranks() {
        let f = fixture();
        let s = f.state();
        // User a likes i0 > i1 > i3 > i2, so the hits [i2, i3, i0, i1] have r_p = [4, 3, 1, 2].
        let body = |w: Value| {
            json!({"campaignArn": RANK, "weight": w, "userId": "a",
                                     "itemIds": ["i2", "i3", "i0", "i1"]})
        };
        // w = 0.5: hit 0 = 0.5/1 + 0.5/log2(5) = 0.715338279036697
        //          hit 1 = 0.5/log2(3) + 0.5/log2(4) = 0.565464876785729
        //          hit 2 = 0.5/log2(4) + 0.5/1 = 0.75
        //          hit 3 = 0.5/log2(5) + 0.5/log2(3) = 0.530803155822425
        let r = rerank(&s, body(json!(0.5))).await;
        r.assert_ok();
        assert_eq!(r.header("content-type"), "application/json");
        assert_eq!(order(&r), [2, 0, 1, 3]);
        assert_close(
            &floats(&r.json()["scores"]),
            &[
                0.75,
                0.715_338_279_036_697,
                0.565_464_876_785_729,
                0.530_803_155_822_425,
            ],
        );
        assert_eq!(r.json()["reranked"], 4);
        // w = 1: the model's order, scores 1/log2(r_p + 1).
        let r = rerank(&s, body(json!("1"))).await;
        assert_eq!(order(&r), [2, 3, 1, 0]);
        assert_close(
            &floats(&r.json()["scores"]),
            &[1.0, 0.630_929_753_571_457, 0.5, 0.430_676_558_073_393],
        );
        // w = 0: OpenSearch order, no user needed.
        let r = rerank(
            &s,
            json!({"campaignArn": RANK, "weight": 0, "itemIds": ["i2", "i3", "i0"]}),
        )
        .await;
        r.assert_ok();
        assert_eq!(order(&r), [0, 1, 2]);
        assert_eq!(r.json()["reranked"], 0);
        assert_close(
            &floats(&r.json()["scores"]),
            &[1.0, 0.630_929_753_571_457, 0.5],
        );
        // The processor's snake_case names work too; an empty hit list is fine.
        let r = rerank(
            &s,
            json!({"campaign_arn": RANK, "weight": "0.5", "user_id": "a",
                   "item_ids": ["i2", "i3", "i0", "i1"], "context": {"DEVICE": "phone"}}),
        )
        .await;
        assert_eq!(order(&r), [2, 0, 1, 3]);
        let r = rerank(
            &s,
            json!({"campaignArn": RANK, "weight": 0.5, "userId": "a", "itemIds": []}),
        )
        .await;
        assert_eq!(r.json(), json!({"order": [], "scores": [], "reranked": 0}));
    }

    #[tokio::test]
    async fn unknown_items_and_hits_without_ids_come_after_known_ones() {
        let f = fixture();
        let s = f.state();
        // Known: i0 (hits 2 and 5, one item). Then in OpenSearch order: "x" (hit 0), null
        // (hit 1), 7 (hit 3), "" (hit 4, no id).
        let r = rerank(
            &s,
            json!({"campaignArn": RANK, "weight": 1, "userId": "a",
                   "itemIds": ["x", null, "i0", 7, "", "i0"]}),
        )
        .await;
        r.assert_ok();
        assert_eq!(order(&r), [2, 5, 0, 1, 3, 4]);
        let scores = floats(&r.json()["scores"]);
        assert!(scores.iter().all(|s| s.is_finite()), "{scores:?}");
        assert_eq!(scores[0], scores[1]);
    }

    #[tokio::test]
    async fn scores_are_in_hit_order_and_match_the_sdk() {
        let f = fixture();
        let s = f.state();
        let model = f.store.load_model(&format!(
            "{}/v1",
            f.store.solution("rank").unwrap().solution_arn
        ));
        let model = model.unwrap();
        let ids = ["i3", "i1", "zz", "i2", "i0", "i1"];
        for (weight, from) in [(0.0, 0), (0.3, 0), (0.7, 0), (1.0, 0), (0.0, 6), (0.3, 6)]
            .into_iter()
            .chain([(0.7, 100), (1.0, 10_000)])
        {
            let mut body = json!({"campaign": RANK, "user_id": "b", "item_ids": ids,
                                  "weight": weight});
            if from > 0 {
                body["from"] = json!(from);
            }
            let r = post_json(&s, "/opensearch/scores", body.clone()).await;
            r.assert_ok();
            let got = plugin_config::stock::read_scores(&r.body, ids.len()).unwrap();
            let opt: Vec<Option<&str>> = ids.iter().map(|i| Some(*i)).collect();
            let blended =
                attune::blend::rerank_from(&opt, weight, from, |d| model.rank("b", &[], d));
            let mut expected = vec![0.0; ids.len()];
            for b in &blended {
                expected[b.hit] = b.score;
            }
            assert_close(&got, &expected);
            // And /opensearch/rerank gives the same blend as an order.
            let r = rerank(&s, body).await;
            let hits: Vec<usize> = blended.iter().map(|b| b.hit).collect();
            assert_eq!(order(&r), hits, "weight {weight}, from {from}");
            assert_close(
                &floats(&r.json()["scores"]),
                &blended.iter().map(|b| b.score).collect::<Vec<_>>(),
            );
        }
    }

    #[tokio::test]
    async fn hits_beyond_500_keep_their_order_below_the_block() {
        let f = fixture();
        let s = f.state();
        let ids: Vec<String> = (0..620).map(|k| format!("i{}", 3 - k % 4)).collect();
        let r = rerank(
            &s,
            json!({"campaignArn": RANK, "weight": 0.8, "userId": "a", "itemIds": ids}),
        )
        .await;
        r.assert_ok();
        let o = order(&r);
        assert_eq!(o[500..], (500..620).collect::<Vec<_>>()[..]);
        let mut block = o[..500].to_vec();
        block.sort_unstable();
        assert_eq!(block, (0..500).collect::<Vec<_>>());
        let scores = floats(&r.json()["scores"]);
        assert!(scores.windows(2).all(|w| w[0] >= w[1]));
        assert!(scores[499] > scores[500]);
        assert_eq!(r.json()["reranked"], 500);
    }

    #[tokio::test]
    async fn real_time_events_move_the_ranking() {
        let f = fixture();
        let s = f.state();
        let body = json!({"campaignArn": RANK, "weight": 1, "userId": "s-new",
                          "itemIds": ["i0", "i1", "i2", "i3"]});
        // Unknown user: popularity (i1, i2, i3, i0).
        assert_eq!(order(&rerank(&s, body.clone()).await), [1, 2, 3, 0]);
        let events = json!({"trackingId": f.tracking_id, "sessionId": "s-new",
            "eventList": [{"eventType": "click", "itemId": "i3", "sentAt": 1714564800},
                          {"eventType": "click", "itemId": "i2", "sentAt": 1714564801}]});
        post_json(&s, "/events", events).await.assert_ok();
        assert_eq!(order(&rerank(&s, body).await)[..2], [2, 3]);
    }

    #[tokio::test]
    async fn bad_requests_get_aws_errors() {
        let f = fixture();
        let s = f.state();
        let ok = json!({"campaignArn": RANK, "weight": 0.5, "userId": "a", "itemIds": ["i0"]});
        let with = |k: &str, v: Value| {
            let mut b = ok.clone();
            if v.is_null() {
                b.as_object_mut().unwrap().remove(k);
            } else {
                b[k] = v;
            }
            b
        };
        let cases = [
            (
                with("campaignArn", Value::Null),
                400,
                "InvalidInputException",
                "campaignArn: required",
            ),
            (
                with("campaignArn", json!("c")),
                400,
                "InvalidInputException",
                "campaignArn",
            ),
            (
                with(
                    "campaignArn",
                    json!("arn:aws:personalize:local:000000000000:campaign/none"),
                ),
                404,
                "ResourceNotFoundException",
                "campaign not found",
            ),
            (
                with("campaignArn", json!(SIM)),
                400,
                "InvalidInputException",
                "RELATED_ITEMS",
            ),
            (
                with("weight", Value::Null),
                400,
                "InvalidInputException",
                "[weight] required property is missing",
            ),
            (
                with("weight", json!(1.5)),
                400,
                "InvalidInputException",
                "[weight] invalid value for weight",
            ),
            (
                with("weight", json!("abc")),
                400,
                "InvalidInputException",
                "[weight] property cannot be converted to a double [abc]",
            ),
            (
                with("userId", Value::Null),
                400,
                "InvalidInputException",
                "userId: required when weight is above 0",
            ),
            (
                with("userId", json!("x".repeat(257))),
                400,
                "InvalidInputException",
                "userId",
            ),
            (
                with("itemIds", Value::Null),
                400,
                "InvalidInputException",
                "itemIds: required",
            ),
            (
                with("itemIds", json!(["i0", true])),
                400,
                "InvalidInputException",
                "itemIds[1]: invalid type: boolean",
            ),
            (
                with("itemIds", json!("i0")),
                400,
                "InvalidInputException",
                "itemIds",
            ),
            (
                with("itemIds", json!(vec!["i0"; super::MAX_HITS + 1])),
                400,
                "InvalidInputException",
                "itemIds: at most 10000 hits, found 10001",
            ),
            (
                with("context", json!({"bad-key": "v"})),
                400,
                "InvalidInputException",
                "context key",
            ),
            (
                with("context", json!({"K": 5})),
                400,
                "InvalidInputException",
                "context.K",
            ),
            (
                with("from", json!(-1)),
                400,
                "InvalidInputException",
                "from: must be an integer in 0..=2147483647 (the page's first hit), found -1",
            ),
            (
                with("from", json!(2_147_483_648u64)),
                400,
                "InvalidInputException",
                "from: must be an integer in 0..=2147483647",
            ),
            (
                with("from", json!(1.5)),
                400,
                "InvalidInputException",
                "from: must be an integer",
            ),
            (
                with("from", json!("10")),
                400,
                "InvalidInputException",
                "from: must be an integer",
            ),
        ];
        for (path, _) in [("/opensearch/rerank", 0), ("/opensearch/scores", 1)] {
            for (body, status, kind, needle) in &cases {
                post_json(&s, path, body.clone())
                    .await
                    .assert_error(*status, kind, needle);
            }
        }
        crate::tests::post(&s, "/opensearch/rerank", "{")
            .await
            .assert_error(400, "InvalidInputException", "invalid request body");
        let get = http::Request::get("/opensearch/rerank")
            .body(http_body_util::Full::default())
            .unwrap();
        crate::tests::call(&s, get)
            .await
            .assert_error(405, "UnknownOperationException", "POST");
    }
}
