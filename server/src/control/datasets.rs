//! Datasets: CreateDataset, DescribeDataset, ListDatasets, DeleteDataset.

use attune::store::DatasetInfo;
use attune::DatasetType;
use serde_json::{json, Value};

use super::input::{check_len, error, invalid, list_response, pick, Body, Listed, Out};
use super::{empty, jobs, listed, sdk, to_json};
use crate::state::AppState;

impl Listed for DatasetInfo {
    fn created(&self) -> f64 {
        self.creation_date_time
    }
    fn arn(&self) -> &str {
        &self.dataset_arn
    }
}

/// Reads `datasetType`: `^[A-Za-z_]+$`, one of the five types, case-insensitive.
fn dataset_type(s: &str) -> Out<DatasetType> {
    check_len("datasetType", s, 1, 256)?;
    let parsed = s
        .chars()
        .all(|c| c.is_ascii_alphabetic() || c == '_')
        .then(|| DatasetType::parse(s))
        .flatten();
    parsed.ok_or_else(|| {
        invalid(
            "datasetType",
            format!("{s:?} is not one of Interactions, Items, Users, Actions, Action_Interactions"),
        )
    })
}

pub(crate) fn create(state: &AppState, body: &Body) -> Out<Value> {
    let req = body.obj();
    let name = req.name("name")?;
    let schema = req.arn("schemaArn")?;
    let group = req.arn("datasetGroupArn")?;
    let ty = dataset_type(req.required_string("datasetType")?)?;
    req.tags()?;
    let info = state
        .store()
        .create_dataset(group, ty, name, schema)
        .map_err(sdk)?;
    Ok(json!({ "datasetArn": info.dataset_arn }))
}

pub(crate) fn describe(state: &AppState, body: &Body) -> Out<Value> {
    let arn = body.obj().arn("datasetArn")?;
    let store = state.store();
    let dataset = store.dataset_by_arn(arn).map_err(sdk)?;
    let mut out = to_json(dataset.info())?;
    if dataset.dataset_type() == DatasetType::Interactions {
        if let Some(t) = store.event_tracker_of_group(dataset.group()).map_err(sdk)? {
            out["trackingId"] = Value::String(t.tracking_id);
        }
    }
    Ok(json!({ "dataset": out }))
}

pub(crate) fn list(state: &AppState, body: &Body) -> Out<Value> {
    let req = body.obj();
    let group = req.opt_arn("datasetGroupArn")?;
    let page = req.page()?;
    let store = state.store();
    let datasets = match group {
        Some(g) => listed(store.list_datasets(g))?,
        None => {
            let mut all = Vec::new();
            for g in store.list_dataset_groups().map_err(sdk)? {
                all.extend(store.list_datasets(&g.name).map_err(sdk)?);
            }
            all
        }
    };
    Ok(list_response("datasets", datasets, &page, |d| {
        pick(
            &serde_json::to_value(d).unwrap_or_default(),
            &[
                "name",
                "datasetArn",
                "datasetType",
                "status",
                "creationDateTime",
                "lastUpdatedDateTime",
            ],
        )
    }))
}

/// DeleteDataset: refused while an import job into it or a training of its group is pending
/// or in progress. Its records and import jobs go with it.
pub(crate) fn delete(state: &AppState, body: &Body) -> Out<Value> {
    let arn = body.obj().arn("datasetArn")?;
    let store = state.store();
    let dataset = store.dataset_by_arn(arn).map_err(sdk)?;
    let info = dataset.info();
    let busy = |what: String| {
        Err(error(
            "ResourceInUseException",
            format!("dataset {} is in use: {what}", info.dataset_arn),
        ))
    };
    if jobs::import_running(store, &info.dataset_arn) {
        return busy("an import job into it is in progress".into());
    }
    if let Some(job) = dataset
        .import_jobs()
        .map_err(sdk)?
        .into_iter()
        .find(|j| j.status.is_in_progress())
    {
        return busy(format!(
            "the import job {} is {}",
            job.dataset_import_job_arn, job.status
        ));
    }
    for solution in store.list_solutions(Some(dataset.group())).map_err(sdk)? {
        if let Some(v) = store
            .list_solution_versions(&solution.name)
            .map_err(sdk)?
            .into_iter()
            .find(|v| v.status.is_in_progress())
        {
            return busy(format!(
                "the solution version {} is {}",
                v.solution_version_arn, v.status
            ));
        }
    }
    state.recorder().release(&info.dataset_arn);
    super::remove::dataset(store, dataset.group(), dataset.dataset_type()).map_err(sdk)?;
    Ok(empty())
}
