"""Solutions, training with progress, metrics and evaluation (python/src/store.rs over
sdk/src/train)."""

from __future__ import annotations

import attune
import pytest
from conftest import FAST_RANKING

METRICS = {
    "precision_at_5",
    "precision_at_10",
    "precision_at_25",
    "normalized_discounted_cumulative_gain_at_5",
    "normalized_discounted_cumulative_gain_at_10",
    "normalized_discounted_cumulative_gain_at_25",
    "mean_reciprocal_rank_at_25",
    "coverage",
}


def test_solutions(loaded: attune.Store) -> None:
    s = loaded.create_solution(
        "r",
        "g",
        hyperparameters={"algorithm": "ials", "factors": 16, "recency_mask": False, "alpha": 2.5},
    )
    assert s["recipeArn"].endswith("recipe/attune-personalized-ranking")
    assert s["solutionConfig"]["algorithmHyperParameters"] == {
        "algorithm": "ials",
        "factors": "16",
        "recency_mask": "false",
        "alpha": "2.5",
    }
    assert loaded.solution("r")["solutionArn"] == s["solutionArn"]
    sims = loaded.create_solution("s", "g", "aws-sims", event_type="click")
    assert sims["eventType"] == "click"
    assert [x["name"] for x in loaded.list_solutions("g")] == ["r", "s"]
    with pytest.raises(attune.InvalidInputError, match="factors"):
        loaded.create_solution("bad", "g", hyperparameters={"factors": 100_000})
    with pytest.raises(attune.InvalidInputError, match="no_such_knob"):
        loaded.create_solution("bad", "g", hyperparameters={"no_such_knob": 1})
    with pytest.raises(attune.InvalidInputError, match="unknown recipe"):
        loaded.create_solution("bad", "g", "deep-magic")
    with pytest.raises(
        attune.InvalidInputError, match="eventValueThreshold needs the solution's eventType"
    ):
        loaded.create_solution("bad", "g", event_value_threshold=0.5)


def test_train_with_a_progress_callback(loaded: attune.Store) -> None:
    loaded.create_solution("r", "g", hyperparameters=FAST_RANKING)
    updates: list[attune.ProgressUpdate] = []
    version = loaded.create_solution_version("r", progress=updates.append, threads=1)
    assert version["status"] == "ACTIVE"
    kinds = {u.kind for u in updates}
    assert {"start", "finish", "message"} <= kinds
    starts = [u for u in updates if u.kind == "start"]
    assert starts[0].stage == "train iALS" and starts[0].total == 8
    finishes = [u for u in updates if u.kind == "finish"]
    assert finishes[-1].done == 8
    assert any(u.message == "training the final model on all data" for u in updates)
    assert repr(updates[0]).startswith("ProgressUpdate(kind=")
    metrics = loaded.solution_metrics(version["solutionVersionArn"])
    assert set(metrics) == METRICS
    arn = version["solutionVersionArn"]
    assert loaded.solution_version(arn)["status"] == "ACTIVE"
    assert [v["solutionVersionArn"] for v in loaded.list_solution_versions("r")] == [arn]


def test_a_raising_callback_stops_training(loaded: attune.Store) -> None:
    loaded.create_solution("r", "g", hyperparameters=FAST_RANKING)

    class Stop(Exception):
        pass

    def stop(update: attune.ProgressUpdate) -> None:
        if update.kind == "start":
            raise Stop("enough")

    with pytest.raises(Stop, match="enough"):
        loaded.create_solution_version("r", progress=stop)
    [version] = loaded.list_solution_versions("r")
    assert version["status"] == "CREATE STOPPED"
    with pytest.raises(attune.NotFoundError, match="ACTIVE solution version"):
        loaded.load_model("r")


def test_hpo_tunes_the_ranges_and_reports_the_choice(loaded: attune.Store) -> None:
    loaded.create_solution(
        "h",
        "g",
        hyperparameters={"algorithm": "ials", "factors": 8, "iterations": 2},
        hpo_config={
            "hpoResourceConfig": {"maxNumberOfTrainingJobs": "2"},
            "algorithmHyperParameterRanges": {
                "categoricalHyperParameterRanges": [{"name": "alpha", "values": ["1", "8"]}]
            },
        },
    )
    v = loaded.create_solution_version("h", progress=False)
    assert v["tunedHPOParams"]["algorithmHyperParameters"]["alpha"] in {"1", "8"}
    assert set(loaded.solution_metrics(v["solutionVersionArn"])) == METRICS
    with pytest.raises(attune.InvalidInputError, match="bogus"):
        loaded.create_solution(
            "bad",
            "g",
            hpo_config={
                "algorithmHyperParameterRanges": {
                    "integerHyperParameterRanges": [{"name": "bogus", "minValue": 1, "maxValue": 2}]
                }
            },
        )


def test_training_without_evaluation_has_no_metrics(loaded: attune.Store) -> None:
    loaded.create_solution("p", "g", "attune-popularity-count")
    v = loaded.create_solution_version("p", evaluate=False, progress=False)
    assert loaded.solution_metrics(v["solutionVersionArn"]) == {}


def test_training_without_interactions_fails(store: attune.Store) -> None:
    store.create_dataset_group("g")
    store.create_solution("r", "g")
    with pytest.raises(attune.NotFoundError) as e:
        store.create_solution_version("r", progress=False)
    assert str(e.value) == "dataset not found: Interactions in dataset group g"
    [version] = store.list_solution_versions("r")
    assert version["status"] == "CREATE FAILED"
    assert version["failureReason"] == str(e.value)


def test_export_splits_and_evaluate(trained: attune.Store) -> None:
    [split] = trained.export_splits("ranking")
    # 10% of the 300 users are test users (those with a non-empty truth are kept).
    assert 20 <= len(split["testUsers"]) <= 30
    train_users = set(split["trainUsers"])
    assert len(train_users) >= 260
    assert not train_users & {u["userId"] for u in split["testUsers"]}
    user = split["testUsers"][0]
    assert user["input"] and user["truth"]
    folds = trained.export_splits("ranking", folds=3)
    tested = [{u["userId"] for u in f["testUsers"]} for f in folds]
    assert not tested[0] & tested[1]
    # The Personalize protocol: train on the training users, score the test users.
    metrics = trained.evaluate("ranking", split=split, threads=1, progress=False)
    assert set(metrics) == METRICS
    default = trained.evaluate("ranking", threads=1, progress=False)
    assert default == pytest.approx(metrics)
    # The same split through an already trained model (which saw the test users: higher).
    model = trained.load_model("popular")
    assert set(model.evaluate(split)) == METRICS
    with pytest.raises(attune.InvalidInputError, match="split: not a split"):
        model.evaluate({"trainUsers": []})  # type: ignore[typeddict-item]


def test_ctrl_c_stops_training(loaded: attune.Store) -> None:
    import _thread
    import signal

    loaded.create_solution("r", "g", hyperparameters=FAST_RANKING)

    def interrupt(update: attune.ProgressUpdate) -> None:
        if update.kind == "start":
            _thread.interrupt_main()  # what Ctrl-C (a notebook's interrupt) does

    # Python keeps SIGINT ignored when it starts with it ignored (a shell's background job), and
    # interrupt_main() then does nothing: install the handler a terminal or notebook has.
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        with pytest.raises(KeyboardInterrupt):
            loaded.create_solution_version("r", progress=interrupt)
    finally:
        signal.signal(signal.SIGINT, previous)
    [version] = loaded.list_solution_versions("r")
    assert version["status"] == "CREATE STOPPED"
