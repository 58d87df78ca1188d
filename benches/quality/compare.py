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
