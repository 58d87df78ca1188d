//! Solutions and solution versions in the store (`spec/models.md` section 2).
//!
//! ```text
//! <root>/solutions/<name>/solution.json
//! <root>/solutions/<name>/versions/<id>/version.json   status, config, failure reason
//! <root>/solutions/<name>/versions/<id>/model.bin      the artifact (only once ACTIVE)
//! <root>/solutions/<name>/versions/<id>/metrics.json   GetSolutionMetrics' metrics
//! ```

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Instant;

use serde::{Deserialize, Serialize};

use super::running::{self, JobRecord, RunningJob};
use super::{fsutil, list_dir_names, next_seq, not_found, validate_name, Status, Store};
use crate::arn;
use crate::error::{invalid, Error, Result};
use crate::model::{Model, Recipe};

/// A solution's training configuration (Personalize's `solutionConfig`, the parts Attune uses).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SolutionConfig {
    /// Hyperparameters as strings, validated per recipe when training starts.
    #[serde(default)]
    pub algorithm_hyper_parameters: BTreeMap<String, String>,
    /// Only events with EVENT_VALUE >= this are used (with the solution's eventType).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event_value_threshold: Option<String>,
    /// CreateSolution's `performHPO`: tune the hyperparameters [`SolutionConfig::hpo_config`]
    /// ranges on validation users before each training (kept here, with its configuration).
    #[serde(
        default,
        rename = "performHPO",
        skip_serializing_if = "std::ops::Not::not"
    )]
    pub perform_hpo: bool,
    /// How to tune (`performHPO`): the ranges, the objective and the number of trials.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hpo_config: Option<HpoConfig>,
}

/// Personalize's `HPOConfig`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HpoConfig {
    /// The metric to optimize (default `normalized_discounted_cumulative_gain_at_25`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hpo_objective: Option<HpoObjective>,
    /// How many trials, and how many at once.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hpo_resource_config: Option<HpoResourceConfig>,
    /// The hyperparameters to tune and their ranges.
    #[serde(default)]
    pub algorithm_hyper_parameter_ranges: HyperParameterRanges,
}

/// Personalize's `HPOObjective`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HpoObjective {
    /// A metric name of GetSolutionMetrics.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metric_name: Option<String>,
    /// `Maximize` (default) or `Minimize`.
    #[serde(default, rename = "type", skip_serializing_if = "Option::is_none")]
    pub objective_type: Option<String>,
}

/// Personalize's `HPOResourceConfig` (numbers as strings, as in the API).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HpoResourceConfig {
    /// Trials, 1-40 (default 8).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_number_of_training_jobs: Option<String>,
    /// Trials run at once, 1-10 (default 1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_parallel_training_jobs: Option<String>,
}

/// Personalize's `HyperParameterRanges`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HyperParameterRanges {
    /// Whole-number ranges.
    #[serde(default)]
    pub integer_hyper_parameter_ranges: Vec<IntegerRange>,
    /// Real ranges.
    #[serde(default)]
    pub continuous_hyper_parameter_ranges: Vec<ContinuousRange>,
    /// Lists of values.
    #[serde(default)]
    pub categorical_hyper_parameter_ranges: Vec<CategoricalRange>,
}

/// An integer hyperparameter range, both ends included.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct IntegerRange {
    /// The hyperparameter.
    pub name: String,
    /// The smallest value.
    pub min_value: i64,
    /// The largest value.
    pub max_value: i64,
}

/// A continuous hyperparameter range, both ends included.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ContinuousRange {
    /// The hyperparameter.
    pub name: String,
    /// The smallest value.
    pub min_value: f64,
    /// The largest value.
    pub max_value: f64,
}

/// A categorical hyperparameter range: the values to try.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CategoricalRange {
    /// The hyperparameter.
    pub name: String,
    /// Its values, as strings.
    pub values: Vec<String>,
}

/// A solution (DescribeSolution's `solution`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SolutionInfo {
    /// The name.
    pub name: String,
    /// Its ARN.
    pub solution_arn: String,
    /// The dataset group it trains on.
    pub dataset_group_arn: String,
    /// The recipe's ARN.
    pub recipe_arn: String,
    /// Train only on events of this type.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event_type: Option<String>,
    /// The training configuration.
    pub solution_config: SolutionConfig,
    /// Always false: Attune trains when asked.
    pub perform_auto_training: bool,
    /// `ACTIVE`.
    pub status: Status,
    /// Unix seconds.
    pub creation_date_time: f64,
    /// Unix seconds.
    pub last_updated_date_time: f64,
}

impl SolutionInfo {
    /// The solution's recipe.
    pub fn recipe(&self) -> Result<Recipe> {
        Recipe::parse(&self.recipe_arn)
            .ok_or_else(|| invalid!("unknown recipe {}", self.recipe_arn))
    }

    /// The dataset group's name.
    pub fn dataset_group(&self) -> &str {
        arn::name_of("dataset-group", &self.dataset_group_arn).unwrap_or_default()
    }
}

/// A solution version (DescribeSolutionVersion's `solutionVersion`), plus its metrics.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SolutionVersionInfo {
    /// Its ARN: `<solution ARN>/<id>`.
    pub solution_version_arn: String,
    /// The solution's ARN.
    pub solution_arn: String,
    /// The dataset group's ARN.
    pub dataset_group_arn: String,
    /// The recipe's ARN.
    pub recipe_arn: String,
    /// The solution's event type.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event_type: Option<String>,
    /// The solution's configuration at training time.
    pub solution_config: SolutionConfig,
    /// `FULL`.
    pub training_mode: String,
    /// `MANUAL`.
    pub training_type: String,
    /// `CREATE IN_PROGRESS`, `ACTIVE`, `CREATE FAILED` or `CREATE STOPPED`.
    pub status: Status,
    /// Why training failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failure_reason: Option<String>,
    /// Hours spent training.
    #[serde(default)]
    pub training_hours: f64,
    /// Unix seconds.
    pub creation_date_time: f64,
    /// Unix seconds.
    pub last_updated_date_time: f64,
    /// What training tuned (`algorithm=auto` or HPO), as DescribeSolutionVersion reports it.
    #[serde(
        default,
        rename = "tunedHPOParams",
        skip_serializing_if = "Option::is_none"
    )]
    pub tuned_hpo_params: Option<TunedHpoParams>,
}

/// DescribeSolutionVersion's `tunedHPOParams`: the hyperparameters tuning chose.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TunedHpoParams {
    /// The chosen values, as strings.
    pub algorithm_hyper_parameters: BTreeMap<String, String>,
}

impl SolutionVersionInfo {
    /// The version id (the last ARN segment).
    pub fn id(&self) -> &str {
        self.solution_version_arn
            .rsplit('/')
            .next()
            .unwrap_or_default()
    }
}

/// The ARN of a solution.
pub fn solution_arn(name: &str) -> String {
    format!("{}solution/{name}", arn::PREFIX)
}

impl Store {
    fn solution_dir(&self, name: &str) -> PathBuf {
        self.root().join("solutions").join(name)
    }

    /// Records a solution: a named training configuration over a dataset group. The recipe's
    /// hyperparameters are not checked here but when a version trains; CreateSolution checks
    /// them first (`train::create_solution`).
    pub fn create_solution(
        &self,
        name: &str,
        group: &str,
        recipe: Recipe,
        event_type: Option<String>,
        config: SolutionConfig,
    ) -> Result<SolutionInfo> {
        validate_name("solution name", name)?;
        let group = self.dataset_group(group)?;
        if let Some(t) = &event_type {
            if t.is_empty() || t.chars().count() > 256 {
                return Err(invalid!("eventType must have 1-256 characters"));
            }
        }
        if let Some(v) = &config.event_value_threshold {
            if v.parse::<f32>().map_or(true, |f| !f.is_finite()) {
                return Err(invalid!(
                    "solutionConfig.eventValueThreshold {v:?} is not a number"
                ));
            }
            if event_type.is_none() {
                return Err(invalid!(
                    "solutionConfig.eventValueThreshold needs the solution's eventType"
                ));
            }
        }
        let dir = self.solution_dir(name);
        if dir.join("solution.json").exists() {
            return Err(Error::AlreadyExists {
                kind: "solution",
                name: name.into(),
            });
        }
        fsutil::create_dir_durable(&dir.join("versions"))?;
        let now = fsutil::now_secs();
        let info = SolutionInfo {
            name: name.into(),
            solution_arn: solution_arn(name),
            dataset_group_arn: group.dataset_group_arn,
            recipe_arn: recipe.arn(),
            event_type,
            solution_config: config,
            perform_auto_training: false,
            status: Status::Active,
            creation_date_time: now,
            last_updated_date_time: now,
        };
        fsutil::write_json(&dir.join("solution.json"), &info)?;
        Ok(info)
    }

    /// DescribeSolution by name or ARN.
    pub fn solution(&self, name_or_arn: &str) -> Result<SolutionInfo> {
        let name = arn::name_of("solution", name_or_arn)
            .ok_or_else(|| not_found("solution", name_or_arn))?;
        validate_name("solution name", name)?;
        fsutil::read_json(&self.solution_dir(name).join("solution.json"))?
            .ok_or_else(|| not_found("solution", name))
    }

    /// ListSolutions, optionally of one dataset group, by name.
    pub fn list_solutions(&self, group: Option<&str>) -> Result<Vec<SolutionInfo>> {
        let group_arn = group.map(|g| self.dataset_group(g)).transpose()?;
        let mut out = Vec::new();
        for name in list_dir_names(&self.root().join("solutions"))? {
            if let Some(s) =
                fsutil::read_json::<SolutionInfo>(&self.solution_dir(&name).join("solution.json"))?
            {
                if group_arn
                    .as_ref()
                    .is_none_or(|g| g.dataset_group_arn == s.dataset_group_arn)
                {
                    out.push(s);
                }
            }
        }
        Ok(out)
    }

    pub(crate) fn version_dir(&self, solution: &str, id: &str) -> PathBuf {
        self.solution_dir(solution).join("versions").join(id)
    }

    /// Splits a solution version ARN (or `solution/id`) into solution name and version id.
    fn parse_version_arn<'a>(&self, arn_or_path: &'a str) -> Result<(&'a str, &'a str)> {
        let rest = match arn::parse(arn_or_path) {
            Some(("solution", rest)) => rest,
            Some(_) => return Err(invalid!("{arn_or_path:?} is not a solution version ARN")),
            None => arn_or_path,
        };
        let (solution, id) = rest
            .split_once('/')
            .ok_or_else(|| invalid!("{arn_or_path:?} is not a solution version ARN"))?;
        validate_name("solution name", solution)?;
        if id.is_empty() || !id.chars().all(|c| c.is_ascii_alphanumeric()) {
            return Err(not_found("solution version", arn_or_path));
        }
        Ok((solution, id))
    }

    /// DescribeSolutionVersion by ARN (or `solution/id`). A version left in progress by a
    /// process that died is recorded as CREATE FAILED on the way (`store::running`).
    pub fn solution_version(&self, arn_or_path: &str) -> Result<SolutionVersionInfo> {
        let (solution, id) = self.parse_version_arn(arn_or_path)?;
        self.read_version(solution, id)?
            .ok_or_else(|| not_found("solution version", arn_or_path))
    }

    /// ListSolutionVersions of a solution, oldest first. Versions left in progress by a
    /// process that died are recorded as CREATE FAILED on the way (`store::running`).
    pub fn list_solution_versions(&self, solution: &str) -> Result<Vec<SolutionVersionInfo>> {
        let s = self.solution(solution)?;
        let dir = self.solution_dir(&s.name).join("versions");
        let mut out: Vec<SolutionVersionInfo> = Vec::new();
        for id in list_dir_names(&dir)? {
            out.extend(self.read_version(&s.name, &id)?);
        }
        out.sort_by(|a, b| a.creation_date_time.total_cmp(&b.creation_date_time));
        Ok(out)
    }

    fn read_version(&self, solution: &str, id: &str) -> Result<Option<SolutionVersionInfo>> {
        running::read_settled(
            &self.version_dir(solution, id).join("version.json"),
            &self.version_lock_path(solution, id),
        )
    }

    /// The lock file a solution version's training process holds while it runs.
    fn version_lock_path(&self, solution: &str, id: &str) -> PathBuf {
        self.version_dir(solution, id).join("training.lock")
    }

    /// Allocates a new version of `solution` and records it as CREATE IN_PROGRESS under its
    /// lock ([`RunningJob`]); [`Store::finish_solution_version`] records the end.
    pub(crate) fn begin_solution_version(
        &self,
        solution: &SolutionInfo,
    ) -> Result<RunningJob<SolutionVersionInfo>> {
        let id = format!("{:012x}", next_seq() & 0xffff_ffff_ffff);
        let now = fsutil::now_secs();
        let version = SolutionVersionInfo {
            solution_version_arn: format!("{}/{id}", solution.solution_arn),
            solution_arn: solution.solution_arn.clone(),
            dataset_group_arn: solution.dataset_group_arn.clone(),
            recipe_arn: solution.recipe_arn.clone(),
            event_type: solution.event_type.clone(),
            solution_config: solution.solution_config.clone(),
            training_mode: "FULL".into(),
            training_type: "MANUAL".into(),
            status: Status::CreateInProgress,
            failure_reason: None,
            training_hours: 0.0,
            creation_date_time: now,
            last_updated_date_time: now,
            tuned_hpo_params: None,
        };
        let dir = self.version_dir(&solution.name, &id);
        RunningJob::begin(
            dir.join("version.json"),
            &self.version_lock_path(&solution.name, &id),
            version,
        )
    }

    /// Records the end of a training begun with [`Store::begin_solution_version`] (`started`
    /// when it began): with a trained model, writes `metrics.json` and `model.bin` and records
    /// the version ACTIVE; on an error (or a failed write) removes any `model.bin` and records
    /// CREATE STOPPED for [`Error::Interrupted`], else CREATE FAILED, and returns the error.
    pub(crate) fn finish_solution_version(
        &self,
        mut job: RunningJob<SolutionVersionInfo>,
        trained: Result<(Model, BTreeMap<String, f64>)>,
        started: Instant,
    ) -> Result<SolutionVersionInfo> {
        let (solution, id) = self.parse_version_arn(&job.record().solution_version_arn)?;
        let dir = self.version_dir(solution, id);
        let result = trained.and_then(|(model, metrics)| {
            fsutil::write_json(&dir.join("metrics.json"), &metrics)?;
            model.save(&dir.join("model.bin"))
        });
        job.record_mut().training_hours = started.elapsed().as_secs_f64() / 3600.0;
        match result {
            Ok(()) => job.finish(Status::Active, None),
            Err(e) => {
                let _ = std::fs::remove_file(dir.join("model.bin"));
                let status = if matches!(e, Error::Interrupted) {
                    Status::CreateStopped
                } else {
                    Status::CreateFailed
                };
                job.finish(status, Some(e.to_string()))?;
                Err(e)
            }
        }
    }

    /// The newest ACTIVE version of a solution (what `$LATEST` means).
    pub fn latest_solution_version(&self, solution: &str) -> Result<SolutionVersionInfo> {
        self.list_solution_versions(solution)?
            .into_iter()
            .rev()
            .find(|v| v.status == Status::Active)
            .ok_or_else(|| not_found("ACTIVE solution version of solution", solution))
    }

    /// GetSolutionMetrics: the metrics of an ACTIVE version.
    pub fn solution_metrics(&self, arn_or_path: &str) -> Result<BTreeMap<String, f64>> {
        let (solution, id) = self.parse_version_arn(arn_or_path)?;
        let v = self.solution_version(arn_or_path)?;
        if v.status != Status::Active {
            return Err(Error::ResourceInUse(format!(
                "solution version {arn_or_path} is {}, not ACTIVE",
                v.status
            )));
        }
        Ok(
            fsutil::read_json(&self.version_dir(solution, id).join("metrics.json"))?
                .unwrap_or_default(),
        )
    }

    /// Loads the model of an ACTIVE version.
    pub fn load_model(&self, arn_or_path: &str) -> Result<Model> {
        let (solution, id) = self.parse_version_arn(arn_or_path)?;
        let v = self.solution_version(arn_or_path)?;
        if v.status != Status::Active {
            return Err(Error::ResourceInUse(format!(
                "solution version {arn_or_path} is {}, not ACTIVE",
                v.status
            )));
        }
        Model::load(&self.version_dir(solution, id).join("model.bin"))
    }
}

impl JobRecord for SolutionVersionInfo {
    fn status(&self) -> Status {
        self.status
    }

    fn end(&mut self, status: Status, failure_reason: Option<String>) {
        self.status = status;
        self.failure_reason = failure_reason;
        self.last_updated_date_time = fsutil::now_secs();
    }
}
