//! The control plane (`POST /` with `X-Amz-Target: AmazonPersonalize.<Operation>`, awsJson1_1;
//! `spec/api.md` 1.2, 2.3-2.6) over the store.
//!
//! [`dispatch`] parses the body, validates every member the operation reads (botocore leaves
//! maximums, patterns and enums to the server), calls the store and answers with the AWS shape:
//! only members that have a value, timestamps as epoch seconds. Every error is HTTP 400 with
//! `__type` (`InvalidInputException` naming the member, `ResourceNotFoundException`, ...).
//! Unknown members are ignored and `null` is read as absent. List* operations page newest first
//! with an opaque `nextToken` (`input::paginate`).
//!
//! One file per resource family: `groups`, `schemas`, `datasets`, `imports`,
//! `solutions` (solutions and their versions), `campaigns`, `trackers`, `recipes`.
//! Dataset import jobs and trainings run on worker threads (`jobs`): Create* returns the ARN
//! at once and Describe* shows `CREATE PENDING`/`CREATE IN_PROGRESS` until the job is ACTIVE or
//! CREATE FAILED.

mod campaigns;
mod datasets;
mod groups;
mod imports;
mod input;
mod jobs;
mod recipes;
mod remove;
mod schemas;
mod solutions;
mod trackers;

#[cfg(test)]
mod tests;

use serde_json::Value;

use crate::http::{ApiError, Service};
use crate::state::AppState;
use input::{Body, Out};

/// Runs one control-plane operation on its JSON body and returns the JSON response. BLOCKING:
/// the router calls it inside `spawn_blocking`. An operation Attune does not implement is a
/// 400 `UnknownOperationException`.
pub fn dispatch(state: &AppState, operation: &str, body: &[u8]) -> Result<Value, ApiError> {
    let Some(op) = find(operation) else {
        return Err(input::error(
            "UnknownOperationException",
            format!("unknown operation AmazonPersonalize.{operation}"),
        ));
    };
    let body = Body::parse(body)?;
    op(state, &body)
}

type Handler = fn(&AppState, &Body) -> Out<Value>;

/// The operations Attune implements.
pub const OPERATIONS: [&str; 35] = [
    "CreateDatasetGroup",
    "DescribeDatasetGroup",
    "ListDatasetGroups",
    "DeleteDatasetGroup",
    "CreateSchema",
    "DescribeSchema",
    "ListSchemas",
    "DeleteSchema",
    "CreateDataset",
    "DescribeDataset",
    "ListDatasets",
    "DeleteDataset",
    "CreateDatasetImportJob",
    "DescribeDatasetImportJob",
    "ListDatasetImportJobs",
    "CreateSolution",
    "DescribeSolution",
    "ListSolutions",
    "DeleteSolution",
    "CreateSolutionVersion",
    "DescribeSolutionVersion",
    "ListSolutionVersions",
    "GetSolutionMetrics",
    "StopSolutionVersionCreation",
    "CreateCampaign",
    "DescribeCampaign",
    "ListCampaigns",
    "UpdateCampaign",
    "DeleteCampaign",
    "CreateEventTracker",
    "DescribeEventTracker",
    "ListEventTrackers",
    "DeleteEventTracker",
    "ListRecipes",
    "DescribeRecipe",
];

fn find(operation: &str) -> Option<Handler> {
    Some(match operation {
        "CreateDatasetGroup" => groups::create,
        "DescribeDatasetGroup" => groups::describe,
        "ListDatasetGroups" => groups::list,
        "DeleteDatasetGroup" => groups::delete,
        "CreateSchema" => schemas::create,
        "DescribeSchema" => schemas::describe,
        "ListSchemas" => schemas::list,
        "DeleteSchema" => schemas::delete,
        "CreateDataset" => datasets::create,
        "DescribeDataset" => datasets::describe,
        "ListDatasets" => datasets::list,
        "DeleteDataset" => datasets::delete,
        "CreateDatasetImportJob" => imports::create,
        "DescribeDatasetImportJob" => imports::describe,
        "ListDatasetImportJobs" => imports::list,
        "CreateSolution" => solutions::create,
        "DescribeSolution" => solutions::describe,
        "ListSolutions" => solutions::list,
        "DeleteSolution" => solutions::delete,
        "CreateSolutionVersion" => solutions::create_version,
        "DescribeSolutionVersion" => solutions::describe_version,
        "ListSolutionVersions" => solutions::list_versions,
        "GetSolutionMetrics" => solutions::metrics,
        "StopSolutionVersionCreation" => solutions::stop_version,
        "CreateCampaign" => campaigns::create,
        "DescribeCampaign" => campaigns::describe,
        "ListCampaigns" => campaigns::list,
        "UpdateCampaign" => campaigns::update,
        "DeleteCampaign" => campaigns::delete,
        "CreateEventTracker" => trackers::create,
        "DescribeEventTracker" => trackers::describe,
        "ListEventTrackers" => trackers::list,
        "DeleteEventTracker" => trackers::delete,
        "ListRecipes" => recipes::list,
        "DescribeRecipe" => recipes::describe,
        _ => return None,
    })
}

/// Maps an SDK error to the control plane's shape; internal failures are logged here with
/// their cause (the response carries a generic message).
pub(crate) fn sdk(err: attune::Error) -> ApiError {
    let api = ApiError::from_sdk(Service::Control, &err);
    if api.is_server_error() {
        tracing::error!(cause = %err, "control-plane operation failed");
    }
    api
}

/// The result of a List* filter: a parent that does not exist lists nothing, as these
/// operations model no ResourceNotFoundException (ListSolutionVersions does, and does not use
/// this).
pub(crate) fn listed<T>(result: attune::Result<Vec<T>>) -> Out<Vec<T>> {
    match result {
        Err(attune::Error::NotFound { .. }) => Ok(Vec::new()),
        other => other.map_err(sdk),
    }
}

/// `{}`: the response of operations without output.
pub(crate) fn empty() -> Value {
    Value::Object(serde_json::Map::new())
}

/// A serialized SDK shape (the store's metadata types use the API's member names).
pub(crate) fn to_json<T: serde::Serialize>(value: &T) -> Out<Value> {
    serde_json::to_value(value).map_err(|e| {
        tracing::error!(cause = %e, "cannot serialize a response");
        ApiError::internal()
    })
}
