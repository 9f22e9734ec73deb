"""Data in: the builtin data set or a CSV file, under the data's own column names, and a content hash.

Column names are kept exactly as the data has them (`mean radius`, not `mean_radius`): they become the model's
input schema, which callers of the gateway, bus requests and the CLI send and see.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

BUILTIN_PREFIX = "builtin:"
BUILTINS = ("breast_cancer",)
NA_VALUES = ["?", "NA", "N/A", "null", ""]  # besides pandas' own; the Dask backend reads partitions alike


class DatasetError(ValueError):
    """The data set cannot be read at all (missing file, unknown builtin, no target column)."""


@dataclass(frozen=True)
class Dataset:
    """A data set as trained on: features plus the target column."""

    source: str  # builtin:breast_cancer or the CSV path as given
    frame: pd.DataFrame
    target: str

    @property
    def features(self) -> list[str]:
        return [c for c in self.frame.columns if c != self.target]

    @property
    def is_builtin(self) -> bool:
        return self.source.startswith(BUILTIN_PREFIX)

    @property
    def name(self) -> str:
        return self.source.removeprefix(BUILTIN_PREFIX) if self.is_builtin else Path(self.source).stem


def legacy_names(names: list[str], columns: list[str]) -> dict[str, str]:
    """{old name: the data's name} for names as the first trainer wrote them (`mean_radius` for `mean radius`):
    schema files, registry tags and production rows from before names were kept still use them."""
    cleaned: dict[str, list[str]] = {}
    for column in columns:
        cleaned.setdefault("_".join(str(column).strip().split()), []).append(column)
    present = set(columns)
    return {name: cleaned[name][0] for name in names
            if name not in present and len(cleaned.get(name, ())) == 1}


def clean_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """The frame under its own column names (as text), with one kind of missing value."""
    frame = frame.rename(columns=str)
    # Missing categories as NaN (not None or pd.NA) so validation and imputation see one kind of missing.
    for col in frame.columns:
        if frame[col].dtype == object or isinstance(frame[col].dtype, pd.StringDtype):
            frame[col] = frame[col].astype(object).where(frame[col].notna(), float("nan"))
    return frame


def load_dataset(spec: str = "builtin:breast_cancer", target: str | None = None) -> Dataset:
    """Read a data set by its spec; the target defaults to `target` for builtins and must be named for a CSV."""
    if spec.startswith(BUILTIN_PREFIX):
        name = spec.removeprefix(BUILTIN_PREFIX)
        if name not in BUILTINS:
            raise DatasetError(f"unknown builtin data set {name!r}; choose one of: {', '.join(BUILTINS)}")
        from sklearn.datasets import load_breast_cancer

        frame = clean_frame(load_breast_cancer(as_frame=True).frame)
        target = target or "target"
    else:
        path = Path(spec)
        if not path.is_file():
            raise DatasetError(f"data set file {spec} does not exist")
        if not target:
            raise DatasetError("a CSV data set needs --target COLUMN")
        try:
            frame = clean_frame(pd.read_csv(path, skipinitialspace=True, na_values=NA_VALUES))
        except (pd.errors.ParserError, UnicodeDecodeError, pd.errors.EmptyDataError) as exc:
            raise DatasetError(f"cannot read {spec} as CSV: {exc}") from exc
    target = legacy_names([target], list(frame.columns)).get(target, target)
    if target not in frame.columns:
        raise DatasetError(f"target column {target!r} is not in the data set (columns: {', '.join(frame.columns)})")
    return Dataset(source=spec, frame=frame, target=target)


def with_rows(dataset: Dataset, extra: pd.DataFrame | None) -> pd.DataFrame:
    """The data set's rows followed by extra labelled rows (same columns), e.g. recent production data."""
    if extra is None or extra.empty:
        return dataset.frame
    extra = clean_frame(extra.copy())
    extra = extra.rename(columns=legacy_names(list(extra.columns), list(dataset.frame.columns)))
    missing = [c for c in dataset.frame.columns if c not in extra.columns]
    if missing:
        raise DatasetError(f"extra rows lack columns: {', '.join(missing)}")
    return pd.concat([dataset.frame, extra[list(dataset.frame.columns)]], ignore_index=True)


def content_hash(frame: pd.DataFrame) -> str:
    """sha256 of the frame's canonical CSV form (columns in order, no index): same data, same hash."""
    text = frame.to_csv(index=False, lineterminator="\n", float_format="%.17g")
    return hashlib.sha256(text.encode()).hexdigest()
