//! The runtime API (`spec/api.md` 2.1, 2.1b; `spec/models.md` 4): GetPersonalizedRanking
//! (`POST /personalize-ranking`) and GetRecommendations (`POST /recommendations`).
//!
//! Handlers are synchronous and in-memory: the body is parsed borrowing from the request bytes,
//! every documented limit is checked, the live campaign is an `Arc` clone, the user's recent
//! events are copied out of the real-time cache under a shard lock, and the response JSON is
//! written straight into one buffer. No disk I/O, no await.
//!
//! What is accepted but not applied: `context` (validated, then ignored: no recipe here uses
//! context), `filterArn`/`filterValues` and `promotions` (validated, then refused with a clear
//! InvalidInputException, since filters are not implemented), `recommenderArn` (refused).

use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::Arc;

use attune::model::{Model, Recipe};
use serde::de::IgnoredAny;
use serde::Deserialize;
use smallvec::SmallVec;

use crate::catalog::Catalog;
use crate::http::{check_arn, check_chars, check_word, parse_json, ApiError, Service};
use crate::metrics::Series;
use crate::realtime::Recent;
use crate::state::{AppState, LiveCampaign};

/// The most items GetPersonalizedRanking ranks (and GetRecommendations returns).
pub const MAX_ITEMS: usize = 500;
/// The most items with metadata.
pub const MAX_ITEMS_WITH_METADATA: usize = 50;
/// The default `numResults`.
pub const DEFAULT_NUM_RESULTS: usize = 25;
/// The most `context` entries.
pub const MAX_CONTEXT: usize = 150;
/// The most `filterValues` entries.
pub const MAX_FILTER_VALUES: usize = 25;
/// The most metadata columns.
pub const MAX_METADATA_COLUMNS: usize = 10;

type StrMap<'a> = HashMap<Cow<'a, str>, Cow<'a, str>>;

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct RankingRequest<'a> {
    #[serde(borrow, default)]
    campaign_arn: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    user_id: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    input_list: Option<Vec<Cow<'a, str>>>,
    #[serde(borrow, default)]
    context: Option<StrMap<'a>>,
    #[serde(borrow, default)]
    filter_arn: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    filter_values: Option<StrMap<'a>>,
    #[serde(borrow, default)]
    metadata_columns: Option<HashMap<Cow<'a, str>, Vec<Cow<'a, str>>>>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct RecommendationsRequest<'a> {
    #[serde(borrow, default)]
    campaign_arn: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    recommender_arn: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    item_id: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    user_id: Option<Cow<'a, str>>,
    #[serde(default)]
    num_results: Option<i64>,
    #[serde(borrow, default)]
    context: Option<StrMap<'a>>,
    #[serde(borrow, default)]
    filter_arn: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    filter_values: Option<StrMap<'a>>,
    #[serde(default)]
    promotions: Option<Vec<IgnoredAny>>,
    #[serde(borrow, default)]
    metadata_columns: Option<HashMap<Cow<'a, str>, Vec<Cow<'a, str>>>>,
}

/// The live campaign a `campaignArn` names (404 ResourceNotFoundException when none).
fn campaign(state: &AppState, arn: Option<&str>) -> Result<Arc<LiveCampaign>, ApiError> {
    let arn = arn.ok_or_else(|| ApiError::invalid("campaignArn: required"))?;
    check_arn("campaignArn", arn)?;
    let not_found = || ApiError::not_found(Service::Runtime, format!("campaign not found: {arn}"));
    match attune::arn::parse(arn) {
        Some(("campaign", name)) => state.campaign(name).ok_or_else(not_found),
        _ => Err(not_found()),
    }
}

/// Checks a request's `context` map (shared with the OpenSearch endpoints).
pub(crate) fn check_context(context: Option<&StrMap<'_>>) -> Result<(), ApiError> {
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

fn check_filter(arn: Option<&str>, values: Option<&StrMap<'_>>) -> Result<(), ApiError> {
    if let Some(values) = values {
        if values.len() > MAX_FILTER_VALUES {
            return Err(ApiError::invalid(format!(
                "filterValues: at most {MAX_FILTER_VALUES} entries, found {}",
                values.len()
            )));
        }
        for (k, v) in values {
            check_chars("filterValues key", k, 1, 50)?;
            check_word("filterValues key", k)?;
            check_chars(&format!("filterValues.{k}"), v, 0, 1000)?;
        }
    }
    if let Some(arn) = arn {
        check_arn("filterArn", arn)?;
        return Err(ApiError::invalid(format!(
            "filterArn: filters are not supported by this server yet ({arn})"
        )));
    }
    if values.is_some_and(|v| !v.is_empty()) {
        return Err(ApiError::invalid("filterValues: given without filterArn"));
    }
    Ok(())
}

/// The requested metadata columns, as catalog column indices with the names asked for.
type Columns<'r> = SmallVec<[(usize, &'r str); MAX_METADATA_COLUMNS]>;

fn check_metadata_names<'r>(
    columns: Option<&'r HashMap<Cow<'_, str>, Vec<Cow<'_, str>>>>,
) -> Result<Option<&'r [Cow<'r, str>]>, ApiError> {
    let Some(map) = columns else {
        return Ok(None);
    };
    if map.len() > 1 {
        return Err(ApiError::invalid(format!(
            "metadataColumns: at most 1 entry (ITEMS), found {}",
            map.len()
        )));
    }
    let Some((key, names)) = map.iter().next() else {
        return Ok(None);
    };
    if key != "ITEMS" {
        return Err(ApiError::invalid(format!(
            "metadataColumns: the key {key:?} is not supported; use ITEMS"
        )));
    }
    if names.len() > MAX_METADATA_COLUMNS {
        return Err(ApiError::invalid(format!(
            "metadataColumns.ITEMS: at most {MAX_METADATA_COLUMNS} columns, found {}",
            names.len()
        )));
    }
    for (i, n) in names.iter().enumerate() {
        check_chars(&format!("metadataColumns.ITEMS[{i}]"), n, 1, 150)?;
    }
    Ok((!names.is_empty()).then_some(names.as_slice()))
}

fn resolve_columns<'r>(
    campaign: &LiveCampaign,
    catalog: Option<&Catalog>,
    names: &'r [Cow<'r, str>],
) -> Result<Columns<'r>, ApiError> {
    if !campaign
        .info
        .campaign_config
        .enable_metadata_with_recommendations
    {
        return Err(ApiError::invalid(format!(
            "metadataColumns: campaign {} was not created with \
             campaignConfig.enableMetadataWithRecommendations=true",
            campaign.info.campaign_arn
        )));
    }
    let Some(catalog) = catalog else {
        return Err(ApiError::invalid(format!(
            "metadataColumns: dataset group {} has no Items dataset",
            campaign.group.name
        )));
    };
    names
        .iter()
        .enumerate()
        .map(|(i, n)| match catalog.column(n) {
            Some(c) => Ok((c, n.as_ref())),
            None => Err(ApiError::invalid(format!(
                "metadataColumns.ITEMS[{i}]: {n:?} is not a column of the Items schema \
                 (columns: {})",
                catalog.column_names().join(", ")
            ))),
        })
        .collect()
}

/// The user's recent events newer than the campaign's model, weighted by the model (shared
/// with the OpenSearch endpoints).
pub(crate) fn recent_events<'e>(
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

/// A random `recommendationId`: `RID-` and a UUID (40 characters).
pub fn recommendation_id() -> String {
    format!("RID-{}", crate::http::routes::uuid())
}

fn push_str(out: &mut Vec<u8>, s: &str) {
    // Writing into a Vec cannot fail.
    let _ = serde_json::to_writer(&mut *out, s);
}

fn push_item(
    out: &mut Vec<u8>,
    item: &str,
    score: Option<f64>,
    metadata: Option<(&Catalog, &Columns<'_>)>,
) {
    out.extend_from_slice(b"{\"itemId\":");
    push_str(out, item);
    if let Some(score) = score.filter(|s| s.is_finite()) {
        out.extend_from_slice(b",\"score\":");
        let _ = serde_json::to_writer(&mut *out, &score);
    }
    if let Some((catalog, columns)) = metadata {
        out.extend_from_slice(b",\"metadata\":{");
        let mut first = true;
        for &(c, name) in columns.iter() {
            if let Some(v) = catalog.value(item, c) {
                if !first {
                    out.push(b',');
                }
                first = false;
                push_str(out, name);
                out.push(b':');
                push_str(out, v);
            }
        }
        out.push(b'}');
    }
    out.push(b'}');
}

/// GetPersonalizedRanking. Returns the response body; sets `series` once the campaign is known.
pub fn personalized_ranking(
    state: &AppState,
    body: &[u8],
    series: &mut Option<Arc<Series>>,
) -> Result<Vec<u8>, ApiError> {
    let req: RankingRequest<'_> = parse_json(body)?;
    let campaign = campaign(state, req.campaign_arn.as_deref())?;
    *series = Some(Arc::clone(&campaign.ranking_metrics));
    let user = req
        .user_id
        .as_deref()
        .ok_or_else(|| ApiError::invalid("userId: required"))?;
    check_chars("userId", user, 1, 256)?;
    let input = req
        .input_list
        .as_deref()
        .ok_or_else(|| ApiError::invalid("inputList: required"))?;
    let metadata_names = check_metadata_names(req.metadata_columns.as_ref())?;
    let max = if metadata_names.is_some() {
        MAX_ITEMS_WITH_METADATA
    } else {
        MAX_ITEMS
    };
    if input.is_empty() || input.len() > max {
        return Err(ApiError::invalid(format!(
            "inputList: must have 1-{max} items{}, found {}",
            if metadata_names.is_some() {
                " with metadataColumns"
            } else {
                ""
            },
            input.len()
        )));
    }
    for (i, item) in input.iter().enumerate() {
        if item.is_empty() || item.len() > 256 {
            check_chars(&format!("inputList[{i}]"), item, 1, 256)?;
        }
    }
    check_context(req.context.as_ref())?;
    check_filter(req.filter_arn.as_deref(), req.filter_values.as_ref())?;
    let recipe = campaign.model.recipe();
    if recipe != Recipe::PersonalizedRanking {
        return Err(ApiError::invalid(format!(
            "campaign {} serves a {} recipe; GetPersonalizedRanking needs a \
             PERSONALIZED_RANKING campaign (use GetRecommendations)",
            campaign.info.campaign_arn,
            recipe.recipe_type()
        )));
    }
    let catalog_guard = metadata_names.map(|_| campaign.group.catalog());
    let columns = match (metadata_names, &catalog_guard) {
        (Some(names), Some(guard)) => Some(resolve_columns(&campaign, guard.as_ref(), names)?),
        _ => None,
    };

    let mut buf = Recent::new();
    let recent = recent_events(&campaign, user, &mut buf);
    let ids: SmallVec<[&str; 64]> = input.iter().map(|s| s.as_ref()).collect();
    let ranked = campaign.model.rank(user, &recent, &ids);

    let mut out = Vec::with_capacity(96 + ranked.len() * 56);
    out.extend_from_slice(b"{\"personalizedRanking\":[");
    let metadata = match (&catalog_guard, &columns) {
        (Some(guard), Some(cols)) => guard.as_ref().map(|c| (c, cols)),
        _ => None,
    };
    for (k, r) in ranked.iter().enumerate() {
        if k > 0 {
            out.push(b',');
        }
        push_item(&mut out, ids[r.input_index], r.score, metadata);
    }
    out.extend_from_slice(b"],\"recommendationId\":");
    push_str(&mut out, &recommendation_id());
    out.push(b'}');
    Ok(out)
}

/// GetRecommendations. Returns the response body; sets `series` once the campaign is known.
pub fn recommendations(
    state: &AppState,
    body: &[u8],
    series: &mut Option<Arc<Series>>,
) -> Result<Vec<u8>, ApiError> {
    let req: RecommendationsRequest<'_> = parse_json(body)?;
    if let Some(r) = req.recommender_arn.as_deref() {
        check_arn("recommenderArn", r)?;
        if req.campaign_arn.is_some() {
            return Err(ApiError::invalid(
                "give either campaignArn or recommenderArn, not both",
            ));
        }
        return Err(ApiError::invalid(format!(
            "recommenderArn: recommenders are not supported by this server; use a campaignArn \
             ({r})"
        )));
    }
    let campaign = campaign(state, req.campaign_arn.as_deref())?;
    *series = Some(Arc::clone(&campaign.recommendations_metrics));
    if let Some(user) = req.user_id.as_deref() {
        check_chars("userId", user, 1, 256)?;
    }
    if let Some(item) = req.item_id.as_deref() {
        check_chars("itemId", item, 1, 256)?;
    }
    let metadata_names = check_metadata_names(req.metadata_columns.as_ref())?;
    let max = if metadata_names.is_some() {
        MAX_ITEMS_WITH_METADATA
    } else {
        MAX_ITEMS
    };
    let n = match req.num_results {
        None => DEFAULT_NUM_RESULTS.min(max),
        Some(n) if n < 0 || n as usize > max => {
            return Err(ApiError::invalid(format!(
                "numResults: must be 0-{max}{}, found {n}",
                if metadata_names.is_some() {
                    " with metadataColumns"
                } else {
                    ""
                }
            )))
        }
        Some(n) => n as usize,
    };
    check_context(req.context.as_ref())?;
    check_filter(req.filter_arn.as_deref(), req.filter_values.as_ref())?;
    if let Some(p) = &req.promotions {
        if p.len() > 1 {
            return Err(ApiError::invalid(format!(
                "promotions: at most 1 promotion, found {}",
                p.len()
            )));
        }
        if !p.is_empty() {
            return Err(ApiError::invalid(
                "promotions: promotions need filters, which this server does not support yet",
            ));
        }
    }
    let model: &Model = &campaign.model;
    let items: Vec<u32> = match model.recipe() {
        Recipe::PersonalizedRanking => {
            return Err(ApiError::invalid(format!(
                "campaign {} serves a PERSONALIZED_RANKING recipe: use GetPersonalizedRanking \
                 (POST /personalize-ranking)",
                campaign.info.campaign_arn
            )))
        }
        Recipe::SimilarItems => {
            let item = req.item_id.as_deref().ok_or_else(|| {
                ApiError::invalid(format!(
                    "itemId: required for campaign {}, which serves a RELATED_ITEMS recipe",
                    campaign.info.campaign_arn
                ))
            })?;
            similar_items(&campaign, item, n)
        }
        Recipe::PopularityCount => model.popular(n).to_vec(),
    };

    let catalog_guard = metadata_names.map(|_| campaign.group.catalog());
    let columns = match (metadata_names, &catalog_guard) {
        (Some(names), Some(guard)) => Some(resolve_columns(&campaign, guard.as_ref(), names)?),
        _ => None,
    };
    let metadata = match (&catalog_guard, &columns) {
        (Some(guard), Some(cols)) => guard.as_ref().map(|c| (c, cols)),
        _ => None,
    };
    let mut out = Vec::with_capacity(96 + items.len() * 40);
    out.extend_from_slice(b"{\"itemList\":[");
    for (k, &i) in items.iter().enumerate() {
        if k > 0 {
            out.push(b',');
        }
        // Similar-Items and Popularity-Count are not scored recipes (spec 4.3): no score.
        push_item(&mut out, model.item_id(i), None, metadata);
    }
    out.extend_from_slice(b"],\"recommendationId\":");
    push_str(&mut out, &recommendation_id());
    out.push(b'}');
    Ok(out)
}

/// Similar items of `item`: the model's neighbours; for an item the model has not seen, the
/// metadata neighbours computed when PutItems added it; then popular items to fill up.
fn similar_items(campaign: &LiveCampaign, item: &str, n: usize) -> Vec<u32> {
    let model: &Model = &campaign.model;
    if n == 0 {
        return Vec::new();
    }
    if model.items.index(item).is_some() {
        return model.similar(item, n);
    }
    let mut out: Vec<u32> = Vec::with_capacity(n);
    if let Some(catalog) = campaign.group.catalog().as_ref() {
        for id in catalog.neighbours(item) {
            if out.len() == n {
                break;
            }
            if let Some(i) = model.items.index(id) {
                if !out.contains(&i) {
                    out.push(i);
                }
            }
        }
    }
    if out.len() < n {
        for i in model.similar(item, n) {
            if out.len() == n {
                break;
            }
            if !out.contains(&i) {
                out.push(i);
            }
        }
    }
    out
}
