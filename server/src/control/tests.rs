//! Unit tests of the control plane: a temporary store, [`dispatch`] called with JSON bodies.

use serde_json::{json, Value};

use super::{dispatch, jobs, OPERATIONS};
use crate::config::Config;
use crate::http::ApiError;
use crate::state::AppState;

struct Fixture {
    dir: tempfile::TempDir,
    state: AppState,
}

fn fixture() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let state = AppState::open(Config::for_data_dir(dir.path().join("data"))).unwrap();
    Fixture { dir, state }
}

impl Fixture {
    fn call(&self, op: &str, body: Value) -> Result<Value, ApiError> {
        dispatch(&self.state, op, body.to_string().as_bytes())
    }

    fn ok(&self, op: &str, body: Value) -> Value {
        match self.call(op, body) {
            Ok(v) => v,
            Err(e) => panic!("{op} failed: {} {}", e.kind, e.message),
        }
    }

    fn err(&self, op: &str, body: Value) -> ApiError {
        match self.call(op, body) {
            Ok(v) => panic!("{op} succeeded: {v}"),
            Err(e) => {
                assert_eq!(e.status, 400, "control-plane errors are 400");
                e
            }
        }
    }

    /// Waits for this store's import jobs and trainings.
    fn wait(&self) {
        jobs::wait_idle(self.state.store());
    }

    /// Synthetic CSV files and schemas (enough to import and train).
    fn generate(&self) -> attune::generate::Generated {
        let cfg = attune::generate::GenerateConfig {
            users: 120,
            items: 150,
            interactions: 4_000,
            seed: 7,
        };
        attune::generate::generate(
            &cfg,
            &self.dir.path().join("gen"),
            &attune::import::NoProgress,
        )
        .unwrap()
    }

    /// A group `g` with an Interactions dataset (schema `interactions`); returns the ARNs.
    fn group_with_interactions(&self) -> (String, String, String) {
        let group = self.ok("CreateDatasetGroup", json!({"name": "g"}))["datasetGroupArn"]
            .as_str()
            .unwrap()
            .to_owned();
        let schema = self.ok(
            "CreateSchema",
            json!({"name": "interactions", "schema": attune::generate::interactions_schema()}),
        )["schemaArn"]
            .as_str()
            .unwrap()
            .to_owned();
        let dataset = self.ok(
            "CreateDataset",
            json!({"name": "events", "schemaArn": schema, "datasetGroupArn": group,
                   "datasetType": "Interactions"}),
        )["datasetArn"]
            .as_str()
            .unwrap()
            .to_owned();
        (group, schema, dataset)
    }
}

fn assert_invalid(e: &ApiError, field: &str) {
    assert_eq!(e.kind, "InvalidInputException", "{}", e.message);
    assert!(
        e.message.starts_with(&format!("{field}: ")) || e.message.starts_with(&format!("{field} ")),
        "the message names {field}: {}",
        e.message
    );
}

fn s(v: &Value) -> &str {
    v.as_str().unwrap_or_else(|| panic!("not a string: {v}"))
}

#[test]
fn every_listed_operation_dispatches_and_others_are_unknown() {
    let f = fixture();
    for op in OPERATIONS {
        if let Err(e) = f.call(op, json!({})) {
            assert_ne!(e.kind, "UnknownOperationException", "{op}");
        }
    }
    let e = f.err("CreateFilter", json!({}));
    assert_eq!(e.kind, "UnknownOperationException");
    assert!(e.message.contains("CreateFilter"));
    assert_eq!(f.err("Nope", json!({})).kind, "UnknownOperationException");
}

#[test]
fn bodies_must_be_json_objects_and_null_is_absent() {
    let f = fixture();
    let e = dispatch(&f.state, "ListSchemas", b"{not json").unwrap_err();
    assert_eq!(e.kind, "InvalidInputException");
    let e = dispatch(&f.state, "ListSchemas", b"[1]").unwrap_err();
    assert_eq!(e.kind, "InvalidInputException");
    // An empty body is `{}`.
    assert_eq!(
        dispatch(&f.state, "ListSchemas", b"").unwrap(),
        json!({"schemas": []})
    );
    // null members are absent; unknown members are ignored.
    let out = f.ok(
        "CreateDatasetGroup",
        json!({"name": "g", "domain": null, "roleArn": null, "futureMember": {"x": 1}}),
    );
    assert_eq!(
        out,
        json!({"datasetGroupArn": "arn:aws:personalize:local:000000000000:dataset-group/g"})
    );
    assert_invalid(&f.err("CreateDatasetGroup", json!({"name": 5})), "name");
    assert_invalid(&f.err("CreateDatasetGroup", json!({"name": null})), "name");
}

#[test]
fn dataset_groups() {
    let f = fixture();
    let out = f.ok(
        "CreateDatasetGroup",
        json!({"name": "vod", "domain": "VIDEO_ON_DEMAND",
               "tags": [{"tagKey": "team", "tagValue": "search"}, {"tagKey": "k", "tagValue": ""}]}),
    );
    assert_eq!(out["domain"], "VIDEO_ON_DEMAND");
    let arn = s(&out["datasetGroupArn"]).to_owned();
    let e = f.err("CreateDatasetGroup", json!({"name": "vod"}));
    assert_eq!(e.kind, "ResourceAlreadyExistsException");

    let d = f.ok("DescribeDatasetGroup", json!({"datasetGroupArn": arn}));
    let g = &d["datasetGroup"];
    assert_eq!(g["name"], "vod");
    assert_eq!(g["status"], "ACTIVE");
    assert_eq!(g["domain"], "VIDEO_ON_DEMAND");
    assert!(g["creationDateTime"].as_f64().unwrap() > 1.6e9);
    assert!(g.get("failureReason").is_none());
    // An ARN of another account and region names the same group.
    let other = "arn:aws:personalize:eu-west-1:123456789012:dataset-group/vod";
    assert_eq!(
        f.ok("DescribeDatasetGroup", json!({"datasetGroupArn": other})),
        d
    );

    let e = f.err(
        "DescribeDatasetGroup",
        json!({"datasetGroupArn": "arn:aws:personalize:us-east-1:1:dataset-group/none"}),
    );
    assert_eq!(e.kind, "ResourceNotFoundException");
    assert_invalid(
        &f.err("DescribeDatasetGroup", json!({"datasetGroupArn": "vod"})),
        "datasetGroupArn",
    );
    assert_invalid(&f.err("DescribeDatasetGroup", json!({})), "datasetGroupArn");
    assert_invalid(&f.err("CreateDatasetGroup", json!({"name": "a b"})), "name");
    assert_invalid(
        &f.err("CreateDatasetGroup", json!({"name": "a".repeat(64)})),
        "name",
    );
    assert_invalid(
        &f.err("CreateDatasetGroup", json!({"name": "x", "domain": "FOO"})),
        "domain",
    );
    assert_invalid(
        &f.err(
            "CreateDatasetGroup",
            json!({"name": "x", "kmsKeyArn": "arn:aws:kms:us-east-1:123456789012:key/k"}),
        ),
        "kmsKeyArn",
    );
    assert_invalid(
        &f.err(
            "CreateDatasetGroup",
            json!({"name": "x", "roleArn": "arn:aws:iam::1:role/r"}),
        ),
        "roleArn",
    );
    f.ok(
        "CreateDatasetGroup",
        json!({"name": "x", "roleArn": "arn:aws:iam::123456789012:role/r",
               "kmsKeyArn": "arn:aws:kms:us-east-1:123456789012:key/k"}),
    );

    let list = f.ok("ListDatasetGroups", json!({}));
    let groups = list["datasetGroups"].as_array().unwrap();
    assert_eq!(groups.len(), 2);
    // Newest first.
    assert_eq!(groups[0]["name"], "x");
    assert!(list.get("nextToken").is_none());

    assert_eq!(
        f.ok("DeleteDatasetGroup", json!({"datasetGroupArn": arn})),
        json!({})
    );
    let e = f.err("DeleteDatasetGroup", json!({"datasetGroupArn": arn}));
    assert_eq!(e.kind, "ResourceNotFoundException");
    assert_eq!(
        f.ok("ListDatasetGroups", json!({}))["datasetGroups"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
}

#[test]
fn tags_are_checked_and_accepted() {
    let f = fixture();
    let many: Vec<Value> = (0..201)
        .map(|i| json!({"tagKey": format!("k{i}"), "tagValue": "v"}))
        .collect();
    let e = f.err("CreateDatasetGroup", json!({"name": "g", "tags": many}));
    assert_eq!(e.kind, "TooManyTagsException");
    let e = f.err(
        "CreateDatasetGroup",
        json!({"name": "g", "tags": [{"tagKey": "a*b", "tagValue": "v"}]}),
    );
    assert_invalid(&e, "tags[0].tagKey");
    let e = f.err(
        "CreateDatasetGroup",
        json!({"name": "g", "tags": [{"tagKey": "a"}]}),
    );
    assert_invalid(&e, "tags[0].tagValue");
    let two_hundred: Vec<Value> = (0..200)
        .map(|i| json!({"tagKey": format!("k{i}"), "tagValue": "v"}))
        .collect();
    f.ok(
        "CreateDatasetGroup",
        json!({"name": "g", "tags": two_hundred}),
    );
}

#[test]
fn schemas_and_datasets() {
    let f = fixture();
    let (group, schema, dataset) = f.group_with_interactions();
    assert_eq!(
        dataset,
        "arn:aws:personalize:local:000000000000:dataset/g/INTERACTIONS"
    );

    let d = f.ok("DescribeSchema", json!({"schemaArn": schema}));
    assert_eq!(d["schema"]["name"], "interactions");
    assert_eq!(
        d["schema"]["schema"],
        attune::generate::interactions_schema()
    );
    let list = f.ok("ListSchemas", json!({}));
    assert_eq!(list["schemas"][0]["schemaArn"], schema.as_str());
    assert!(
        list["schemas"][0].get("schema").is_none(),
        "summaries omit the document"
    );
    let e = f.err("CreateSchema", json!({"name": "bad", "schema": "{}"}));
    assert_eq!(e.kind, "InvalidInputException");
    let e = f.err(
        "CreateSchema",
        json!({"name": "big", "schema": "x".repeat(20_001)}),
    );
    assert_invalid(&e, "schema");

    let d = f.ok("DescribeDataset", json!({"datasetArn": dataset}));
    let ds = &d["dataset"];
    assert_eq!(ds["name"], "events");
    assert_eq!(ds["datasetType"], "Interactions");
    assert_eq!(ds["schemaArn"], schema.as_str());
    assert_eq!(ds["datasetGroupArn"], group.as_str());
    assert_eq!(ds["status"], "ACTIVE");
    assert!(ds.get("trackingId").is_none());

    let e = f.err(
        "CreateDataset",
        json!({"name": "again", "schemaArn": schema, "datasetGroupArn": group,
               "datasetType": "INTERACTIONS"}),
    );
    assert_eq!(e.kind, "ResourceAlreadyExistsException");
    let e = f.err(
        "CreateDataset",
        json!({"name": "x", "schemaArn": schema, "datasetGroupArn": group,
               "datasetType": "Clicks"}),
    );
    assert_invalid(&e, "datasetType");
    let e = f.err(
        "CreateDataset",
        json!({"name": "x", "schemaArn": schema,
               "datasetGroupArn": "arn:aws:personalize:r:1:dataset-group/none",
               "datasetType": "Interactions"}),
    );
    assert_eq!(e.kind, "ResourceNotFoundException");
    // The schema does not match the type.
    let e = f.err(
        "CreateDataset",
        json!({"name": "x", "schemaArn": schema, "datasetGroupArn": group,
               "datasetType": "Items"}),
    );
    assert_eq!(e.kind, "InvalidInputException");

    for body in [json!({}), json!({"datasetGroupArn": group})] {
        let list = f.ok("ListDatasets", body);
        assert_eq!(list["datasets"].as_array().unwrap().len(), 1);
        assert_eq!(list["datasets"][0]["datasetArn"], dataset.as_str());
    }

    // A missing parent lists nothing (List* models no ResourceNotFoundException).
    let none = "arn:aws:personalize:local:000000000000:dataset-group/none";
    for (op, key) in [
        ("ListDatasets", "datasets"),
        ("ListSolutions", "solutions"),
        ("ListEventTrackers", "eventTrackers"),
    ] {
        assert_eq!(
            f.ok(op, json!({"datasetGroupArn": none})),
            json!({ key: [] })
        );
    }
    assert_eq!(
        f.ok(
            "ListDatasetImportJobs",
            json!({"datasetArn": format!("{dataset}X")})
        ),
        json!({"datasetImportJobs": []})
    );

    // Deletes go leaf first.
    let e = f.err("DeleteDatasetGroup", json!({"datasetGroupArn": group}));
    assert_eq!(e.kind, "ResourceInUseException");
    let e = f.err("DeleteSchema", json!({"schemaArn": schema}));
    assert_eq!(e.kind, "ResourceInUseException");
    f.ok("DeleteDataset", json!({"datasetArn": dataset}));
    let e = f.err("DescribeDataset", json!({"datasetArn": dataset}));
    assert_eq!(e.kind, "ResourceNotFoundException");
    f.ok("DeleteSchema", json!({"schemaArn": schema}));
    f.ok("DeleteDatasetGroup", json!({"datasetGroupArn": group}));
    assert_eq!(f.ok("ListSchemas", json!({})), json!({"schemas": []}));
    assert_eq!(f.ok("ListDatasets", json!({})), json!({"datasets": []}));
}

#[test]
fn pagination_is_stable_and_tokens_are_checked() {
    let f = fixture();
    for i in 0..7 {
        f.ok("CreateDatasetGroup", json!({"name": format!("g{i}")}));
    }
    let mut seen = Vec::new();
    let mut token: Option<String> = None;
    let mut pages = 0;
    loop {
        let mut body = json!({"maxResults": 3});
        if let Some(t) = &token {
            body["nextToken"] = json!(t);
        }
        let page = f.ok("ListDatasetGroups", body);
        let groups = page["datasetGroups"].as_array().unwrap();
        assert!(groups.len() <= 3);
        seen.extend(groups.iter().map(|g| s(&g["name"]).to_owned()));
        pages += 1;
        match page.get("nextToken") {
            Some(t) => {
                let t = s(t).to_owned();
                assert_ne!(Some(&t), token.as_ref(), "a token never repeats");
                token = Some(t);
            }
            None => break,
        }
        // A group created between pages does not shift the following pages.
        if pages == 1 {
            f.ok("CreateDatasetGroup", json!({"name": "late"}));
        }
    }
    assert_eq!(pages, 3);
    let mut expected: Vec<String> = (0..7).map(|i| format!("g{i}")).collect();
    expected.reverse();
    assert_eq!(seen, expected, "newest first, each once");

    let e = f.err("ListDatasetGroups", json!({"nextToken": "garbage"}));
    assert_eq!(e.kind, "InvalidNextTokenException");
    assert_invalid(
        &f.err("ListDatasetGroups", json!({"maxResults": 0})),
        "maxResults",
    );
    assert_invalid(
        &f.err("ListDatasetGroups", json!({"maxResults": 101})),
        "maxResults",
    );
    assert_invalid(
        &f.err("ListDatasetGroups", json!({"maxResults": "3"})),
        "maxResults",
    );
    // An empty token is the first page.
    assert_eq!(
        f.ok("ListDatasetGroups", json!({"nextToken": ""}))["datasetGroups"]
            .as_array()
            .unwrap()
            .len(),
        8
    );
}

#[test]
fn event_trackers() {
    let f = fixture();
    let e = f.err(
        "CreateEventTracker",
        json!({"name": "t", "datasetGroupArn":
        "arn:aws:personalize:local:000000000000:dataset-group/g"}),
    );
    assert_eq!(e.kind, "ResourceNotFoundException");
    let (group, _, dataset) = f.group_with_interactions();
    let out = f.ok(
        "CreateEventTracker",
        json!({"name": "t", "datasetGroupArn": group}),
    );
    let arn = s(&out["eventTrackerArn"]).to_owned();
    let tracking = s(&out["trackingId"]).to_owned();
    assert_eq!(tracking.len(), 36);
    let e = f.err(
        "CreateEventTracker",
        json!({"name": "t2", "datasetGroupArn": group}),
    );
    assert_eq!(e.kind, "ResourceAlreadyExistsException");

    let d = f.ok("DescribeEventTracker", json!({"eventTrackerArn": arn}));
    assert_eq!(d["eventTracker"]["trackingId"], tracking.as_str());
    assert_eq!(d["eventTracker"]["datasetGroupArn"], group.as_str());
    assert_eq!(d["eventTracker"]["status"], "ACTIVE");
    let d = f.ok("DescribeDataset", json!({"datasetArn": dataset}));
    assert_eq!(d["dataset"]["trackingId"], tracking.as_str());
    for body in [json!({}), json!({"datasetGroupArn": group})] {
        let list = f.ok("ListEventTrackers", body);
        assert_eq!(list["eventTrackers"][0]["eventTrackerArn"], arn.as_str());
        assert!(list["eventTrackers"][0].get("trackingId").is_none());
    }
    let e = f.err("DeleteDatasetGroup", json!({"datasetGroupArn": group}));
    assert_eq!(e.kind, "ResourceInUseException");
    f.ok("DeleteEventTracker", json!({"eventTrackerArn": arn}));
    let e = f.err("DescribeEventTracker", json!({"eventTrackerArn": arn}));
    assert_eq!(e.kind, "ResourceNotFoundException");
}

#[test]
fn recipes() {
    let f = fixture();
    let list = f.ok("ListRecipes", json!({"recipeProvider": "SERVICE"}));
    let names: Vec<&str> = list["recipes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| s(&r["name"]))
        .collect();
    assert_eq!(names.len(), 3);
    for n in [
        "attune-personalized-ranking",
        "attune-similar-items",
        "attune-popularity-count",
    ] {
        assert!(names.contains(&n), "{names:?}");
    }
    let page = f.ok("ListRecipes", json!({"maxResults": 2}));
    assert_eq!(page["recipes"].as_array().unwrap().len(), 2);
    let rest = f.ok("ListRecipes", json!({"nextToken": page["nextToken"]}));
    assert_eq!(rest["recipes"].as_array().unwrap().len(), 1);
    assert_eq!(
        f.ok("ListRecipes", json!({"domain": "ECOMMERCE"})),
        json!({"recipes": []})
    );
    assert_invalid(
        &f.err("ListRecipes", json!({"recipeProvider": "ME"})),
        "recipeProvider",
    );

    let d = f.ok(
        "DescribeRecipe",
        json!({"recipeArn": "arn:aws:personalize:::recipe/aws-personalized-ranking-v2"}),
    );
    assert_eq!(d["recipe"]["name"], "attune-personalized-ranking");
    assert_eq!(d["recipe"]["recipeType"], "PERSONALIZED_RANKING");
    assert_eq!(d["recipe"]["status"], "ACTIVE");
    let d = f.ok(
        "DescribeRecipe",
        json!({"recipeArn": "arn:aws:personalize:::recipe/aws-sims"}),
    );
    assert_eq!(d["recipe"]["recipeType"], "RELATED_ITEMS");
    let e = f.err(
        "DescribeRecipe",
        json!({"recipeArn": "arn:aws:personalize:::recipe/aws-user-personalization"}),
    );
    assert_eq!(e.kind, "ResourceNotFoundException");
}

#[test]
fn solution_requests_are_validated() {
    let f = fixture();
    let (group, _, _) = f.group_with_interactions();
    let ranking = "arn:aws:personalize:::recipe/aws-personalized-ranking";
    let e = f.err(
        "CreateSolution",
        json!({"name": "s", "datasetGroupArn": group}),
    );
    assert_invalid(&e, "recipeArn");
    let e = f.err(
        "CreateSolution",
        json!({"name": "s", "datasetGroupArn": group, "performAutoML": true}),
    );
    assert_invalid(&e, "recipeArn");
    let e = f.err(
        "CreateSolution",
        json!({"name": "s", "datasetGroupArn": group,
               "recipeArn": "arn:aws:personalize:::recipe/aws-hrnn"}),
    );
    assert_eq!(e.kind, "ResourceNotFoundException");
    let e = f.err(
        "CreateSolution",
        json!({"name": "s", "datasetGroupArn": group, "recipeArn": ranking,
               "solutionConfig": {"algorithmHyperParameters": {"no_such_knob": "1"}}}),
    );
    assert_eq!(e.kind, "InvalidInputException");
    assert!(e.message.contains("no_such_knob"), "{}", e.message);
    let e = f.err(
        "CreateSolution",
        json!({"name": "s", "datasetGroupArn": group, "recipeArn": ranking,
               "solutionConfig": {"eventsConfig": {"eventParametersList": [
                   {"eventType": "click", "weight": 2.0}]}}}),
    );
    assert_invalid(
        &e,
        "solutionConfig.eventsConfig.eventParametersList[0].weight",
    );
    let e = f.err(
        "CreateSolution",
        json!({"name": "s", "datasetGroupArn": group, "recipeArn": ranking,
               "solutionConfig": {"autoTrainingConfig": {"schedulingExpression": "rate(31 days)"}}}),
    );
    assert_invalid(&e, "solutionConfig.autoTrainingConfig.schedulingExpression");
    let e = f.err(
        "CreateSolution",
        json!({"name": "s", "datasetGroupArn": group, "recipeArn": ranking,
               "performHPO": "yes"}),
    );
    assert_invalid(&e, "performHPO");
    // HPO: ranges must name the recipe's hyperparameters with valid ends; performHPO needs a
    // configuration and a configuration needs performHPO.
    let hpo = |ranges: Value| {
        json!({"name": "s", "datasetGroupArn": group, "recipeArn": ranking, "performHPO": true,
               "solutionConfig": {"hpoConfig": {"algorithmHyperParameterRanges": ranges}}})
    };
    let e = f.err(
        "CreateSolution",
        hpo(json!({"integerHyperParameterRanges": [{"name": "no_such_knob", "minValue": 1, "maxValue": 2}]})),
    );
    assert!(e.message.contains("no_such_knob"), "{}", e.message);
    let e = f.err(
        "CreateSolution",
        hpo(json!({"continuousHyperParameterRanges": [{"name": "ease_lambda", "minValue": -5.0, "maxValue": 2.0}]})),
    );
    assert!(e.message.contains("ease_lambda"), "{}", e.message);
    let e = f.err(
        "CreateSolution",
        json!({"name": "s", "datasetGroupArn": group, "recipeArn": ranking, "performHPO": true}),
    );
    assert!(e.message.contains("hpoConfig"), "{}", e.message);
    let e = f.err(
        "CreateSolution",
        json!({"name": "s", "datasetGroupArn": group, "recipeArn": ranking,
               "solutionConfig": {"hpoConfig": {"hpoResourceConfig": {"maxNumberOfTrainingJobs": "99"}}}}),
    );
    assert!(e.message.contains("performHPO"), "{}", e.message);
    let out = f.ok(
        "CreateSolution",
        json!({"name": "hpo", "datasetGroupArn": group, "recipeArn": ranking, "performHPO": true,
               "solutionConfig": {"hpoConfig": {
                   "hpoResourceConfig": {"maxNumberOfTrainingJobs": "4", "maxParallelTrainingJobs": "2"},
                   "algorithmHyperParameterRanges": {
                       "categoricalHyperParameterRanges": [{"name": "algorithm", "values": ["ease", "sequence"]}],
                       "integerHyperParameterRanges": [{"name": "training.bptt", "minValue": 2, "maxValue": 32}],
                       "continuousHyperParameterRanges": []}}}}),
    );
    let d = f.ok(
        "DescribeSolution",
        json!({"solutionArn": out["solutionArn"]}),
    );
    assert_eq!(d["solution"]["performHPO"], true);
    assert_eq!(
        d["solution"]["solutionConfig"]["hpoConfig"]["hpoResourceConfig"]
            ["maxNumberOfTrainingJobs"],
        "4"
    );
    f.ok("DeleteSolution", json!({"solutionArn": out["solutionArn"]}));

    // Accepted and not used: members Attune does not implement.
    let out = f.ok(
        "CreateSolution",
        json!({"name": "s", "datasetGroupArn": group, "recipeArn": ranking,
               "performHPO": false, "performAutoTraining": true, "performIncrementalUpdate": false,
               "eventType": "click",
               "solutionConfig": {
                   "algorithmHyperParameters": {"factors": "16"},
                   "eventValueThreshold": "0.5",
                   "eventsConfig": {"eventParametersList": [{"eventType": "click", "weight": 0.5}]},
                   "autoTrainingConfig": {"schedulingExpression": "rate(7 days)"},
                   "trainingDataConfig": {"excludedDatasetColumns": {"Interactions": ["EVENT_VALUE"]}},
                   "optimizationObjective": {"itemAttribute": "PRICE", "objectiveSensitivity": "LOW"}},
               "tags": [{"tagKey": "a", "tagValue": "b"}]}),
    );
    let arn = s(&out["solutionArn"]).to_owned();
    let d = f.ok("DescribeSolution", json!({"solutionArn": arn}));
    let sol = &d["solution"];
    assert_eq!(sol["eventType"], "click");
    assert_eq!(
        sol["solutionConfig"]["algorithmHyperParameters"]["factors"],
        "16"
    );
    assert_eq!(sol["solutionConfig"]["eventValueThreshold"], "0.5");
    assert_eq!(
        sol["recipeArn"],
        "arn:aws:personalize:::recipe/attune-personalized-ranking"
    );
    assert!(sol.get("latestSolutionVersion").is_none());
    let e = f.err(
        "CreateSolution",
        json!({"name": "s", "datasetGroupArn": group, "recipeArn": ranking}),
    );
    assert_eq!(e.kind, "ResourceAlreadyExistsException");

    let e = f.err(
        "CreateSolutionVersion",
        json!({"solutionArn": arn, "trainingMode": "UPDATE"}),
    );
    assert_invalid(&e, "trainingMode");
    let e = f.err(
        "CreateSolutionVersion",
        json!({"solutionArn": "arn:aws:personalize:local:0:solution/none"}),
    );
    assert_eq!(e.kind, "ResourceNotFoundException");
    let e = f.err(
        "DescribeSolutionVersion",
        json!({"solutionVersionArn": format!("{arn}/0123")}),
    );
    assert_eq!(e.kind, "ResourceNotFoundException");
    let list = f.ok("ListSolutions", json!({"datasetGroupArn": group}));
    assert_eq!(list["solutions"][0]["solutionArn"], arn.as_str());
    assert_eq!(
        f.ok("ListSolutionVersions", json!({"solutionArn": arn})),
        json!({"solutionVersions": []})
    );
    let e = f.err(
        "ListSolutionVersions",
        json!({"solutionArn": "arn:aws:personalize:local:0:solution/none"}),
    );
    assert_eq!(e.kind, "ResourceNotFoundException");
    f.ok("DeleteSolution", json!({"solutionArn": arn}));
    assert_eq!(f.ok("ListSolutions", json!({})), json!({"solutions": []}));
}

#[test]
fn import_train_deploy_and_tear_down() {
    let f = fixture();
    let generated = f.generate();
    let (group, schema, dataset) = f.group_with_interactions();

    // A location that does not exist: the job is accepted, then fails with the reason.
    let bad = f.ok(
        "CreateDatasetImportJob",
        json!({"jobName": "missing", "datasetArn": dataset,
               "dataSource": {"dataLocation": f.dir.path().join("nope.csv").display().to_string()}}),
    );
    let location = format!("file://{}", generated.interactions_csv.display());
    let out = f.ok(
        "CreateDatasetImportJob",
        json!({"jobName": "first", "datasetArn": dataset,
               "dataSource": {"dataLocation": location},
               "roleArn": "arn:aws:iam::123456789012:role/personalize",
               "importMode": "FULL", "publishAttributionMetricsToS3": false}),
    );
    let job_arn = s(&out["datasetImportJobArn"]).to_owned();
    assert_eq!(
        job_arn,
        "arn:aws:personalize:local:000000000000:dataset-import-job/first"
    );
    // Visible at once, whatever its progress.
    let d = f.ok(
        "DescribeDatasetImportJob",
        json!({"datasetImportJobArn": job_arn}),
    );
    assert!(
        ["CREATE PENDING", "CREATE IN_PROGRESS", "ACTIVE"]
            .contains(&s(&d["datasetImportJob"]["status"])),
        "{d}"
    );
    let e = f.err(
        "CreateDatasetImportJob",
        json!({"jobName": "first", "datasetArn": dataset,
               "dataSource": {"dataLocation": location}}),
    );
    assert_eq!(e.kind, "ResourceAlreadyExistsException");
    let e = f.err(
        "CreateDatasetImportJob",
        json!({"jobName": "x", "datasetArn": dataset}),
    );
    assert_invalid(&e, "dataSource");
    let e = f.err(
        "CreateDatasetImportJob",
        json!({"jobName": "x", "datasetArn": dataset, "dataSource": {}}),
    );
    assert_invalid(&e, "dataSource.dataLocation");
    let e = f.err(
        "CreateDatasetImportJob",
        json!({"jobName": "x", "datasetArn": dataset, "importMode": "PARTIAL",
               "dataSource": {"dataLocation": location}}),
    );
    assert_invalid(&e, "importMode");
    f.wait();

    let d = f.ok(
        "DescribeDatasetImportJob",
        json!({"datasetImportJobArn": job_arn}),
    );
    let job = &d["datasetImportJob"];
    assert_eq!(job["status"], "ACTIVE", "{d}");
    assert_eq!(job["jobName"], "first");
    assert_eq!(job["datasetArn"], dataset.as_str());
    assert_eq!(job["dataSource"]["dataLocation"], location.as_str());
    assert_eq!(job["importMode"], "FULL");
    let d = f.ok(
        "DescribeDatasetImportJob",
        json!({"datasetImportJobArn": bad["datasetImportJobArn"]}),
    );
    assert_eq!(d["datasetImportJob"]["status"], "CREATE FAILED");
    assert!(
        s(&d["datasetImportJob"]["failureReason"]).contains("does not exist"),
        "{d}"
    );
    for body in [json!({}), json!({"datasetArn": dataset})] {
        let list = f.ok("ListDatasetImportJobs", body);
        assert_eq!(
            list["datasetImportJobs"].as_array().unwrap().len(),
            2,
            "{list}"
        );
    }

    // Solutions of both kinds, trained on worker threads.
    let ranking = s(&f.ok(
        "CreateSolution",
        json!({"name": "rank", "datasetGroupArn": group,
               "recipeArn": "arn:aws:personalize:::recipe/aws-personalized-ranking-v2"}),
    )["solutionArn"])
    .to_owned();
    let similar = s(&f.ok(
        "CreateSolution",
        json!({"name": "sims", "datasetGroupArn": group,
               "recipeArn": "arn:aws:personalize:::recipe/aws-similar-items"}),
    )["solutionArn"])
    .to_owned();
    let v1 =
        s(&f.ok("CreateSolutionVersion", json!({"solutionArn": ranking}))["solutionVersionArn"])
            .to_owned();
    assert!(v1.starts_with(&format!("{ranking}/")));
    let d = f.ok("DescribeSolutionVersion", json!({"solutionVersionArn": v1}));
    assert!(
        ["CREATE IN_PROGRESS", "ACTIVE"].contains(&s(&d["solutionVersion"]["status"])),
        "{d}"
    );
    let v2 =
        s(&f.ok("CreateSolutionVersion", json!({"solutionArn": similar}))["solutionVersionArn"])
            .to_owned();
    f.wait();

    let d = f.ok("DescribeSolutionVersion", json!({"solutionVersionArn": v1}));
    let v = &d["solutionVersion"];
    assert_eq!(v["status"], "ACTIVE", "{d}");
    assert_eq!(v["solutionArn"], ranking.as_str());
    assert_eq!(v["trainingMode"], "FULL");
    assert_eq!(v["datasetGroupArn"], group.as_str());
    assert!(v.get("failureReason").is_none());
    let m = f.ok("GetSolutionMetrics", json!({"solutionVersionArn": v1}));
    assert_eq!(m["solutionVersionArn"], v1.as_str());
    assert!(
        m["metrics"]["normalized_discounted_cumulative_gain_at_10"].is_number(),
        "{m}"
    );
    let d = f.ok("DescribeSolution", json!({"solutionArn": ranking}));
    assert_eq!(
        d["solution"]["latestSolutionVersion"]["solutionVersionArn"],
        v1.as_str()
    );
    assert_eq!(d["solution"]["latestSolutionVersion"]["status"], "ACTIVE");
    let list = f.ok("ListSolutionVersions", json!({}));
    assert_eq!(list["solutionVersions"].as_array().unwrap().len(), 2);
    let e = f.err(
        "StopSolutionVersionCreation",
        json!({"solutionVersionArn": v1}),
    );
    assert_eq!(e.kind, "ResourceInUseException");

    // Campaigns.
    let c = s(&f.ok(
        "CreateCampaign",
        json!({"name": "rank-campaign", "solutionVersionArn": v1, "minProvisionedTPS": 2,
               "campaignConfig": {"rankingInfluence": {"POPULARITY": 0.2}}}),
    )["campaignArn"])
    .to_owned();
    let d = f.ok("DescribeCampaign", json!({"campaignArn": c}));
    let camp = &d["campaign"];
    assert_eq!(camp["status"], "ACTIVE");
    assert_eq!(camp["minProvisionedTPS"], 2);
    assert_eq!(camp["solutionVersionArn"], v1.as_str());
    assert_eq!(
        camp["campaignConfig"]["syncWithLatestSolutionVersion"],
        false
    );
    let e = f.err(
        "CreateCampaign",
        json!({"name": "rank-campaign", "solutionVersionArn": v1}),
    );
    assert_eq!(e.kind, "ResourceAlreadyExistsException");
    assert_invalid(
        &f.err(
            "CreateCampaign",
            json!({"name": "c2", "solutionVersionArn": v1, "minProvisionedTPS": 0}),
        ),
        "minProvisionedTPS",
    );
    assert_invalid(
        &f.err(
            "CreateCampaign",
            json!({"name": "c2", "solutionVersionArn": v1,
                   "campaignConfig": {"rankingInfluence": {"COLOR": 0.2}}}),
        ),
        "campaignConfig.rankingInfluence.COLOR",
    );
    let sims_campaign = s(&f.ok(
        "CreateCampaign",
        json!({"name": "sims-campaign", "solutionVersionArn": format!("{similar}/$LATEST"),
               "campaignConfig": {"syncWithLatestSolutionVersion": true}}),
    )["campaignArn"])
    .to_owned();
    assert_eq!(
        f.ok("ListCampaigns", json!({}))["campaigns"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
    let list = f.ok("ListCampaigns", json!({"solutionArn": similar}));
    assert_eq!(list["campaigns"][0]["campaignArn"], sims_campaign.as_str());
    assert_eq!(
        f.ok(
            "UpdateCampaign",
            json!({"campaignArn": c, "minProvisionedTPS": 5})
        ),
        json!({"campaignArn": c})
    );
    let d = f.ok("DescribeCampaign", json!({"campaignArn": c}));
    assert_eq!(d["campaign"]["minProvisionedTPS"], 5);
    assert_eq!(d["campaign"]["latestCampaignUpdate"]["status"], "ACTIVE");
    let d = f.ok("DescribeSolutionVersion", json!({"solutionVersionArn": v2}));
    assert_eq!(d["solutionVersion"]["status"], "ACTIVE", "{d}");
    let e = f.err(
        "DescribeCampaign",
        json!({"campaignArn": "arn:aws:personalize:local:0:campaign/none"}),
    );
    assert_eq!(e.kind, "ResourceNotFoundException");

    // Tear down, leaf first; each parent refuses while children exist.
    let e = f.err("DeleteSolution", json!({"solutionArn": ranking}));
    assert_eq!(e.kind, "ResourceInUseException");
    f.ok("DeleteCampaign", json!({"campaignArn": c}));
    f.ok("DeleteCampaign", json!({"campaignArn": sims_campaign}));
    let e = f.err("DeleteCampaign", json!({"campaignArn": c}));
    assert_eq!(e.kind, "ResourceNotFoundException");
    let e = f.err("DeleteDatasetGroup", json!({"datasetGroupArn": group}));
    assert_eq!(e.kind, "ResourceInUseException");
    f.ok("DeleteSolution", json!({"solutionArn": ranking}));
    f.ok("DeleteSolution", json!({"solutionArn": similar}));
    let e = f.err("DescribeSolutionVersion", json!({"solutionVersionArn": v1}));
    assert_eq!(e.kind, "ResourceNotFoundException");
    f.ok("DeleteDataset", json!({"datasetArn": dataset}));
    assert_eq!(
        f.ok("ListDatasetImportJobs", json!({})),
        json!({"datasetImportJobs": []})
    );
    f.ok("DeleteSchema", json!({"schemaArn": schema}));
    f.ok("DeleteDatasetGroup", json!({"datasetGroupArn": group}));
}

#[test]
fn stopping_a_training() {
    let f = fixture();
    let generated = f.generate();
    let (group, _, dataset) = f.group_with_interactions();
    f.ok(
        "CreateDatasetImportJob",
        json!({"jobName": "j", "datasetArn": dataset,
               "dataSource": {"dataLocation": generated.interactions_csv.display().to_string()}}),
    );
    f.wait();
    let solution = s(&f.ok(
        "CreateSolution",
        json!({"name": "s", "datasetGroupArn": group,
               "recipeArn": "arn:aws:personalize:::recipe/attune-personalized-ranking",
               "solutionConfig": {"algorithmHyperParameters": {"algorithm": "ials", "iterations": "200"}}}),
    )["solutionArn"])
    .to_owned();
    let v =
        s(&f.ok("CreateSolutionVersion", json!({"solutionArn": solution}))["solutionVersionArn"])
            .to_owned();
    // Best effort: the training may have finished already.
    let stopped = f.call(
        "StopSolutionVersionCreation",
        json!({"solutionVersionArn": v}),
    );
    f.wait();
    let d = f.ok("DescribeSolutionVersion", json!({"solutionVersionArn": v}));
    let status = s(&d["solutionVersion"]["status"]);
    match stopped {
        Ok(out) => {
            assert_eq!(out, json!({}));
            assert!(["CREATE STOPPED", "ACTIVE"].contains(&status), "{d}");
        }
        Err(e) => {
            assert_eq!(e.kind, "ResourceInUseException");
            assert_eq!(status, "ACTIVE");
        }
    }
    let e = f.err(
        "StopSolutionVersionCreation",
        json!({"solutionVersionArn": v}),
    );
    assert_eq!(e.kind, "ResourceInUseException");
}
