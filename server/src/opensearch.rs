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
//!   "itemIds": ["i7", null, "i3", 42] }
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
//!
//! Answers (`200 application/json`), for n hits:
//! - `/opensearch/rerank`: `{"order": [hit indices, best first], "scores": [combined score of
//!   each entry of order], "reranked": k}`: `order` is a permutation of `0..n`, `scores` never
//!   increase, `k` is the number of leading hits blended (`min(n, 500)`, or 0 with weight 0).
//! - `/opensearch/scores`: `{"scores": [combined score of hit i, for i in 0..n]}`; sorting the
//!   hits by it, highest first and ties by OpenSearch rank, gives the order above.
//!
//! Hits beyond the first 500 score `1/log2(r_os+1)`: below the whole block and decreasing, so
//! OpenSearch's `_score` stays consistent with the order. Errors are AWS-shaped (400
//! InvalidInputException naming the member, 404 ResourceNotFoundException).

use std::borrow::Cow;
use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;

use attune::blend::{self, BlendedHit};
use attune::model::{Model, Recipe};
use serde::de::{self, Deserializer, Visitor};
use serde::Deserialize;
use serde_json::Value;
use smallvec::SmallVec;

use crate::http::{check_arn, check_chars, check_word, parse_json, ApiError, Service};
use crate::metrics::Series;
use crate::realtime::Recent;
use crate::runtime::MAX_CONTEXT;
use crate::state::{AppState, LiveCampaign};

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
}

fn check_context(context: Option<&HashMap<Cow<'_, str>, Cow<'_, str>>>) -> Result<(), ApiError> {
    let Some(context) = context else {
        return Ok(());
    };
    if context.len() > MAX_CONTEXT {
        return Err(ApiError::invalid(format!(
            "context: at most {MAX_CONTEXT} entries, found {}",
            context.len()
        )));
    }
    for (k, v) in context {
        check_chars("context key", k, 1, 150)?;
        check_word("context key", k)?;
        check_chars(&format!("context.{k}"), v, 0, 1000)?;
    }
    Ok(())
}

/// The live campaign a `campaignArn` names.
fn campaign(state: &AppState, arn: Option<&str>) -> Result<Arc<LiveCampaign>, ApiError> {
    let arn = arn.ok_or_else(|| ApiError::invalid("campaignArn: required"))?;
    check_arn("campaignArn", arn)?;
    let not_found = || ApiError::not_found(Service::Attune, format!("campaign not found: {arn}"));
    match attune::arn::parse(arn) {
        Some(("campaign", name)) => state.campaign(name).ok_or_else(not_found),
        _ => Err(not_found()),
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
    let campaign = campaign(state, req.campaign_arn.as_deref())?;
    *series = Some(Arc::clone(&campaign.ranking_metrics));
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
    let user = req.user_id.as_deref();
    if let Some(user) = user {
        check_chars("userId", user, 1, 256)?;
    }
    check_context(req.context.as_ref())?;
    let model: &Model = &campaign.model;
    if model.recipe() != Recipe::PersonalizedRanking {
        return Err(ApiError::invalid(format!(
            "campaign {} serves a {} recipe; re-ranking search hits needs a \
             PERSONALIZED_RANKING campaign",
            campaign.info.campaign_arn,
            model.recipe().recipe_type()
        )));
    }
    let n = item_ids.len();
    if weight == 0.0 {
        return Ok((blend::identity(n), n, 0));
    }
    let user = user.ok_or_else(|| {
        ApiError::invalid(format!("userId: required when weight is above 0 ({weight})"))
    })?;
    let ids: Vec<Option<&str>> = item_ids.iter().map(|i| i.0.as_deref()).collect();
    let blended = blend::rerank(&ids, weight, |distinct| {
        let mut buf = Recent::new();
        let recent = recent_events(&campaign, user, &mut buf);
        model.rank(user, &recent, distinct)
    });
    Ok((blended, n, n.min(blend::MAX_RERANKED_HITS)))
}

/// The user's recent events newer than the campaign's model, weighted by the model (as for
/// GetPersonalizedRanking).
fn recent_events<'e>(
    campaign: &LiveCampaign,
    user: &str,
    buf: &'e mut Recent,
) -> SmallVec<[(&'e str, f32); 8]> {
    campaign
        .group
        .realtime
        .newer_than(user, campaign.trained_seq, buf);
    let model: &Model = &campaign.model;
    buf.iter()
        .map(|e| (&*e.item, model.event_weight(&e.event_type)))
        .collect()
}

fn push_f64(out: &mut Vec<u8>, x: f64) {
    // Writing into a Vec cannot fail; scores are finite (ranks are at least 1).
    let _ = serde_json::to_writer(&mut *out, &x);
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
}
