"""A small client for a running Attune server (the Personalize runtime and events APIs).

It speaks the same JSON over HTTP as boto3's ``personalize-runtime`` and
``personalize-events`` clients pointed at the server with ``endpoint_url``, using only the
standard library. Errors come back as the package's exception classes, chosen by the AWS error
type the server sends (``ResourceNotFoundException`` is ``attune.NotFoundError``, ...); a server
that cannot be reached or fails is ``attune.ServerError``.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Mapping, Sequence
from typing import Any, cast

from . import _native
from ._types import Event, ItemRecord, RankingResponse, RecommendationsResponse, UserRecord

__all__ = ["Client"]

_ERRORS: dict[str, type[_native.AttuneError]] = {
    "InvalidInputException": _native.InvalidInputError,
    "ResourceNotFoundException": _native.NotFoundError,
    "ResourceAlreadyExistsException": _native.AlreadyExistsError,
    "ResourceInUseException": _native.ResourceInUseError,
    "LimitExceededException": _native.LimitExceededError,
}


def _error(status: int, error_type: str, message: str) -> _native.AttuneError:
    """The exception for an error response: its class by AWS error type, its message intact."""
    cls = _ERRORS.get(error_type, _native.ServerError)
    err = cls(message)
    err.status = status  # type: ignore[attr-defined]
    err.error_type = error_type  # type: ignore[attr-defined]
    return err


def _with_properties(records: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Records with a ``properties`` dict encoded as the JSON string the API carries."""
    out = []
    for rec in records:
        rec = dict(rec)
        if isinstance(rec.get("properties"), dict):
            rec["properties"] = json.dumps(rec["properties"])
        out.append(rec)
    return out


class Client:
    """A client of a running Attune server at ``endpoint`` (``http://host:port``)."""

    def __init__(self, endpoint: str = "http://127.0.0.1:8080", *, timeout: float = 10.0) -> None:
        """``timeout`` is in seconds, per request."""
        self.endpoint = endpoint.rstrip("/")
        self.timeout = timeout

    def __repr__(self) -> str:
        return f"Client({self.endpoint!r})"

    def _post(self, path: str, body: Mapping[str, Any]) -> dict[str, Any]:
        data = json.dumps({k: v for k, v in body.items() if v is not None}).encode()
        req = urllib.request.Request(
            self.endpoint + path,
            data=data,
            method="POST",
            headers={"Content-Type": "application/json"},
        )
        try:
            with urllib.request.urlopen(req, timeout=self.timeout) as resp:
                raw = resp.read()
        except urllib.error.HTTPError as e:
            raw = e.read()
            try:
                parsed = json.loads(raw) if raw else {}
            except ValueError:
                parsed = {}
            header = e.headers.get("x-amzn-ErrorType") or ""
            error_type = (header or str(parsed.get("__type", ""))).split(":")[0].split("#")[-1]
            message = str(
                parsed.get("message") or parsed.get("Message") or raw.decode(errors="replace")
            )
            raise _error(e.code, error_type, message) from None
        except (urllib.error.URLError, OSError) as e:
            reason = getattr(e, "reason", e)
            raise _error(0, "", f"cannot reach the server at {self.endpoint}: {reason}") from e
        if not raw.strip():
            return {}
        return cast(dict[str, Any], json.loads(raw))

    def get_personalized_ranking(
        self,
        campaign_arn: str,
        user_id: str,
        input_list: Sequence[str],
        *,
        context: Mapping[str, str] | None = None,
        filter_arn: str | None = None,
        filter_values: Mapping[str, str] | None = None,
    ) -> RankingResponse:
        """GetPersonalizedRanking: ``input_list`` re-ranked for the user by the campaign's model
        (``personalizedRanking``: ``itemId`` and ``score``, best first)."""
        body = {
            "campaignArn": campaign_arn,
            "userId": user_id,
            "inputList": list(input_list),
            "context": dict(context) if context is not None else None,
            "filterArn": filter_arn,
            "filterValues": dict(filter_values) if filter_values is not None else None,
        }
        return cast(RankingResponse, self._post("/personalize-ranking", body))

    def get_recommendations(
        self,
        campaign_arn: str,
        *,
        user_id: str | None = None,
        item_id: str | None = None,
        num_results: int | None = None,
        context: Mapping[str, str] | None = None,
        filter_arn: str | None = None,
        filter_values: Mapping[str, str] | None = None,
    ) -> RecommendationsResponse:
        """GetRecommendations: items for a user, or similar items of an item (``itemList``)."""
        body = {
            "campaignArn": campaign_arn,
            "userId": user_id,
            "itemId": item_id,
            "numResults": num_results,
            "context": dict(context) if context is not None else None,
            "filterArn": filter_arn,
            "filterValues": dict(filter_values) if filter_values is not None else None,
        }
        return cast(RecommendationsResponse, self._post("/recommendations", body))

    def put_events(
        self,
        tracking_id: str,
        session_id: str,
        events: Sequence[Event],
        *,
        user_id: str | None = None,
    ) -> None:
        """PutEvents: records 1-10 events (``eventType``, ``sentAt``, ``itemId``, ...) through
        the server; a ``properties`` dict is sent as its JSON string."""
        body = {
            "trackingId": tracking_id,
            "sessionId": session_id,
            "userId": user_id,
            "eventList": _with_properties(events),
        }
        self._post("/events", body)

    def put_items(self, dataset_arn: str, items: Sequence[ItemRecord]) -> None:
        """PutItems: upserts 1-10 items (``itemId``, ``properties``) of an Items dataset."""
        self._post("/items", {"datasetArn": dataset_arn, "items": _with_properties(items)})

    def put_users(self, dataset_arn: str, users: Sequence[UserRecord]) -> None:
        """PutUsers: upserts 1-10 users (``userId``, ``properties``) of a Users dataset."""
        self._post("/users", {"datasetArn": dataset_arn, "users": _with_properties(users)})
