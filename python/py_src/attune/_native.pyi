"""Type stubs of attune's native module (checked against the compiled module by stubtest)."""

import os
import pathlib
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Self, TypeAlias, final

import pandas

from attune._progress import ProgressArg
from attune._types import (
    CampaignInfo,
    DatasetGroupInfo,
    DatasetInfo,
    Event,
    EventTrackerInfo,
    Generated,
    ImportJobInfo,
    Insights,
    ItemRecord,
    RowError,
    SchemaInfo,
    SolutionInfo,
    SolutionVersionInfo,
    Split,
    UserRecord,
)

__all__ = [
    "FORMAT_VERSION",
    "MAX_INPUT_ITEMS",
    "MODEL_FORMAT_VERSION",
    "AlreadyExistsError",
    "AttuneError",
    "CancelledError",
    "CorruptDataError",
    "Dataset",
    "ImportError",
    "InvalidInputError",
    "LimitExceededError",
    "Model",
    "NotFoundError",
    "ProgressUpdate",
    "ResourceInUseError",
    "SchemaError",
    "ServerError",
    "StorageError",
    "Store",
    "UnsupportedFormatError",
    "generate",
]

FORMAT_VERSION: int
MODEL_FORMAT_VERSION: int
MAX_INPUT_ITEMS: int

_Path: TypeAlias = str | os.PathLike[str]
_Recent: TypeAlias = Iterable[str | tuple[str, str]]
_Setting: TypeAlias = str | int | float | bool

class AttuneError(Exception):
    """The base class of every error the attune package raises."""

class InvalidInputError(AttuneError):
    """A request or argument is not valid; the message names the field."""

class SchemaError(InvalidInputError):
    """A schema document breaks a Personalize rule; the message names the field and the rule."""

class ImportError(InvalidInputError):
    """A dataset import job failed and stored nothing (not Python's builtin ImportError)."""

    reason: str
    row_errors: list[RowError]
    bad_rows: int

class NotFoundError(AttuneError):
    """A named resource does not exist."""

class AlreadyExistsError(AttuneError):
    """A resource with that name already exists."""

class ResourceInUseError(AttuneError):
    """The resource is in use or in a state that does not allow the call."""

class LimitExceededError(AttuneError):
    """A quota or limit was exceeded."""

class UnsupportedFormatError(AttuneError):
    """The data directory holds a store format this build does not read."""

class CorruptDataError(AttuneError):
    """Stored data could not be decoded."""

class StorageError(AttuneError):
    """An operating-system I/O error on a file of the store."""

class CancelledError(AttuneError):
    """The operation was stopped before it finished."""

class ServerError(AttuneError):
    """A running Attune server could not be reached or failed."""

    status: int
    error_type: str

@final
class ProgressUpdate:
    """One progress report, passed to a progress callback."""

    @property
    def kind(self) -> str:
        """``"start"``, ``"advance"``, ``"finish"`` or ``"message"``."""
    @property
    def stage(self) -> str:
        """What is being done: ``"import"``, ``"train iALS"``, ..."""
    @property
    def done(self) -> int:
        """Units done in the stage."""
    @property
    def total(self) -> int | None:
        """Units expected in the stage, when known."""
    @property
    def message(self) -> str | None:
        """The status line of a ``"message"`` update."""

@final
class Dataset:
    """One dataset of a dataset group: import data into it and read its records back."""

    @property
    def dataset_group(self) -> str:
        """The dataset group's name."""
    @property
    def dataset_type(self) -> str:
        """``Interactions``, ``Items``, ``Users``, ``Actions`` or ``Action_Interactions``."""
    @property
    def arn(self) -> str:
        """The dataset's ARN."""
    @property
    def info(self) -> DatasetInfo:
        """DescribeDataset's ``dataset``."""
    @property
    def schema(self) -> str:
        """The schema document (Avro JSON)."""
    @property
    def columns(self) -> list[str]:
        """The schema's field names, in schema order."""
    def import_csv(
        self,
        path: _Path,
        *,
        job_name: str | None = None,
        mode: str = "FULL",
        progress: ProgressArg = None,
    ) -> ImportJobInfo:
        """Imports a CSV file, an Avro container file or a folder of CSV files."""
    def import_records(
        self,
        records: Iterable[Mapping[str, Any]],
        *,
        job_name: str | None = None,
        mode: str = "FULL",
        progress: ProgressArg = None,
    ) -> ImportJobInfo:
        """Imports an iterable of records (mappings from field name to value)."""
    def import_dataframe(
        self,
        df: pandas.DataFrame,
        *,
        job_name: str | None = None,
        mode: str = "FULL",
        progress: ProgressArg = None,
    ) -> ImportJobInfo:
        """Imports a pandas DataFrame."""
    def import_jobs(self) -> list[ImportJobInfo]:
        """The dataset's import jobs, oldest first."""
    def import_job(self, name: str) -> ImportJobInfo:
        """One import job by name or ARN."""
    def bulk_rows(self) -> int:
        """How many records the bulk partition holds."""
    def read(self) -> dict[str, list[Any]]:
        """Every stored record, as columns."""
    def to_dataframe(self) -> pandas.DataFrame:
        """Every stored record as a pandas DataFrame."""

@final
class Model:
    """A trained model, held in memory, for in-process inference."""

    @property
    def recipe(self) -> str:
        """The recipe's name."""
    @property
    def algorithm(self) -> str:
        """``ials``, ``ease``, ``sims`` or ``popularity``."""
    @property
    def hyperparameters(self) -> dict[str, str]:
        """The hyperparameters the model was trained with."""
    @property
    def item_count(self) -> int:
        """How many items the model knows."""
    @property
    def user_count(self) -> int:
        """How many users the model was trained on."""
    def has_item(self, item_id: str) -> bool:
        """Whether the model knows an item id."""
    def has_user(self, user_id: str) -> bool:
        """Whether the model was trained on a user id."""
    def rank(
        self, user_id: str, items: Iterable[str], recent: _Recent | None = None
    ) -> list[tuple[str, float | None]]:
        """Re-ranks ``items`` for a user: ``(item_id, score)`` pairs, best first."""
    def top_n(
        self, user_id: str, n: int = 25, recent: _Recent | None = None
    ) -> list[tuple[str, float]]:
        """Top-``n`` items for a user: ``(item_id, score)`` pairs, best first."""
    def similar(self, item_id: str, n: int = 25) -> list[str]:
        """Similar items of an item, best first."""
    def popular(self, n: int = 25) -> list[str]:
        """The most popular items."""
    def evaluate(self, split: Split, *, threads: int | None = None) -> dict[str, float]:
        """Scores the model on a split's test users."""

@final
class Store:
    """A data directory: the embedded store the CLI and the server use."""

    def __new__(cls, path: _Path) -> Self:
        """Opens (or creates) the store in the data directory ``path``."""
    @property
    def path(self) -> pathlib.Path:
        """The data directory."""
    def create_dataset_group(self, name: str, domain: str | None = None) -> DatasetGroupInfo:
        """CreateDatasetGroup."""
    def dataset_group(self, name: str) -> DatasetGroupInfo:
        """DescribeDatasetGroup."""
    def list_dataset_groups(self) -> list[DatasetGroupInfo]:
        """ListDatasetGroups."""
    def create_schema(
        self, name: str, schema: str | Mapping[str, Any], domain: str | None = None
    ) -> SchemaInfo:
        """CreateSchema."""
    def schema(self, name: str) -> SchemaInfo:
        """DescribeSchema."""
    def list_schemas(self) -> list[SchemaInfo]:
        """ListSchemas."""
    def create_dataset(
        self, dataset_group: str, dataset_type: str, schema: str, name: str | None = None
    ) -> Dataset:
        """CreateDataset."""
    def dataset(self, dataset_group: str, dataset_type: str) -> Dataset:
        """The dataset of a type in a group."""
    def list_datasets(self, dataset_group: str) -> list[DatasetInfo]:
        """ListDatasets."""
    def create_event_tracker(self, dataset_group: str, name: str) -> EventTrackerInfo:
        """CreateEventTracker."""
    def event_tracker(self, name: str) -> EventTrackerInfo:
        """DescribeEventTracker."""
    def put_events(
        self,
        tracking_id: str,
        session_id: str,
        events: Sequence[Event],
        user_id: str | None = None,
    ) -> None:
        """PutEvents."""
    def put_items(self, dataset: Dataset | str, items: Sequence[ItemRecord]) -> None:
        """PutItems."""
    def put_users(self, dataset: Dataset | str, users: Sequence[UserRecord]) -> None:
        """PutUsers."""
    def insights(self, dataset_group: str) -> Insights:
        """Data insights of a group."""
    def insights_frame(self, dataset_group: str) -> pandas.DataFrame:
        """The column statistics of ``insights`` as a DataFrame."""
    def create_solution(
        self,
        name: str,
        dataset_group: str,
        recipe: str = "attune-personalized-ranking",
        *,
        event_type: str | None = None,
        hyperparameters: Mapping[str, _Setting] | None = None,
        event_value_threshold: _Setting | None = None,
        hpo_config: Mapping[str, Any] | None = None,
    ) -> SolutionInfo:
        """CreateSolution."""
    def solution(self, name: str) -> SolutionInfo:
        """DescribeSolution."""
    def list_solutions(self, dataset_group: str | None = None) -> list[SolutionInfo]:
        """ListSolutions."""
    def create_solution_version(
        self,
        solution: str,
        *,
        evaluate: bool = True,
        threads: int | None = None,
        progress: ProgressArg = None,
    ) -> SolutionVersionInfo:
        """CreateSolutionVersion, run to completion."""
    def solution_version(self, arn: str) -> SolutionVersionInfo:
        """DescribeSolutionVersion."""
    def list_solution_versions(self, solution: str) -> list[SolutionVersionInfo]:
        """ListSolutionVersions."""
    def solution_metrics(self, solution_version: str) -> dict[str, float]:
        """GetSolutionMetrics."""
    def load_model(self, solution_version: str) -> Model:
        """Loads the model of an ACTIVE solution version."""
    def export_splits(self, solution: str, folds: int = 1) -> list[Split]:
        """The Personalize evaluation split(s) of a solution's data."""
    def evaluate(
        self,
        solution: str,
        *,
        split: Split | None = None,
        threads: int | None = None,
        progress: ProgressArg = None,
    ) -> dict[str, float]:
        """Offline evaluation with Personalize's protocol."""
    def create_campaign(
        self,
        name: str,
        solution_version: str,
        *,
        min_provisioned_tps: int | None = None,
        sync_with_latest: bool = False,
        enable_metadata_with_recommendations: bool = False,
    ) -> CampaignInfo:
        """CreateCampaign."""
    def campaign(self, name: str) -> CampaignInfo:
        """DescribeCampaign."""
    def list_campaigns(self, solution: str | None = None) -> list[CampaignInfo]:
        """ListCampaigns."""
    def update_campaign(
        self,
        name: str,
        *,
        solution_version: str | None = None,
        min_provisioned_tps: int | None = None,
        sync_with_latest: bool | None = None,
        enable_metadata_with_recommendations: bool | None = None,
    ) -> CampaignInfo:
        """UpdateCampaign."""
    def delete_campaign(self, name: str) -> None:
        """DeleteCampaign."""

def generate(
    out_dir: _Path,
    *,
    users: int = 1000,
    items: int = 2000,
    interactions: int = 100000,
    seed: int = 42,
) -> Generated:
    """Writes the deterministic synthetic dataset."""
