//! The state every request shares ([`AppState`]): the store, the event recorder, the live
//! campaigns, the per-dataset-group real-time state and the metrics.
//!
//! # Invariants
//!
//! - The request path never touches the disk: a runtime request clones an
//!   `Arc<LiveCampaign>` out of the campaign map under a short read lock and ranks with the
//!   in-memory model. [`AppState::reload_campaigns`] (blocking, off the request path) loads
//!   models and swaps whole `Arc`s in, so requests in flight finish on the version they
//!   started with and none waits for a load.
//! - Every PutEvents call takes its dataset group's [`GroupState`] before it appends to the log,
//!   and records its events in the group's real-time cache after the append is durable. A
//!   group's cache therefore holds every event recorded since the group state was created
//!   (`scanned_from`); events older than that come from the PUT log, read again whenever a model
//!   trained before `scanned_from` goes live ([`GroupState::ensure_events_since`]). No event is
//!   missed or counted twice.
//! - PutItems applies its records to the catalog after its append is durable, holding the
//!   group's item gate (shared); a catalog (re)load holds the gate exclusively. An item is
//!   therefore either read by the load or applied after it (upserts are idempotent).

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, RwLock, RwLockReadGuard};

use apache_avro::types::Value;
use attune::events::Recorder;
use attune::model::{Model, Recipe};
use attune::store::campaigns::CampaignInfo;
use attune::store::Status;
use attune::{DatasetType, Store};
use tracing::{info, warn};

use crate::catalog::Catalog;
use crate::config::Config;
use crate::metrics::{Gauges, Metrics, Route, Series};
use crate::realtime::{seq_of_secs, RealtimeCache, RecentEvent};
use crate::sync::{lock, read, write};
use crate::upstream::Upstream;

/// Nanoseconds since the Unix epoch (the scale of ingestion sequence numbers).
pub(crate) fn now_seq() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0)
}

/// A campaign being served: its description, the model of the version it serves and where its
/// real-time state lives.
#[derive(Debug)]
pub struct LiveCampaign {
    /// The campaign as stored.
    pub info: CampaignInfo,
    /// The concrete solution version served (`$LATEST` resolved).
    pub version_arn: String,
    /// The model.
    pub model: Arc<Model>,
    /// The model's training time on the ingestion sequence scale: real-time events after it
    /// count.
    pub trained_seq: u64,
    /// The campaign's dataset group.
    pub group: Arc<GroupState>,
    /// Metrics of GetPersonalizedRanking on this campaign.
    pub ranking_metrics: Arc<Series>,
    /// Metrics of GetRecommendations on this campaign.
    pub recommendations_metrics: Arc<Series>,
    /// Metrics of OpenSearch re-ranking on this campaign (`/opensearch/rerank`, the plugin's
    /// call, and `/opensearch/scores`).
    pub opensearch_metrics: Arc<Series>,
}

/// The in-memory state of one dataset group.
#[derive(Debug)]
pub struct GroupState {
    /// The group's name.
    pub name: String,
    /// Recent events per user or session.
    pub realtime: RealtimeCache,
    /// The earliest ingestion time from which `realtime` holds every event.
    scanned_from: Mutex<u64>,
    /// The Items catalog, once a campaign needs it.
    catalog: RwLock<Option<Catalog>>,
    /// Shared by PutItems while it updates the catalog; exclusive for a catalog load.
    item_gate: RwLock<()>,
}

impl GroupState {
    fn new(name: &str, config: &Config) -> GroupState {
        GroupState {
            name: name.to_owned(),
            realtime: RealtimeCache::new(config.lru_capacity, config.recent_events_per_user),
            scanned_from: Mutex::new(now_seq()),
            catalog: RwLock::new(None),
            item_gate: RwLock::new(()),
        }
    }

    /// Reads the group's Items catalog (None when not loaded or the group has no Items
    /// dataset). Hold the guard briefly.
    pub fn catalog(&self) -> RwLockReadGuard<'_, Option<Catalog>> {
        read(&self.catalog)
    }

    /// Makes the real-time cache hold every event ingested after `since` (nanoseconds), reading
    /// the Interactions PUT log for what it lacks. BLOCKING.
    pub fn ensure_events_since(&self, store: &Store, since: u64) -> attune::Result<()> {
        let mut from = lock(&self.scanned_from);
        if since >= *from {
            return Ok(());
        }
        let until = *from;
        let dataset = match store.dataset(&self.name, DatasetType::Interactions) {
            Ok(d) => d,
            Err(attune::Error::NotFound { .. }) => {
                *from = since;
                return Ok(());
            }
            Err(e) => return Err(e),
        };
        let schema = dataset.schema();
        let (Some(user_at), Some(item_at)) =
            (schema.index_of("USER_ID"), schema.index_of("ITEM_ID"))
        else {
            *from = since;
            return Ok(());
        };
        let type_at = schema.index_of("EVENT_TYPE");
        let mut n = 0usize;
        attune::store::log::read(&dataset, |e| {
            if e.seq <= since || e.seq >= until {
                return Ok(());
            }
            let (Some(Value::String(user)), Some(Value::String(item))) =
                (e.values.get(user_at), e.values.get(item_at))
            else {
                return Ok(());
            };
            let event_type = match type_at.and_then(|t| e.values.get(t)) {
                Some(Value::String(t)) => t.as_str(),
                _ => "",
            };
            self.realtime.record(
                user,
                RecentEvent {
                    item: Arc::from(item.as_str()),
                    event_type: self.realtime.event_type(event_type),
                    seq: e.seq,
                },
            );
            n += 1;
            Ok(())
        })?;
        info!(dataset_group = %self.name, events = n, "real-time events rebuilt from the event log");
        *from = since;
        Ok(())
    }

    /// Loads the Items catalog if the group has an Items dataset and it is not loaded, or its
    /// bulk segments changed since. BLOCKING.
    fn ensure_catalog(&self, store: &Store) -> attune::Result<()> {
        let dataset = match store.dataset(&self.name, DatasetType::Items) {
            Ok(d) => d,
            Err(attune::Error::NotFound { .. }) => return Ok(()),
            Err(e) => return Err(e),
        };
        let signature: Vec<String> = dataset.segments()?.into_iter().map(|s| s.file).collect();
        if read(&self.catalog)
            .as_ref()
            .is_some_and(|c| c.signature == signature)
        {
            return Ok(());
        }
        let _gate = write(&self.item_gate);
        let catalog = Catalog::load(&dataset)?;
        info!(dataset_group = %self.name, items = catalog.len(), "items catalog loaded");
        *write(&self.catalog) = Some(catalog);
        Ok(())
    }

    /// Applies items a PutItems call has durably appended (values in schema order, built by
    /// `records` from the catalog's schema) to the catalog, when one is loaded. Waits for a
    /// catalog load in progress; upserts are idempotent, so a load that already read the
    /// records does no harm. BLOCKING.
    pub fn apply_items(
        &self,
        records: impl FnOnce(&Catalog) -> attune::Result<Vec<Vec<Value>>>,
    ) -> attune::Result<()> {
        let _gate = read(&self.item_gate);
        let values = match read(&self.catalog).as_ref() {
            Some(c) => records(c)?,
            None => return Ok(()),
        };
        if let Some(c) = write(&self.catalog).as_mut() {
            c.put(&values);
        }
        Ok(())
    }
}

/// The live campaigns by name.
type CampaignMap = HashMap<Box<str>, Arc<LiveCampaign>>;

/// Everything requests share.
#[derive(Debug)]
pub struct AppState {
    config: Config,
    store: Store,
    recorder: Recorder,
    campaigns: RwLock<CampaignMap>,
    groups: RwLock<HashMap<String, Arc<GroupState>>>,
    /// trackingId -> dataset group name.
    trackers: RwLock<HashMap<String, String>>,
    reload: Mutex<()>,
    metrics: Metrics,
    /// The search proxy's OpenSearch client, when `opensearch_url` is set.
    upstream: Option<Upstream>,
}

impl AppState {
    /// Opens the store of the configuration. Serves no campaign until
    /// [`AppState::reload_campaigns`] runs. BLOCKING.
    pub fn open(config: Config) -> Result<AppState, attune::Error> {
        let store = Store::open(&config.data_dir)?;
        let upstream = match &config.proxy {
            Some(p) => Some(Upstream::new(p).map_err(attune::Error::InvalidInput)?),
            None => None,
        };
        Ok(AppState {
            recorder: Recorder::new(store.clone()),
            store,
            config,
            campaigns: RwLock::new(HashMap::new()),
            groups: RwLock::new(HashMap::new()),
            trackers: RwLock::new(HashMap::new()),
            reload: Mutex::new(()),
            metrics: Metrics::default(),
            upstream,
        })
    }

    /// The configuration.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The store.
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// The recorder of PutEvents, PutItems and PutUsers (one per store).
    pub fn recorder(&self) -> &Recorder {
        &self.recorder
    }

    /// The metrics.
    pub fn metrics(&self) -> &Metrics {
        &self.metrics
    }

    /// The search proxy's OpenSearch client, when `opensearch_url` is set.
    pub fn upstream(&self) -> Option<&Upstream> {
        self.upstream.as_ref()
    }

    /// A live campaign by name.
    pub fn campaign(&self, name: &str) -> Option<Arc<LiveCampaign>> {
        read(&self.campaigns).get(name).cloned()
    }

    /// The names of the live campaigns.
    pub fn campaign_names(&self) -> Vec<String> {
        let mut names: Vec<String> = read(&self.campaigns)
            .keys()
            .map(|k| k.to_string())
            .collect();
        names.sort();
        names
    }

    /// The state of a dataset group, if it exists.
    pub fn existing_group(&self, name: &str) -> Option<Arc<GroupState>> {
        read(&self.groups).get(name).cloned()
    }

    /// The state of a dataset group, created on first use.
    pub fn group(&self, name: &str) -> Arc<GroupState> {
        if let Some(g) = read(&self.groups).get(name) {
            return Arc::clone(g);
        }
        let mut groups = write(&self.groups);
        Arc::clone(
            groups
                .entry(name.to_owned())
                .or_insert_with(|| Arc::new(GroupState::new(name, &self.config))),
        )
    }

    /// The dataset group of a trackingId (`None` when no tracker has it). BLOCKING on a cache
    /// miss (reads the trackers).
    pub fn group_of_tracking_id(&self, tracking_id: &str) -> attune::Result<Option<String>> {
        if let Some(g) = read(&self.trackers).get(tracking_id) {
            return Ok(Some(g.clone()));
        }
        let trackers = self.store.list_event_trackers(None)?;
        let mut map = write(&self.trackers);
        map.clear();
        for t in trackers {
            if let Some(g) = attune::arn::name_of("dataset-group", &t.dataset_group_arn) {
                map.insert(t.tracking_id.clone(), g.to_owned());
            }
        }
        Ok(map.get(tracking_id).cloned())
    }

    /// Reconciles the live campaigns with the store: loads the models of new campaigns and of
    /// campaigns whose version changed (a `$LATEST` campaign follows its solution's newest
    /// ACTIVE version), swaps them in atomically and drops deleted campaigns. A campaign whose
    /// model fails to load keeps serving its previous version (or is not served) and the
    /// failure is logged. BLOCKING: call it from `spawn_blocking`. Fails only when the
    /// campaigns cannot be listed.
    pub fn reload_campaigns(&self) -> Result<(), attune::Error> {
        let _one_at_a_time = lock(&self.reload);
        let infos = self.store.list_campaigns(None)?;
        let current: CampaignMap = read(&self.campaigns).clone();
        let mut next: CampaignMap = HashMap::with_capacity(infos.len());
        let mut catalogs: HashSet<String> = HashSet::new();
        for info in infos {
            if info.status != Status::Active {
                continue;
            }
            let old = current.get(info.name.as_str());
            let live = match self.live_campaign(&info, old, &current, &next) {
                Ok(live) => live,
                Err(e) => {
                    warn!(campaign = %info.name, cause = %e, "cannot serve the campaign's model");
                    self.metrics.model_load(false);
                    match old {
                        Some(old) => Arc::clone(old),
                        None => continue,
                    }
                }
            };
            if live
                .info
                .campaign_config
                .enable_metadata_with_recommendations
                || live.model.recipe() == Recipe::SimilarItems
            {
                catalogs.insert(live.group.name.clone());
            }
            next.insert(Box::from(info.name.as_str()), live);
        }
        for name in catalogs {
            let group = self.group(&name);
            if let Err(e) = group.ensure_catalog(&self.store) {
                warn!(dataset_group = %name, cause = %e, "cannot load the items catalog");
            }
        }
        let changed = next.len() != current.len()
            || next
                .iter()
                .any(|(k, v)| current.get(k).is_none_or(|o| !Arc::ptr_eq(o, v)));
        if changed {
            info!(campaigns = next.len(), "live campaigns updated");
        }
        *write(&self.campaigns) = next;
        Ok(())
    }

    /// The live form of a stored campaign: the old one when nothing changed, else with the
    /// model of its current version (shared with another campaign serving it, or loaded).
    fn live_campaign(
        &self,
        info: &CampaignInfo,
        old: Option<&Arc<LiveCampaign>>,
        current: &CampaignMap,
        next: &CampaignMap,
    ) -> attune::Result<Arc<LiveCampaign>> {
        let version_arn = self.store.campaign_model_version(info)?;
        if let Some(old) = old {
            if old.version_arn == version_arn && old.info == *info {
                return Ok(Arc::clone(old));
            }
        }
        let shared = current
            .values()
            .chain(next.values())
            .find(|c| c.version_arn == version_arn);
        let (model, group_name) = match shared {
            Some(c) => (Arc::clone(&c.model), c.group.name.clone()),
            None => {
                let version = self.store.solution_version(&version_arn)?;
                let model = Arc::new(self.store.load_model(&version_arn)?);
                self.metrics.model_load(true);
                info!(campaign = %info.name, version = %version_arn, recipe = model.recipe().name(),
                      items = model.items.len(), "model loaded");
                let group = attune::arn::name_of("dataset-group", &version.dataset_group_arn)
                    .unwrap_or_default()
                    .to_owned();
                (model, group)
            }
        };
        let group = self.group(&group_name);
        let trained_seq = seq_of_secs(model.header.trained_at);
        group.ensure_events_since(&self.store, trained_seq)?;
        Ok(Arc::new(LiveCampaign {
            info: info.clone(),
            version_arn,
            model,
            trained_seq,
            group,
            ranking_metrics: self.metrics.series(Route::Ranking, &info.name),
            recommendations_metrics: self.metrics.series(Route::Recommendations, &info.name),
            opensearch_metrics: self.metrics.series(Route::OpenSearch, &info.name),
        }))
    }

    /// The Prometheus text of the metrics, with the state's gauges.
    pub fn render_metrics(&self) -> String {
        let campaigns = read(&self.campaigns);
        let mut gauges = Gauges::default();
        let mut versions = HashSet::new();
        for (name, c) in campaigns.iter() {
            gauges
                .campaigns
                .push((name.to_string(), c.version_arn.clone()));
            versions.insert(Arc::as_ptr(&c.model));
        }
        drop(campaigns);
        gauges.campaigns.sort();
        gauges.models_loaded = versions.len();
        let groups: Vec<Arc<GroupState>> = read(&self.groups).values().cloned().collect();
        gauges.realtime_users = groups
            .iter()
            .map(|g| (g.name.clone(), g.realtime.len()))
            .collect();
        gauges.realtime_users.sort();
        self.metrics.render(&gauges)
    }
}
