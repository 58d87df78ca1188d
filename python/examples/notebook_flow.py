"""Attune in a notebook, cell by cell (each `# %%` is a cell in VS Code or Jupytext).

Imports MovieLens ml-latest-small from pandas, looks at the data insights, trains a
Personalized-Ranking and a Similar-Items model, evaluates them with Amazon Personalize's
offline protocol against a popularity baseline, ranks films for a user, finds similar films,
and deploys a campaign that `attune serve` on the same data directory picks up.

Run it as a script:

    pip install ./python pandas        # or: maturin develop -m python/Cargo.toml
    python python/examples/notebook_flow.py [MOVIELENS_DIR] [DATA_DIR]

MOVIELENS_DIR defaults to ../shared/data/ml-latest-small next to the repository; DATA_DIR to a
new temporary directory.
"""

# %% Setup
import sys
import tempfile
import time
from pathlib import Path

import attune
import pandas as pd

REPO = Path(__file__).resolve().parents[2]
movielens = (
    Path(sys.argv[1]) if len(sys.argv) > 1 else REPO.parent / "shared" / "data" / "ml-latest-small"
)
data_dir = Path(sys.argv[2]) if len(sys.argv) > 2 else Path(tempfile.mkdtemp()) / "attune-data"
if not (movielens / "ratings.csv").is_file():
    sys.exit(f"MovieLens is not at {movielens}: give its folder as the first argument")

store = attune.Store(data_dir)
store.create_dataset_group("movielens")
print(store)

# %% Interactions: ratings as events of type "rating", the rating as EVENT_VALUE
ratings = pd.read_csv(movielens / "ratings.csv").rename(
    columns={
        "userId": "USER_ID",
        "movieId": "ITEM_ID",
        "rating": "EVENT_VALUE",
        "timestamp": "TIMESTAMP",
    }
)
ratings["EVENT_TYPE"] = "rating"
store.create_schema(
    "movielens-interactions",
    {
        "type": "record",
        "name": "Interactions",
        "namespace": "com.amazonaws.personalize.schema",
        "fields": [
            {"name": "USER_ID", "type": "string"},
            {"name": "ITEM_ID", "type": "string"},
            {"name": "EVENT_TYPE", "type": "string"},
            {"name": "EVENT_VALUE", "type": ["null", "float"]},
            {"name": "TIMESTAMP", "type": "long"},
        ],
        "version": "1.0",
    },
)
interactions = store.create_dataset("movielens", "Interactions", "movielens-interactions")
started = time.perf_counter()
job = interactions.import_dataframe(ratings)
print(f"{job['rowsImported']} ratings imported in {time.perf_counter() - started:.2f} s")

# %% Items: titles (free text) and genres (categorical, |-separated)
movies = pd.read_csv(movielens / "movies.csv").rename(
    columns={"movieId": "ITEM_ID", "title": "TITLE", "genres": "GENRES"}
)
movies["GENRES"] = movies["GENRES"].where(movies["GENRES"] != "(no genres listed)", None)
store.create_schema(
    "movielens-items",
    {
        "type": "record",
        "name": "Items",
        "namespace": "com.amazonaws.personalize.schema",
        "fields": [
            {"name": "ITEM_ID", "type": "string"},
            {"name": "TITLE", "type": ["null", "string"], "textual": True},
            {"name": "GENRES", "type": ["null", "string"], "categorical": True},
        ],
        "version": "1.0",
    },
)
items = store.create_dataset("movielens", "Items", "movielens-items")
items.import_dataframe(movies)
titles = dict(zip(movies["ITEM_ID"].astype(str), movies["TITLE"], strict=True))

# %% Bad data is refused with the row and column, and nothing is stored
broken = ratings.head(2000).astype({"TIMESTAMP": object})
broken.loc[41, "TIMESTAMP"] = "yesterday"
try:
    interactions.import_dataframe(broken, mode="INCREMENTAL")
except attune.ImportError as e:
    print("refused:", e)
    print("first bad row:", e.row_errors[0])

# %% Data insights
insights = store.insights("movielens")
for finding in insights["findings"]:
    print(f"{finding['severity']}: {finding['message']}")
print(store.insights_frame("movielens")[["dataset", "name", "type", "missing", "distinct"]])

# %% Train: Personalized-Ranking (iALS), Similar-Items and the popularity baseline
store.create_solution("ranking", "movielens", hyperparameters={"algorithm": "ials", "factors": 64})
store.create_solution("similar", "movielens", "attune-similar-items")
store.create_solution("popular", "movielens", "attune-popularity-count")
versions = {}
for solution in ["ranking", "similar", "popular"]:
    started = time.perf_counter()
    versions[solution] = store.create_solution_version(solution, progress=True)
    print(f"{solution}: trained in {time.perf_counter() - started:.1f} s")

# %% Metrics (GetSolutionMetrics: a held-out 10% of users, Personalize's protocol)
metrics = pd.DataFrame(
    {s: store.solution_metrics(v["solutionVersionArn"]) for s, v in versions.items()}
).T
print(metrics[["precision_at_10", "normalized_discounted_cumulative_gain_at_10", "coverage"]])

# %% The same protocol on another split: 3 folds of disjoint test users
for k, split in enumerate(store.export_splits("ranking", folds=3)):
    scores = {s: store.evaluate(s, split=split, progress=False) for s in ["ranking", "popular"]}
    ndcg = {
        s: round(m["normalized_discounted_cumulative_gain_at_10"], 4) for s, m in scores.items()
    }
    print(f"fold {k}: NDCG@10 {ndcg}")

# %% Rank candidates for a user, in-process (what GetPersonalizedRanking returns)
ranking = store.load_model(versions["ranking"]["solutionVersionArn"])
candidates = [str(i) for i in movies["ITEM_ID"].sample(100, random_state=1)]
for item, score in ranking.rank("1", candidates)[:5]:
    print(f"{score:.4f}  {titles[item]}")

# %% A new visitor who just watched two films: their events fold in at once
for item, _ in ranking.rank("visitor", candidates, recent=["1", "3114"])[:5]:
    print(titles[item])

# %% Similar films (what GetRecommendations with an itemId returns)
similar = store.load_model(versions["similar"]["solutionVersionArn"])
print("Like", titles["1"], "->", [titles[i] for i in similar.similar("1", 5)])

# %% Deploy: a server on this data directory (`attune serve --data-dir DATA_DIR`) serves it
campaign = store.create_campaign("movielens-ranking", versions["ranking"]["solutionVersionArn"])
print(campaign["campaignArn"], campaign["status"])
print(f"serve it: attune serve --data-dir {data_dir}")
# client = attune.Client("http://127.0.0.1:8080")
# client.get_personalized_ranking(campaign["campaignArn"], "1", candidates)
