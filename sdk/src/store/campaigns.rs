//! Campaigns in the store (`spec/models.md` section 3): a named deployment of a solution version
//! that the server serves.
//!
//! ```text
//! <root>/campaigns/<name>.json    DescribeCampaign's `campaign` object
//! <root>/campaigns/.lock          serializes create, update and delete across processes
//! ```
//!
//! A campaign is ACTIVE as soon as CreateCampaign returns; the server loads its model on its next
//! reconcile ([`Store::list_campaigns`] plus [`Store::campaign_model_version`]). A campaign's
//! `solutionVersionArn` is either a concrete version or `<solution ARN>/$LATEST`, which is allowed
//! only with `syncWithLatestSolutionVersion` and means the solution's newest ACTIVE version.

use std::collections::BTreeMap;
use std::fs::{self, File};
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::{fsutil, list_dir_names, not_found, validate_name, Status, Store};
use crate::arn;
use crate::error::{invalid, Error, Result};

/// The suffix of a solution version ARN that follows the solution's newest ACTIVE version.
pub const LATEST: &str = "$LATEST";

/// The most entries of `itemExplorationConfig`.
pub const MAX_EXPLORATION_ENTRIES: usize = 100;

/// A campaign's configuration (Personalize's `CampaignConfig`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CampaignConfig {
    /// Follow the solution's newest ACTIVE version (needs `solutionVersionArn`
    /// `<solution ARN>/$LATEST`).
    #[serde(default)]
    pub sync_with_latest_solution_version: bool,
    /// Allow `metadataColumns` in recommendation requests.
    #[serde(default)]
    pub enable_metadata_with_recommendations: bool,
    /// `explorationWeight` and `explorationItemAgeCutOff` (User-Personalization only; stored).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub item_exploration_config: BTreeMap<String, String>,
}

/// The latest update of a campaign (DescribeCampaign's `latestCampaignUpdate`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CampaignUpdateSummary {
    /// The version the update deploys.
    pub solution_version_arn: String,
    /// Its minimum provisioned TPS.
    #[serde(rename = "minProvisionedTPS")]
    pub min_provisioned_tps: u32,
    /// Its configuration.
    pub campaign_config: CampaignConfig,
    /// `ACTIVE` once applied.
    pub status: Status,
    /// Why the update failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failure_reason: Option<String>,
    /// Unix seconds.
    pub creation_date_time: f64,
    /// Unix seconds.
    pub last_updated_date_time: f64,
}

/// A campaign (DescribeCampaign's `campaign` object).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CampaignInfo {
    /// The name.
    pub name: String,
    /// Its ARN.
    pub campaign_arn: String,
    /// The deployed version, or `<solution ARN>/$LATEST`.
    pub solution_version_arn: String,
    /// The minimum provisioned TPS (>= 1).
    #[serde(rename = "minProvisionedTPS")]
    pub min_provisioned_tps: u32,
    /// The configuration.
    pub campaign_config: CampaignConfig,
    /// `ACTIVE` once created.
    pub status: Status,
    /// Why creation failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failure_reason: Option<String>,
    /// Unix seconds.
    pub creation_date_time: f64,
    /// Unix seconds.
    pub last_updated_date_time: f64,
    /// The latest UpdateCampaign, once there was one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub latest_campaign_update: Option<CampaignUpdateSummary>,
}

impl CampaignInfo {
    /// The ARN of the campaign's solution (the version ARN without its last segment).
    pub fn solution_arn(&self) -> &str {
        self.solution_version_arn
            .rsplit_once('/')
            .map_or("", |(solution, _)| solution)
    }

    /// Whether the campaign follows the solution's newest ACTIVE version.
    pub fn follows_latest(&self) -> bool {
        is_latest(&self.solution_version_arn)
    }
}

/// The ARN of a campaign.
pub fn campaign_arn(name: &str) -> String {
    format!("{}campaign/{name}", arn::PREFIX)
}

fn is_latest(solution_version_arn: &str) -> bool {
    solution_version_arn
        .rsplit_once('/')
        .is_some_and(|(_, id)| id == LATEST)
}

impl Store {
    fn campaigns_dir(&self) -> PathBuf {
        self.root().join("campaigns")
    }

    fn campaign_path(&self, name: &str) -> PathBuf {
        self.campaigns_dir().join(format!("{name}.json"))
    }

    /// Takes the campaigns lock (held until the file is dropped).
    fn lock_campaigns(&self) -> Result<File> {
        let dir = self.campaigns_dir();
        fsutil::create_dir_durable(&dir)?;
        let path = dir.join(".lock");
        let file = fsutil::open_append(&path)?;
        file.lock().map_err(|e| Error::io(&path, e))?;
        Ok(file)
    }

    /// Checks that a version ARN can be deployed with a configuration: a concrete version must
    /// exist and be ACTIVE (and then sync must be off); `<solution ARN>/$LATEST` needs sync on
    /// and a solution with an ACTIVE version.
    fn check_deployable(&self, solution_version_arn: &str, config: &CampaignConfig) -> Result<()> {
        if solution_version_arn.is_empty() || solution_version_arn.chars().count() > 256 {
            return Err(invalid!(
                "solutionVersionArn: must have 1-256 characters, found {}",
                solution_version_arn.chars().count()
            ));
        }
        if config.item_exploration_config.len() > MAX_EXPLORATION_ENTRIES {
            return Err(invalid!(
                "campaignConfig.itemExplorationConfig: at most {MAX_EXPLORATION_ENTRIES} entries, \
                 found {}",
                config.item_exploration_config.len()
            ));
        }
        if is_latest(solution_version_arn) {
            if !config.sync_with_latest_solution_version {
                return Err(invalid!(
                    "solutionVersionArn: {solution_version_arn} ($LATEST) needs \
                     campaignConfig.syncWithLatestSolutionVersion=true"
                ));
            }
            let solution = solution_version_arn.rsplit_once('/').map_or("", |(s, _)| s);
            self.latest_solution_version(solution)?;
            return Ok(());
        }
        if config.sync_with_latest_solution_version {
            return Err(invalid!(
                "campaignConfig.syncWithLatestSolutionVersion=true needs solutionVersionArn \
                 <solution ARN>/{LATEST}, not the version {solution_version_arn}"
            ));
        }
        let v = self.solution_version(solution_version_arn)?;
        if v.status != Status::Active {
            return Err(Error::ResourceInUse(format!(
                "solution version {solution_version_arn} is {}, not ACTIVE",
                v.status
            )));
        }
        Ok(())
    }

    /// CreateCampaign: deploys a solution version (or `<solution ARN>/$LATEST` with
    /// `syncWithLatestSolutionVersion`). `min_provisioned_tps` defaults to 1 and must be >= 1.
    /// The campaign is ACTIVE when the call returns.
    pub fn create_campaign(
        &self,
        name: &str,
        solution_version_arn: &str,
        min_provisioned_tps: Option<u32>,
        config: CampaignConfig,
    ) -> Result<CampaignInfo> {
        validate_name("campaign name", name)?;
        let tps = check_tps(min_provisioned_tps.unwrap_or(1))?;
        self.check_deployable(solution_version_arn, &config)?;
        let _lock = self.lock_campaigns()?;
        let path = self.campaign_path(name);
        if path.exists() {
            return Err(Error::AlreadyExists {
                kind: "campaign",
                name: campaign_arn(name),
            });
        }
        let now = fsutil::now_secs();
        let info = CampaignInfo {
            name: name.into(),
            campaign_arn: campaign_arn(name),
            solution_version_arn: solution_version_arn.into(),
            min_provisioned_tps: tps,
            campaign_config: config,
            status: Status::Active,
            failure_reason: None,
            creation_date_time: now,
            last_updated_date_time: now,
            latest_campaign_update: None,
        };
        fsutil::write_json(&path, &info)?;
        Ok(info)
    }

    /// DescribeCampaign by name or ARN.
    pub fn campaign(&self, name_or_arn: &str) -> Result<CampaignInfo> {
        let name = campaign_name(name_or_arn)?;
        fsutil::read_json(&self.campaign_path(name))?
            .ok_or_else(|| not_found("campaign", name_or_arn))
    }

    /// ListCampaigns, all or those of one solution (name or ARN), sorted by name.
    pub fn list_campaigns(&self, solution_arn: Option<&str>) -> Result<Vec<CampaignInfo>> {
        let solution = solution_arn.map(|s| self.solution(s)).transpose()?;
        let dir = self.campaigns_dir();
        let mut out = Vec::new();
        for file in list_dir_names(&dir)? {
            if !file.ends_with(".json") {
                continue;
            }
            if let Some(c) = fsutil::read_json::<CampaignInfo>(&dir.join(&file))? {
                if solution
                    .as_ref()
                    .is_none_or(|s| c.solution_arn() == s.solution_arn)
                {
                    out.push(c);
                }
            }
        }
        Ok(out)
    }

    /// UpdateCampaign: changes the deployed version, the minimum TPS and/or the configuration
    /// (a given configuration replaces the whole old one). The campaign must be ACTIVE or
    /// CREATE FAILED. The update applies at once (`latestCampaignUpdate.status` ACTIVE); the
    /// server swaps the model on its next reconcile, without failing requests.
    pub fn update_campaign(
        &self,
        name_or_arn: &str,
        solution_version_arn: Option<String>,
        min_tps: Option<u32>,
        config: Option<CampaignConfig>,
    ) -> Result<CampaignInfo> {
        let name = campaign_name(name_or_arn)?.to_owned();
        let _lock = self.lock_campaigns()?;
        let mut info = self.campaign(&name)?;
        if info.status != Status::Active && info.status != Status::CreateFailed {
            return Err(Error::ResourceInUse(format!(
                "campaign {} is {}; it can be updated when ACTIVE or CREATE FAILED",
                info.campaign_arn, info.status
            )));
        }
        let version = solution_version_arn.unwrap_or_else(|| info.solution_version_arn.clone());
        let config = config.unwrap_or_else(|| info.campaign_config.clone());
        let tps = check_tps(min_tps.unwrap_or(info.min_provisioned_tps))?;
        self.check_deployable(&version, &config)?;
        let now = fsutil::now_secs();
        info.solution_version_arn = version.clone();
        info.min_provisioned_tps = tps;
        info.campaign_config = config.clone();
        info.status = Status::Active;
        info.failure_reason = None;
        info.last_updated_date_time = now;
        info.latest_campaign_update = Some(CampaignUpdateSummary {
            solution_version_arn: version,
            min_provisioned_tps: tps,
            campaign_config: config,
            status: Status::Active,
            failure_reason: None,
            creation_date_time: now,
            last_updated_date_time: now,
        });
        fsutil::write_json(&self.campaign_path(&name), &info)?;
        Ok(info)
    }

    /// DeleteCampaign by name or ARN. Its solution versions stay.
    pub fn delete_campaign(&self, name_or_arn: &str) -> Result<()> {
        let name = campaign_name(name_or_arn)?.to_owned();
        let _lock = self.lock_campaigns()?;
        let path = self.campaign_path(&name);
        match fs::remove_file(&path) {
            Ok(()) => fsutil::sync_dir(&self.campaigns_dir()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                Err(not_found("campaign", name_or_arn))
            }
            Err(e) => Err(Error::io(&path, e)),
        }
    }

    /// The concrete version ARN a campaign serves: its version, or for `$LATEST` the
    /// solution's newest ACTIVE version.
    pub fn campaign_model_version(&self, campaign: &CampaignInfo) -> Result<String> {
        if campaign.follows_latest() {
            Ok(self
                .latest_solution_version(campaign.solution_arn())?
                .solution_version_arn)
        } else {
            Ok(campaign.solution_version_arn.clone())
        }
    }
}

fn campaign_name(name_or_arn: &str) -> Result<&str> {
    let name =
        arn::name_of("campaign", name_or_arn).ok_or_else(|| not_found("campaign", name_or_arn))?;
    if validate_name("campaign name", name).is_err() {
        return Err(not_found("campaign", name_or_arn));
    }
    Ok(name)
}

fn check_tps(tps: u32) -> Result<u32> {
    if tps == 0 {
        return Err(invalid!("minProvisionedTPS: must be at least 1, found 0"));
    }
    Ok(tps)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::solutions::SolutionVersionInfo;

    fn version(store: &Store, solution: &str, id: &str, status: Status, at: f64) -> String {
        let solution_arn = crate::store::solutions::solution_arn(solution);
        let v = SolutionVersionInfo {
            solution_version_arn: format!("{solution_arn}/{id}"),
            solution_arn,
            dataset_group_arn: arn::dataset_group("g"),
            recipe_arn: crate::model::Recipe::PersonalizedRanking.arn(),
            event_type: None,
            solution_config: Default::default(),
            training_mode: "FULL".into(),
            training_type: "MANUAL".into(),
            status,
            failure_reason: None,
            training_hours: 0.0,
            creation_date_time: at,
            last_updated_date_time: at,
            tuned_hpo_params: None,
        };
        let dir = store.version_dir(solution, id);
        fsutil::create_dir_durable(&dir).unwrap();
        fsutil::write_json(&dir.join("version.json"), &v).unwrap();
        v.solution_version_arn
    }

    fn fixture() -> (tempfile::TempDir, Store, String) {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path().join("data")).unwrap();
        store.create_dataset_group("g", None).unwrap();
        let s = store
            .create_solution(
                "s",
                "g",
                crate::model::Recipe::PersonalizedRanking,
                None,
                Default::default(),
            )
            .unwrap();
        (dir, store, s.solution_arn)
    }

    fn sync() -> CampaignConfig {
        CampaignConfig {
            sync_with_latest_solution_version: true,
            ..Default::default()
        }
    }

    #[test]
    fn create_describe_list_update_delete() {
        let (dir, store, solution) = fixture();
        let v1 = version(&store, "s", "v1", Status::Active, 1.0);
        let v2 = version(&store, "s", "v2", Status::Active, 2.0);
        let c = store
            .create_campaign("c1", &v1, None, CampaignConfig::default())
            .unwrap();
        assert_eq!(c.status, "ACTIVE");
        assert_eq!(c.min_provisioned_tps, 1);
        assert_eq!(c.campaign_arn, campaign_arn("c1"));
        let json = serde_json::to_value(&c).unwrap();
        assert_eq!(json["minProvisionedTPS"], 1);
        assert_eq!(
            json["campaignConfig"]["syncWithLatestSolutionVersion"],
            false
        );
        assert!(json.get("latestCampaignUpdate").is_none());

        assert!(matches!(
            store.create_campaign("c1", &v1, None, CampaignConfig::default()),
            Err(Error::AlreadyExists { .. })
        ));
        assert_eq!(store.campaign(&c.campaign_arn).unwrap(), c);
        assert_eq!(store.campaign("c1").unwrap(), c);
        assert!(matches!(
            store.campaign("nope"),
            Err(Error::NotFound { .. })
        ));
        assert_eq!(store.campaign_model_version(&c).unwrap(), v1);

        store
            .create_campaign("c2", &v2, Some(3), CampaignConfig::default())
            .unwrap();
        let all = store.list_campaigns(None).unwrap();
        assert_eq!(all.len(), 2);
        assert_eq!(store.list_campaigns(Some(&solution)).unwrap().len(), 2);
        assert_eq!(store.list_campaigns(Some("s")).unwrap().len(), 2);

        let u = store
            .update_campaign("c1", Some(v2.clone()), Some(5), None)
            .unwrap();
        assert_eq!(u.solution_version_arn, v2);
        assert_eq!(u.min_provisioned_tps, 5);
        let last = u.latest_campaign_update.clone().unwrap();
        assert_eq!(last.status, "ACTIVE");
        assert_eq!(last.solution_version_arn, v2);
        assert_eq!(store.campaign("c1").unwrap(), u);

        // Survives reopening the store.
        let reopened = Store::open(dir.path().join("data")).unwrap();
        assert_eq!(reopened.campaign("c1").unwrap(), u);

        store.delete_campaign(&campaign_arn("c1")).unwrap();
        assert!(matches!(
            store.delete_campaign("c1"),
            Err(Error::NotFound { .. })
        ));
        assert_eq!(store.list_campaigns(None).unwrap().len(), 1);
        drop(dir);
    }

    #[test]
    fn versions_must_be_active_and_exist() {
        let (_dir, store, solution) = fixture();
        let pending = version(&store, "s", "v1", Status::CreateInProgress, 1.0);
        assert!(matches!(
            store.create_campaign("c", &pending, None, CampaignConfig::default()),
            Err(Error::ResourceInUse(_))
        ));
        assert!(matches!(
            store.create_campaign(
                "c",
                &format!("{solution}/zzz"),
                None,
                CampaignConfig::default()
            ),
            Err(Error::NotFound { .. })
        ));
        let v = version(&store, "s", "v2", Status::Active, 2.0);
        assert!(matches!(
            store.create_campaign("c", &v, Some(0), CampaignConfig::default()),
            Err(Error::InvalidInput(m)) if m.contains("minProvisionedTPS")
        ));
        assert!(matches!(
            store.create_campaign("bad name", &v, None, CampaignConfig::default()),
            Err(Error::InvalidInput(_))
        ));
    }

    #[test]
    fn latest_needs_sync_and_follows_the_newest_active_version() {
        let (_dir, store, solution) = fixture();
        let latest = format!("{solution}/{LATEST}");
        // No ACTIVE version yet.
        assert!(matches!(
            store.create_campaign("c", &latest, None, sync()),
            Err(Error::NotFound { .. })
        ));
        let v1 = version(&store, "s", "v1", Status::Active, 1.0);
        assert!(matches!(
            store.create_campaign("c", &latest, None, CampaignConfig::default()),
            Err(Error::InvalidInput(m)) if m.contains("syncWithLatestSolutionVersion")
        ));
        assert!(matches!(
            store.create_campaign("c", &v1, None, sync()),
            Err(Error::InvalidInput(m)) if m.contains("$LATEST")
        ));
        let c = store.create_campaign("c", &latest, None, sync()).unwrap();
        assert!(c.follows_latest());
        assert_eq!(c.solution_arn(), solution);
        assert_eq!(store.campaign_model_version(&c).unwrap(), v1);
        version(&store, "s", "v2", Status::CreateFailed, 2.0);
        assert_eq!(store.campaign_model_version(&c).unwrap(), v1);
        let v3 = version(&store, "s", "v3", Status::Active, 3.0);
        assert_eq!(store.campaign_model_version(&c).unwrap(), v3);

        // Turning sync off needs a concrete version; pinning one needs sync off.
        assert!(matches!(
            store.update_campaign("c", None, None, Some(CampaignConfig::default())),
            Err(Error::InvalidInput(_))
        ));
        assert!(matches!(
            store.update_campaign("c", Some(v1.clone()), None, None),
            Err(Error::InvalidInput(_))
        ));
        let pinned = store
            .update_campaign("c", Some(v1.clone()), None, Some(CampaignConfig::default()))
            .unwrap();
        assert!(!pinned.follows_latest());
        assert_eq!(store.campaign_model_version(&pinned).unwrap(), v1);
        let back = store
            .update_campaign("c", Some(latest.clone()), None, Some(sync()))
            .unwrap();
        assert_eq!(store.campaign_model_version(&back).unwrap(), v3);
    }
}
