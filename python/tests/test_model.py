"""In-process inference (python/src/model.rs over sdk/src/model): rank, top-N, similar items."""

from __future__ import annotations

import math

import attune
import pytest


@pytest.fixture(scope="module")
def ranking(trained: attune.Store) -> attune.Model:
    return trained.load_model("ranking")


def user_history(trained: attune.Store, user: str) -> list[str]:
    data = trained.dataset("g", "Interactions").read()
    return [i for u, i in zip(data["USER_ID"], data["ITEM_ID"], strict=True) if u == user]


def test_model_properties(trained: attune.Store, ranking: attune.Model) -> None:
    assert ranking.recipe == "attune-personalized-ranking"
    assert ranking.algorithm == "ials"
    assert ranking.hyperparameters["factors"] == "32"
    assert 390 <= ranking.item_count <= 400  # the items with interactions
    assert ranking.user_count == 300
    assert ranking.has_item("i1") and not ranking.has_item("nope")
    assert ranking.has_user("u1") and not ranking.has_user("nope")
    assert repr(ranking) == (
        f'Model(recipe="attune-personalized-ranking", algorithm="ials", '
        f"items={ranking.item_count}, users=300)"
    )
    # A version ARN and the solution name (its newest ACTIVE version) load the same model.
    arn = trained.list_solution_versions("ranking")[-1]["solutionVersionArn"]
    assert trained.load_model(arn).item_count == ranking.item_count


def test_rank(ranking: attune.Model) -> None:
    items = [f"i{k}" for k in range(1, 60)] + ["unknown-b", "i5", "unknown-a"]
    ranked = ranking.rank("u1", items)
    ids = [i for i, _ in ranked]
    assert len(ids) == 61  # the repeated i5 keeps its first occurrence
    assert ids[-2:] == ["unknown-b", "unknown-a"]
    assert [s for _, s in ranked[-2:]] == [None, None]
    scores = [s for _, s in ranked[:-2]]
    assert all(s is not None for s in scores)
    known = [s for s in scores if s is not None]
    assert math.isclose(sum(known), 1.0, rel_tol=1e-6)
    assert known == sorted(known, reverse=True)
    # The same object identities come back (no copies of the ids).
    assert ranked[0][0] in items


def test_rank_takes_any_iterable_and_recent_events(ranking: attune.Model) -> None:
    items = [f"i{k}" for k in range(1, 40)]
    assert ranking.rank("u1", tuple(items)) == ranking.rank("u1", items)
    cold = ranking.rank("brand-new-user", items)
    warm = ranking.rank("brand-new-user", items, recent=["i3", ("i7", "purchase")])
    assert [i for i, _ in cold] != [i for i, _ in warm]
    with pytest.raises(attune.InvalidInputError, match="recent"):
        ranking.rank("u1", items, recent=[42])  # type: ignore[list-item]


def test_rank_limits(ranking: attune.Model) -> None:
    with pytest.raises(attune.InvalidInputError, match="at most 500 ids can be ranked, found 501"):
        ranking.rank("u1", [f"i{k}" for k in range(501)])
    assert attune.MAX_INPUT_ITEMS == 500
    with pytest.raises(TypeError):
        ranking.rank("u1", [1, 2])  # type: ignore[list-item]


def test_top_n_excludes_the_history(trained: attune.Store, ranking: attune.Model) -> None:
    top = ranking.top_n("u1", 20)
    assert len(top) == 20
    seen = set(user_history(trained, "u1"))
    assert not seen & {i for i, _ in top}
    scores = [s for _, s in top]
    assert scores == sorted(scores, reverse=True)
    assert [i for i, _ in ranking.top_n("nobody", 5)] == ranking.popular(5)


def test_similar_items(trained: attune.Store) -> None:
    sims = trained.load_model("sims")
    assert sims.recipe == "attune-similar-items"
    similar = sims.similar("i1", 10)
    assert len(similar) == 10 and "i1" not in similar
    assert sims.similar("unknown", 3) == sims.popular(3)
    assert len(sims.popular(1000)) == sims.item_count
