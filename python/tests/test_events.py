"""Individual records: event trackers, PutEvents, PutItems and PutUsers on the store
(python/src/store.rs over the SDK's Recorder)."""

from __future__ import annotations

import json

import attune
import pytest


def test_put_events_items_and_users(loaded: attune.Store) -> None:
    tracker = loaded.create_event_tracker("g", "tracker")
    assert loaded.event_tracker("tracker")["trackingId"] == tracker["trackingId"]
    interactions = loaded.dataset("g", "Interactions")
    before = len(interactions.read()["USER_ID"])
    loaded.put_events(
        tracker["trackingId"],
        "session-1",
        [
            {"eventType": "click", "sentAt": 1_700_000_100, "itemId": "i1"},
            {"eventType": "purchase", "sentAt": 1_700_000_200.7, "itemId": "i2", "eventValue": 9.5},
        ],
        user_id="new-user",
    )
    after = interactions.read()
    assert len(after["USER_ID"]) == before + 2
    assert after["USER_ID"][-2:] == ["new-user", "new-user"]
    assert after["ITEM_ID"][-2:] == ["i1", "i2"]
    assert after["TIMESTAMP"][-1] == 1_700_000_200
    assert after["EVENT_VALUE"][-1] == 9.5

    items = loaded.dataset("g", "Items")
    props = {
        "genres": "Drama",
        "price": 3.5,
        "brand": "Acme",
        "creationTimestamp": 1_700_000_000,
        "title": "New",
    }
    loaded.put_items(items, [{"itemId": "brand-new", "properties": props}])
    other = dict(props, genres="Comedy", title="Other")
    loaded.put_items(items.arn, [{"itemId": "other", "properties": json.dumps(other)}])
    back = items.read()
    assert back["ITEM_ID"][-2:] == ["brand-new", "other"]
    assert back["GENRES"][-2:] == ["Drama", "Comedy"]

    users = loaded.dataset("g", "Users")
    loaded.put_users(
        users, [{"userId": "new-user", "properties": {"age": 33, "membership": "premium"}}]
    )
    assert users.read()["USER_ID"][-1] == "new-user"


def test_put_calls_are_validated_like_the_api(loaded: attune.Store) -> None:
    tracker = loaded.create_event_tracker("g", "tracker")
    with pytest.raises(
        attune.InvalidInputError, match="is not the trackingId of any event tracker"
    ):
        loaded.put_events("nope", "s", [{"eventType": "click", "sentAt": 1, "itemId": "i"}])
    with pytest.raises(attune.InvalidInputError, match=r"eventList: must have 1-10"):
        loaded.put_events(tracker["trackingId"], "s", [])
    with pytest.raises(attune.InvalidInputError, match=r"eventList\[0\]"):
        loaded.put_events(tracker["trackingId"], "s", [{"sentAt": 1, "itemId": "i"}])
    items = loaded.dataset("g", "Items")
    with pytest.raises(attune.InvalidInputError, match="properties"):
        loaded.put_items(items, [{"itemId": "x", "properties": {"noSuchField": 1}}])
    with pytest.raises(attune.InvalidInputError, match="needs a Users dataset"):
        loaded.put_users(items, [{"userId": "u", "properties": {"membership": "free"}}])
    with pytest.raises(attune.InvalidInputError, match="give a Dataset or a dataset ARN"):
        loaded.put_items(42, [{"itemId": "x"}])  # type: ignore[arg-type]
