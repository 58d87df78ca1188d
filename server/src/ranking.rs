//! The ranking services the handlers share ([`crate::runtime`], [`crate::rerank`],
//! [`crate::proxy`]): the live campaign an ARN names, the `context` check, the user's recent
//! events and the blend of search hits. They read the [`crate::state`] and nothing above it.

use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::Arc;

use attune::api::MAX_CONTEXT_ENTRIES;
use attune::blend::{self, BlendedHit};
use attune::model::{Model, Recipe};
use smallvec::SmallVec;

use crate::http::{check_arn, check_chars, check_word, ApiError, Service};
use crate::realtime::Recent;
use crate::state::{AppState, LiveCampaign};

/// A request's string map (`context`, `filterValues`), borrowing from the body when it can.
pub(crate) type StrMap<'a> = HashMap<Cow<'a, str>, Cow<'a, str>>;

/// The live campaign a `campaignArn` names (ResourceNotFoundException with `service`'s status
/// when there is none).
pub(crate) fn campaign_by_arn(
    state: &AppState,
    arn: Option<&str>,
    service: Service,
) -> Result<Arc<LiveCampaign>, ApiError> {
    let arn = arn.ok_or_else(|| ApiError::invalid("campaignArn: required"))?;
    check_arn("campaignArn", arn)?;
    let not_found = || ApiError::not_found(service, format!("campaign not found: {arn}"));
    match attune::arn::parse(arn) {
        Some(("campaign", name)) => state.campaign(name).ok_or_else(not_found),
        _ => Err(not_found()),
    }
}

/// Checks a request's `context` map (GetPersonalizedRanking's and GetRecommendations' limits).
pub(crate) fn check_context(context: Option<&StrMap<'_>>) -> Result<(), ApiError> {
    let Some(context) = context else {
        return Ok(());
    };
    if context.len() > MAX_CONTEXT_ENTRIES {
        return Err(ApiError::invalid(format!(
            "context: at most {MAX_CONTEXT_ENTRIES} entries, found {}",
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

/// The user's recent events newer than the campaign's model, weighted by the model.
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

/// Checks that a campaign serves a PERSONALIZED_RANKING model (400 otherwise).
pub(crate) fn check_ranking_campaign(campaign: &LiveCampaign) -> Result<(), ApiError> {
    let model: &Model = &campaign.model;
    if model.recipe() != Recipe::PersonalizedRanking {
        return Err(ApiError::invalid(format!(
            "campaign {} serves a {} recipe; re-ranking search hits needs a \
             PERSONALIZED_RANKING campaign",
            campaign.info.campaign_arn,
            model.recipe().recipe_type()
        )));
    }
    Ok(())
}

/// The blend of the OpenSearch endpoints and the search proxy: hits' item ids in OpenSearch
/// order re-ranked for `user` with the campaign's model and the user's real-time events, the
/// hits being the page of the results that starts at hit `from` ([`blend::rerank_from`]).
pub(crate) fn blend_hits(
    campaign: &LiveCampaign,
    user: &str,
    ids: &[Option<&str>],
    weight: f64,
    from: usize,
) -> Vec<BlendedHit> {
    blend::rerank_from(ids, weight, from, |distinct| {
        let mut buf = Recent::new();
        let recent = recent_events(campaign, user, &mut buf);
        campaign.model.rank(user, &recent, distinct)
    })
}
