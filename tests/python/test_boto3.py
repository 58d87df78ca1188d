"""Attune through the official AWS SDK for Python.

Starts `attune serve` on a free loopback port (the binary from `cargo build -p attune-server`,
or $ATTUNE_BIN) and drives the three Personalize services with boto3 clients whose
`endpoint_url` points at it: the control plane (dataset group, schema, dataset, import job,
solutions and versions, campaigns, event tracker), the runtime (GetPersonalizedRanking,
GetRecommendations) and events (PutEvents), and checks that errors surface as botocore's
modelled exception classes.
"""

from __future__ import annotations

import datetime
import os
import queue
import re
import subprocess
import threading
import time
from pathlib import Path

import boto3
import botocore.config
import botocore.exceptions
import pytest

ROOT = Path(__file__).resolve().parents[2]
BINARY = Path(os.environ.get("ATTUNE_BIN", ROOT / "target" / "debug" / "attune"))
STARTUP_SECONDS = 60
# Import and training on the small synthetic dataset take seconds; this bounds a hang.
JOB_SECONDS = 300


def run_attune(*args: str) -> str:
    result = subprocess.run(
        [str(BINARY), *args], capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == 0, f"attune {' '.join(args)} failed:\n{result.stderr}"
    return result.stdout


class Server:
    """A running `attune serve` and the URL it listens on."""

    def __init__(self, data_dir: Path) -> None:
        self.process = subprocess.Popen(
            [
                str(BINARY),
                "serve",
                "--data-dir",
                str(data_dir),
                "--listen",
                "127.0.0.1:0",
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        lines: queue.Queue[str | None] = queue.Queue()
        self.output: list[str] = []

        def pump() -> None:
            assert self.process.stdout is not None
            for line in self.process.stdout:
                self.output.append(line)
                lines.put(line)
            lines.put(None)

        threading.Thread(target=pump, daemon=True).start()
        deadline = time.monotonic() + STARTUP_SECONDS
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                self.stop()
                raise AssertionError("attune serve did not print 'listening on'")
            try:
                line = lines.get(timeout=remaining)
            except queue.Empty:
                continue
            if line is None:
                raise AssertionError("attune serve exited:\n" + "".join(self.output))
            match = re.search(r"listening on (?:http://)?(\S+)", line)
            if match:
                self.url = f"http://{match.group(1)}"
                return

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if not BINARY.is_file():
        pytest.fail(
            f"{BINARY} is missing: run `cargo build -p attune-server` first (or set ATTUNE_BIN)"
        )
    return tmp_path_factory.mktemp("attune")


@pytest.fixture(scope="module")
def generated(workdir: Path) -> Path:
    out = workdir / "generated"
    run_attune(
        "generate",
        "--out",
        str(out),
        "--users",
        "150",
        "--items",
        "200",
        "--interactions",
        "6000",
        "--seed",
        "11",
    )
    return out


@pytest.fixture(scope="module")
def server(workdir: Path):
    s = Server(workdir / "data")
    yield s
    s.stop()


def client(server: Server, service: str):
    return boto3.client(
        service,
        endpoint_url=server.url,
        region_name="us-east-1",
        aws_access_key_id="x",
        aws_secret_access_key="x",
        config=botocore.config.Config(retries={"max_attempts": 1, "mode": "standard"}),
    )


def wait_status(describe, key: str, **kwargs) -> dict:
    """Polls a Describe* call until the resource leaves CREATE PENDING / IN_PROGRESS."""
    deadline = time.monotonic() + JOB_SECONDS
    while True:
        resource = describe(**kwargs)[key]
        if resource["status"] in ("ACTIVE", "CREATE FAILED", "CREATE STOPPED"):
            return resource
        assert time.monotonic() < deadline, f"{key} still {resource['status']}"
        time.sleep(0.2)


@pytest.fixture(scope="module")
def personalize(server: Server):
    return client(server, "personalize")


@pytest.fixture(scope="module")
def runtime(server: Server):
    return client(server, "personalize-runtime")


@pytest.fixture(scope="module")
def events(server: Server):
    return client(server, "personalize-events")


@pytest.fixture(scope="module")
def deployed(personalize, generated: Path) -> dict:
    """A dataset group with imported interactions, two trained solutions and campaigns."""
    group = personalize.create_dataset_group(
        name="movies", tags=[{"tagKey": "team", "tagValue": "search"}]
    )["datasetGroupArn"]
    assert wait_status(personalize.describe_dataset_group, "datasetGroup", datasetGroupArn=group)[
        "status"
    ] == "ACTIVE"
    schema = personalize.create_schema(
        name="movies-interactions",
        schema=(generated / "interactions.avsc").read_text(),
    )["schemaArn"]
    dataset = personalize.create_dataset(
        name="movies-interactions",
        schemaArn=schema,
        datasetGroupArn=group,
        datasetType="Interactions",
    )["datasetArn"]
    job = personalize.create_dataset_import_job(
        jobName="movies-import",
        datasetArn=dataset,
        dataSource={"dataLocation": (generated / "interactions.csv").as_uri()},
        roleArn="arn:aws:iam::123456789012:role/PersonalizeRole",
    )["datasetImportJobArn"]
    imported = wait_status(
        personalize.describe_dataset_import_job, "datasetImportJob", datasetImportJobArn=job
    )
    assert imported["status"] == "ACTIVE", imported.get("failureReason")

    ranking = personalize.create_solution(
        name="movies-ranking",
        datasetGroupArn=group,
        recipeArn="arn:aws:personalize:::recipe/aws-personalized-ranking-v2",
    )["solutionArn"]
    similar = personalize.create_solution(
        name="movies-similar",
        datasetGroupArn=group,
        recipeArn="arn:aws:personalize:::recipe/aws-similar-items",
    )["solutionArn"]
    versions = {}
    for name, solution in (("ranking", ranking), ("similar", similar)):
        versions[name] = personalize.create_solution_version(solutionArn=solution)[
            "solutionVersionArn"
        ]
    for arn in versions.values():
        version = wait_status(
            personalize.describe_solution_version, "solutionVersion", solutionVersionArn=arn
        )
        assert version["status"] == "ACTIVE", version.get("failureReason")

    campaigns = {}
    for name, arn in versions.items():
        campaigns[name] = personalize.create_campaign(
            name=f"movies-{name}", solutionVersionArn=arn, minProvisionedTPS=1
        )["campaignArn"]
    for arn in campaigns.values():
        assert wait_status(personalize.describe_campaign, "campaign", campaignArn=arn)[
            "status"
        ] == "ACTIVE"
    return {
        "group": group,
        "schema": schema,
        "dataset": dataset,
        "job": job,
        "solutions": {"ranking": ranking, "similar": similar},
        "versions": versions,
        "campaigns": campaigns,
    }


def items_of(generated: Path) -> list[str]:
    lines = (generated / "items.csv").read_text().splitlines()[1:]
    return [line.split(",", 1)[0] for line in lines]


def a_user(generated: Path) -> str:
    lines = (generated / "interactions.csv").read_text().splitlines()[1:]
    return lines[len(lines) // 2].split(",", 1)[0]


def test_control_plane_describes_and_lists(personalize, deployed: dict) -> None:
    group = personalize.describe_dataset_group(datasetGroupArn=deployed["group"])["datasetGroup"]
    assert group["name"] == "movies"
    assert isinstance(group["creationDateTime"], datetime.datetime)
    job = personalize.describe_dataset_import_job(datasetImportJobArn=deployed["job"])[
        "datasetImportJob"
    ]
    assert job["importMode"] == "FULL"
    assert job["dataSource"]["dataLocation"].startswith("file://")
    metrics = personalize.get_solution_metrics(
        solutionVersionArn=deployed["versions"]["ranking"]
    )["metrics"]
    assert "normalized_discounted_cumulative_gain_at_10" in metrics
    solution = personalize.describe_solution(solutionArn=deployed["solutions"]["ranking"])[
        "solution"
    ]
    assert solution["latestSolutionVersion"]["status"] == "ACTIVE"
    names = [
        g["name"]
        for page in personalize.get_paginator("list_dataset_groups").paginate(
            PaginationConfig={"PageSize": 1}
        )
        for g in page["datasetGroups"]
    ]
    assert "movies" in names
    versions = personalize.list_solution_versions(solutionArn=deployed["solutions"]["similar"])
    assert [v["solutionVersionArn"] for v in versions["solutionVersions"]] == [
        deployed["versions"]["similar"]
    ]
    campaigns = personalize.list_campaigns()["campaigns"]
    assert {c["campaignArn"] for c in campaigns} >= set(deployed["campaigns"].values())
    recipes = personalize.list_recipes()["recipes"]
    assert len(recipes) == 3
    recipe = personalize.describe_recipe(recipeArn="arn:aws:personalize:::recipe/aws-sims")
    assert recipe["recipe"]["recipeType"] == "RELATED_ITEMS"


def test_runtime_and_events(personalize, runtime, events, deployed: dict, generated: Path) -> None:
    items = items_of(generated)[:25]
    user = a_user(generated)
    ranking = runtime.get_personalized_ranking(
        campaignArn=deployed["campaigns"]["ranking"], userId=user, inputList=items
    )
    before = [p["itemId"] for p in ranking["personalizedRanking"]]
    assert sorted(before) == sorted(items)
    assert ranking["recommendationId"]

    similar = runtime.get_recommendations(
        campaignArn=deployed["campaigns"]["similar"], itemId=items[0], numResults=5
    )
    assert 0 < len(similar["itemList"]) <= 5
    assert all(i["itemId"] != items[0] for i in similar["itemList"])

    tracker = personalize.create_event_tracker(
        name="movies-tracker", datasetGroupArn=deployed["group"]
    )
    described = wait_status(
        personalize.describe_event_tracker,
        "eventTracker",
        eventTrackerArn=tracker["eventTrackerArn"],
    )
    assert described["trackingId"] == tracker["trackingId"]

    # The user suddenly buys the items ranked last: the ranking must react.
    now = datetime.datetime.now(datetime.timezone.utc)
    favourites = before[-3:]
    for round_ in range(3):
        events.put_events(
            trackingId=tracker["trackingId"],
            userId=user,
            sessionId=f"session-{user}",
            eventList=[
                {
                    "eventId": f"e-{round_}-{i}",
                    "eventType": "purchase",
                    "itemId": item,
                    "sentAt": now,
                    "properties": '{"eventValue": 1}',
                }
                for i, item in enumerate(favourites)
            ],
        )
    after = [
        p["itemId"]
        for p in runtime.get_personalized_ranking(
            campaignArn=deployed["campaigns"]["ranking"], userId=user, inputList=items
        )["personalizedRanking"]
    ]
    assert after != before
    assert sum(after.index(i) for i in favourites) < sum(before.index(i) for i in favourites)


def test_errors_are_modelled_exceptions(personalize, runtime, events, deployed: dict) -> None:
    with pytest.raises(personalize.exceptions.ResourceNotFoundException):
        personalize.describe_dataset_group(
            datasetGroupArn="arn:aws:personalize:us-east-1:123456789012:dataset-group/none"
        )
    with pytest.raises(personalize.exceptions.ResourceAlreadyExistsException):
        personalize.create_dataset_group(name="movies")
    with pytest.raises(personalize.exceptions.InvalidInputException) as bad_name:
        personalize.create_dataset_group(name="not a name")
    assert "name" in str(bad_name.value)
    with pytest.raises(personalize.exceptions.InvalidNextTokenException):
        personalize.list_schemas(nextToken="garbage")
    with pytest.raises(personalize.exceptions.ResourceInUseException):
        personalize.delete_solution(solutionArn=deployed["solutions"]["ranking"])
    with pytest.raises(runtime.exceptions.ResourceNotFoundException):
        runtime.get_personalized_ranking(
            campaignArn="arn:aws:personalize:us-east-1:123456789012:campaign/none",
            userId="u",
            inputList=["i"],
        )
    with pytest.raises(events.exceptions.InvalidInputException):
        events.put_events(
            trackingId="not-a-tracker",
            sessionId="s",
            eventList=[{"eventType": "click", "itemId": "i", "sentAt": 1714564800}],
        )
    with pytest.raises(botocore.exceptions.ClientError) as not_implemented:
        personalize.create_recommender(
            name="r",
            datasetGroupArn=deployed["group"],
            recipeArn="arn:aws:personalize:::recipe/aws-vod-top-picks",
        )
    assert not_implemented.value.response["Error"]["Code"] == "UnknownOperationException"


def test_update_and_delete_campaign(personalize, runtime, deployed: dict, generated: Path) -> None:
    ranking_solution = deployed["solutions"]["ranking"]
    version = personalize.create_solution_version(solutionArn=ranking_solution)[
        "solutionVersionArn"
    ]
    assert wait_status(
        personalize.describe_solution_version, "solutionVersion", solutionVersionArn=version
    )["status"] == "ACTIVE"
    campaign = deployed["campaigns"]["ranking"]
    personalize.update_campaign(campaignArn=campaign, solutionVersionArn=version)
    described = wait_status(personalize.describe_campaign, "campaign", campaignArn=campaign)
    assert described["solutionVersionArn"] == version
    assert described["latestCampaignUpdate"]["status"] == "ACTIVE"
    ranked = runtime.get_personalized_ranking(
        campaignArn=campaign, userId=a_user(generated), inputList=items_of(generated)[:5]
    )["personalizedRanking"]
    assert len(ranked) == 5

    extra = personalize.create_campaign(
        name="movies-extra",
        solutionVersionArn=f"{ranking_solution}/$LATEST",
        campaignConfig={"syncWithLatestSolutionVersion": True},
    )["campaignArn"]
    personalize.delete_campaign(campaignArn=extra)
    with pytest.raises(personalize.exceptions.ResourceNotFoundException):
        personalize.describe_campaign(campaignArn=extra)
