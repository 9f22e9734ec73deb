"""The data contract a data set is validated against: inferred once from reference data, kept as a YAML file.

The file is plain data a person can read and edit (kinds, ranges, allowed categories, null shares, how many
categories a column may have, row count, target balance); `trainer.validation` checks data against it.
Inference is cautious about polluted columns: a column of numbers with some text in it stays numeric (the text
becomes a type violation), a mostly empty column is refused unless its entry allows it, and a "categorical"
with more distinct values than a category column has is flagged rather than learnt as a list of values.
"""

from __future__ import annotations

import math
from dataclasses import asdict, field, replace
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BeforeValidator, ConfigDict, ValidationError
from pydantic.dataclasses import dataclass

from infra.settings import Settings
from trainer.datasets import Dataset
from trainer.profiles import ColumnProfile, FrameProfile

NUMERIC = "numeric"
CATEGORICAL = "categorical"
# A column whose non-null values parse as numbers this often is numeric with some bad values...
NUMERIC_SHARE = 0.9
# ...and so is one where numbers are the majority and take more distinct values than a category column may:
# `mean radius` with "abc" in every 7th row is 86% numbers over hundreds of values, not a category of "10.03"s.
MOSTLY_NUMBERS = 0.5
_STRICT = ConfigDict(extra="forbid")
Text = Annotated[str, BeforeValidator(lambda v: v if isinstance(v, str) else str(v))]


class ContractError(ValueError):
    """A schema file that cannot be read as a contract; the message names the file and the field."""


@dataclass(config=_STRICT)
class ColumnRule:
    kind: Literal["numeric", "categorical"]
    min: float | None = None
    max: float | None = None
    allowed: list[Text] | None = None  # None: any value (a column past max_categories has no list)
    max_null_rate: float = 0.0  # share of rows that may be null
    nullable: bool = False  # True: any share of nulls is fine (max_null_rate is not checked)
    max_categories: int | None = None  # a categorical with more distinct values than this is flagged

    @property
    def null_bound(self) -> float:
        return 1.0 if self.nullable else self.max_null_rate


@dataclass(config=_STRICT)
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
        doc["columns"] = {name: {k: v for k, v in rule.items() if v is not None and not (k == "nullable" and not v)}
                          for name, rule in doc["columns"].items()}
        return yaml.safe_dump(doc, sort_keys=False)

    def save(self, path: Path) -> Path:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(self.to_yaml())
        return path

    @classmethod
    def load(cls, path: Path) -> Contract:
        """Read a schema file; anything wrong with it is a ContractError naming the file, the field and the fix."""
        try:
            doc = yaml.safe_load(Path(path).read_text())
        except yaml.YAMLError as exc:
            raise ContractError(f"schema file {path} is not valid YAML: {exc}".replace("\n", " ")) from None
        except (OSError, UnicodeDecodeError) as exc:
            raise ContractError(f"cannot read schema file {path}: {exc}") from None
        if not isinstance(doc, dict):
            raise ContractError(f"schema file {path} must be a mapping with target, classes, columns, min_rows and "
                                f"min_class_share (found {type(doc).__name__})")
        try:
            return cls(**doc)
        except ValidationError as exc:
            problems = "; ".join(f"{'.'.join(str(p) for p in e['loc']) or 'file'}: {_message(e)}" for e in exc.errors())
            raise ContractError(f"schema file {path} is not a valid contract: {problems}") from None


def _message(error: dict) -> str:
    if error["type"] == "unexpected_keyword_argument":
        return "unknown key (known: kind, min, max, allowed, max_null_rate, nullable, max_categories)"
    if error["type"].startswith("missing"):
        return "required"
    return f"{error['msg']} (got {error.get('input')!r})"


def default_path(settings: Settings, dataset: Dataset) -> Path:
    """Beside the CSV file (heart.csv -> heart.schema.yaml); in the data dir for builtin data sets."""
    return _default_path(settings, dataset.source, dataset.is_builtin)


def _default_path(settings: Settings, source: str, builtin: bool) -> Path:
    if builtin:
        return _in_data_dir(settings, source.removeprefix("builtin:"))
    return Path(source).with_name(f"{Path(source).stem}.schema.yaml")


def _in_data_dir(settings: Settings, name: str) -> Path:
    return settings.data_dir.resolve() / "schemas" / f"{name}.schema.yaml"


def _sig(value: float, down: bool) -> float:
    """Round to 6 significant digits, outward, so the saved range still contains the reference."""
    if value == 0 or not math.isfinite(value):
        return float(value)
    scale = 10 ** (math.floor(math.log10(abs(value))) - 5)
    return float(f"{(math.floor if down else math.ceil)(value / scale) * scale:.6g}")


def is_numeric(profile: ColumnProfile, max_categories: int) -> bool:
    if profile.boolean or not profile.present:
        return False
    share = profile.number_share
    return share >= NUMERIC_SHARE or (share > MOSTLY_NUMBERS and len(profile.distinct_numbers) > max_categories)


def rule_from(profile: ColumnProfile, settings: Settings) -> ColumnRule:
    """The rule a reference column gets. Its null share is bounded by `validation_max_null_share`: a column
    emptier than that fails its own contract until a person allows it (max_null_rate or nullable: true)."""
    null_rate = min(1.0, round(profile.null_share + settings.validation_null_tolerance, 4),
                    settings.validation_max_null_share)
    bound = settings.validation_max_categories
    if is_numeric(profile, bound):
        lo, hi = (profile.low, profile.high) if profile.numbers else (0.0, 0.0)
        margin = (hi - lo) * settings.validation_range_margin or max(abs(hi), 1.0) * settings.validation_range_margin
        low = lo - margin
        if lo >= 0:  # a quantity that never went negative (a count, a size) stays non-negative
            low = max(low, 0.0)
        return ColumnRule(NUMERIC, min=_sig(low, down=True), max=_sig(hi + margin, down=False), max_null_rate=null_rate)
    texts = profile.distinct_texts
    allowed = sorted(texts) if len(texts) <= bound else None  # past the bound: flagged, not listed
    return ColumnRule(CATEGORICAL, allowed=allowed, max_null_rate=null_rate, max_categories=bound)


def typed_classes(labels: list[Any]) -> list[Any]:
    """Class labels as the data's own type: text read from a CSV part by part ("0", "1") becomes 0, 1 as
    pandas reads a whole file."""
    if labels and all(isinstance(v, str) for v in labels):
        for kind in (int, float):
            try:
                return [kind(v) for v in labels]
            except ValueError:
                continue
    return [v.item() if hasattr(v, "item") else v for v in labels]


def from_profile(profile: FrameProfile, settings: Settings, *, target: str, source: str) -> Contract:
    """A contract that the profiled reference data passes, loose enough for new data from the same source."""
    classes = sorted(typed_classes(list(profile.classes)), key=lambda v: (str(type(v)), v))
    total = sum(profile.classes.values())
    smallest = min(profile.classes.values()) / total if total else 0.0
    min_share = min(settings.validation_min_class_share, smallest / 2) if total else 0.0
    return Contract(
        target=target,
        classes=classes,
        columns={name: rule_from(p, settings) for name, p in profile.columns.items()},
        min_rows=min(settings.validation_min_rows, profile.rows),
        min_class_share=round(min_share, 4),
        dataset=source,
    )


def profile_cap(settings: Settings) -> int:
    """Distinct values a profile keeps per column: one past the bound tells that a column went past it."""
    return settings.validation_max_categories + 1


def infer(dataset: Dataset, settings: Settings) -> Contract:
    """A contract inferred from a whole data set in memory."""
    profile = FrameProfile.of(dataset.frame, dataset.target, profile_cap(settings))
    return from_profile(profile, settings, target=dataset.target, source=dataset.source)


def resolve(settings: Settings, dataset: Dataset, path: Path | None) -> tuple[Contract, Path, bool]:
    """The contract for a data set: read from `path` (or the default place), else inferred and saved there.

    Returns (contract, where it is, whether it was inferred just now).
    """
    return resolve_with(settings, dataset.source, dataset.is_builtin, path, lambda: infer(dataset, settings))


def resolve_with(settings: Settings, source: str, builtin: bool, path: Path | None,
                 inferred) -> tuple[Contract, Path, bool]:
    """`resolve` with the inference left to the caller (`inferred()`), e.g. one pass over Dask partitions."""
    fallback = _in_data_dir(settings, source.removeprefix("builtin:") if builtin else Path(source).stem)
    if path is None:
        path = _default_path(settings, source, builtin)
        if not path.is_file() and fallback.is_file():
            path = fallback  # inferred earlier beside a data set whose folder was read-only
    path = Path(path)
    if path.is_file():
        return Contract.load(path), path, False
    contract = inferred()
    try:
        contract.save(path)
    except OSError:  # the data set's folder is read-only: keep the schema in the data dir instead
        path = contract.save(fallback)
    return contract, path, True
