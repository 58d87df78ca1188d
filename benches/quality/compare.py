#!/usr/bin/env python3
"""Attune against `implicit` (iALS), EASE and popularity on MovieLens ml-latest-small, under
Personalize's offline-evaluation protocol repeated over 10 disjoint user folds.

See README.md beside this file for the protocol, the commands and the latest results. In short:

    cargo build --release -p attune-server
    python3 -m venv /tmp/q && /tmp/q/bin/pip install -r benches/quality/requirements.txt
    /tmp/q/bin/python benches/quality/compare.py            # test folds, timing, Similar-Items
    /tmp/q/bin/python benches/quality/compare.py --tune     # the validation grids behind the defaults

Every metric is computed by `metrics()` below, which mirrors sdk/src/train/eval.rs; the script
checks it once against Attune's own numbers (Attune's popularity solution scored both ways).
"""

import argparse
import csv
import hashlib
import json
import math
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from collections import defaultdict

import numpy as np
import scipy.sparse as sp

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
ML = os.path.join(ROOT, "..", "shared", "data", "ml-latest-small")
GROUP = "ml"
TOP_K = 25

INTERACTIONS_SCHEMA = {
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
}
ITEMS_SCHEMA = {
    "type": "record",
    "name": "Items",
    "namespace": "com.amazonaws.personalize.schema",
    "fields": [
        {"name": "ITEM_ID", "type": "string"},
        {"name": "TITLE", "type": ["null", "string"], "textual": True},
        {"name": "GENRES", "type": ["null", "string"], "categorical": True},
    ],
    "version": "1.0",
}


def log(msg):
    print(msg, file=sys.stderr, flush=True)


# ------------------------------------------------------------------------------------------------
# Data and the attune binary.


class Attune:
    """Runs the release `attune` binary on one data directory."""

    def __init__(self, binary, data_dir):
        self.binary = binary
        self.data_dir = data_dir

    def run(self, *args, check=True):
        cmd = [self.binary, *args, "--data-dir", self.data_dir]
        p = subprocess.run(cmd, capture_output=True, text=True)
        if check and p.returncode != 0:
            raise RuntimeError(f"{' '.join(cmd)} failed:\n{p.stderr}")
        return p.stdout

    def json(self, *args):
        return json.loads(self.run(*args))


def load_ratings():
    """Every rating as (user, item, timestamp), in file order (the order Attune stores them)."""
    with open(os.path.join(ML, "ratings.csv"), newline="") as f:
        r = csv.reader(f)
        next(r)
        return [(u, i, int(ts)) for u, i, _, ts in r]


def prepare(work, binary):
    """Converts MovieLens to Personalize CSVs and imports them (once per work dir)."""
    data_dir = os.path.join(work, "data")
    attune = Attune(binary, data_dir)
    if os.path.exists(os.path.join(work, "imported")):
        return attune
    shutil.rmtree(data_dir, ignore_errors=True)
    inter = os.path.join(work, "interactions.csv")
    with open(os.path.join(ML, "ratings.csv"), newline="") as f, open(inter, "w", newline="") as out:
        r = csv.reader(f)
        next(r)
        w = csv.writer(out)
        w.writerow(["USER_ID", "ITEM_ID", "EVENT_TYPE", "EVENT_VALUE", "TIMESTAMP"])
        for u, i, rating, ts in r:
            w.writerow([u, i, "rating", rating, ts])
    items = os.path.join(work, "items.csv")
    with open(os.path.join(ML, "movies.csv"), newline="", encoding="utf-8") as f, open(
        items, "w", newline="", encoding="utf-8"
    ) as out:
        r = csv.reader(f)
        next(r)
        w = csv.writer(out)
        w.writerow(["ITEM_ID", "TITLE", "GENRES"])
        for i, title, genres in r:
            w.writerow([i, title, genres])
    for name, schema in (("interactions", INTERACTIONS_SCHEMA), ("items", ITEMS_SCHEMA)):
        with open(os.path.join(work, f"{name}.avsc"), "w") as f:
            json.dump(schema, f)
    for kind, name in (("Interactions", "interactions"), ("Items", "items")):
        attune.run(
            "import",
            "--dataset-group",
            GROUP,
            "--dataset-type",
            kind,
            "--schema",
            os.path.join(work, f"{name}.avsc"),
            "--file",
            os.path.join(work, f"{name}.csv"),
        )
    open(os.path.join(work, "imported"), "w").close()
    return attune


def ensure_solution(attune, name, recipe, hp):
    """Creates a solution (`attune train` creates it and trains one version on all data)."""
    args = ["train", "--dataset-group", GROUP, "--solution", name, "--recipe", recipe]
    for k, v in sorted(hp.items()):
        args += ["--hp", f"{k}={v}"]
    marker = os.path.join(attune.data_dir, "..", f"solution-{name}")
    if os.path.exists(marker):
        return
    started = time.perf_counter()
    out = json.loads(attune.run(*args, "--no-evaluate"))
    out["wallSeconds"] = time.perf_counter() - started
    with open(marker, "w") as f:
        json.dump(out, f)


def solution_info(attune, name):
    with open(os.path.join(attune.data_dir, "..", f"solution-{name}")) as f:
        return json.load(f)


def write_folds(attune, work, folds):
    base = os.path.join(work, "split.json")
    paths = [os.path.join(work, f"split.{k}.json") for k in range(folds)]
    if not all(os.path.exists(p) for p in paths):
        attune.run("evaluate", "--solution", "pop", "--write-split", base, "--folds", str(folds))
    out = []
    for p in paths:
        with open(p) as f:
            out.append((p, json.load(f)))
    return out


def attune_metrics(attune, solution, split_path):
    return attune.json("evaluate", "--solution", solution, "--split", split_path)["metrics"]


# ------------------------------------------------------------------------------------------------
# The protocol in Python (mirrors sdk/src/train/eval.rs).


class Data:
    """MovieLens with dense indices in Attune's order: users and items by first appearance in the
    ratings file (the order Attune interns them), each user's events in time order (a stable sort,
    so equal timestamps keep file order, as in eval.rs)."""

    def __init__(self):
        self.user_ids, self.item_ids = [], []
        self.user_index, self.item_index = {}, {}
        events = defaultdict(list)
        for u, i, ts in load_ratings():
            ui = self.user_index.setdefault(u, len(self.user_ids))
            if ui == len(self.user_ids):
                self.user_ids.append(u)
            ii = self.item_index.setdefault(i, len(self.item_ids))
            if ii == len(self.item_ids):
                self.item_ids.append(i)
            events[ui].append((ts, ii))
        self.histories = [sorted(events[u], key=lambda e: e[0]) for u in range(len(self.user_ids))]
        self.n_items = len(self.item_ids)

    def matrix(self, users):
        """Binary users x items CSR of the given users' histories (rows in `users` order)."""
        rows, cols = [], []
        for r, u in enumerate(users):
            for _, i in self.histories[u]:
                rows.append(r)
                cols.append(i)
        m = sp.csr_matrix(
            (np.ones(len(rows), dtype=np.float32), (rows, cols)),
            shape=(len(users), self.n_items),
        )
        m.data[:] = 1.0  # duplicates summed by the constructor count once
        return m


def cut(history):
    """eval.rs `cut`: input = the oldest floor(0.9 n) items, truth = the rest's distinct items
    not in the input, in time order; None when not eligible."""
    n = len(history)
    if n < 2:
        return None
    n_input = n * 9 // 10
    inp = [i for _, i in history[:n_input]]
    seen, truth = set(inp), []
    for _, i in history[n_input:]:
        if i not in seen:
            seen.add(i)
            truth.append(i)
    return (inp, truth) if truth else None


class Split:
    """A split in indices: training users, and test users as (user, input items, truth items)."""

    def __init__(self, train_users, test):
        self.train_users = train_users
        self.test = test


def split_from_file(data, doc):
    train = [data.user_index[u] for u in doc["trainUsers"]]
    test = []
    for t in doc["testUsers"]:
        u = data.user_index[t["userId"]]
        test.append((u, [data.item_index[i] for i in t["input"]], [data.item_index[i] for i in t["truth"]]))
    return Split(train, test)


def check_split(data, split):
    """Attune's split file agrees with this script's reading of the protocol."""
    for u, inp, truth in split.test:
        assert cut(data.histories[u]) == (inp, truth), f"user {data.user_ids[u]} is cut differently"


def validation_split(data, fold_split, seed, fraction=0.1):
    """A validation split carved from a fold's TRAINING users only: round(10%) of its eligible
    training users, drawn with `seed`, are cut 90/10 in time; every other training user trains.
    The fold's test users are left out entirely."""
    eligible = [u for u in fold_split.train_users if cut(data.histories[u]) is not None]
    rng = random.Random(seed)
    rng.shuffle(eligible)
    chosen = set(eligible[: round(fraction * len(eligible))])
    train = [u for u in fold_split.train_users if u not in chosen]
    test = [(u, *cut(data.histories[u])) for u in sorted(chosen)]
    return Split(train, test)


def split_doc(data, split):
    """A split in Attune's split-file format (string ids)."""
    return {
        "trainUsers": [data.user_ids[u] for u in split.train_users],
        "testUsers": [
            {
                "userId": data.user_ids[u],
                "input": [data.item_ids[i] for i in inp],
                "truth": [data.item_ids[i] for i in truth],
            }
            for u, inp, truth in split.test
        ],
    }


METRICS = [
    "normalized_discounted_cumulative_gain_at_10",
    "normalized_discounted_cumulative_gain_at_25",
    "mean_reciprocal_rank_at_25",
    "precision_at_10",
    "coverage",
]
SHORT = {
    "normalized_discounted_cumulative_gain_at_10": "NDCG@10",
    "normalized_discounted_cumulative_gain_at_25": "NDCG@25",
    "normalized_discounted_cumulative_gain_at_5": "NDCG@5",
    "mean_reciprocal_rank_at_25": "MRR@25",
    "precision_at_5": "P@5",
    "precision_at_10": "P@10",
    "precision_at_25": "P@25",
    "coverage": "coverage",
}


def ndcg(ranked, truth, k):
    gain = lambda r0: 1.0 / math.log2(r0 + 2)
    dcg = sum(gain(r) for r, i in enumerate(ranked[:k]) if i in truth)
    ideal = sum(gain(r) for r in range(min(len(truth), k)))
    return dcg / ideal if ideal else 0.0


def metrics(test, recommendations, n_items):
    """eval.rs `evaluate`: `recommendations[k]` is the ranked list for `test[k]`; only its first
    25 distinct items count. `n_items` is the coverage denominator."""
    sums = defaultdict(float)
    recommended = set()
    for (_, _, truth), recs in zip(test, recommendations):
        ranked = []
        for i in recs:
            if len(ranked) == TOP_K:
                break
            if i not in ranked:
                ranked.append(i)
        recommended.update(ranked)
        t = set(truth)
        rr = next((1.0 / (p + 1) for p, i in enumerate(ranked[:25]) if i in t), 0.0)
        sums["mean_reciprocal_rank_at_25"] += rr
        for k in (5, 10, 25):
            sums[f"normalized_discounted_cumulative_gain_at_{k}"] += ndcg(ranked, t, k)
            sums[f"precision_at_{k}"] += sum(1 for i in ranked[:k] if i in t) / k
    n = len(test)
    out = {k: v / n for k, v in sums.items()} if n else {}
    out["coverage"] = len(recommended) / n_items if n_items else 0.0
    return out


def top_unseen(scores, seen, n=TOP_K):
    """The n best items by score (ties by index), excluding `seen`."""
    s = np.asarray(scores, dtype=np.float64).copy()
    s[list(seen)] = -np.inf
    order = np.argsort(-s, kind="stable")
    return [int(i) for i in order[:n] if np.isfinite(s[i])]


# ------------------------------------------------------------------------------------------------
# The sampled re-ranking task (what search re-ranking is): each test user's first truth item
# among 99 negatives drawn from the catalog (never an input or truth item), seeded per fold; the
# list is ranked like GetPersonalizedRanking ranks an input list.

N_NEGATIVES = 99


def sampled_candidates(data, split, seed):
    """{user: candidate list} with the truth item at a seeded random position."""
    rng = random.Random(seed)
    out = {}
    for u, inp, truth in split.test:
        excluded = set(inp) | set(truth)
        negatives = []
        chosen = set()
        while len(negatives) < N_NEGATIVES:
            i = rng.randrange(data.n_items)
            if i not in excluded and i not in chosen:
                chosen.add(i)
                negatives.append(i)
        negatives.insert(rng.randrange(N_NEGATIVES + 1), truth[0])
        out[u] = negatives
    return out


def sampled_metrics(split, candidates, rank):
    """Mean NDCG@10 and MRR of the truth item when `rank(user, input, candidates)` orders each
    user's list (best first); keys as Attune's `evaluate` reports them."""
    ndcg = mrr = 0.0
    for u, inp, truth in split.test:
        ranked = rank(u, inp, candidates[u])
        r = ranked.index(truth[0])
        ndcg += 1.0 / math.log2(r + 2) if r < 10 else 0.0
        mrr += 1.0 / (r + 1)
    n = len(split.test)
    return {"sampled_ndcg_at_10": ndcg / n, "sampled_mrr": mrr / n}


def rank_by_scores(scores, cands):
    """Candidates by descending score, ties in list order (Attune's stable order)."""
    s = np.asarray([scores[i] for i in cands], dtype=np.float64)
    return [cands[k] for k in np.argsort(-s, kind="stable")]


# ------------------------------------------------------------------------------------------------
# Baselines.


def popularity_recs(data, split):
    counts = np.asarray(data.matrix(split.train_users).sum(axis=0)).ravel()
    order = np.argsort(-counts, kind="stable")
    out = []
    for _, inp, _ in split.test:
        seen = set(inp)
        out.append([int(i) for i in order[: TOP_K + len(seen)] if i not in seen][:TOP_K])
    return out


def implicit_model(factors, regularization, alpha, iterations, threads, seed=42):
    from implicit.cpu.als import AlternatingLeastSquares

    return AlternatingLeastSquares(
        factors=factors,
        regularization=regularization,
        alpha=alpha,
        iterations=iterations,
        calculate_training_loss=False,
        random_state=seed,
        num_threads=threads,
    )


def implicit_recs(data, split, hp, threads, candidates=None):
    """`implicit` iALS trained on the training users; each test user folded in from their input
    (recalculate_user=True, an exact least-squares solve), input items filtered. With
    `candidates`, returns (recommendations, sampled metrics)."""
    from threadpoolctl import threadpool_limits

    # implicit asks for a single-threaded BLAS (its own threads do the work).
    with threadpool_limits(limits=1, user_api="blas"):
        model = implicit_model(threads=threads, **hp)
        model.fit(data.matrix(split.train_users), show_progress=False)
        users = [u for u, _, _ in split.test]
        rows, cols = [], []
        for r, (_, inp, _) in enumerate(split.test):
            for i in inp:
                rows.append(r)
                cols.append(i)
        inputs = sp.csr_matrix(
            (np.ones(len(rows), dtype=np.float32), (rows, cols)), shape=(len(users), data.n_items)
        )
        inputs.data[:] = 1.0
        ids, _ = model.recommend(
            np.arange(len(users)),
            inputs,
            N=TOP_K,
            filter_already_liked_items=True,
            recalculate_user=True,
        )
        recs = [[int(i) for i in row if i >= 0] for row in ids]
        if candidates is None:
            return recs
        row_of = {u: r for r, (u, _, _) in enumerate(split.test)}

        def rank(u, inp, cands):
            r = row_of[u]
            got, _ = model.recommend(
                r,
                inputs[r],
                N=len(cands),
                filter_already_liked_items=False,
                recalculate_user=True,
                items=np.asarray(cands),
            )
            ranked = [int(i) for i in got]
            return ranked + [c for c in cands if c not in set(ranked)]

        return recs, sampled_metrics(split, candidates, rank)


def ease_weights(x, lam):
    """EASE's B for a binary users x items matrix: P = (XᵀX + λI)⁻¹ by Cholesky in float32
    (LAPACK potrf/potri), B = −P / diag(P), zero diagonal."""
    from scipy.linalg import lapack

    g = (x.T @ x).toarray().astype(np.float32)
    g[np.diag_indices_from(g)] += lam
    g = np.asfortranarray(g)
    c, info = lapack.spotrf(g, lower=1, overwrite_a=1)
    assert info == 0, f"potrf failed: {info}"
    p, info = lapack.spotri(c, lower=1, overwrite_c=1)
    assert info == 0, f"potri failed: {info}"
    p = np.tril(p) + np.tril(p, -1).T
    d = np.diag(p).copy()
    p /= -d[None, :]
    p[np.diag_indices_from(p)] = 0.0
    return p


def ease_decay_recs(data, split, lam, min_users, half_life_days, threads):
    """EASE on items with at least `min_users` training users, each event weighted
    0.5^(age / half-life) with the age taken from the newest event in the data (as Attune's
    `recency_half_life_days` does); test inputs weigh 1."""
    from threadpoolctl import threadpool_limits

    newest = max(ts for h in data.histories for ts, _ in h)
    rows, cols, vals = [], [], []
    for r, u in enumerate(split.train_users):
        for ts, i in data.histories[u]:
            rows.append(r)
            cols.append(i)
            vals.append(0.5 ** ((newest - ts) / (half_life_days * 86400.0)) if half_life_days else 1.0)
    x = sp.csr_matrix(
        (np.array(vals, dtype=np.float32), (rows, cols)), shape=(len(split.train_users), data.n_items)
    )
    kept = np.flatnonzero(np.diff(x.tocsc().indptr) >= min_users)
    position = {int(i): k for k, i in enumerate(kept)}
    with threadpool_limits(limits=threads):
        b = ease_weights(x[:, kept], lam)
    recs = []
    for _, inp, _ in split.test:
        scores = np.zeros(data.n_items)
        scores[kept] = b[sorted({position[i] for i in inp if i in position})].sum(axis=0)
        recs.append(top_unseen(scores, set(inp)))
    return recs


def ease_recs(data, split, lams, threads, candidates=None):
    """EASE for every λ in `lams`: {λ: recommendations}, or with `candidates` {λ:
    (recommendations, sampled metrics)}."""
    from threadpoolctl import threadpool_limits

    x = data.matrix(split.train_users)
    out = {}
    with threadpool_limits(limits=threads):
        for lam in lams:
            b = ease_weights(x, lam)
            recs, user_scores = [], {}
            for u, inp, _ in split.test:
                scores = b[sorted(set(inp))].sum(axis=0)
                user_scores[u] = scores
                recs.append(top_unseen(scores, set(inp)))
            if candidates is None:
                out[lam] = recs
            else:
                out[lam] = (recs, sampled_metrics(split, candidates, lambda u, inp, c: rank_by_scores(user_scores[u], c)))
            del b
    return out


# ------------------------------------------------------------------------------------------------
# Experiments.


def solution_name(recipe, hp):
    key = ",".join(f"{k}={v}" for k, v in sorted(hp.items()))
    short = {"attune-personalized-ranking": "pr", "attune-similar-items": "sims", "attune-popularity-count": "pop"}
    return f"{short[recipe]}-{hashlib.sha1(key.encode()).hexdigest()[:10]}" if key else short[recipe]


def attune_folds(attune, recipe, hp, split_paths):
    """Attune's metrics for one solution on each split file (trained on that split's training
    users)."""
    name = solution_name(recipe, hp)
    ensure_solution(attune, name, recipe, hp)
    return [attune_metrics(attune, name, p) for p in split_paths]


def mean_se(xs):
    xs = list(xs)
    n = len(xs)
    m = sum(xs) / n
    if n < 2:
        return m, float("nan")
    var = sum((x - m) ** 2 for x in xs) / (n - 1)
    return m, math.sqrt(var / n)


def fmt(m, se, digits=4):
    return f"{m:.{digits}f} ± {se:.{digits}f}"


def validation_paths(work, data, fold_splits):
    """Writes (once) the validation split of every fold, carved from its training users."""
    paths, splits = [], []
    for k, s in enumerate(fold_splits):
        v = validation_split(data, s, seed=1000 + k)
        path = os.path.join(work, f"validation.{k}.json")
        with open(path, "w") as f:
            json.dump(split_doc(data, v), f)
        paths.append(path)
        splits.append(v)
    return paths, splits


# ------------------------------------------------------------------------------------------------
# Similar-Items: the next item a user interacts with among the top-10 neighbours of the previous.


def next_item_pairs(data, split):
    """(user, previous item, next item) for every event in each test user's newest 10% (the
    events past the input), with the event before it; repeats of the same item are skipped."""
    pairs = []
    for u, _, _ in split.test:
        h = data.histories[u]
        n = len(h)
        for k in range(max(n * 9 // 10, 1), n):
            prev, nxt = h[k - 1][1], h[k][1]
            if prev != nxt:
                pairs.append((u, prev, nxt))
    return pairs


def pairs_doc(data, split, pairs):
    """The pairs as an Attune split file: each pair is one test 'user' whose input is the previous
    item and whose truth is the next; training users are the fold's."""
    return {
        "trainUsers": [data.user_ids[u] for u in split.train_users],
        "testUsers": [
            {
                "userId": f"{data.user_ids[u]}#{k}",
                "input": [data.item_ids[p]],
                "truth": [data.item_ids[n]],
            }
            for k, (u, p, n) in enumerate(pairs)
        ],
    }


def cooccurrence_hits(data, split, pairs, k=10):
    """Hit rate of plain co-occurrence (users who have both items, all history) and of
    popularity, both over the fold's training users. Co-occurrence ties go to the more popular
    item, then the lower index; lists shorter than k are padded with popular items."""
    x = data.matrix(split.train_users).tocsc()
    counts = np.asarray(x.sum(axis=0)).ravel()
    pop_order = np.argsort(-counts, kind="stable")
    prevs = sorted({p for _, p, _ in pairs})
    row = {p: r for r, p in enumerate(prevs)}
    q = (x[:, prevs].T @ x).tocsr()
    cooc_hits = pop_hits = 0
    for _, p, n in pairs:
        popular = [int(i) for i in pop_order[: k + 1] if i != p][:k]
        pop_hits += n in popular
        a, b = q.indptr[row[p]], q.indptr[row[p] + 1]
        items, c = q.indices[a:b], q.data[a:b]
        keep = items != p
        items, c = items[keep], c[keep]
        order = np.lexsort((items, -counts[items], -c))[:k]
        top = [int(items[o]) for o in order]
        for i in popular if len(top) < k else []:
            if len(top) == k:
                break
            if i not in top:
                top.append(i)
        cooc_hits += n in top
    return cooc_hits / len(pairs), pop_hits / len(pairs)


# ------------------------------------------------------------------------------------------------
# Tables.


def table(rows, header):
    out = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    out += ["| " + " | ".join(str(c) for c in r) + " |" for r in rows]
    return "\n".join(out)


def quality_table(results, metrics=METRICS):
    """results: {model: [per-fold metric dicts]} -> mean ± standard error per metric."""
    rows = []
    for name, folds in results.items():
        rows.append([name] + [fmt(*mean_se(f[m] for f in folds)) for m in metrics])
    return table(rows, ["model (10 folds)"] + [SHORT[m] for m in metrics])


def paired_table(results, ours, others, metrics=METRICS[:4]):
    rows = []
    for other in others:
        row = [f"{ours} − {other}"]
        for m in metrics:
            diffs = [a[m] - b[m] for a, b in zip(results[ours], results[other])]
            mean, se = mean_se(diffs)
            wins = sum(d > 0 for d in diffs)
            row.append(f"{mean:+.4f} ± {se:.4f} ({wins}/{len(diffs)} folds ahead)")
        rows.append(row)
    return table(rows, ["paired difference"] + [SHORT[m] for m in metrics])


class Cache:
    """Results of slow runs, kept in the work dir so a rerun only computes what is new."""

    def __init__(self, path):
        self.path = path
        self.data = json.load(open(path)) if os.path.exists(path) else {}

    def get(self, key, compute):
        if key not in self.data:
            self.data[key] = compute()
            with open(self.path + ".tmp", "w") as f:
                json.dump(self.data, f)
            os.replace(self.path + ".tmp", self.path)
        return self.data[key]


# ------------------------------------------------------------------------------------------------
# The runs.

PR = "attune-personalized-ranking"
SIMS = "attune-similar-items"
POP = "attune-popularity-count"

# Chosen by `--tune` on the validation splits (README.md has the grids): implicit's best
# regularization and alpha at 64 factors and 15 iterations, EASE's best λ (all items).
IMPLICIT_TUNED = {"factors": 64, "regularization": 0.3, "alpha": 1.3, "iterations": 15}
EASE_TUNED_LAMBDA = 100.0

IALS_GRID = {
    "regularization": ["0.3", "1", "3", "10"],
    "alpha": ["0.3", "1", "3"],
    "recency_half_life_days": ["0", "1000", "3000"],
}
EASE_GRIDS = [
    {
        "ease_min_users": ["3", "5", "10"],
        "ease_lambda": ["100", "200", "300", "500"],
        "ease_recency_half_life_days": ["0"],
    },
    {
        "ease_min_users": ["5"],
        "ease_lambda": ["30", "100", "300"],
        "ease_recency_half_life_days": ["3000", "5000"],
    },
]
DECAY_GRID = {"half_life_days": [0, 365, 1000, 2000, 3000, 5000, 10000], "lam": [30.0, 100.0, 300.0]}
IMPLICIT_GRID = {"regularization": [0.1, 0.3, 1.0, 3.0, 10.0], "alpha": [1.0, 1.3, 2.0, 4.0]}
NUMPY_EASE_GRID = [100.0, 300.0, 1000.0, 3000.0]


def grid(spec):
    keys = list(spec)
    out = [{}]
    for k in keys:
        out = [dict(o, **{k: v}) for o in out for v in spec[k]]
    return out


def label(hp):
    return ", ".join(f"{k}={v}" for k, v in hp.items())


def combined(results):
    """The selection score of each setting: the mean over NDCG@10, NDCG@25 and MRR@25 of its
    mean over the splits divided by the best such mean in the grid (1 = best on all three)."""
    means = {name: [mean_se(f[m] for f in folds)[0] for m in METRICS[:3]] for name, folds in results.items()}
    best = [max(v[k] for v in means.values()) for k in range(3)]
    return {name: sum(v[k] / best[k] for k in range(3)) / 3 for name, v in means.items()}


def tune(ctx):
    """Validation grids (splits carved from each fold's training users): Attune's iALS and EASE
    settings, implicit's, and the numpy EASE baseline's λ. Prints one table per grid, with the
    mean over the 10 validation splits and the number of splits each setting won."""
    data, attune, cache = ctx["data"], ctx["attune"], ctx["cache"]
    paths, splits = ctx["validation_paths"], ctx["validation_splits"]
    sections = []

    def report(title, results):
        """A table sorted by the combined score; returns the best setting's name."""
        score = combined(results)
        best_per_fold = defaultdict(int)
        for k in range(len(paths)):
            best = max(results, key=lambda name: results[name][k]["normalized_discounted_cumulative_gain_at_10"])
            best_per_fold[best] += 1
        rows = []
        for name, folds in sorted(results.items(), key=lambda kv: -score[kv[0]]):
            rows.append(
                [name]
                + [fmt(*mean_se(f[m] for f in folds)) for m in METRICS[:3]]
                + [f"{score[name]:.4f}", best_per_fold.get(name, 0)]
            )
        best = max(score, key=score.get)
        sections.append(
            f"### {title}\n\n"
            + table(rows, ["setting"] + [SHORT[m] for m in METRICS[:3]] + ["combined", "folds best (NDCG@10)"])
            + f"\n\nBest: {best}."
        )
        log(sections[-1] + "\n")
        return best

    results = {}
    for hp in grid(IALS_GRID):
        hp = dict(hp, algorithm="ials")
        key = f"attune|{PR}|{label(hp)}|validation"
        results[label({k: v for k, v in hp.items() if k != "algorithm"})] = cache.get(
            key, lambda: attune_folds(attune, PR, hp, paths)
        )
    picks = {"ials": report("Attune iALS (64 factors, 15 iterations), validation", results)}

    results = {}
    for hp in [h for g in EASE_GRIDS for h in grid(g)]:
        hp = dict(hp, algorithm="ease")
        key = f"attune|{PR}|{label(hp)}|validation"
        results[label({k: v for k, v in hp.items() if k != "algorithm"})] = cache.get(
            key, lambda: attune_folds(attune, PR, hp, paths)
        )
    picks["ease"] = report("Attune EASE, validation", results)

    results, settings = {}, {}
    for hp in grid(IMPLICIT_GRID):
        full = dict(IMPLICIT_TUNED, **hp)
        key = f"implicit|{label(full)}|validation"
        settings[label(hp)] = full
        results[label(hp)] = cache.get(
            key,
            lambda: [metrics(s.test, implicit_recs(data, s, full, ctx["threads"]), data.n_items) for s in splits],
        )
    best = report("implicit AlternatingLeastSquares (64 factors, 15 iterations), validation", results)
    picks["implicit"] = settings[best]

    results = {}
    missing = [lam for lam in NUMPY_EASE_GRID if f"ease-numpy|{lam}|validation" not in cache.data]
    if missing:
        per_lam = defaultdict(list)
        for s in splits:
            for lam, recs in ease_recs(data, s, missing, ctx["threads"]).items():
                per_lam[lam].append(metrics(s.test, recs, data.n_items))
        for lam in missing:
            cache.get(f"ease-numpy|{lam}|validation", lambda: per_lam[lam])
    for lam in NUMPY_EASE_GRID:
        results[f"λ={lam:g}"] = cache.data[f"ease-numpy|{lam}|validation"]
    best = report("EASE baseline (numpy, all items), validation", results)

    # EASE's recency decay and λ together (a decayed matrix has smaller entries, so λ weighs
    # more): EASE on items with at least 5 users, in numpy (fast), as Attune trains it.
    results = {}
    for g in grid(DECAY_GRID):
        hl, lam = g["half_life_days"], g["lam"]
        results[f"half-life {hl} days, λ={lam:g}" if hl else f"no decay, λ={lam:g}"] = cache.get(
            f"ease-numpy-decay|{hl}|{lam}|validation",
            lambda: [metrics(s.test, ease_decay_recs(data, s, lam, 5, hl, ctx["threads"]), data.n_items) for s in splits],
        )
    report("EASE (numpy, items with at least 5 users) on a recency-decayed matrix, validation", results)
    picks["numpy_ease"] = next(lam for lam in NUMPY_EASE_GRID if f"λ={lam:g}" == best)
    return sections, picks


# The peers' validation grids (`--tune-peers`): numpy EASE's λ and implicit's factors,
# regularization and confidence α (α up to 40: the confidence implicit's users often need).
# EASE's λ grid (each point inverts a 9,724² matrix per split, ~45 s on 2 busy cores); empty:
# keep EASE_TUNED_LAMBDA, chosen by `--tune` on the same validation splits (README.md).
PEER_EASE_GRID = []
PEER_IMPLICIT_GRID = {"factors": [64], "regularization": [0.3, 3.0], "alpha": [1.0, 4.0, 16.0, 40.0]}


def report_grid(title, results, n_splits, sections):
    """A validation table sorted by the combined score; returns the best setting's name."""
    score = combined(results)
    best_per_fold = defaultdict(int)
    for k in range(n_splits):
        best = max(results, key=lambda name: results[name][k]["normalized_discounted_cumulative_gain_at_10"])
        best_per_fold[best] += 1
    rows = []
    for name, folds in sorted(results.items(), key=lambda kv: -score[kv[0]]):
        rows.append(
            [name]
            + [fmt(*mean_se(f[m] for f in folds)) for m in METRICS[:3]]
            + [f"{score[name]:.4f}", best_per_fold.get(name, 0)]
        )
    best = max(score, key=score.get)
    sections.append(
        f"### {title}\n\n"
        + table(rows, ["setting"] + [SHORT[m] for m in METRICS[:3]] + ["combined", "folds best (NDCG@10)"])
        + f"\n\nBest: {best}."
    )
    log(sections[-1] + "\n")
    return best


def tune_peers(ctx):
    """The peers' settings chosen on the validation splits carved from each fold's training users
    (the same procedure Attune's `auto` follows inside each training run)."""
    data, cache, splits, threads = ctx["data"], ctx["cache"], ctx["validation_splits"], ctx["threads"]
    sections = []
    missing = [lam for lam in PEER_EASE_GRID if f"ease-numpy|{lam}|validation" not in cache.data]
    if missing:
        per_lam = defaultdict(list)
        for s in splits:
            for lam, recs in ease_recs(data, s, missing, threads).items():
                per_lam[lam].append(metrics(s.test, recs, data.n_items))
        for lam in missing:
            cache.get(f"ease-numpy|{lam}|validation", lambda: per_lam[lam])
    ease_lambda = EASE_TUNED_LAMBDA
    if PEER_EASE_GRID:
        results = {f"λ={lam:g}": cache.data[f"ease-numpy|{lam}|validation"] for lam in PEER_EASE_GRID}
        best = report_grid("EASE baseline (numpy, all items), validation", results, len(splits), sections)
        ease_lambda = next(lam for lam in PEER_EASE_GRID if f"λ={lam:g}" == best)
    results, settings = {}, {}
    for hp in grid(PEER_IMPLICIT_GRID):
        full = dict(IMPLICIT_TUNED, **hp)
        settings[label(hp)] = full
        results[label(hp)] = cache.get(
            f"implicit|{label(full)}|validation",
            lambda: [metrics(s.test, implicit_recs(data, s, full, threads), data.n_items) for s in splits],
        )
    best = report_grid("implicit AlternatingLeastSquares (15 iterations), validation", results, len(splits), sections)
    return sections, settings[best], ease_lambda


def sampled_paths(ctx):
    """The test folds' split files with each test user's candidate list (written once)."""
    data, work = ctx["data"], ctx["work"]
    paths, cands = [], []
    for k, (path, s) in enumerate(zip(ctx["fold_paths"], ctx["fold_splits"])):
        c = sampled_candidates(data, s, seed=2000 + k)
        with open(path) as f:
            doc = json.load(f)
        for t in doc["testUsers"]:
            t["candidates"] = [data.item_ids[i] for i in c[data.user_index[t["userId"]]]]
        out = os.path.join(work, f"sampled.{k}.json")
        with open(out, "w") as f:
            json.dump(doc, f)
        paths.append(out)
        cands.append(c)
    return paths, cands


SAMPLED = ["sampled_ndcg_at_10", "sampled_mrr"]
SHORT.update({"sampled_ndcg_at_10": "sampled NDCG@10", "sampled_mrr": "sampled MRR"})


def test_folds(ctx):
    """The 10 test folds: every model trained on a fold's training users, scored on its test
    users, for top-N (Personalize's metrics) and the sampled re-ranking task."""
    data, attune, cache = ctx["data"], ctx["attune"], ctx["cache"]
    splits, threads = ctx["fold_splits"], ctx["threads"]
    paths, cands = sampled_paths(ctx)
    results = {}
    attune_models = [
        ("Attune Personalized-Ranking (defaults: auto)", PR, {}),
        ("Attune, algorithm=ease (default settings; the default before)", PR, {"algorithm": "ease"}),
        ("Attune, algorithm=ials (default settings)", PR, {"algorithm": "ials"}),
    ]
    for name, recipe, hp in attune_models:
        log(f"test folds: {name}")
        results[name] = cache.get(f"attune|{recipe}|{label(hp)}|sampled", lambda: attune_folds(attune, recipe, hp, paths))
    log("test folds: implicit")

    def implicit_test():
        out = []
        for s, c in zip(splits, cands):
            recs, sampled = implicit_recs(data, s, IMPLICIT_TUNED, threads, c)
            out.append(dict(metrics(s.test, recs, data.n_items), **sampled))
        return out

    results["implicit iALS (tuned)"] = cache.get(f"implicit|{label(IMPLICIT_TUNED)}|sampled", implicit_test)
    log("test folds: EASE")

    def ease_test():
        out = []
        for s, c in zip(splits, cands):
            recs, sampled = ease_recs(data, s, [EASE_TUNED_LAMBDA], threads, c)[EASE_TUNED_LAMBDA]
            out.append(dict(metrics(s.test, recs, data.n_items), **sampled))
        return out

    results["EASE (numpy, all items, tuned λ)"] = cache.get(f"ease-numpy|{EASE_TUNED_LAMBDA}|sampled", ease_test)

    def pop_rank(s, c):
        counts = np.asarray(data.matrix(s.train_users).sum(axis=0)).ravel()
        return sampled_metrics(s, c, lambda u, inp, cc: rank_by_scores(counts, cc))

    results["Popularity (Python)"] = [
        dict(metrics(s.test, popularity_recs(data, s), data.n_items), **pop_rank(s, c)) for s, c in zip(splits, cands)
    ]
    results["Attune Popularity-Count"] = cache.get(f"attune|{POP}||sampled", lambda: attune_folds(attune, POP, {}, paths))
    ours = "Attune Personalized-Ranking (defaults: auto)"
    others = [
        "EASE (numpy, all items, tuned λ)",
        "implicit iALS (tuned)",
        "Attune, algorithm=ease (default settings; the default before)",
        "Attune Popularity-Count",
    ]
    return results, [
        "### Ranking quality on the test folds\n\n" + quality_table(results),
        "### Sampled re-ranking on the test folds (truth item + 99 negatives)\n\n" + quality_table(results, SAMPLED),
        "### Paired differences (per fold, then mean ± standard error)\n\n"
        + paired_table(results, ours, others, METRICS[:3] + SAMPLED),
    ]


def cross_check(ctx):
    """The Python metrics against Attune's on the same recommendations: Attune's popularity
    solution and this script's popularity, on every fold (ties are broken alike, by first
    appearance in the ratings file)."""
    data, attune = ctx["data"], ctx["attune"]
    worst = 0.0
    for path, s in zip(ctx["fold_paths"], ctx["fold_splits"]):
        ours = metrics(s.test, popularity_recs(data, s), data.n_items)
        theirs = attune_metrics(attune, "pop", path)
        for k, v in theirs.items():
            worst = max(worst, abs(ours[k] - v))
    assert worst < 1e-12, f"the Python metrics differ from Attune's by {worst}"
    return f"Metric cross-check: Attune's popularity solution scored by Attune and by this script agree on all {len(ctx['fold_paths'])} folds and all 8 metrics (largest difference {worst:.1e})."


def similar_items(ctx):
    """Hit rate @10 of the next item among the neighbours of the previous one, per fold."""
    data, attune, cache = ctx["data"], ctx["attune"], ctx["cache"]
    rows = defaultdict(list)
    n_pairs = 0
    for k, s in enumerate(ctx["fold_splits"]):
        pairs = next_item_pairs(data, s)
        n_pairs += len(pairs)
        path = os.path.join(ctx["work"], f"pairs.{k}.json")
        with open(path, "w") as f:
            json.dump(pairs_doc(data, s, pairs), f)
        for name, hp in (
            ("Attune Similar-Items (defaults)", {}),
            ("Attune Similar-Items, metadata_weight=0", {"metadata_weight": "0"}),
        ):
            m = cache.get(
                f"attune|{SIMS}|{label(hp)}|pairs.{k}",
                lambda: attune_folds(attune, SIMS, hp, [path])[0],
            )
            rows[name].append(10 * m["precision_at_10"])
        cooc, pop = cooccurrence_hits(data, s, pairs)
        rows["co-occurrence (plain counts)"].append(cooc)
        rows["popularity"].append(pop)
    out = [[name, fmt(*mean_se(v))] for name, v in rows.items()]
    ours = rows["Attune Similar-Items (defaults)"]
    for other in ("co-occurrence (plain counts)", "popularity"):
        diffs = [a - b for a, b in zip(ours, rows[other])]
        out.append([f"paired: Attune − {other}", "{:+.4f} ± {:.4f}".format(*mean_se(diffs))])
    return (
        f"### Similar-Items: next-item hit rate @10 ({n_pairs} pairs over 10 folds)\n\n"
        + table(out, ["model", "hit rate @10 (mean ± s.e. over folds)"])
    )


def median_time(fn, repeats):
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    return sorted(times)[len(times) // 2]


def timing(ctx, repeats=5):
    """Training time on all of MovieLens at 64 factors and 15 iterations on `threads` threads."""
    from threadpoolctl import threadpool_limits

    data, attune, threads = ctx["data"], ctx["attune"], ctx["threads"]
    x = data.matrix(list(range(len(data.user_ids))))
    rows = []
    for blas in (1, threads):
        with threadpool_limits(limits=blas, user_api="blas"):
            model = implicit_model(threads=threads, **IMPLICIT_TUNED)
            model.fit(x, show_progress=False)  # warm-up

            def fit():
                m = implicit_model(threads=threads, **IMPLICIT_TUNED)
                m.fit(x, show_progress=False)

            rows.append(
                [f"implicit {implicit_version()} fit(), num_threads={threads}, BLAS threads {blas}", f"{median_time(fit, repeats):.3f}"]
            )
    # Attune in-process: the release test that trains the same matrix (binary, 64 factors, 15
    # iterations, the default regularization and alpha).
    p = subprocess.run(
        ["cargo", "test", "--release", "-q", "-p", "attune", "--lib", "ials::tests::movielens", "--", "--nocapture"],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    threads_seen = ""
    for line in p.stdout.splitlines():
        what, _, value = line.partition(": ")
        if line.startswith("train d=64"):
            threads_seen = what.rsplit(", ", 1)[-1]
            rows.append([f"Attune iALS train() in process (release test), {threads_seen}", value])
        elif line.startswith("fold_in"):
            rows.append([f"Attune fold-in of one user ({what.split(' ', 1)[1]}), after the {threads_seen} run", value.split(" (")[0]])
    # Attune end to end: the whole `attune train --no-evaluate` process (load the store, train,
    # write the model), against the same for Popularity-Count (load and write only).
    env = dict(os.environ, RAYON_NUM_THREADS=str(threads))
    for name, recipe, hp in (
        ("ials", PR, {"algorithm": "ials"}),
        ("ease", PR, {"algorithm": "ease"}),
        ("auto", PR, {}),
        ("popularity", POP, {}),
    ):
        sol = solution_name(recipe, hp)
        ensure_solution(attune, sol, recipe, hp)
        args = [attune.binary, "train", "--dataset-group", GROUP, "--solution", sol, "--recipe", recipe, "--no-evaluate", "--data-dir", attune.data_dir]
        for k, v in sorted(hp.items()):
            args += ["--hp", f"{k}={v}"]
        t = median_time(lambda: subprocess.run(args, check=True, capture_output=True, env=env), 3)
        rows.append([f"Attune `attune train --no-evaluate`, {name} (whole process)", f"{t:.3f}"])
    args = [attune.binary, "train", "--dataset-group", GROUP, "--solution", "pr", "--recipe", PR, "--data-dir", attune.data_dir]
    ensure_solution(attune, "pr", PR, {})
    t = median_time(lambda: subprocess.run(args, check=True, capture_output=True, env=env), 1)
    rows.append(["Attune `attune train` with defaults, evaluation included (whole process)", f"{t:.3f}"])
    blas_env = {k: v for k, v in os.environ.items() if k.startswith("OPENBLAS")}
    note = f"OpenBLAS environment: {blas_env}" if blas_env else "no OPENBLAS_* environment variables set"
    return "### Training time on all of ml-latest-small (seconds, median)\n\n" + table(rows, ["what", "seconds"]) + f"\n\n{os.cpu_count()} cores; {note}."


def implicit_version():
    import implicit

    return implicit.__version__


def main():
    global IMPLICIT_TUNED, EASE_TUNED_LAMBDA
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--work", help="work directory, kept between runs (default: a temporary one)")
    ap.add_argument("--attune", default=os.path.join(ROOT, "target", "release", "attune"))
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--tune", action="store_true", help="run the validation grids too")
    ap.add_argument("--tune-peers", action="store_true", help="choose the peers' settings on the validation splits")
    ap.add_argument("--skip", default="", help="comma-separated: quality,sims,timing")
    args = ap.parse_args()
    if not os.path.exists(os.path.join(ML, "ratings.csv")):
        sys.exit(f"MovieLens is not at {ML}")
    if not os.path.exists(args.attune):
        sys.exit(f"{args.attune} is missing: run `cargo build --release -p attune-server` first")
    work = args.work or tempfile.mkdtemp(prefix="attune-quality-")
    os.makedirs(work, exist_ok=True)
    skip = set(filter(None, args.skip.split(",")))
    log(f"work directory {work}")
    attune = prepare(work, args.attune)
    ensure_solution(attune, "pop", POP, {})
    data = Data()
    folds = write_folds(attune, work, 10)
    fold_splits = [split_from_file(data, doc) for _, doc in folds]
    for s in fold_splits:
        check_split(data, s)
    vpaths, vsplits = validation_paths(work, data, fold_splits)
    ctx = {
        "work": work,
        "data": data,
        "attune": attune,
        "threads": args.threads,
        "cache": Cache(os.path.join(work, "cache.json")),
        "fold_paths": [p for p, _ in folds],
        "fold_splits": fold_splits,
        "validation_paths": vpaths,
        "validation_splits": vsplits,
    }
    out = [
        f"MovieLens ml-latest-small: {len(data.user_ids)} users, {data.n_items} items, "
        f"{sum(len(h) for h in data.histories)} ratings (all counted as interactions); "
        f"10 folds of {min(len(s.test) for s in fold_splits)}-{max(len(s.test) for s in fold_splits)} test users.",
        cross_check(ctx),
    ]
    if args.tune:
        sections, picks = tune(ctx)
        out += sections
        if picks["implicit"] != IMPLICIT_TUNED or picks["numpy_ease"] != EASE_TUNED_LAMBDA:
            log(f"note: the validation picks {picks} differ from the constants; using the picks")
        IMPLICIT_TUNED, EASE_TUNED_LAMBDA = picks["implicit"], picks["numpy_ease"]
        out.append(
            f"Validation picks: Attune iALS {picks['ials']}; Attune EASE {picks['ease']}; "
            f"implicit {label(picks['implicit'])}; EASE baseline λ={picks['numpy_ease']:g}."
        )
    if args.tune_peers:
        sections, IMPLICIT_TUNED, EASE_TUNED_LAMBDA = tune_peers(ctx)
        out += sections
        out.append(f"Validation picks for the peers: implicit {label(IMPLICIT_TUNED)}; EASE baseline λ={EASE_TUNED_LAMBDA:g}.")
    if "quality" not in skip:
        _, sections = test_folds(ctx)
        out += sections
    if "sims" not in skip:
        out.append(similar_items(ctx))
    if "timing" not in skip:
        out.append(timing(ctx))
    print("\n\n".join(out))


if __name__ == "__main__":
    main()
