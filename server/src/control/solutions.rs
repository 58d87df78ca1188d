//! Solutions and solution versions: CreateSolution, DescribeSolution, ListSolutions,
//! DeleteSolution, CreateSolutionVersion (trains on a worker thread), DescribeSolutionVersion,
//! ListSolutionVersions, GetSolutionMetrics, StopSolutionVersionCreation.

use attune::model::Recipe;
use attune::store::solutions::{SolutionConfig, SolutionInfo, SolutionVersionInfo};
use attune::store::Status;
use serde_json::{json, Map, Value};

use super::input::{check_arn, check_len, error, invalid, list_response, Body, Listed, Obj, Out};
use super::{empty, jobs, listed, sdk, to_json};
use crate::state::AppState;

impl Listed for SolutionInfo {
    fn created(&self) -> f64 {
        self.creation_date_time
    }
    fn arn(&self) -> &str {
        &self.solution_arn
    }
}

impl Listed for SolutionVersionInfo {
    fn created(&self) -> f64 {
        self.creation_date_time
    }
    fn arn(&self) -> &str {
        &self.solution_version_arn
    }
}

/// Checks a `solutionConfig` and returns the parts Attune uses; the others are validated and
/// not stored.
fn solution_config(config: &Obj<'_>, perform_hpo: bool) -> Out<SolutionConfig> {
    let event_value_threshold = config
        .string_len("eventValueThreshold", 0, 256)?
        .map(str::to_owned);
    let algorithm_hyper_parameters = config
        .string_map("algorithmHyperParameters", 100, 256, 1000)?
        .unwrap_or_default();
    config.string_map("featureTransformationParameters", 100, 256, 1000)?;
    let hpo_config = match config.object("hpoConfig")? {
        Some(h) => {
            if h.object("hpoObjective")?
                .is_some_and(|o| o.string("metricRegex").ok().flatten().is_some())
            {
                return Err(invalid(
                    "solutionConfig.hpoConfig.hpoObjective.metricRegex",
                    "is not supported: name the metric with metricName",
                ));
            }
            let raw = Value::Object(h.entries().map(|(k, v)| (k.clone(), v.clone())).collect());
            Some(
                serde_json::from_value::<attune::store::solutions::HpoConfig>(raw)
                    .map_err(|e| invalid("solutionConfig.hpoConfig", e))?,
            )
        }
        None => None,
    };
    if let Some(automl) = config.object("autoMLConfig")? {
        automl.string_len("metricName", 0, 256)?;
        if let Some(recipes) = automl.list("recipeList", 100)? {
            for (i, r) in recipes.iter().enumerate() {
                let path = format!("{}[{i}]", automl.path_of("recipeList"));
                match r.as_str() {
                    Some(s) => check_arn(&path, s)?,
                    None => return Err(invalid(&path, "must be a string")),
                }
            }
        }
    }
    if let Some(events) = config.object("eventsConfig")? {
        if let Some(list) = events.list("eventParametersList", 10)? {
            for (i, p) in list.iter().enumerate() {
                let path = format!("{}[{i}]", events.path_of("eventParametersList"));
                let Value::Object(map) = p else {
                    return Err(invalid(&path, "must be an object"));
                };
                let p = Obj::nested(path, map);
                p.string_len("eventType", 0, 256)?;
                p.number("eventValueThreshold", f64::MIN, f64::MAX)?;
                p.number("weight", 0.0, 1.0)?;
            }
        }
    }
    if let Some(objective) = config.object("optimizationObjective")? {
        objective.string_len("itemAttribute", 1, 150)?;
        objective.one_of("objectiveSensitivity", &["LOW", "MEDIUM", "HIGH", "OFF"])?;
    }
    if let Some(training) = config.object("trainingDataConfig")? {
        for member in ["excludedDatasetColumns", "includedDatasetColumns"] {
            let Some(columns) = training.object(member)? else {
                continue;
            };
            let path = training.path_of(member);
            let entries: Vec<_> = columns.entries().collect();
            if entries.len() > 3 {
                return Err(invalid(
                    &path,
                    format!("at most 3 entries, found {}", entries.len()),
                ));
            }
            for (ty, _) in entries {
                let p = format!("{path}.{ty}");
                check_len(&p, ty, 0, 256)?;
                if !ty.chars().all(|c| c.is_ascii_alphabetic() || c == '_') {
                    return Err(invalid(&p, "dataset types are letters and _"));
                }
                let Some(names) = columns.list(ty, 50)? else {
                    continue;
                };
                for (i, n) in names.iter().enumerate() {
                    let p = format!("{p}[{i}]");
                    let Some(n) = n.as_str() else {
                        return Err(invalid(&p, "must be a string"));
                    };
                    check_len(&p, n, 0, 150)?;
                    let ok = n.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
                        && n.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
                    if !ok {
                        return Err(invalid(&p, format!("{n:?} is not a column name")));
                    }
                }
            }
        }
    }
    if let Some(auto) = config.object("autoTrainingConfig")? {
        if let Some(expr) = auto.string_len("schedulingExpression", 1, 16)? {
            let days = expr
                .strip_prefix("rate(")
                .and_then(|r| r.strip_suffix(" days)").or_else(|| r.strip_suffix(" day)")))
                .filter(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
                .and_then(|n| n.parse::<u32>().ok());
            if !days.is_some_and(|d| (1..=30).contains(&d)) {
                return Err(invalid(
                    &auto.path_of("schedulingExpression"),
                    format!("{expr:?} is not rate(N days) with N 1-30"),
                ));
            }
        }
    }
    Ok(SolutionConfig {
        algorithm_hyper_parameters,
        event_value_threshold,
        perform_hpo,
        hpo_config,
    })
}

pub(crate) fn create(state: &AppState, body: &Body) -> Out<Value> {
    let req = body.obj();
    let name = req.name("name")?;
    let group = req.arn("datasetGroupArn")?;
    for flag in ["performAutoTraining", "performIncrementalUpdate"] {
        req.boolean(flag)?;
    }
    let perform_hpo = req.boolean("performHPO")?.unwrap_or(false);
    let automl = req.boolean("performAutoML")?.unwrap_or(false);
    let recipe_arn = req.opt_arn("recipeArn")?;
    let event_type = req.string_len("eventType", 0, 256)?.map(str::to_owned);
    let config = match req.object("solutionConfig")? {
        Some(c) => solution_config(&c, perform_hpo)?,
        None => SolutionConfig {
            perform_hpo,
            ..SolutionConfig::default()
        },
    };
    req.tags()?;
    let recipe = match recipe_arn {
        Some(arn) => Recipe::parse(arn).ok_or_else(|| {
            sdk(attune::Error::NotFound {
                kind: "recipe",
                name: arn.to_owned(),
            })
        })?,
        None if automl => {
            return Err(invalid(
                "recipeArn",
                "required: Attune does not run AutoML (performAutoML); choose a recipe",
            ))
        }
        None => return Err(invalid("recipeArn", "required")),
    };
    let info =
        attune::train::create_solution(state.store(), name, group, recipe, event_type, config)
            .map_err(sdk)?;
    Ok(json!({ "solutionArn": info.solution_arn }))
}

/// A SolutionVersionSummary.
fn version_summary(v: &SolutionVersionInfo, stopping: bool) -> Value {
    let mut out = json!({
        "solutionVersionArn": v.solution_version_arn,
        "status": status(v, stopping),
        "trainingMode": v.training_mode,
        "trainingType": v.training_type,
        "creationDateTime": v.creation_date_time,
        "lastUpdatedDateTime": v.last_updated_date_time,
    });
    if let Some(reason) = &v.failure_reason {
        out["failureReason"] = Value::String(reason.clone());
    }
    out
}

fn status(v: &SolutionVersionInfo, stopping: bool) -> Status {
    if stopping && v.status.is_in_progress() {
        Status::CreateStopping
    } else {
        v.status
    }
}

/// The Solution shape (or its summary).
fn solution_shape(s: &SolutionInfo, latest: Option<Value>) -> Out<Value> {
    let mut out = json!({
        "name": s.name,
        "solutionArn": s.solution_arn,
        "performHPO": s.solution_config.perform_hpo,
        "performAutoML": false,
        "performAutoTraining": s.perform_auto_training,
        "recipeArn": s.recipe_arn,
        "datasetGroupArn": s.dataset_group_arn,
        "status": s.status,
        "creationDateTime": s.creation_date_time,
        "lastUpdatedDateTime": s.last_updated_date_time,
    });
    if let Some(t) = &s.event_type {
        out["eventType"] = Value::String(t.clone());
    }
    let mut config = Map::new();
    if !s.solution_config.algorithm_hyper_parameters.is_empty() {
        config.insert(
            "algorithmHyperParameters".into(),
            to_json(&s.solution_config.algorithm_hyper_parameters)?,
        );
    }
    if let Some(t) = &s.solution_config.event_value_threshold {
        config.insert("eventValueThreshold".into(), Value::String(t.clone()));
    }
    if let Some(h) = &s.solution_config.hpo_config {
        config.insert("hpoConfig".into(), to_json(h)?);
    }
    if !config.is_empty() {
        out["solutionConfig"] = Value::Object(config);
    }
    if let Some(latest) = latest {
        out["latestSolutionVersion"] = latest;
    }
    Ok(out)
}

pub(crate) fn describe(state: &AppState, body: &Body) -> Out<Value> {
    let arn = body.obj().arn("solutionArn")?;
    let store = state.store();
    let solution = store.solution(arn).map_err(sdk)?;
    let latest = store
        .list_solution_versions(&solution.name)
        .map_err(sdk)?
        .pop()
        .map(|v| {
            let stopping = jobs::training_stopping(store, &v.solution_version_arn);
            version_summary(&v, stopping)
        });
    Ok(json!({ "solution": solution_shape(&solution, latest)? }))
}

pub(crate) fn list(state: &AppState, body: &Body) -> Out<Value> {
    let req = body.obj();
    let group = req.opt_arn("datasetGroupArn")?;
    let page = req.page()?;
    let solutions = listed(state.store().list_solutions(group))?;
    Ok(list_response("solutions", solutions, &page, |s| {
        json!({
            "name": s.name,
            "solutionArn": s.solution_arn,
            "status": s.status,
            "creationDateTime": s.creation_date_time,
            "lastUpdatedDateTime": s.last_updated_date_time,
            "recipeArn": s.recipe_arn,
        })
    }))
}

/// DeleteSolution: refused while a campaign deploys it or a version trains; its versions go
/// with it.
pub(crate) fn delete(state: &AppState, body: &Body) -> Out<Value> {
    let arn = body.obj().arn("solutionArn")?;
    let store = state.store();
    let solution = store.solution(arn).map_err(sdk)?;
    if let Some(c) = store
        .list_campaigns(Some(&solution.solution_arn))
        .map_err(sdk)?
        .first()
    {
        return Err(error(
            "ResourceInUseException",
            format!(
                "solution {} is deployed by the campaign {}; delete the campaign first",
                solution.solution_arn, c.campaign_arn
            ),
        ));
    }
    if let Some(v) = store
        .list_solution_versions(&solution.name)
        .map_err(sdk)?
        .into_iter()
        .find(|v| v.status.is_in_progress())
    {
        return Err(error(
            "ResourceInUseException",
            format!(
                "solution {} has the version {} in {}",
                solution.solution_arn, v.solution_version_arn, v.status
            ),
        ));
    }
    super::remove::solution(store, &solution.name).map_err(sdk)?;
    Ok(empty())
}

pub(crate) fn create_version(state: &AppState, body: &Body) -> Out<Value> {
    let req = body.obj();
    let solution = req.arn("solutionArn")?;
    req.opt_name("name")?;
    match req.one_of("trainingMode", &["FULL", "UPDATE", "AUTOTRAIN"])? {
        None | Some("FULL") => {}
        Some("UPDATE") => {
            return Err(invalid(
                "trainingMode",
                "UPDATE is only for User-Personalization recipes; Attune's recipes train FULL",
            ))
        }
        Some(other) => {
            return Err(invalid(
                "trainingMode",
                format!("{other} is set by automatic training, which Attune does not run"),
            ))
        }
    }
    req.tags()?;
    let store = state.store();
    // NotFound before the quota check, so a wrong ARN is reported as such.
    let solution = store.solution(solution).map_err(sdk)?;
    let version = jobs::start_training(store, &solution.solution_arn)?;
    Ok(json!({ "solutionVersionArn": version.solution_version_arn }))
}

pub(crate) fn describe_version(state: &AppState, body: &Body) -> Out<Value> {
    let arn = body.obj().arn("solutionVersionArn")?;
    let store = state.store();
    let v = store.solution_version(arn).map_err(sdk)?;
    let stopping = jobs::training_stopping(store, &v.solution_version_arn);
    let mut out = to_json(&v)?;
    out["status"] = Value::String(status(&v, stopping).as_str().to_owned());
    out["performHPO"] = Value::Bool(v.solution_config.perform_hpo);
    out["performAutoML"] = Value::Bool(false);
    if let Value::Object(map) = &mut out {
        let empty_config = map
            .get("solutionConfig")
            .and_then(Value::as_object)
            .is_some_and(|c| {
                c.get("algorithmHyperParameters")
                    .and_then(Value::as_object)
                    .is_none_or(Map::is_empty)
                    && c.get("eventValueThreshold").is_none()
                    && c.get("hpoConfig").is_none()
            });
        if empty_config {
            map.remove("solutionConfig");
        } else if let Some(Value::Object(c)) = map.get_mut("solutionConfig") {
            // performHPO is the version's own member (above), not solutionConfig's.
            c.remove("performHPO");
            if c.get("algorithmHyperParameters")
                .and_then(Value::as_object)
                .is_some_and(Map::is_empty)
            {
                c.remove("algorithmHyperParameters");
            }
        }
    }
    Ok(json!({ "solutionVersion": out }))
}

pub(crate) fn list_versions(state: &AppState, body: &Body) -> Out<Value> {
    let req = body.obj();
    let solution = req.opt_arn("solutionArn")?;
    let page = req.page()?;
    let store = state.store();
    let versions = match solution {
        Some(s) => store.list_solution_versions(s).map_err(sdk)?,
        None => {
            let mut all = Vec::new();
            for s in store.list_solutions(None).map_err(sdk)? {
                all.extend(store.list_solution_versions(&s.name).map_err(sdk)?);
            }
            all
        }
    };
    Ok(list_response("solutionVersions", versions, &page, |v| {
        version_summary(v, jobs::training_stopping(store, &v.solution_version_arn))
    }))
}

pub(crate) fn metrics(state: &AppState, body: &Body) -> Out<Value> {
    let arn = body.obj().arn("solutionVersionArn")?;
    let store = state.store();
    let version = store.solution_version(arn).map_err(sdk)?;
    let metrics: Map<String, Value> = store
        .solution_metrics(arn)
        .map_err(sdk)?
        .into_iter()
        .filter(|(_, v)| v.is_finite())
        .map(|(k, v)| (k, json!(v)))
        .collect();
    Ok(json!({
        "solutionVersionArn": version.solution_version_arn,
        "metrics": metrics,
    }))
}

/// StopSolutionVersionCreation: asks the training to stop between iterations (best effort);
/// the version then ends CREATE STOPPED, or ACTIVE if training was already done.
pub(crate) fn stop_version(state: &AppState, body: &Body) -> Out<Value> {
    let arn = body.obj().arn("solutionVersionArn")?;
    let store = state.store();
    let v = store.solution_version(arn).map_err(sdk)?;
    if !v.status.is_in_progress() {
        return Err(error(
            "ResourceInUseException",
            format!(
                "solution version {} is {}; only a version in CREATE PENDING or CREATE \
                 IN_PROGRESS can be stopped",
                v.solution_version_arn, v.status
            ),
        ));
    }
    if !jobs::stop_training(store, &v.solution_version_arn) {
        return Err(error(
            "ResourceInUseException",
            format!(
                "solution version {} is not training in this server (another process trains \
                 it, or it was interrupted)",
                v.solution_version_arn
            ),
        ));
    }
    Ok(empty())
}
