//! `attune.Store`: a data directory (the embedded store the CLI and the server use) and the
//! operations on it: dataset groups, schemas, datasets, individual records, insights, solutions,
//! training, evaluation and campaigns.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Arc, OnceLock};

use attune::events::{Item, PutEventsRequest, PutItemsRequest, PutUsersRequest, Recorder, User};
use attune::model::Recipe;
use attune::store::campaigns::CampaignConfig;
use attune::store::solutions::SolutionConfig;
use attune::train::{self, TrainOptions};
use attune::{DatasetType, Domain, Store};
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyDict, PyString};

use crate::convert::{schema_json, to_py};
use crate::dataset::PyDataset;
use crate::error::{run, InvalidInputError};
use crate::model::{default_threads, split_file, PyModel};
use crate::progress::{run_with, PyProgress};

/// A data directory: the same embedded store `attune` (the CLI) and the server use. Opening a
/// missing or empty directory creates an empty store. Descriptions come back as dicts with
/// Personalize's camelCase keys (as boto3 returns them).
#[pyclass(name = "Store", module = "attune", frozen)]
#[derive(Debug)]
pub(crate) struct PyStore {
    inner: Store,
    /// Put* calls keep each dataset's PUT log open; created on the first call.
    recorder: OnceLock<Arc<Recorder>>,
}

fn parse_domain(domain: Option<&str>) -> PyResult<Option<Domain>> {
    domain
        .map(|d| {
            Domain::parse(d).ok_or_else(|| {
                InvalidInputError::new_err(format!(
                    "domain {d:?} is not valid: use ECOMMERCE or VIDEO_ON_DEMAND (or no domain \
                     for a custom dataset group)"
                ))
            })
        })
        .transpose()
}

fn parse_dataset_type(ty: &str) -> PyResult<DatasetType> {
    DatasetType::parse(ty).ok_or_else(|| {
        InvalidInputError::new_err(format!(
            "dataset type {ty:?} is not valid: use Interactions, Items, Users, Actions or \
             Action_Interactions"
        ))
    })
}

fn parse_recipe(recipe: &str) -> PyResult<Recipe> {
    Recipe::parse(recipe).ok_or_else(|| {
        InvalidInputError::new_err(format!(
            "unknown recipe {recipe:?}: use attune-personalized-ranking, attune-similar-items or \
             attune-popularity-count (or their aws-* aliases)"
        ))
    })
}

/// A hyperparameter or threshold value as the string Personalize stores (`True` is `true`).
fn setting_text(v: &Bound<'_, PyAny>) -> PyResult<String> {
    if let Ok(b) = v.cast::<PyBool>() {
        return Ok(if b.is_true() { "true" } else { "false" }.into());
    }
    if let Ok(s) = v.cast::<PyString>() {
        return Ok(s.to_cow()?.into_owned());
    }
    Ok(v.str()?.to_cow()?.into_owned())
}

/// A list of dicts in the AWS shape (camelCase keys) as SDK request records, through JSON.
/// A `properties` dict is encoded as the JSON string the API carries.
fn records<T: serde::de::DeserializeOwned>(
    py: Python<'_>,
    what: &str,
    list: &Bound<'_, PyAny>,
) -> PyResult<Vec<T>> {
    let dumps = py.import("json")?.getattr("dumps")?;
    let mut out = Vec::new();
    for (k, rec) in list.try_iter()?.enumerate() {
        let rec = rec?;
        let rec = rec
            .cast::<PyDict>()
            .map_err(|_| InvalidInputError::new_err(format!("{what}[{k}]: must be a dict")))?;
        let rec = rec.copy()?;
        if let Some(props) = rec.get_item("properties")? {
            if props.is_instance_of::<PyDict>() {
                rec.set_item("properties", dumps.call1((props,))?)?;
            }
        }
        let json: String = dumps.call1((rec,))?.extract()?;
        out.push(
            serde_json::from_str(&json)
                .map_err(|e| InvalidInputError::new_err(format!("{what}[{k}]: {e}")))?,
        );
    }
    Ok(out)
}

/// A dataset given as a `Dataset` or its ARN.
fn dataset_arn(dataset: &Bound<'_, PyAny>) -> PyResult<String> {
    if let Ok(d) = dataset.cast::<PyDataset>() {
        return Ok(d.get().inner.info().dataset_arn.clone());
    }
    dataset
        .extract()
        .map_err(|_| InvalidInputError::new_err("dataset: give a Dataset or a dataset ARN"))
}

impl PyStore {
    fn recorder(&self) -> Arc<Recorder> {
        self.recorder
            .get_or_init(|| Arc::new(Recorder::new(self.inner.clone())))
            .clone()
    }
}

#[pymethods]
impl PyStore {
    /// Opens the store in the data directory `path`, creating an empty store when the directory
    /// is missing or empty.
    #[new]
    fn new(py: Python<'_>, path: PathBuf) -> PyResult<PyStore> {
        let inner = run(py, || Store::open(&path))?;
        Ok(PyStore {
            inner,
            recorder: OnceLock::new(),
        })
    }

    /// The data directory.
    #[getter]
    fn path(&self) -> PathBuf {
        self.inner.root().to_owned()
    }

    fn __repr__(&self) -> String {
        format!("Store({:?})", self.inner.root().display().to_string())
    }

    // -- dataset groups, schemas, datasets ------------------------------------------------

    /// CreateDatasetGroup. `domain` is `ECOMMERCE`, `VIDEO_ON_DEMAND` or `None` (custom).
    #[pyo3(signature = (name, domain=None))]
    fn create_dataset_group<'py>(
        &self,
        py: Python<'py>,
        name: &str,
        domain: Option<&str>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let domain = parse_domain(domain)?;
        let info = run(py, || self.inner.create_dataset_group(name, domain))?;
        to_py(py, &info)
    }

    /// DescribeDatasetGroup by name or ARN.
    fn dataset_group<'py>(&self, py: Python<'py>, name: &str) -> PyResult<Bound<'py, PyAny>> {
        let info = run(py, || self.inner.dataset_group(name))?;
        to_py(py, &info)
    }

    /// ListDatasetGroups, by name.
    fn list_dataset_groups<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let list = run(py, || self.inner.list_dataset_groups())?;
        to_py(py, &list)
    }

    /// CreateSchema: validates an Avro schema (a JSON string or a dict) against every
    /// Personalize rule for the domain and stores it under `name`. A rule broken is an
    /// `attune.SchemaError` naming the field.
    #[pyo3(signature = (name, schema, domain=None))]
    fn create_schema<'py>(
        &self,
        py: Python<'py>,
        name: &str,
        schema: &Bound<'py, PyAny>,
        domain: Option<&str>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let json = schema_json(schema)?;
        let domain = parse_domain(domain)?;
        let info = run(py, || self.inner.create_schema(name, &json, domain))?;
        to_py(py, &info)
    }

    /// DescribeSchema by name or ARN.
    fn schema<'py>(&self, py: Python<'py>, name: &str) -> PyResult<Bound<'py, PyAny>> {
        let info = run(py, || self.inner.schema(name))?;
        to_py(py, &info)
    }

    /// ListSchemas, by name.
    fn list_schemas<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let list = run(py, || self.inner.list_schemas())?;
        to_py(py, &list)
    }

    /// CreateDataset: adds a dataset of `dataset_type` (`Interactions`, `Items`, `Users`, ...)
    /// with the named schema to a group and returns it. `name` defaults to
    /// `<group>-<dataset_type>`.
    #[pyo3(signature = (dataset_group, dataset_type, schema, name=None))]
    fn create_dataset(
        &self,
        py: Python<'_>,
        dataset_group: &str,
        dataset_type: &str,
        schema: &str,
        name: Option<String>,
    ) -> PyResult<PyDataset> {
        let ty = parse_dataset_type(dataset_type)?;
        let name = name.unwrap_or_else(|| format!("{dataset_group}-{}", ty.as_str()));
        let inner = run(py, || {
            self.inner
                .create_dataset(dataset_group, ty, &name, schema)?;
            self.inner.dataset(dataset_group, ty)
        })?;
        Ok(PyDataset { inner })
    }

    /// The dataset of a type in a group.
    fn dataset(
        &self,
        py: Python<'_>,
        dataset_group: &str,
        dataset_type: &str,
    ) -> PyResult<PyDataset> {
        let ty = parse_dataset_type(dataset_type)?;
        let inner = run(py, || self.inner.dataset(dataset_group, ty))?;
        Ok(PyDataset { inner })
    }

    /// ListDatasets of a group.
    fn list_datasets<'py>(
        &self,
        py: Python<'py>,
        dataset_group: &str,
    ) -> PyResult<Bound<'py, PyAny>> {
        let list = run(py, || self.inner.list_datasets(dataset_group))?;
        to_py(py, &list)
    }

    // -- individual records --------------------------------------------------------------

    /// CreateEventTracker for a group with an Interactions dataset; its `trackingId` is what
    /// `put_events` takes.
    fn create_event_tracker<'py>(
        &self,
        py: Python<'py>,
        dataset_group: &str,
        name: &str,
    ) -> PyResult<Bound<'py, PyAny>> {
        let info = run(py, || self.inner.create_event_tracker(dataset_group, name))?;
        to_py(py, &info)
    }

    /// DescribeEventTracker by name or ARN.
    fn event_tracker<'py>(&self, py: Python<'py>, name: &str) -> PyResult<Bound<'py, PyAny>> {
        let info = run(py, || self.inner.event_tracker(name))?;
        to_py(py, &info)
    }

    /// PutEvents: records 1-10 events (dicts in the API's shape: `eventType`, `sentAt`,
    /// `itemId`, `eventValue`, `properties`, ...) in the tracker's Interactions dataset, durably,
    /// with PutEvents' checks. Without `user_id` the events are anonymous (recorded under the
    /// session). A running server on the same data directory owns the PUT log: use
    /// `attune.Client` then.
    #[pyo3(signature = (tracking_id, session_id, events, user_id=None))]
    fn put_events(
        &self,
        py: Python<'_>,
        tracking_id: String,
        session_id: String,
        events: &Bound<'_, PyAny>,
        user_id: Option<String>,
    ) -> PyResult<()> {
        let request = PutEventsRequest {
            tracking_id,
            session_id,
            user_id,
            event_list: records(py, "eventList", events)?,
        };
        let recorder = self.recorder();
        run(py, || recorder.put_events(&request))
    }

    /// PutItems: upserts 1-10 items (dicts: `itemId` and `properties`, a dict or its JSON
    /// string with camelCase field names) of an Items dataset (a `Dataset` or its ARN).
    fn put_items(
        &self,
        py: Python<'_>,
        dataset: &Bound<'_, PyAny>,
        items: &Bound<'_, PyAny>,
    ) -> PyResult<()> {
        let request = PutItemsRequest {
            dataset_arn: dataset_arn(dataset)?,
            items: records::<Item>(py, "items", items)?,
        };
        let recorder = self.recorder();
        run(py, || recorder.put_items(&request))
    }

    /// PutUsers: upserts 1-10 users (dicts: `userId` and `properties`) of a Users dataset (a
    /// `Dataset` or its ARN).
    fn put_users(
        &self,
        py: Python<'_>,
        dataset: &Bound<'_, PyAny>,
        users: &Bound<'_, PyAny>,
    ) -> PyResult<()> {
        let request = PutUsersRequest {
            dataset_arn: dataset_arn(dataset)?,
            users: records::<User>(py, "users", users)?,
        };
        let recorder = self.recorder();
        run(py, || recorder.put_users(&request))
    }

    // -- insights ----------------------------------------------------------------------

    /// Data insights of a group: per-dataset statistics and data-quality findings, as a dict
    /// (`datasetGroup`, `datasets`, `findings`). Reads every stored record once.
    fn insights<'py>(&self, py: Python<'py>, dataset_group: &str) -> PyResult<Bound<'py, PyAny>> {
        let insights = run(py, || {
            attune::insights::dataset_group_insights(&self.inner, dataset_group)
        })?;
        to_py(py, &insights)
    }

    /// The column statistics of `insights` as a pandas DataFrame, one row per dataset column.
    /// Needs pandas.
    fn insights_frame<'py>(
        &self,
        py: Python<'py>,
        dataset_group: &str,
    ) -> PyResult<Bound<'py, PyAny>> {
        let insights = self.insights(py, dataset_group)?;
        py.import("attune._frames")?
            .getattr("insights_frame")?
            .call1((insights,))
    }

    // -- solutions and training ----------------------------------------------------------

    /// CreateSolution: a named training configuration over a group. `recipe` is
    /// `attune-personalized-ranking`, `attune-similar-items` or `attune-popularity-count` (or an
    /// `aws-*` alias or recipe ARN); `hyperparameters` values may be str, int, float or bool and
    /// are checked against the recipe here. `hpo_config` (Personalize's hpoConfig as a dict:
    /// algorithmHyperParameterRanges, hpoObjective, hpoResourceConfig) turns on performHPO.
    #[pyo3(signature = (name, dataset_group, recipe="attune-personalized-ranking", *, event_type=None, hyperparameters=None, event_value_threshold=None, hpo_config=None))]
    #[allow(clippy::too_many_arguments)]
    fn create_solution<'py>(
        &self,
        py: Python<'py>,
        name: &str,
        dataset_group: &str,
        recipe: &str,
        event_type: Option<String>,
        hyperparameters: Option<&Bound<'py, PyDict>>,
        event_value_threshold: Option<&Bound<'py, PyAny>>,
        hpo_config: Option<&Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let recipe = parse_recipe(recipe)?;
        let hpo_config = match hpo_config {
            Some(obj) => {
                let text: String = py
                    .import("json")?
                    .getattr("dumps")?
                    .call1((obj,))?
                    .extract()?;
                Some(
                    serde_json::from_str::<attune::store::solutions::HpoConfig>(&text)
                        .map_err(|e| InvalidInputError::new_err(format!("hpo_config: {e}")))?,
                )
            }
            None => None,
        };
        let mut hp = BTreeMap::new();
        if let Some(map) = hyperparameters {
            for (k, v) in map.iter() {
                hp.insert(k.extract::<String>()?, setting_text(&v)?);
            }
        }
        let config = SolutionConfig {
            algorithm_hyper_parameters: hp,
            event_value_threshold: event_value_threshold.map(setting_text).transpose()?,
            perform_hpo: hpo_config.is_some(),
            hpo_config,
        };
        let info = run(py, || {
            train::create_solution(&self.inner, name, dataset_group, recipe, event_type, config)
        })?;
        to_py(py, &info)
    }

    /// DescribeSolution by name or ARN.
    fn solution<'py>(&self, py: Python<'py>, name: &str) -> PyResult<Bound<'py, PyAny>> {
        let info = run(py, || self.inner.solution(name))?;
        to_py(py, &info)
    }

    /// ListSolutions, all or those of one group.
    #[pyo3(signature = (dataset_group=None))]
    fn list_solutions<'py>(
        &self,
        py: Python<'py>,
        dataset_group: Option<&str>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let list = run(py, || self.inner.list_solutions(dataset_group))?;
        to_py(py, &list)
    }

    /// CreateSolutionVersion, run to completion in this process: trains a new version of the
    /// solution on the group's current data and returns it ACTIVE (with `evaluate`, metrics on
    /// a held-out 10% of users first; see `solution_metrics`). The GIL is released while it
    /// trains. `progress` is a callable taking an `attune.ProgressUpdate`, `True` for a tqdm
    /// bar, `False` for nothing, or `None` for a bar in notebooks when tqdm is installed; an
    /// exception from the callback (or Ctrl-C) stops training (the version is CREATE STOPPED)
    /// and is raised. `threads` defaults to the machine's cores.
    #[pyo3(signature = (solution, *, evaluate=true, threads=None, progress=None))]
    fn create_solution_version<'py>(
        &self,
        py: Python<'py>,
        solution: &str,
        evaluate: bool,
        threads: Option<usize>,
        progress: Option<&Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let options = TrainOptions {
            threads: threads.unwrap_or_else(default_threads).max(1),
            evaluate,
        };
        let progress = PyProgress::new(py, progress)?;
        let version = run_with(py, progress, |p| {
            train::create_solution_version(&self.inner, solution, &options, p, p.cancel_flag())
        })?;
        to_py(py, &version)
    }

    /// DescribeSolutionVersion by ARN (or `solution/id`).
    fn solution_version<'py>(&self, py: Python<'py>, arn: &str) -> PyResult<Bound<'py, PyAny>> {
        let info = run(py, || self.inner.solution_version(arn))?;
        to_py(py, &info)
    }

    /// ListSolutionVersions of a solution, oldest first.
    fn list_solution_versions<'py>(
        &self,
        py: Python<'py>,
        solution: &str,
    ) -> PyResult<Bound<'py, PyAny>> {
        let list = run(py, || self.inner.list_solution_versions(solution))?;
        to_py(py, &list)
    }

    /// GetSolutionMetrics: the offline metrics of an ACTIVE version (`precision_at_10`,
    /// `normalized_discounted_cumulative_gain_at_10`, `mean_reciprocal_rank_at_25`, ...).
    fn solution_metrics<'py>(
        &self,
        py: Python<'py>,
        solution_version: &str,
    ) -> PyResult<Bound<'py, PyAny>> {
        let metrics = run(py, || self.inner.solution_metrics(solution_version))?;
        to_py(py, &metrics)
    }

    /// Loads the model of an ACTIVE solution version (its ARN, or a solution's name for its
    /// newest ACTIVE version) for in-process inference.
    fn load_model(&self, py: Python<'_>, solution_version: &str) -> PyResult<PyModel> {
        let model = run(py, || {
            let arn = if solution_version.contains('/') {
                solution_version.to_owned()
            } else {
                self.inner
                    .latest_solution_version(solution_version)?
                    .solution_version_arn
            };
            self.inner.load_model(&arn)
        })?;
        Ok(PyModel {
            inner: Arc::new(model),
        })
    }

    /// The Personalize evaluation split of a solution's data (its group and event filter):
    /// users split 90/10 with a fixed seed; each test user's oldest 90% of events is the input
    /// and the newest 10% the truth. With `folds` > 1, that many splits with disjoint test users.
    /// Each split is a dict: `trainUsers`, `testUsers` (`userId`, `input`, `truth`).
    #[pyo3(signature = (solution, folds=1))]
    fn export_splits<'py>(
        &self,
        py: Python<'py>,
        solution: &str,
        folds: usize,
    ) -> PyResult<Bound<'py, PyAny>> {
        let splits = run(py, || {
            train::export_splits(&self.inner, solution, folds.max(1))
        })?;
        to_py(py, &splits)
    }

    /// Offline evaluation with Personalize's protocol: trains the solution's recipe on the
    /// split's training users only and scores its test users; returns the metrics. `split`
    /// defaults to the solution's standard split (`export_splits(solution)[0]`).
    #[pyo3(signature = (solution, *, split=None, threads=None, progress=None))]
    fn evaluate<'py>(
        &self,
        py: Python<'py>,
        solution: &str,
        split: Option<&Bound<'py, PyAny>>,
        threads: Option<usize>,
        progress: Option<&Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let split = split.map(split_file).transpose()?;
        let options = TrainOptions {
            threads: threads.unwrap_or_else(default_threads).max(1),
            evaluate: true,
        };
        let progress = PyProgress::new(py, progress)?;
        let metrics = run_with(py, progress, |p| {
            let split = match split {
                Some(s) => s,
                None => train::export_splits(&self.inner, solution, 1)?
                    .into_iter()
                    .next()
                    .ok_or_else(|| {
                        attune::Error::InvalidInput("the solution has no data".into())
                    })?,
            };
            train::evaluate_solution_on_split(
                &self.inner,
                solution,
                &split,
                &options,
                p,
                p.cancel_flag(),
            )
        })?;
        to_py(py, &metrics)
    }

    // -- campaigns -----------------------------------------------------------------------

    /// CreateCampaign: deploys a solution version to the store, ACTIVE at once; a server
    /// running on this data directory serves it after its next reconcile. With
    /// `sync_with_latest`, `solution_version` is `<solution ARN>/$LATEST` and the campaign
    /// follows the solution's newest ACTIVE version.
    #[pyo3(signature = (name, solution_version, *, min_provisioned_tps=None, sync_with_latest=false, enable_metadata_with_recommendations=false))]
    fn create_campaign<'py>(
        &self,
        py: Python<'py>,
        name: &str,
        solution_version: &str,
        min_provisioned_tps: Option<u32>,
        sync_with_latest: bool,
        enable_metadata_with_recommendations: bool,
    ) -> PyResult<Bound<'py, PyAny>> {
        let config = CampaignConfig {
            sync_with_latest_solution_version: sync_with_latest,
            enable_metadata_with_recommendations,
            ..CampaignConfig::default()
        };
        let info = run(py, || {
            self.inner
                .create_campaign(name, solution_version, min_provisioned_tps, config)
        })?;
        to_py(py, &info)
    }

    /// DescribeCampaign by name or ARN.
    fn campaign<'py>(&self, py: Python<'py>, name: &str) -> PyResult<Bound<'py, PyAny>> {
        let info = run(py, || self.inner.campaign(name))?;
        to_py(py, &info)
    }

    /// ListCampaigns, all or those of one solution (name or ARN).
    #[pyo3(signature = (solution=None))]
    fn list_campaigns<'py>(
        &self,
        py: Python<'py>,
        solution: Option<&str>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let list = run(py, || self.inner.list_campaigns(solution))?;
        to_py(py, &list)
    }

    /// UpdateCampaign: deploys another version and/or changes the minimum TPS or the
    /// configuration (`sync_with_latest` given replaces the configuration); a running server
    /// swaps the model without failing requests.
    #[pyo3(signature = (name, *, solution_version=None, min_provisioned_tps=None, sync_with_latest=None, enable_metadata_with_recommendations=None))]
    fn update_campaign<'py>(
        &self,
        py: Python<'py>,
        name: &str,
        solution_version: Option<String>,
        min_provisioned_tps: Option<u32>,
        sync_with_latest: Option<bool>,
        enable_metadata_with_recommendations: Option<bool>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let info = run(py, || {
            let config =
                if sync_with_latest.is_some() || enable_metadata_with_recommendations.is_some() {
                    let old = self.inner.campaign(name)?.campaign_config;
                    Some(CampaignConfig {
                        sync_with_latest_solution_version: sync_with_latest
                            .unwrap_or(old.sync_with_latest_solution_version),
                        enable_metadata_with_recommendations: enable_metadata_with_recommendations
                            .unwrap_or(old.enable_metadata_with_recommendations),
                        ..old
                    })
                } else {
                    None
                };
            self.inner
                .update_campaign(name, solution_version, min_provisioned_tps, config)
        })?;
        to_py(py, &info)
    }

    /// DeleteCampaign by name or ARN (its solution versions stay).
    fn delete_campaign(&self, py: Python<'_>, name: &str) -> PyResult<()> {
        run(py, || self.inner.delete_campaign(name))
    }
}

/// Writes the deterministic synthetic dataset (`users.csv`, `items.csv`, `interactions.csv`
/// and their `.avsc` schemas, as `attune generate`) into `out_dir`. Returns a dict of the
/// paths (`interactions_csv`, `items_csv`, `users_csv`, `interactions_schema`, ...) and counts.
#[pyfunction]
#[pyo3(signature = (out_dir, *, users=1000, items=2000, interactions=100_000, seed=42))]
pub(crate) fn generate<'py>(
    py: Python<'py>,
    out_dir: PathBuf,
    users: u32,
    items: u32,
    interactions: u64,
    seed: u64,
) -> PyResult<Bound<'py, PyDict>> {
    let cfg = attune::generate::GenerateConfig {
        users,
        items,
        interactions,
        seed,
    };
    let g = run(py, || {
        attune::generate::generate(&cfg, &out_dir, &attune::import::NoProgress)
    })?;
    let d = PyDict::new(py);
    for (k, p) in [
        ("dir", &g.dir),
        ("interactions_csv", &g.interactions_csv),
        ("items_csv", &g.items_csv),
        ("users_csv", &g.users_csv),
        ("interactions_schema", &g.interactions_schema),
        ("items_schema", &g.items_schema),
        ("users_schema", &g.users_schema),
    ] {
        d.set_item(k, p.display().to_string())?;
    }
    d.set_item("interactions", g.interactions)?;
    d.set_item("items", g.items)?;
    d.set_item("users", g.users)?;
    Ok(d)
}
