"""pandas conversions: DataFrames into imports, stored records and insights into DataFrames.

pandas is optional: only these functions need it, and they import it when called.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any, cast

if TYPE_CHECKING:  # pragma: no cover
    import pandas

    from ._types import Insights

__all__ = ["dataframe_chunks", "insights_frame", "to_dataframe"]


def _pandas() -> Any:
    try:
        import pandas
    except ModuleNotFoundError as e:
        raise ModuleNotFoundError(
            "this attune function needs pandas: pip install pandas", name="pandas"
        ) from e
    return pandas


def _column(pd: Any, s: Any) -> Any:
    """One column as an array whose ``tolist()`` gives plain Python values: numbers stay
    numbers (NaN is missing), datetimes become Unix seconds, anything else is an object
    array with ``None`` for missing values."""
    api = pd.api.types
    if api.is_datetime64_any_dtype(s.dtype):
        if getattr(s.dt, "tz", None) is not None:
            s = s.dt.tz_convert("UTC").dt.tz_localize(None)
        seconds = (s - pd.Timestamp(0)) // pd.Timedelta(seconds=1)
        return seconds.to_numpy(dtype=object, na_value=None)
    is_numpy = not api.is_extension_array_dtype(s.dtype)
    if is_numpy and (api.is_numeric_dtype(s.dtype) or api.is_bool_dtype(s.dtype)):
        return s.to_numpy()
    return s.to_numpy(dtype=object, na_value=None)


def dataframe_chunks(
    df: pandas.DataFrame, size: int
) -> tuple[list[str], int, Iterator[list[list[Any]]]]:
    """The column names, the row count, and the rows in chunks of ``size``: each chunk a list
    of column lists (the layout ``Dataset.import_dataframe`` reads)."""
    pd = _pandas()
    if not isinstance(df, pd.DataFrame):
        raise TypeError(f"df: expected a pandas DataFrame, found {type(df).__name__}")
    names = [str(c) for c in df.columns]
    columns = [_column(pd, df.iloc[:, k]) for k in range(df.shape[1])]
    n = len(df)

    def chunks() -> Iterator[list[list[Any]]]:
        for start in range(0, n, size):
            yield [c[start : start + size].tolist() for c in columns]

    return names, n, chunks()


def to_dataframe(columns: Mapping[str, Sequence[Any]]) -> pandas.DataFrame:
    """Columns (field name to values) as a DataFrame."""
    pd = _pandas()
    return cast("pandas.DataFrame", pd.DataFrame(dict(columns)))


def insights_frame(insights: Insights) -> pandas.DataFrame:
    """The column statistics of data insights, one row per dataset column, with the dataset
    type in the first column."""
    pd = _pandas()
    rows: list[dict[str, Any]] = []
    for ds in insights["datasets"]:
        for col in ds["columns"]:
            rows.append({"dataset": ds["datasetType"], **col})
    return cast("pandas.DataFrame", pd.DataFrame(rows))
