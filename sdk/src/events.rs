//! Individual records (`spec/data.md` 5): event trackers, PutEvents, PutItems, PutUsers and
//! PutActions.
//!
//! - Event trackers are managed on the [`Store`] ([`Store::create_event_tracker`] and friends)
//!   and stored as `<group>/event-tracker.json`. A group has at most one; it is ACTIVE at once.
//! - A [`Recorder`] runs the Put* operations. It validates a whole request first (every limit
//!   of sections 5.1-5.4, errors name the field and index, e.g. `eventList[3].itemId: ...`), maps
//!   it to records of the dataset's schema, and appends them to the dataset's PUT log
//!   ([`PutLog`]) in one durable group commit: when the call returns, the records survive a
//!   crash; when it fails, nothing was appended.
//!
//! Request and record types deserialize from the AWS JSON bodies as they are (camelCase).
//!
//! # How PutEvents fields map to the Interactions schema
//!
//! | request | field |
//! |---|---|
//! | `userId`, or `sessionId` when `userId` is absent (anonymous, spec 5.6) | USER_ID |
//! | `eventList[i].itemId` (or `itemId` in `properties`, D-28) | ITEM_ID (required, D-26) |
//! | `sentAt`, truncated to whole seconds | TIMESTAMP |
//! | `eventType` | EVENT_TYPE |
//! | `eventValue` (or `eventValue` in `properties`) | EVENT_VALUE |
//! | `impression`, joined with `\|` | IMPRESSION |
//! | `recommendationId` | RECOMMENDATION_ID |
//! | `metricAttribution.eventAttributionSource` | EVENT_ATTRIBUTION_SOURCE |
//! | `properties` keys: camelCase field names, or the exact names | other fields |
//!
//! The sessionId, the eventId and whether the event was anonymous go to internal fields of the
//! log (see [`crate::store::log`]); the effective view stitches anonymous events to the userId
//! their session was later seen with. A top-level field whose column the schema lacks (say
//! `recommendationId` without RECOMMENDATION_ID) is accepted and not stored; a `properties` key
//! the schema lacks is an error (D-24).

use std::collections::HashMap;
use std::fs;
use std::hash::{BuildHasher, Hasher, RandomState};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use apache_avro::types::Value;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value as Json};

use crate::arn;
use crate::error::{invalid, Error, Result};
use crate::record::{check_chars, check_id, parse_cell};
use crate::schema::{DatasetType, Field, Schema};
use crate::store::log::{LogRecord, PutLog};
use crate::store::{fsutil, validate_name, Dataset, EventTrackerInfo, Status, Store};

/// The most records (events, items, users, actions) one Put* call carries.
pub const MAX_RECORDS_PER_CALL: usize = 10;
/// The longest identifier (trackingId, sessionId, userId, itemId, eventId, eventType).
pub const MAX_ID_CHARS: usize = 256;
/// The longest `properties` string of an event.
pub const MAX_EVENT_PROPERTIES_CHARS: usize = 1024;
/// The longest `properties` string of an item.
pub const MAX_ITEM_PROPERTIES_CHARS: usize = 32_000;
/// The longest `properties` string of a user.
pub const MAX_USER_PROPERTIES_CHARS: usize = 24_000;
/// The longest `properties` string of an action.
pub const MAX_ACTION_PROPERTIES_CHARS: usize = 32_000;
/// The most items in an event's `impression` list.
pub const MAX_IMPRESSIONS: usize = 25;
/// The longest `recommendationId`.
pub const MAX_RECOMMENDATION_ID_CHARS: usize = 40;
/// The longest `eventAttributionSource`.
pub const MAX_ATTRIBUTION_SOURCE_CHARS: usize = 1024;
/// The largest event, as JSON.
pub const MAX_EVENT_BYTES: usize = 10 * 1024;
/// `properties` keys an event may not use, compared case-insensitively (`USER_ID` too).
pub const FORBIDDEN_EVENT_PROPERTIES: [&str; 6] = [
    "userId",
    "sessionId",
    "eventType",
    "timestamp",
    "recommendationId",
    "impression",
];

const TRACKER_FILE: &str = "event-tracker.json";
const ACCOUNT_ID: &str = "000000000000";

// ---------------------------------------------------------------------------------------------
// Event trackers

impl Store {
    /// CreateEventTracker: gives a dataset group, which must have an Interactions dataset, its
    /// event tracker. A group has at most one ([`Error::AlreadyExists`] otherwise) and tracker
    /// names are unique in the store (the ARN names only the tracker). The tracker is ACTIVE
    /// when the call returns; its `trackingId` is a random UUID.
    pub fn create_event_tracker(&self, group: &str, name: &str) -> Result<EventTrackerInfo> {
        validate_name("event tracker name", name)?;
        let group_info = self.dataset_group(group)?;
        // NotFound when the group has no Interactions dataset.
        self.dataset(&group_info.name, DatasetType::Interactions)?;
        let dir = self.group_path(&group_info.name);
        let lock_path = dir.join(".lock");
        let lock = fsutil::open_append(&lock_path)?;
        lock.lock().map_err(|e| Error::io(&lock_path, e))?;
        if let Some(existing) = read_tracker(&dir)? {
            return Err(Error::AlreadyExists {
                kind: "event tracker",
                name: format!(
                    "{} (dataset group {} already has an event tracker; a group can have only \
                     one)",
                    existing.name, group_info.name
                ),
            });
        }
        if self
            .list_event_trackers(None)?
            .iter()
            .any(|t| t.name == name)
        {
            return Err(Error::AlreadyExists {
                kind: "event tracker",
                name: name.into(),
            });
        }
        let now = fsutil::now_secs();
        let info = EventTrackerInfo {
            name: name.into(),
            event_tracker_arn: arn::event_tracker(name),
            dataset_group_arn: group_info.dataset_group_arn,
            tracking_id: new_tracking_id(),
            account_id: ACCOUNT_ID.into(),
            status: Status::Active,
            creation_date_time: now,
            last_updated_date_time: now,
        };
        fsutil::write_json(&dir.join(TRACKER_FILE), &info)?;
        Ok(info)
    }

    /// DescribeEventTracker by name or ARN.
    pub fn event_tracker(&self, name_or_arn: &str) -> Result<EventTrackerInfo> {
        let name =
            arn::name_of("event-tracker", name_or_arn).ok_or_else(|| not_found(name_or_arn))?;
        self.list_event_trackers(None)?
            .into_iter()
            .find(|t| t.name == name)
            .ok_or_else(|| not_found(name))
    }

    /// The event tracker of a dataset group (name or ARN), if it has one.
    pub fn event_tracker_of_group(&self, group: &str) -> Result<Option<EventTrackerInfo>> {
        let group_info = self.dataset_group(group)?;
        read_tracker(&self.group_path(&group_info.name))
    }

    /// ListEventTrackers: those of one dataset group (name or ARN), or all, sorted by group.
    pub fn list_event_trackers(&self, group: Option<&str>) -> Result<Vec<EventTrackerInfo>> {
        if let Some(group) = group {
            return Ok(self.event_tracker_of_group(group)?.into_iter().collect());
        }
        let mut out = Vec::new();
        for g in self.list_dataset_groups()? {
            out.extend(read_tracker(&self.group_path(&g.name))?);
        }
        Ok(out)
    }

    /// DeleteEventTracker by name or ARN. The Interactions dataset and its records stay.
    pub fn delete_event_tracker(&self, name_or_arn: &str) -> Result<()> {
        let tracker = self.event_tracker(name_or_arn)?;
        let group = arn::name_of("dataset-group", &tracker.dataset_group_arn)
            .ok_or_else(|| not_found(&tracker.name))?;
        let dir = self.group_path(group);
        let path = dir.join(TRACKER_FILE);
        fs::remove_file(&path).map_err(|e| Error::io(&path, e))?;
        fsutil::sync_dir(&dir)
    }

    /// The dataset group name of the tracker with this trackingId.
    fn group_of_tracking_id(&self, tracking_id: &str) -> Result<Option<String>> {
        for g in self.list_dataset_groups()? {
            if let Some(t) = read_tracker(&self.group_path(&g.name))? {
                if t.tracking_id == tracking_id {
                    return Ok(Some(g.name));
                }
            }
        }
        Ok(None)
    }
}

fn read_tracker(group_dir: &std::path::Path) -> Result<Option<EventTrackerInfo>> {
    fsutil::read_json(&group_dir.join(TRACKER_FILE))
}

fn not_found(name: &str) -> Error {
    Error::NotFound {
        kind: "event tracker",
        name: name.to_owned(),
    }
}

/// A random version-4 UUID, from the standard library's randomly keyed hasher.
fn new_tracking_id() -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    let word = |salt: u8| {
        let mut h = RandomState::new().build_hasher();
        h.write_u8(salt);
        h.write_u128(nanos);
        h.write_u64(n);
        h.write_u32(std::process::id());
        h.finish()
    };
    let bits = (u128::from(word(1)) << 64) | u128::from(word(2));
    // Version 4, variant 1.
    let bits = (bits & !(0xf << 76) | (0x4 << 76)) & !(0x3 << 62) | (0x2 << 62);
    let hex = format!("{bits:032x}");
    format!(
        "{}-{}-{}-{}-{}",
        &hex[..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..]
    )
}

// ---------------------------------------------------------------------------------------------
// Requests

/// PutEvents (`POST /events`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PutEventsRequest {
    /// The event tracker's trackingId (1-256).
    pub tracking_id: String,
    /// The session (1-256); USER_ID of the events when `user_id` is absent.
    pub session_id: String,
    /// The user (1-256); absent for anonymous events.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_id: Option<String>,
    /// 1-10 events.
    pub event_list: Vec<Event>,
}

/// One event of a PutEvents call.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Event {
    /// The event type (1-256), e.g. `click`; EVENT_TYPE.
    pub event_type: String,
    /// When the event happened, Unix seconds; TIMESTAMP (whole seconds).
    pub sent_at: f64,
    /// The item (1-256); ITEM_ID. Required in practice (D-26), here or in `properties`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub item_id: Option<String>,
    /// Identifies the event (1-256): a later event with the same id is not used in training.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event_id: Option<String>,
    /// EVENT_VALUE.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event_value: Option<f64>,
    /// The items shown to the user (1-25, each 1-256); IMPRESSION, joined with `|`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub impression: Option<Vec<String>>,
    /// The recommendation the event follows (1-40); RECOMMENDATION_ID.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recommendation_id: Option<String>,
    /// Metric attribution; EVENT_ATTRIBUTION_SOURCE.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metric_attribution: Option<MetricAttribution>,
    /// A JSON object as a string (1-1024 characters): other Interactions fields by camelCase
    /// name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub properties: Option<String>,
}

/// An event's metric attribution.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MetricAttribution {
    /// The source (1-1024 printable ASCII characters, not only spaces).
    #[serde(default)]
    pub event_attribution_source: String,
}

/// PutItems (`POST /items`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PutItemsRequest {
    /// The Items dataset's ARN.
    pub dataset_arn: String,
    /// 1-10 items.
    pub items: Vec<Item>,
}

/// One item of a PutItems call.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Item {
    /// ITEM_ID (1-256).
    pub item_id: String,
    /// A JSON object as a string (1-32000 characters): the other fields by camelCase name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub properties: Option<String>,
}

/// PutUsers (`POST /users`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PutUsersRequest {
    /// The Users dataset's ARN.
    pub dataset_arn: String,
    /// 1-10 users.
    pub users: Vec<User>,
}

/// One user of a PutUsers call.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct User {
    /// USER_ID (1-256).
    pub user_id: String,
    /// A JSON object as a string (1-24000 characters): the other fields by camelCase name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub properties: Option<String>,
}

/// PutActions (`POST /actions`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PutActionsRequest {
    /// The Actions dataset's ARN.
    pub dataset_arn: String,
    /// 1-10 actions.
    pub actions: Vec<Action>,
}

/// One action of a PutActions call.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Action {
    /// ACTION_ID (1-256).
    pub action_id: String,
    /// A JSON object as a string (1-32000 characters): the other fields by camelCase name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub properties: Option<String>,
}

// ---------------------------------------------------------------------------------------------
// The recorder

/// Runs Put* calls against a store, keeping each dataset's PUT log open between calls.
///
/// Hold one `Recorder` per store in a process (the server keeps it in its state) and share it
/// between threads: calls on the same dataset are group-committed together. The PUT log of a
/// dataset can be open in only one place at a time, so a second recorder (or process) writing
/// to the same dataset gets [`Error::ResourceInUse`]. The recorder caches each dataset's schema
/// as of its first call: after UpdateDataset or before DeleteDataset, call
/// [`Recorder::release`].
#[derive(Debug)]
pub struct Recorder {
    store: Store,
    /// Open targets by canonical dataset ARN.
    targets: Mutex<HashMap<String, Arc<Target>>>,
    /// trackingId -> dataset group, checked against the tracker file on every call.
    trackers: Mutex<HashMap<String, String>>,
}

#[derive(Debug)]
struct Target {
    dataset: Dataset,
    log: PutLog,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Recorder {
    /// A recorder for a store. Opens nothing until the first call.
    pub fn new(store: Store) -> Recorder {
        Recorder {
            store,
            targets: Mutex::new(HashMap::new()),
            trackers: Mutex::new(HashMap::new()),
        }
    }

    /// The store.
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// PutEvents: records 1-10 events in the Interactions dataset of the tracker's group.
    /// An unknown trackingId is [`Error::InvalidInput`] (D-36).
    pub fn put_events(&self, req: &PutEventsRequest) -> Result<()> {
        check_chars("trackingId", &req.tracking_id, 1, MAX_ID_CHARS)?;
        check_count("eventList", req.event_list.len())?;
        let group = self.group_of(&req.tracking_id)?;
        let target = self.target(&arn::dataset(&group, DatasetType::Interactions))?;
        let records = event_records(target.dataset.schema(), req)?;
        self.append(&target, records)
    }

    /// PutItems: upserts 1-10 items of an Items dataset.
    pub fn put_items(&self, req: &PutItemsRequest) -> Result<()> {
        let records: Vec<(&str, Option<&str>)> = req
            .items
            .iter()
            .map(|r| (r.item_id.as_str(), r.properties.as_deref()))
            .collect();
        self.put_metadata(&req.dataset_arn, DatasetType::Items, &records)
    }

    /// PutUsers: upserts 1-10 users of a Users dataset.
    pub fn put_users(&self, req: &PutUsersRequest) -> Result<()> {
        let records: Vec<(&str, Option<&str>)> = req
            .users
            .iter()
            .map(|r| (r.user_id.as_str(), r.properties.as_deref()))
            .collect();
        self.put_metadata(&req.dataset_arn, DatasetType::Users, &records)
    }

    /// PutActions: upserts 1-10 actions of an Actions dataset.
    pub fn put_actions(&self, req: &PutActionsRequest) -> Result<()> {
        let records: Vec<(&str, Option<&str>)> = req
            .actions
            .iter()
            .map(|r| (r.action_id.as_str(), r.properties.as_deref()))
            .collect();
        self.put_metadata(&req.dataset_arn, DatasetType::Actions, &records)
    }

    /// Closes the cached PUT log and schema of a dataset (by ARN); the next call reopens them.
    /// The log's lock is released once calls in flight on it have returned.
    pub fn release(&self, dataset_arn: &str) {
        let key = canonical_dataset_arn(dataset_arn).unwrap_or_else(|| dataset_arn.to_owned());
        lock(&self.targets).remove(&key);
    }

    fn put_metadata(
        &self,
        dataset_arn: &str,
        ty: DatasetType,
        records: &[(&str, Option<&str>)],
    ) -> Result<()> {
        let kind = MetadataKind::of(ty);
        check_chars("datasetArn", dataset_arn, 1, MAX_ID_CHARS)?;
        check_count(kind.list, records.len())?;
        let target = self.target(dataset_arn)?;
        if target.dataset.dataset_type() != ty {
            return Err(invalid!(
                "datasetArn: {dataset_arn} is a {} dataset; {} needs a {ty} dataset",
                target.dataset.dataset_type(),
                kind.operation
            ));
        }
        let records = metadata_records(target.dataset.schema(), records)?;
        self.append(&target, records)
    }

    fn append(&self, target: &Arc<Target>, records: Vec<LogRecord>) -> Result<()> {
        let result = target.log.append(records);
        if let Err(e) = &result {
            if !matches!(e, Error::InvalidInput(_)) {
                // The log handle is broken: drop it so the next call reopens (and recovers) it.
                let mut targets = lock(&self.targets);
                let key = &target.dataset.info().dataset_arn;
                if targets.get(key).is_some_and(|t| Arc::ptr_eq(t, target)) {
                    targets.remove(key);
                }
            }
        }
        result
    }

    /// The dataset group of a trackingId.
    fn group_of(&self, tracking_id: &str) -> Result<String> {
        let cached = lock(&self.trackers).get(tracking_id).cloned();
        if let Some(group) = cached {
            // Still that group's tracker? (It may have been deleted since.)
            let current = read_tracker(&self.store.group_path(&group))?;
            if current.is_some_and(|t| t.tracking_id == tracking_id) {
                return Ok(group);
            }
            lock(&self.trackers).remove(tracking_id);
        }
        let group = self
            .store
            .group_of_tracking_id(tracking_id)?
            .ok_or_else(|| {
                invalid!("trackingId: {tracking_id:?} is not the trackingId of any event tracker")
            })?;
        lock(&self.trackers).insert(tracking_id.to_owned(), group.clone());
        Ok(group)
    }

    /// The dataset and open log for a dataset ARN, opened on first use.
    fn target(&self, dataset_arn: &str) -> Result<Arc<Target>> {
        let key = canonical_dataset_arn(dataset_arn);
        let mut targets = lock(&self.targets);
        if let Some(t) = key.as_ref().and_then(|k| targets.get(k)) {
            return Ok(Arc::clone(t));
        }
        let dataset = self.store.dataset_by_arn(dataset_arn)?;
        if dataset.info().status != Status::Active {
            return Err(Error::ResourceInUse(format!(
                "dataset {} is {}, not ACTIVE",
                dataset.info().dataset_arn,
                dataset.info().status
            )));
        }
        let log = PutLog::open(&dataset)?;
        let target = Arc::new(Target { dataset, log });
        targets.insert(
            target.dataset.info().dataset_arn.clone(),
            Arc::clone(&target),
        );
        Ok(target)
    }
}

/// `arn:...:dataset/GROUP/TYPE` with TYPE in its canonical spelling.
fn canonical_dataset_arn(dataset_arn: &str) -> Option<String> {
    match arn::parse(dataset_arn)? {
        ("dataset", rest) => {
            let (group, ty) = rest.split_once('/')?;
            Some(arn::dataset(group, DatasetType::parse(ty)?))
        }
        _ => None,
    }
}

// ---------------------------------------------------------------------------------------------
// Validation and mapping

/// Checks a whole PutEvents request against an Interactions schema and maps its events to log
/// records. Does not look at the trackingId.
pub fn event_records(schema: &Schema, req: &PutEventsRequest) -> Result<Vec<LogRecord>> {
    check_chars("sessionId", &req.session_id, 1, MAX_ID_CHARS)?;
    if let Some(user) = &req.user_id {
        check_chars("userId", user, 1, MAX_ID_CHARS)?;
    }
    check_count("eventList", req.event_list.len())?;
    let (user, source) = match &req.user_id {
        Some(user) => (user.as_str(), "userId"),
        None => (req.session_id.as_str(), "sessionId"),
    };
    let user_value = match schema.index_of("USER_ID") {
        Some(at) => Some((
            at,
            coerce(&schema.fields()[at], &Json::String(user.into()), source)?,
        )),
        None => None,
    };
    req.event_list
        .iter()
        .enumerate()
        .map(|(i, event)| {
            let mut slots = Slots::new(schema);
            if let Some((at, value)) = &user_value {
                slots.set(*at, value.clone(), source.to_owned())?;
            }
            event_values(schema, i, event, &mut slots)?;
            Ok(LogRecord {
                values: slots.finish(&format!("eventList[{i}]"))?,
                session_id: Some(req.session_id.clone()),
                event_id: event.event_id.clone(),
                anonymous: req.user_id.is_none(),
            })
        })
        .collect()
}

fn event_values(schema: &Schema, i: usize, event: &Event, slots: &mut Slots<'_>) -> Result<()> {
    let at = |name: &str| format!("eventList[{i}].{name}");
    let size = serde_json::to_vec(event).map_or(0, |v| v.len());
    if size > MAX_EVENT_BYTES {
        return Err(invalid!(
            "eventList[{i}]: the event is {size} bytes as JSON; the limit is {MAX_EVENT_BYTES} \
             (10 KB)"
        ));
    }
    check_chars(&at("eventType"), &event.event_type, 1, MAX_ID_CHARS)?;
    let sent_at = event.sent_at;
    if !(0.0..9.0e15).contains(&sent_at) {
        return Err(invalid!(
            "{}: {sent_at} is not a Unix time in seconds",
            at("sentAt")
        ));
    }
    if let Some(id) = &event.event_id {
        check_chars(&at("eventId"), id, 1, MAX_ID_CHARS)?;
    }
    if let Some(id) = &event.item_id {
        check_chars(&at("itemId"), id, 1, MAX_ID_CHARS)?;
    }
    if let Some(id) = &event.recommendation_id {
        check_chars(&at("recommendationId"), id, 1, MAX_RECOMMENDATION_ID_CHARS)?;
    }
    let impression = match &event.impression {
        None => None,
        Some(list) => {
            if !(1..=MAX_IMPRESSIONS).contains(&list.len()) {
                return Err(invalid!(
                    "{}: must list 1-{MAX_IMPRESSIONS} items, found {}",
                    at("impression"),
                    list.len()
                ));
            }
            for (j, item) in list.iter().enumerate() {
                check_id(item).map_err(|m| invalid!("{}[{j}]: {m}", at("impression")))?;
            }
            Some(list.join("|"))
        }
    };
    let attribution = match &event.metric_attribution {
        None => None,
        Some(m) => {
            let source = &m.event_attribution_source;
            let what = at("metricAttribution.eventAttributionSource");
            check_chars(&what, source, 1, MAX_ATTRIBUTION_SOURCE_CHARS)?;
            let printable = source.chars().all(|c| (' '..='~').contains(&c));
            if !printable || source.chars().all(|c| c == ' ') {
                return Err(invalid!(
                    "{what}: must be printable ASCII characters, not only spaces"
                ));
            }
            Some(source.clone())
        }
    };

    let top_level: [(&str, Option<Json>, String); 7] = [
        (
            "TIMESTAMP",
            Some(Json::from(sent_at.trunc() as i64)),
            at("sentAt"),
        ),
        (
            "EVENT_TYPE",
            Some(Json::from(event.event_type.clone())),
            at("eventType"),
        ),
        (
            "ITEM_ID",
            event.item_id.clone().map(Json::from),
            at("itemId"),
        ),
        (
            "EVENT_VALUE",
            match event.event_value {
                None => None,
                Some(v) => Some(Json::Number(serde_json::Number::from_f64(v).ok_or_else(
                    || invalid!("{}: {v} is not a finite number", at("eventValue")),
                )?)),
            },
            at("eventValue"),
        ),
        ("IMPRESSION", impression.map(Json::from), at("impression")),
        (
            "RECOMMENDATION_ID",
            event.recommendation_id.clone().map(Json::from),
            at("recommendationId"),
        ),
        (
            "EVENT_ATTRIBUTION_SOURCE",
            attribution.map(Json::from),
            at("metricAttribution.eventAttributionSource"),
        ),
    ];
    for (name, value, source) in top_level {
        // A top-level field whose column the schema lacks is accepted and not stored.
        if let (Some(value), Some(idx)) = (value, schema.index_of(name)) {
            let v = coerce(&schema.fields()[idx], &value, &source)?;
            slots.set(idx, v, source)?;
        }
    }

    if let Some(raw) = &event.properties {
        let what = at("properties");
        let props = parse_properties(&what, raw, MAX_EVENT_PROPERTIES_CHARS)?;
        for (key, value) in &props {
            let norm = normalize_key(key);
            if FORBIDDEN_EVENT_PROPERTIES
                .iter()
                .any(|f| normalize_key(f) == norm)
            {
                return Err(invalid!(
                    "{what}: key {key:?} is not allowed in an event's properties (userId, \
                     sessionId, eventType, timestamp, recommendationId and impression are \
                     request fields)"
                ));
            }
            let idx = property_field(schema, &what, key)?;
            let source = format!("{what}.{key}");
            let v = coerce(&schema.fields()[idx], value, &source)?;
            slots.set(idx, v, source)?;
        }
    }
    Ok(())
}

/// Checks PutItems/PutUsers/PutActions records (id and properties) against the dataset's
/// schema and maps them to log records.
pub fn metadata_records(
    schema: &Schema,
    records: &[(&str, Option<&str>)],
) -> Result<Vec<LogRecord>> {
    let kind = MetadataKind::of(schema.dataset_type());
    check_count(kind.list, records.len())?;
    let id_field = schema.dataset_type().id_field().ok_or_else(|| {
        invalid!(
            "a {} dataset takes events, not {}",
            schema.dataset_type(),
            kind.list
        )
    })?;
    let id_at = schema
        .index_of(id_field)
        .ok_or_else(|| invalid!("the schema has no {id_field} field"))?;
    records
        .iter()
        .enumerate()
        .map(|(i, (id, properties))| {
            let what = |name: &str| format!("{}[{i}].{name}", kind.list);
            let mut slots = Slots::new(schema);
            let id_source = what(kind.id_key);
            check_chars(&id_source, id, 1, MAX_ID_CHARS)?;
            let v = coerce(&schema.fields()[id_at], &Json::from(*id), &id_source)?;
            slots.set(id_at, v, id_source)?;
            if let Some(raw) = properties {
                let what = what("properties");
                for (key, value) in &parse_properties(&what, raw, kind.max_properties)? {
                    let idx = property_field(schema, &what, key)?;
                    let source = format!("{what}.{key}");
                    let v = coerce(&schema.fields()[idx], value, &source)?;
                    slots.set(idx, v, source)?;
                }
            }
            Ok(LogRecord::new(
                slots.finish(&format!("{}[{i}]", kind.list))?,
            ))
        })
        .collect()
}

/// Names and limits of the metadata Put* operations.
struct MetadataKind {
    operation: &'static str,
    list: &'static str,
    id_key: &'static str,
    max_properties: usize,
}

impl MetadataKind {
    fn of(ty: DatasetType) -> MetadataKind {
        match ty {
            DatasetType::Users => MetadataKind {
                operation: "PutUsers",
                list: "users",
                id_key: "userId",
                max_properties: MAX_USER_PROPERTIES_CHARS,
            },
            DatasetType::Actions => MetadataKind {
                operation: "PutActions",
                list: "actions",
                id_key: "actionId",
                max_properties: MAX_ACTION_PROPERTIES_CHARS,
            },
            _ => MetadataKind {
                operation: "PutItems",
                list: "items",
                id_key: "itemId",
                max_properties: MAX_ITEM_PROPERTIES_CHARS,
            },
        }
    }
}

/// The values of one record being built, with where each came from.
struct Slots<'a> {
    fields: &'a [Field],
    values: Vec<Option<(Value, String)>>,
}

impl<'a> Slots<'a> {
    fn new(schema: &'a Schema) -> Slots<'a> {
        Slots {
            fields: schema.fields(),
            values: vec![None; schema.fields().len()],
        }
    }

    /// Sets a field; giving it twice is fine only with the same value (D-28).
    fn set(&mut self, idx: usize, value: Value, source: String) -> Result<()> {
        match &self.values[idx] {
            Some((existing, first)) if *existing != value => Err(invalid!(
                "{source}: conflicts with {first} (both set {}, to {} and {})",
                self.fields[idx].name,
                show(&value),
                show(existing)
            )),
            Some(_) => Ok(()),
            None => {
                self.values[idx] = Some((value, source));
                Ok(())
            }
        }
    }

    /// The values in schema order; a field left out is null, which it must allow.
    fn finish(self, what: &str) -> Result<Vec<Value>> {
        self.fields
            .iter()
            .zip(self.values)
            .map(|(field, slot)| match slot {
                Some((v, _)) => Ok(v),
                None if field.nullable => Ok(Value::Null),
                None => Err(invalid!(
                    "{what}: no value for {} (type {}, null not allowed): give it as {}",
                    field.name,
                    field.ty,
                    key_hint(field)
                )),
            })
            .collect()
    }
}

fn key_hint(field: &Field) -> String {
    match field.name.as_str() {
        "ITEM_ID" => "itemId".into(),
        "EVENT_VALUE" => "eventValue".into(),
        _ => format!("the properties key {:?}", field.property_key()),
    }
}

fn show(v: &Value) -> String {
    match v {
        Value::String(s) => format!("{s:?}"),
        Value::Int(x) => x.to_string(),
        Value::Long(x) => x.to_string(),
        Value::Float(x) => x.to_string(),
        Value::Double(x) => x.to_string(),
        Value::Boolean(x) => x.to_string(),
        Value::Null => "null".into(),
        other => format!("{other:?}"),
    }
}

/// Parses a `properties` string: a JSON object of 1-`max` characters.
fn parse_properties(what: &str, raw: &str, max: usize) -> Result<Map<String, Json>> {
    check_chars(what, raw, 1, max)?;
    match serde_json::from_str::<Json>(raw) {
        Ok(Json::Object(map)) => Ok(map),
        Ok(other) => Err(invalid!(
            "{what}: must be a JSON object as a string, like \"{{\\\"numRatings\\\": 12}}\"; \
             found {}",
            json_kind(&other)
        )),
        Err(e) => Err(invalid!("{what}: not valid JSON: {e}")),
    }
}

fn json_kind(v: &Json) -> &'static str {
    match v {
        Json::Null => "null",
        Json::Bool(_) => "a boolean",
        Json::Number(_) => "a number",
        Json::String(_) => "a string",
        Json::Array(_) => "an array",
        Json::Object(_) => "an object",
    }
}

/// The field a `properties` key names: its camelCase name, or its exact name (D-24).
fn property_field(schema: &Schema, what: &str, key: &str) -> Result<usize> {
    schema
        .fields()
        .iter()
        .position(|f| f.name == key || f.property_key() == key)
        .ok_or_else(|| {
            let keys: Vec<String> = schema.fields().iter().map(Field::property_key).collect();
            invalid!(
                "{what}: key {key:?} is not a field of the {} schema (keys: {})",
                schema.dataset_type(),
                keys.join(", ")
            )
        })
}

fn normalize_key(key: &str) -> String {
    key.chars()
        .filter(|c| *c != '_')
        .map(|c| c.to_ascii_lowercase())
        .collect()
}

/// A JSON value (from `properties` or a request field) as a value of a field, with the same
/// checks as a bulk CSV cell: strings are parsed as cells, numbers and booleans by their text.
fn coerce(field: &Field, value: &Json, source: &str) -> Result<Value> {
    let text = match value {
        Json::Null if field.nullable => return Ok(Value::Null),
        Json::Null => {
            return Err(invalid!(
                "{source}: null, but {} (type {}) does not allow null",
                field.name,
                field.ty
            ))
        }
        Json::String(s) => s.clone(),
        Json::Number(n) => n.to_string(),
        Json::Bool(b) => b.to_string(),
        other => {
            return Err(invalid!(
                "{source}: {} cannot hold {}; give a string, number or boolean",
                field.name,
                json_kind(other)
            ))
        }
    };
    parse_cell(field, &text).map_err(|m| invalid!("{source}: {m} ({})", field.name))
}

fn check_count(what: &str, n: usize) -> Result<()> {
    if !(1..=MAX_RECORDS_PER_CALL).contains(&n) {
        return Err(invalid!(
            "{what}: must have 1-{MAX_RECORDS_PER_CALL} entries, found {n}"
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests;
