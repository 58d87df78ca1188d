"""The whole notebook flow on MovieLens ml-latest-small: import ratings and movies from pandas,
look at the insights, train Personalized-Ranking, Similar-Items and Popularity-Count, evaluate
with the Personalize protocol, rank and find similar films, with sensible results."""

from __future__ import annotations

import random
from collections.abc import Iterator
from typing import Any

import attune
import pandas as pd
import pytest
from conftest import INTERACTIONS_SCHEMA, ITEMS_SCHEMA, movielens_or_skip

NDCG = "normalized_discounted_cumulative_gain_at_10"
PRECISION = "precision_at_10"


@pytest.fixture(scope="module")
def ml(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    src = movielens_or_skip("the MovieLens notebook flow")
    store = attune.Store(tmp_path_factory.mktemp("movielens") / "data")
    store.create_dataset_group("ml")

    ratings = pd.read_csv(src / "ratings.csv").rename(
        columns={
            "userId": "USER_ID",
            "movieId": "ITEM_ID",
            "rating": "EVENT_VALUE",
            "timestamp": "TIMESTAMP",
        }
    )
    ratings["EVENT_TYPE"] = "rating"
    store.create_schema("ml-interactions", INTERACTIONS_SCHEMA)
    store.create_dataset("ml", "Interactions", "ml-interactions").import_dataframe(
        ratings, progress=False
    )

    movies = pd.read_csv(src / "movies.csv").rename(
        columns={"movieId": "ITEM_ID", "title": "TITLE", "genres": "GENRES"}
    )
    movies["GENRES"] = movies["GENRES"].where(movies["GENRES"] != "(no genres listed)", None)
    store.create_schema("ml-items", ITEMS_SCHEMA)
    store.create_dataset("ml", "Items", "ml-items").import_dataframe(movies, progress=False)

    store.create_solution("ranking", "ml", hyperparameters={"algorithm": "ials"})
    store.create_solution("similar", "ml", "attune-similar-items")
    store.create_solution("popular", "ml", "attune-popularity-count")
    versions = {
        s: store.create_solution_version(s, progress=False)
        for s in ["ranking", "similar", "popular"]
    }
    genres = {
        str(i): set(g.split("|")) if isinstance(g, str) else set()
        for i, g in zip(movies["ITEM_ID"], movies["GENRES"], strict=True)
    }
    yield {"store": store, "versions": versions, "genres": genres, "ratings": ratings}


def test_imported_data_and_insights(ml: dict[str, Any]) -> None:
    store: attune.Store = ml["store"]
    assert store.dataset("ml", "Interactions").bulk_rows() == 100_836
    assert store.dataset("ml", "Items").bulk_rows() == 9_742
    ins = store.insights("ml")
    stats = ins["datasets"][0].get("interactions")
    assert stats is not None
    assert (stats["uniqueUsers"], stats["uniqueItems"]) == (610, 9_724)
    assert not [f for f in ins["findings"] if f["severity"] == "error"]


def test_metrics_beat_popularity(ml: dict[str, Any]) -> None:
    store: attune.Store = ml["store"]
    metric = {s: store.solution_metrics(v["solutionVersionArn"]) for s, v in ml["versions"].items()}
    for s in ["ranking", "similar"]:
        assert metric[s][NDCG] > metric["popular"][NDCG], (s, metric)
        assert metric[s][PRECISION] > metric["popular"][PRECISION], (s, metric)


def test_evaluate_with_the_personalize_protocol(ml: dict[str, Any]) -> None:
    store: attune.Store = ml["store"]
    [split] = store.export_splits("ranking")
    assert len(split["testUsers"]) >= 55  # 10% of 610 users
    ranking = store.evaluate("ranking", split=split, progress=False)
    popular = store.evaluate("popular", split=split, progress=False)
    assert ranking[NDCG] > 1.3 * popular[NDCG], (ranking, popular)
    # The version's own metrics come from the same split and seed.
    recorded = store.solution_metrics(ml["versions"]["ranking"]["solutionVersionArn"])
    assert ranking[NDCG] == pytest.approx(recorded[NDCG], rel=1e-3)


def test_ranking_puts_the_next_films_first(ml: dict[str, Any]) -> None:
    store: attune.Store = ml["store"]
    [split] = store.export_splits("popular")
    model = store.load_model(ml["versions"]["ranking"]["solutionVersionArn"])
    all_items = model.popular(model.item_count)
    rng = random.Random(5)
    wins = comparisons = 0
    for user in split["testUsers"]:
        truth = [i for i in user["truth"] if model.has_item(i)][:20]
        seen = set(user["input"]) | set(user["truth"])
        others = [i for i in rng.sample(all_items, 200) if i not in seen][:60]
        # The model was trained on all data; rank as if only the input were known.
        ranked = model.rank(f"anonymous-{user['userId']}", truth + others, recent=user["input"])
        position = {item: k for k, (item, _) in enumerate(ranked)}
        for t in truth:
            for o in others:
                wins += position[t] < position[o]
                comparisons += 1
    auc = wins / comparisons
    assert auc > 0.75, auc


def test_similar_films_share_genres(ml: dict[str, Any]) -> None:
    store: attune.Store = ml["store"]
    genres: dict[str, set[str]] = ml["genres"]
    model = store.load_model("similar")
    films = model.popular(200)
    shared = pairs = 0
    for film in films:
        for other in model.similar(film, 10):
            shared += bool(genres[film] & genres.get(other, set()))
            pairs += 1
    rng = random.Random(9)
    catalog = list(genres)
    chance = (
        sum(bool(genres[rng.choice(catalog)] & genres[rng.choice(catalog)]) for _ in range(20_000))
        / 20_000
    )
    assert shared / pairs > chance + 0.2, (shared / pairs, chance)


def test_top_n_skips_what_the_user_rated(ml: dict[str, Any]) -> None:
    store: attune.Store = ml["store"]
    ratings: pd.DataFrame = ml["ratings"]
    model = store.load_model("ranking")
    rated: list[str] = ratings.loc[ratings["USER_ID"] == 1, "ITEM_ID"].astype(str).tolist()
    top = model.top_n("1", 25)
    assert len(top) == 25
    assert not set(rated) & {i for i, _ in top}
