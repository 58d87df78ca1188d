//! Campaigns: CreateCampaign, DescribeCampaign, ListCampaigns, UpdateCampaign, DeleteCampaign.
//!
//! The store keeps the campaigns (`attune::store::campaigns`); after every change the live
//! server reconciles at once ([`AppState::reload_campaigns`]), so a new or updated campaign
//! serves its model when the call returns (an update swaps the model atomically).

use attune::store::campaigns::{CampaignConfig, CampaignInfo};
use serde_json::{json, Value};

use super::input::{invalid, list_response, Body, Listed, Obj, Out};
use super::{empty, listed, sdk, to_json};
use crate::state::AppState;

impl Listed for CampaignInfo {
    fn created(&self) -> f64 {
        self.creation_date_time
    }
    fn arn(&self) -> &str {
        &self.campaign_arn
    }
}

fn campaign_config(c: &Obj<'_>) -> Out<CampaignConfig> {
    let item_exploration_config = c
        .string_map("itemExplorationConfig", 100, 256, 1000)?
        .unwrap_or_default();
    if let Some(influence) = c.object("rankingInfluence")? {
        for (key, value) in influence.entries() {
            let path = influence.path_of(key);
            if key != "POPULARITY" && key != "FRESHNESS" {
                return Err(invalid(&path, "keys are POPULARITY and FRESHNESS"));
            }
            if !value.as_f64().is_some_and(|v| (0.0..=1.0).contains(&v)) {
                return Err(invalid(&path, "must be a number 0..1"));
            }
        }
    }
    Ok(CampaignConfig {
        sync_with_latest_solution_version: c
            .boolean("syncWithLatestSolutionVersion")?
            .unwrap_or(false),
        enable_metadata_with_recommendations: c
            .boolean("enableMetadataWithRecommendations")?
            .unwrap_or(false),
        item_exploration_config,
    })
}

fn min_tps(req: &Obj<'_>) -> Out<Option<u32>> {
    Ok(req
        .integer("minProvisionedTPS", 1, i64::from(u32::MAX))?
        .map(|n| n as u32))
}

/// Reconciles the live campaigns after a change. The change is in the store already, so a
/// failure here (a model that cannot load) is logged, not returned: the periodic reconcile
/// retries it.
fn reload(state: &AppState) {
    if let Err(e) = state.reload_campaigns() {
        tracing::warn!(cause = %e, "reloading campaigns after a control-plane change failed");
    }
}

pub(crate) fn create(state: &AppState, body: &Body) -> Out<Value> {
    let req = body.obj();
    let name = req.name("name")?;
    let version = req.arn("solutionVersionArn")?;
    let tps = min_tps(&req)?;
    let config = match req.object("campaignConfig")? {
        Some(c) => campaign_config(&c)?,
        None => CampaignConfig::default(),
    };
    req.tags()?;
    let info = state
        .store()
        .create_campaign(name, version, tps, config)
        .map_err(sdk)?;
    reload(state);
    Ok(json!({ "campaignArn": info.campaign_arn }))
}

pub(crate) fn describe(state: &AppState, body: &Body) -> Out<Value> {
    let arn = body.obj().arn("campaignArn")?;
    let info = state.store().campaign(arn).map_err(sdk)?;
    Ok(json!({ "campaign": to_json(&info)? }))
}

pub(crate) fn list(state: &AppState, body: &Body) -> Out<Value> {
    let req = body.obj();
    let solution = req.opt_arn("solutionArn")?;
    let page = req.page()?;
    let campaigns = listed(state.store().list_campaigns(solution))?;
    Ok(list_response("campaigns", campaigns, &page, |c| {
        let mut s = json!({
            "name": c.name,
            "campaignArn": c.campaign_arn,
            "status": c.status,
            "creationDateTime": c.creation_date_time,
            "lastUpdatedDateTime": c.last_updated_date_time,
        });
        if let Some(reason) = &c.failure_reason {
            s["failureReason"] = Value::String(reason.clone());
        }
        s
    }))
}

pub(crate) fn update(state: &AppState, body: &Body) -> Out<Value> {
    let req = body.obj();
    let arn = req.arn("campaignArn")?;
    let version = req.opt_arn("solutionVersionArn")?.map(str::to_owned);
    let tps = min_tps(&req)?;
    let config = req
        .object("campaignConfig")?
        .map(|c| campaign_config(&c))
        .transpose()?;
    let info = state
        .store()
        .update_campaign(arn, version, tps, config)
        .map_err(sdk)?;
    reload(state);
    Ok(json!({ "campaignArn": info.campaign_arn }))
}

pub(crate) fn delete(state: &AppState, body: &Body) -> Out<Value> {
    let arn = body.obj().arn("campaignArn")?;
    state.store().delete_campaign(arn).map_err(sdk)?;
    reload(state);
    Ok(empty())
}
