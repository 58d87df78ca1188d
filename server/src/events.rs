//! The events API (`spec/api.md` 2.2): PutEvents (`POST /events`), PutItems (`POST /items`)
//! and PutUsers (`POST /users`) through the store's [`attune::events::Recorder`], which checks
//! every limit and appends durably before the call returns (so before the 200).
//!
//! After the append, PutEvents records its events in the dataset group's real-time cache (so the
//! user's next ranking reflects them) and PutItems updates the group's item catalog (metadata
//! for `metadataColumns`, metadata neighbours for Similar-Items). Both run on the blocking pool.

use std::sync::Arc;

use attune::events::{metadata_records, Event, PutEventsRequest, PutItemsRequest, PutUsersRequest};
use attune::DatasetType;
use tracing::warn;

use crate::http::{parse_json, Failure, Service};
use crate::metrics::PutOp;
use crate::realtime::RecentEvent;
use crate::state::{now_seq, AppState};

/// Runs a blocking closure on the blocking pool; a panic is a 500.
async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, Failure> + Send + 'static,
) -> Result<T, Failure> {
    tokio::task::spawn_blocking(f)
        .await
        .unwrap_or_else(|e| Err(Failure::internal(format!("handler task failed: {e}"))))
}

/// The item of an event: `itemId`, or `itemId`/`ITEM_ID` in its properties.
fn event_item(event: &Event) -> Option<String> {
    if let Some(item) = &event.item_id {
        return Some(item.clone());
    }
    let props: serde_json::Value = serde_json::from_str(event.properties.as_deref()?).ok()?;
    ["itemId", "ITEM_ID"]
        .iter()
        .find_map(|k| props.get(*k))
        .and_then(|v| match v {
            serde_json::Value::String(s) => Some(s.clone()),
            serde_json::Value::Number(n) => Some(n.to_string()),
            _ => None,
        })
}

/// PutEvents.
pub async fn put_events(state: Arc<AppState>, body: bytes::Bytes) -> Result<(), Failure> {
    let req: PutEventsRequest = parse_json(&body)?;
    blocking(move || {
        let err = |e: attune::Error| Failure::sdk(Service::Events, &e);
        // Take the group state before appending (see the state's invariants).
        let group = match state.group_of_tracking_id(&req.tracking_id) {
            Ok(g) => g.map(|name| state.group(&name)),
            Err(_) => None,
        };
        state.recorder().put_events(&req).map_err(err)?;
        state
            .metrics()
            .accepted(PutOp::Events, req.event_list.len());
        if let Some(group) = group {
            let seq = now_seq();
            let user = req.user_id.as_deref().unwrap_or(&req.session_id);
            for (k, event) in req.event_list.iter().enumerate() {
                if let Some(item) = event_item(event) {
                    group.realtime.record(
                        user,
                        RecentEvent {
                            item: Arc::from(item),
                            event_type: group.realtime.event_type(&event.event_type),
                            seq: seq + k as u64,
                        },
                    );
                }
            }
        }
        Ok(())
    })
    .await
}

/// PutItems.
pub async fn put_items(state: Arc<AppState>, body: bytes::Bytes) -> Result<(), Failure> {
    let req: PutItemsRequest = parse_json(&body)?;
    blocking(move || {
        let err = |e: attune::Error| Failure::sdk(Service::Events, &e);
        state.recorder().put_items(&req).map_err(err)?;
        state.metrics().accepted(PutOp::Items, req.items.len());
        let group = match attune::arn::parse(&req.dataset_arn) {
            Some(("dataset", rest)) => rest
                .split_once('/')
                .filter(|(_, ty)| DatasetType::parse(ty) == Some(DatasetType::Items))
                .and_then(|(g, _)| state.existing_group(g)),
            _ => None,
        };
        if let Some(group) = group {
            let pairs: Vec<(&str, Option<&str>)> = req
                .items
                .iter()
                .map(|i| (i.item_id.as_str(), i.properties.as_deref()))
                .collect();
            // The items are recorded; a catalog that cannot take them only misses metadata.
            if let Err(e) = group.apply_items(|catalog| {
                Ok(metadata_records(catalog.schema(), &pairs)?
                    .into_iter()
                    .map(|r| r.values)
                    .collect())
            }) {
                warn!(dataset_group = %group.name, cause = %e, "items recorded but not added to the catalog");
            }
        }
        Ok(())
    })
    .await
}

/// PutUsers.
pub async fn put_users(state: Arc<AppState>, body: bytes::Bytes) -> Result<(), Failure> {
    let req: PutUsersRequest = parse_json(&body)?;
    blocking(move || {
        state
            .recorder()
            .put_users(&req)
            .map_err(|e| Failure::sdk(Service::Events, &e))?;
        state.metrics().accepted(PutOp::Users, req.users.len());
        Ok(())
    })
    .await
}
