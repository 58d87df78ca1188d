//! Jobs whose process dies: an import job and a training running in `attune serve` when it is
//! killed (SIGKILL) are CREATE FAILED after the restart, with a reason that says so, and no
//! longer block the dataset. Before this, they stayed CREATE IN_PROGRESS forever and
//! DeleteDataset answered ResourceInUseException.

use attune::client::Client;
use serde_json::{json, Value};

use tests::start_server;

fn ok(client: &Client, op: &str, body: Value) -> Value {
    client
        .control(op, &body)
        .unwrap_or_else(|e| panic!("{op} failed: {e}"))
}

fn arn(v: &Value, key: &str) -> String {
    v[key]
        .as_str()
        .unwrap_or_else(|| panic!("no {key} in {v}"))
        .to_owned()
}

#[test]
fn jobs_running_when_the_server_dies_are_failed_after_the_restart() {
    let dir = tempfile::tempdir().unwrap();
    // Big enough that importing it again and training on it take seconds, not milliseconds.
    let generated = attune::generate::generate(
        &attune::generate::GenerateConfig {
            users: 10_000,
            items: 4_000,
            interactions: 400_000,
            seed: 11,
        },
        &dir.path().join("gen"),
        &attune::import::NoProgress,
    )
    .unwrap();
    let location = format!("file://{}", generated.interactions_csv.display());
    let mut server = start_server(&dir.path().join("data"));
    let client = Client::new(&server.base_url()).unwrap();

    let group = arn(
        &ok(&client, "CreateDatasetGroup", json!({"name": "g"})),
        "datasetGroupArn",
    );
    let schema = arn(
        &ok(
            &client,
            "CreateSchema",
            json!({"name": "i", "schema": attune::generate::interactions_schema()}),
        ),
        "schemaArn",
    );
    let dataset = arn(
        &ok(
            &client,
            "CreateDataset",
            json!({"name": "events", "schemaArn": schema, "datasetGroupArn": group,
                   "datasetType": "Interactions"}),
        ),
        "datasetArn",
    );
    let describe_job = |client: &Client, job: &str| {
        ok(
            client,
            "DescribeDatasetImportJob",
            json!({ "datasetImportJobArn": job }),
        )["datasetImportJob"]
            .clone()
    };
    let first = arn(
        &ok(
            &client,
            "CreateDatasetImportJob",
            json!({"jobName": "first", "datasetArn": dataset,
                   "dataSource": {"dataLocation": location}}),
        ),
        "datasetImportJobArn",
    );
    tests::wait_until(
        std::time::Duration::from_secs(300),
        "the first import to finish",
        || {
            let status = describe_job(&client, &first)["status"].clone();
            status != "CREATE PENDING" && status != "CREATE IN_PROGRESS"
        },
    );
    assert_eq!(describe_job(&client, &first)["status"], "ACTIVE");

    // A training and a second import, both running when the server is killed.
    let solution = arn(
        &ok(
            &client,
            "CreateSolution",
            json!({"name": "s", "datasetGroupArn": group,
                   "recipeArn": "arn:aws:personalize:::recipe/aws-personalized-ranking-v2"}),
        ),
        "solutionArn",
    );
    let version = arn(
        &ok(
            &client,
            "CreateSolutionVersion",
            json!({ "solutionArn": solution }),
        ),
        "solutionVersionArn",
    );
    let second = arn(
        &ok(
            &client,
            "CreateDatasetImportJob",
            json!({"jobName": "second", "datasetArn": dataset, "importMode": "INCREMENTAL",
                   "dataSource": {"dataLocation": location}}),
        ),
        "datasetImportJobArn",
    );
    let describe_version = |client: &Client| {
        ok(
            client,
            "DescribeSolutionVersion",
            json!({ "solutionVersionArn": version }),
        )["solutionVersion"]
            .clone()
    };
    let job_status = describe_job(&client, &second)["status"].clone();
    let version_status = describe_version(&client)["status"].clone();
    server.kill();
    for status in [&job_status, &version_status] {
        assert!(
            status == "CREATE PENDING" || status == "CREATE IN_PROGRESS",
            "a job finished before the kill ({status}); the test needs a bigger input"
        );
    }

    server = start_server(&dir.path().join("data"));
    let client = Client::new(&server.base_url()).unwrap();
    let job = describe_job(&client, &second);
    let version = describe_version(&client);
    for (what, record) in [("import job", &job), ("solution version", &version)] {
        assert_eq!(record["status"], "CREATE FAILED", "{what}: {record}");
        let reason = record["failureReason"].as_str().unwrap_or_default();
        assert!(
            reason.contains("interrupted") && reason.contains("stopped before it finished"),
            "{what}: {reason:?}"
        );
    }
    // Persisted: listing agrees, and the finished job is untouched.
    let listed = ok(
        &client,
        "ListDatasetImportJobs",
        json!({ "datasetArn": dataset }),
    );
    let statuses: Vec<(String, String)> = listed["datasetImportJobs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|j| (arn(j, "jobName"), arn(j, "status")))
        .collect();
    assert_eq!(statuses.len(), 2, "{listed}");
    assert!(
        statuses.contains(&("first".into(), "ACTIVE".into())),
        "{listed}"
    );
    assert!(
        statuses.contains(&("second".into(), "CREATE FAILED".into())),
        "{listed}"
    );

    // The dataset is no longer held by them.
    ok(&client, "DeleteDataset", json!({ "datasetArn": dataset }));
    drop(server);
}
