//! Dataset groups: CreateDatasetGroup, DescribeDatasetGroup, ListDatasetGroups,
//! DeleteDatasetGroup.

use attune::store::DatasetGroupInfo;
use attune::Domain;
use serde_json::{json, Value};

use super::input::{error, invalid, list_response, pick, Body, Listed, Out};
use super::{empty, sdk, to_json};
use crate::state::AppState;

pub(crate) const DOMAINS: [&str; 2] = ["ECOMMERCE", "VIDEO_ON_DEMAND"];

impl Listed for DatasetGroupInfo {
    fn created(&self) -> f64 {
        self.creation_date_time
    }
    fn arn(&self) -> &str {
        &self.dataset_group_arn
    }
}

pub(crate) fn create(state: &AppState, body: &Body) -> Out<Value> {
    let req = body.obj();
    let name = req.name("name")?;
    let role = req.role_arn("roleArn")?;
    let kms = req.kms_key_arn("kmsKeyArn")?;
    if kms.is_some() && role.is_none() {
        return Err(invalid("kmsKeyArn", "needs roleArn"));
    }
    let domain = req.one_of("domain", &DOMAINS)?.and_then(Domain::parse);
    req.tags()?;
    let info = state
        .store()
        .create_dataset_group(name, domain)
        .map_err(sdk)?;
    let mut out = json!({ "datasetGroupArn": info.dataset_group_arn });
    if let Some(d) = info.domain {
        out["domain"] = Value::String(d);
    }
    Ok(out)
}

pub(crate) fn describe(state: &AppState, body: &Body) -> Out<Value> {
    let arn = body.obj().arn("datasetGroupArn")?;
    let info = state.store().dataset_group(arn).map_err(sdk)?;
    Ok(json!({ "datasetGroup": to_json(&info)? }))
}

pub(crate) fn list(state: &AppState, body: &Body) -> Out<Value> {
    let page = body.obj().page()?;
    let groups = state.store().list_dataset_groups().map_err(sdk)?;
    Ok(list_response("datasetGroups", groups, &page, |g| {
        pick(
            &serde_json::to_value(g).unwrap_or_default(),
            &[
                "name",
                "datasetGroupArn",
                "status",
                "creationDateTime",
                "lastUpdatedDateTime",
                "failureReason",
                "domain",
            ],
        )
    }))
}

/// DeleteDatasetGroup: only once its event tracker, solutions and datasets are deleted.
pub(crate) fn delete(state: &AppState, body: &Body) -> Out<Value> {
    let arn = body.obj().arn("datasetGroupArn")?;
    let store = state.store();
    let group = store.dataset_group(arn).map_err(sdk)?;
    let in_use = |what: String| {
        Err(error(
            "ResourceInUseException",
            format!(
                "dataset group {} still has {what}; delete it first",
                group.dataset_group_arn
            ),
        ))
    };
    if let Some(t) = store.event_tracker_of_group(&group.name).map_err(sdk)? {
        return in_use(format!("the event tracker {}", t.event_tracker_arn));
    }
    if let Some(s) = store
        .list_solutions(Some(&group.name))
        .map_err(sdk)?
        .first()
    {
        return in_use(format!("the solution {}", s.solution_arn));
    }
    if let Some(d) = store.list_datasets(&group.name).map_err(sdk)?.first() {
        return in_use(format!("the dataset {}", d.dataset_arn));
    }
    super::remove::dataset_group(store, &group.name).map_err(sdk)?;
    Ok(empty())
}
