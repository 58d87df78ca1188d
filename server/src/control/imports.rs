//! Dataset import jobs: CreateDatasetImportJob (runs on a worker thread),
//! DescribeDatasetImportJob, ListDatasetImportJobs.
//!
//! `dataSource.dataLocation` is a local path or a `file://` URL of a CSV file, an Avro file or
//! a folder of CSV files (the self-hosted form of an S3 location); a location the job cannot
//! read makes it CREATE FAILED with the reason, as in Personalize.

use attune::import::ImportRequest;
use attune::store::ImportJobInfo;
use attune::{ImportMode, Store};
use serde_json::{json, Value};

use super::input::{check_len, invalid, list_response, Body, Listed, Out};
use super::{jobs, sdk};
use crate::state::AppState;

impl Listed for ImportJobInfo {
    fn created(&self) -> f64 {
        self.creation_date_time
    }
    fn arn(&self) -> &str {
        &self.dataset_import_job_arn
    }
}

/// Every recorded import job of the store, with its dataset's ARN.
fn all_jobs(store: &Store) -> Out<Vec<ImportJobInfo>> {
    let mut out = Vec::new();
    for group in store.list_dataset_groups().map_err(sdk)? {
        for info in store.list_datasets(&group.name).map_err(sdk)? {
            let dataset = store.dataset_by_arn(&info.dataset_arn).map_err(sdk)?;
            out.extend(dataset.import_jobs().map_err(sdk)?);
        }
    }
    Ok(out)
}

fn shape(job: &ImportJobInfo) -> Value {
    let mut out = json!({
        "jobName": job.job_name,
        "datasetImportJobArn": job.dataset_import_job_arn,
        "datasetArn": job.dataset_arn,
        "dataSource": { "dataLocation": job.data_location },
        "status": job.status,
        "creationDateTime": job.creation_date_time,
        "lastUpdatedDateTime": job.last_updated_date_time,
        "importMode": job.import_mode.as_str(),
    });
    if let Some(reason) = &job.failure_reason {
        out["failureReason"] = Value::String(reason.clone());
    }
    out
}

pub(crate) fn create(state: &AppState, body: &Body) -> Out<Value> {
    let req = body.obj();
    let job_name = req.name("jobName")?;
    let dataset_arn = req.arn("datasetArn")?;
    let source = req
        .object("dataSource")?
        .ok_or_else(|| invalid("dataSource", "required"))?;
    let location = source.required_string("dataLocation")?;
    check_len(&source.path_of("dataLocation"), location, 1, 256)?;
    req.role_arn("roleArn")?;
    req.boolean("publishAttributionMetricsToS3")?;
    let mode = match req.one_of("importMode", &["FULL", "INCREMENTAL"])? {
        Some("INCREMENTAL") => ImportMode::Incremental,
        _ => ImportMode::Full,
    };
    req.tags()?;
    let store = state.store();
    let dataset = store.dataset_by_arn(dataset_arn).map_err(sdk)?;
    let request = ImportRequest {
        job_name: job_name.to_owned(),
        data_location: location.to_owned(),
        mode,
    };
    let job = jobs::start_import(store, dataset, request, || {
        Ok(all_jobs(store)?.iter().any(|j| j.job_name == job_name))
    })?;
    Ok(json!({ "datasetImportJobArn": job.dataset_import_job_arn }))
}

pub(crate) fn describe(state: &AppState, body: &Body) -> Out<Value> {
    let arn = body.obj().arn("datasetImportJobArn")?;
    let store = state.store();
    let not_found = || {
        sdk(attune::Error::NotFound {
            kind: "dataset import job",
            name: arn.to_owned(),
        })
    };
    let name = attune::arn::name_of("dataset-import-job", arn).ok_or_else(not_found)?;
    let job = all_jobs(store)?
        .into_iter()
        .find(|j| j.job_name == name)
        .ok_or_else(not_found)?;
    Ok(json!({ "datasetImportJob": shape(&job) }))
}

pub(crate) fn list(state: &AppState, body: &Body) -> Out<Value> {
    let req = body.obj();
    let dataset_arn = req.opt_arn("datasetArn")?;
    let page = req.page()?;
    let store = state.store();
    let jobs = match dataset_arn {
        Some(arn) => match store.dataset_by_arn(arn) {
            Ok(dataset) => dataset.import_jobs().map_err(sdk)?,
            // No such dataset: nothing to list (the operation models no ResourceNotFound).
            Err(attune::Error::NotFound { .. }) => return Ok(json!({"datasetImportJobs": []})),
            Err(e) => return Err(sdk(e)),
        },
        None => all_jobs(store)?,
    };
    Ok(list_response("datasetImportJobs", jobs, &page, |j| {
        let mut s = json!({
            "datasetImportJobArn": j.dataset_import_job_arn,
            "jobName": j.job_name,
            "status": j.status,
            "creationDateTime": j.creation_date_time,
            "lastUpdatedDateTime": j.last_updated_date_time,
            "importMode": j.import_mode.as_str(),
        });
        if let Some(reason) = &j.failure_reason {
            s["failureReason"] = Value::String(reason.clone());
        }
        s
    }))
}
