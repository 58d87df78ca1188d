//! Event trackers: CreateEventTracker, DescribeEventTracker, ListEventTrackers,
//! DeleteEventTracker. A dataset group has at most one; its `trackingId` feeds PutEvents.

use attune::store::EventTrackerInfo;
use serde_json::{json, Value};

use super::input::{list_response, Body, Listed, Out};
use super::{empty, listed, sdk, to_json};
use crate::state::AppState;

impl Listed for EventTrackerInfo {
    fn created(&self) -> f64 {
        self.creation_date_time
    }
    fn arn(&self) -> &str {
        &self.event_tracker_arn
    }
}

pub(crate) fn create(state: &AppState, body: &Body) -> Out<Value> {
    let req = body.obj();
    let name = req.name("name")?;
    let group = req.arn("datasetGroupArn")?;
    req.tags()?;
    let info = state
        .store()
        .create_event_tracker(group, name)
        .map_err(sdk)?;
    Ok(json!({
        "eventTrackerArn": info.event_tracker_arn,
        "trackingId": info.tracking_id,
    }))
}

pub(crate) fn describe(state: &AppState, body: &Body) -> Out<Value> {
    let arn = body.obj().arn("eventTrackerArn")?;
    let info = state.store().event_tracker(arn).map_err(sdk)?;
    Ok(json!({ "eventTracker": to_json(&info)? }))
}

pub(crate) fn list(state: &AppState, body: &Body) -> Out<Value> {
    let req = body.obj();
    let group = req.opt_arn("datasetGroupArn")?;
    let page = req.page()?;
    let trackers = listed(state.store().list_event_trackers(group))?;
    Ok(list_response("eventTrackers", trackers, &page, |t| {
        json!({
            "name": t.name,
            "eventTrackerArn": t.event_tracker_arn,
            "status": t.status,
            "creationDateTime": t.creation_date_time,
            "lastUpdatedDateTime": t.last_updated_date_time,
        })
    }))
}

pub(crate) fn delete(state: &AppState, body: &Body) -> Out<Value> {
    let arn = body.obj().arn("eventTrackerArn")?;
    state.store().delete_event_tracker(arn).map_err(sdk)?;
    Ok(empty())
}
