"""The data contract a data set is validated against: inferred once from reference data, kept as a YAML file.

The file is plain data a person can read and edit (kinds, ranges, allowed categories, null rates, row count,
target balance); `trainer.validation` turns it into a pandera schema.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from infra.settings import Settings
from trainer.datasets import Dataset

NUMERIC = "numeric"
CATEGORICAL = "categorical"
NUMERIC_SHARE = 0.95  # a text column whose values parse as numbers this often is numeric with some bad values


@dataclass
class ColumnRule:
    kind: str  # numeric | categorical
    min: float | None = None
    max: float | None = None
    allowed: list[str] | None = None
    max_null_rate: float = 0.0


@dataclass
class Contract:
    target: str
    classes: list[Any]
    columns: dict[str, ColumnRule]
    min_rows: int
    min_class_share: float
    dataset: str = ""
    version: int = 1
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def features(self) -> list[str]:
        return list(self.columns)

    def for_production_rows(self) -> Contract:
        """The contract recent labelled production rows must meet when a retrain adds them: types, allowed
        categories, null rates and known classes, but no value ranges, no row count and no class balance —
        drifted values are the very reason for the retrain, and a few labelled rows need not be balanced."""
        columns = {
            name: replace(rule, min=None, max=None) if rule.kind == NUMERIC else rule for name, rule in self.columns.items()
        }
        return replace(self, columns=columns, min_rows=1, min_class_share=0.0)

    def to_yaml(self) -> str:
        doc = asdict(self)
        doc["columns"] = {name: {k: v for k, v in rule.items() if v is not None} for name, rule in doc["columns"].items()}
        return yaml.safe_dump(doc, sort_keys=False)

    def save(self, path: Path) -> Path:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(self.to_yaml())
        return path

    @classmethod
    def load(cls, path: Path) -> Contract:
        doc = yaml.safe_load(Path(path).read_text())
        doc["columns"] = {name: ColumnRule(**rule) for name, rule in doc["columns"].items()}
        return cls(**doc)


def default_path(settings: Settings, dataset: Dataset) -> Path:
    """Beside the CSV file (heart.csv -> heart.schema.yaml); in the data dir for builtin data sets."""
    if dataset.is_builtin:
        return settings.data_dir.resolve() / "schemas" / f"{dataset.name}.schema.yaml"
    source = Path(dataset.source)
    return source.with_name(f"{source.stem}.schema.yaml")


def _sig(value: float, down: bool) -> float:
    """Round to 6 significant digits, outward, so the saved range still contains the reference."""
    if value == 0 or not math.isfinite(value):
        return float(value)
    scale = 10 ** (math.floor(math.log10(abs(value))) - 5)
    return float(f"{(math.floor if down else math.ceil)(value / scale) * scale:.6g}")


def _is_numeric(series: pd.Series) -> bool:
    if pd.api.types.is_bool_dtype(series):
        return False
    if pd.api.types.is_numeric_dtype(series):
        return True
    values = series.dropna()
    return len(values) > 0 and pd.to_numeric(values, errors="coerce").notna().mean() >= NUMERIC_SHARE


def infer_rule(series: pd.Series, settings: Settings) -> ColumnRule:
    null_rate = min(1.0, round(float(series.isna().mean()) + settings.validation_null_tolerance, 4))
    if _is_numeric(series):
        values = pd.to_numeric(series, errors="coerce").dropna()
        lo, hi = (float(values.min()), float(values.max())) if len(values) else (0.0, 0.0)
        margin = (hi - lo) * settings.validation_range_margin or max(abs(hi), 1.0) * settings.validation_range_margin
        low = lo - margin
        if lo >= 0:  # a quantity that never went negative (a count, a size) stays non-negative
            low = max(low, 0.0)
        return ColumnRule(NUMERIC, min=_sig(low, down=True), max=_sig(hi + margin, down=False), max_null_rate=null_rate)
    allowed = sorted({str(v) for v in series.dropna()})
    return ColumnRule(CATEGORICAL, allowed=allowed, max_null_rate=null_rate)


def infer(dataset: Dataset, settings: Settings) -> Contract:
    """A contract that the reference data set passes, loose enough for new data from the same source."""
    frame = dataset.frame
    labels = frame[dataset.target].dropna()
    classes = sorted(labels.unique().tolist(), key=lambda v: (str(type(v)), v))
    shares = labels.value_counts(normalize=True)
    min_share = min(settings.validation_min_class_share, float(shares.min()) / 2) if len(shares) else 0.0
    return Contract(
        target=dataset.target,
        classes=[c.item() if hasattr(c, "item") else c for c in classes],
        columns={col: infer_rule(frame[col], settings) for col in dataset.features},
        min_rows=min(settings.validation_min_rows, len(frame)),
        min_class_share=round(min_share, 4),
        dataset=dataset.source,
    )


def resolve(settings: Settings, dataset: Dataset, path: Path | None) -> tuple[Contract, Path, bool]:
    """The contract for a data set: read from `path` (or the default place), else inferred and saved there.

    Returns (contract, where it is, whether it was inferred just now).
    """
    fallback = settings.data_dir.resolve() / "schemas" / f"{Path(dataset.source).stem}.schema.yaml"
    if path is None:
        path = default_path(settings, dataset)
        if not path.is_file() and fallback.is_file():
            path = fallback  # inferred earlier beside a data set whose folder was read-only
    path = Path(path)
    if path.is_file():
        return Contract.load(path), path, False
    contract = infer(dataset, settings)
    try:
        contract.save(path)
    except OSError:  # the data set's folder is read-only: keep the schema in the data dir instead
        path = contract.save(fallback)
    return contract, path, True
