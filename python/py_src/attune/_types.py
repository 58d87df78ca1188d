"""The shapes of the dicts the attune package returns and takes.

Descriptions use Amazon Personalize's camelCase keys, as boto3 returns them, so code written
against Personalize reads them unchanged. These are ``TypedDict`` classes: plain dicts at run
time, checked by type checkers.
"""

from __future__ import annotations

from typing import NotRequired, TypedDict

__all__ = [
    "CampaignConfig",
    "CampaignInfo",
    "ColumnStats",
    "DatasetGroupInfo",
    "DatasetInfo",
    "DatasetInsights",
    "Event",
    "EventTrackerInfo",
    "Finding",
    "Generated",
    "ImportJobInfo",
    "Insights",
    "ItemRecord",
    "PredictedItem",
    "RankingResponse",
    "RecommendationsResponse",
    "RowError",
    "SchemaInfo",
    "SolutionConfig",
    "SolutionInfo",
    "SolutionVersionInfo",
    "Split",
    "SplitUser",
    "UserRecord",
]


class DatasetGroupInfo(TypedDict):
    """DescribeDatasetGroup's ``datasetGroup``."""

    name: str
    datasetGroupArn: str
    domain: NotRequired[str]
    status: str
    creationDateTime: float
    lastUpdatedDateTime: float


class SchemaInfo(TypedDict):
    """DescribeSchema's ``schema``: ``schema`` is the Avro JSON document."""

    name: str
    schemaArn: str
    domain: NotRequired[str]
    schema: str
    creationDateTime: float
    lastUpdatedDateTime: float


class DatasetInfo(TypedDict):
    """DescribeDataset's ``dataset``."""

    name: str
    datasetArn: str
    datasetGroupArn: str
    datasetType: str
    schemaArn: str
    status: str
    creationDateTime: float
    lastUpdatedDateTime: float


class ImportJobInfo(TypedDict):
    """A dataset import job: ``status`` is ``ACTIVE`` or ``CREATE FAILED``."""

    jobName: str
    datasetImportJobArn: str
    datasetArn: str
    dataLocation: str
    importMode: str
    status: str
    failureReason: NotRequired[str]
    rowsImported: int
    badRows: int
    creationDateTime: float
    lastUpdatedDateTime: float


class EventTrackerInfo(TypedDict):
    """DescribeEventTracker's ``eventTracker``; ``trackingId`` goes into PutEvents."""

    name: str
    eventTrackerArn: str
    datasetGroupArn: str
    trackingId: str
    accountId: str
    status: str
    creationDateTime: float
    lastUpdatedDateTime: float


class SolutionConfig(TypedDict):
    """A solution's ``solutionConfig`` (hyperparameters as strings)."""

    algorithmHyperParameters: dict[str, str]
    eventValueThreshold: NotRequired[str]


class SolutionInfo(TypedDict):
    """DescribeSolution's ``solution``."""

    name: str
    solutionArn: str
    datasetGroupArn: str
    recipeArn: str
    eventType: NotRequired[str]
    solutionConfig: SolutionConfig
    performAutoTraining: bool
    status: str
    creationDateTime: float
    lastUpdatedDateTime: float


class SolutionVersionInfo(TypedDict):
    """DescribeSolutionVersion's ``solutionVersion``."""

    solutionVersionArn: str
    solutionArn: str
    datasetGroupArn: str
    recipeArn: str
    eventType: NotRequired[str]
    solutionConfig: SolutionConfig
    trainingMode: str
    trainingType: str
    status: str
    failureReason: NotRequired[str]
    trainingHours: float
    creationDateTime: float
    lastUpdatedDateTime: float


class CampaignConfig(TypedDict):
    """A campaign's ``campaignConfig``."""

    syncWithLatestSolutionVersion: bool
    enableMetadataWithRecommendations: bool
    itemExplorationConfig: NotRequired[dict[str, str]]


class CampaignInfo(TypedDict):
    """DescribeCampaign's ``campaign``."""

    name: str
    campaignArn: str
    solutionVersionArn: str
    minProvisionedTPS: int
    campaignConfig: CampaignConfig
    status: str
    failureReason: NotRequired[str]
    creationDateTime: float
    lastUpdatedDateTime: float
    latestCampaignUpdate: NotRequired[dict[str, object]]


class SplitUser(TypedDict):
    """A test user of a split: the oldest 90% of their events (input) and the newest 10%."""

    userId: str
    input: list[str]
    truth: list[str]


class Split(TypedDict):
    """An evaluation split: training users and test users."""

    trainUsers: list[str]
    testUsers: list[SplitUser]


class RowError(TypedDict):
    """One bad row of a failed import (``attune.ImportError.row_errors``)."""

    file: str
    line: int
    column: str | None
    message: str


class ColumnStats(TypedDict):
    """Statistics of one column; ``distinct`` is a count or a string like ``">100000"``."""

    name: str
    type: str
    categorical: bool
    textual: bool
    missing: int
    missingPercent: float
    distinct: int | str
    min: NotRequired[float]
    max: NotRequired[float]
    mean: NotRequired[float]
    outlierPercent: NotRequired[float]
    reservedKeywordValues: int


class DatasetInsights(TypedDict):
    """Statistics of one dataset."""

    datasetType: str
    records: dict[str, int]
    columnCount: int
    columns: list[ColumnStats]
    rowsWithMissingValues: int
    duplicateRows: int
    duplicateRowsEstimated: bool
    uniqueIds: NotRequired[int]
    interactions: NotRequired[dict[str, object]]


class Finding(TypedDict):
    """A data-quality finding: ``severity`` is ``error``, ``warning`` or ``info``."""

    severity: str
    dataset: str
    message: str
    action: str


class Insights(TypedDict):
    """Data insights of a dataset group."""

    datasetGroup: str
    datasets: list[DatasetInsights]
    findings: list[Finding]


class Generated(TypedDict):
    """What ``attune.generate`` wrote: file paths and row counts."""

    dir: str
    interactions_csv: str
    items_csv: str
    users_csv: str
    interactions_schema: str
    items_schema: str
    users_schema: str
    interactions: int
    items: int
    users: int


class Event(TypedDict, total=False):
    """One PutEvents event (``eventType`` and ``sentAt`` are required)."""

    eventType: str
    sentAt: float
    itemId: str
    eventId: str
    eventValue: float
    impression: list[str]
    recommendationId: str
    properties: str | dict[str, object]


class ItemRecord(TypedDict, total=False):
    """One PutItems item (``itemId`` is required)."""

    itemId: str
    properties: str | dict[str, object]


class UserRecord(TypedDict, total=False):
    """One PutUsers user (``userId`` is required)."""

    userId: str
    properties: str | dict[str, object]


class PredictedItem(TypedDict):
    """An item of a server response; ``score`` is absent for items the model does not know."""

    itemId: str
    score: NotRequired[float]


class RankingResponse(TypedDict):
    """GetPersonalizedRanking's response."""

    personalizedRanking: list[PredictedItem]
    recommendationId: str


class RecommendationsResponse(TypedDict):
    """GetRecommendations' response."""

    itemList: list[PredictedItem]
    recommendationId: str
