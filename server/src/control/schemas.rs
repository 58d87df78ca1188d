//! Schemas: CreateSchema, DescribeSchema, ListSchemas, DeleteSchema.

use attune::store::SchemaInfo;
use attune::Domain;
use serde_json::{json, Value};

use super::groups::DOMAINS;
use super::input::{check_len, error, list_response, pick, Body, Listed, Out};
use super::{empty, sdk, to_json};
use crate::state::AppState;

/// The longest schema document.
const MAX_SCHEMA_CHARS: usize = 20_000;

impl Listed for SchemaInfo {
    fn created(&self) -> f64 {
        self.creation_date_time
    }
    fn arn(&self) -> &str {
        &self.schema_arn
    }
}

pub(crate) fn create(state: &AppState, body: &Body) -> Out<Value> {
    let req = body.obj();
    let name = req.name("name")?;
    let schema = req.required_string("schema")?;
    check_len("schema", schema, 1, MAX_SCHEMA_CHARS)?;
    let domain = req.one_of("domain", &DOMAINS)?.and_then(Domain::parse);
    let info = state
        .store()
        .create_schema(name, schema, domain)
        .map_err(sdk)?;
    Ok(json!({ "schemaArn": info.schema_arn }))
}

pub(crate) fn describe(state: &AppState, body: &Body) -> Out<Value> {
    let arn = body.obj().arn("schemaArn")?;
    let info = state.store().schema(arn).map_err(sdk)?;
    Ok(json!({ "schema": to_json(&info)? }))
}

pub(crate) fn list(state: &AppState, body: &Body) -> Out<Value> {
    let page = body.obj().page()?;
    let schemas = state.store().list_schemas().map_err(sdk)?;
    Ok(list_response("schemas", schemas, &page, |s| {
        pick(
            &serde_json::to_value(s).unwrap_or_default(),
            &[
                "name",
                "schemaArn",
                "creationDateTime",
                "lastUpdatedDateTime",
                "domain",
            ],
        )
    }))
}

/// DeleteSchema: only when no dataset uses it.
pub(crate) fn delete(state: &AppState, body: &Body) -> Out<Value> {
    let arn = body.obj().arn("schemaArn")?;
    let store = state.store();
    let schema = store.schema(arn).map_err(sdk)?;
    for group in store.list_dataset_groups().map_err(sdk)? {
        for dataset in store.list_datasets(&group.name).map_err(sdk)? {
            if dataset.schema_arn == schema.schema_arn {
                return Err(error(
                    "ResourceInUseException",
                    format!(
                        "schema {} is used by the dataset {}; delete the dataset first",
                        schema.schema_arn, dataset.dataset_arn
                    ),
                ));
            }
        }
    }
    super::remove::schema(store, &schema.name).map_err(sdk)?;
    Ok(empty())
}
