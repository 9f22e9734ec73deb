"""The contract checks that look at a whole data set (row count, null shares, class balance, categories per
column), computed from counts that add up over parts, so a partitioned data set gets the same verdict as one
frame in memory."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pandas as pd

from schemas.data import CheckFailure
from trainer.contract import NUMERIC, Contract
from trainer.profiles import smallest

EXAMPLES = 5


@dataclass(frozen=True)
class Counts:
    """What the data-set checks need of one part of the data; `merged` adds two parts."""

    rows: int
    nulls: dict[str, int]  # feature -> null values
    classes: dict[Any, int]  # target label -> rows
    distinct: dict[str, frozenset]  # categorical -> distinct values, at most its max_categories + 1

    @classmethod
    def of(cls, frame: pd.DataFrame, contract: Contract) -> Counts:
        columns = [c for c in contract.features if c in frame]
        distinct = {}
        for name in columns:
            rule = contract.columns[name]
            if rule.kind != NUMERIC and rule.max_categories is not None:
                values = {str(v) for v in frame[name].dropna().unique()}
                distinct[name] = frozenset(smallest(values, rule.max_categories + 1))
        target = frame[contract.target].dropna() if contract.target in frame else pd.Series(dtype=object)
        return cls(
            rows=len(frame),
            nulls={c: int(frame[c].isna().sum()) for c in columns},
            classes={(k.item() if hasattr(k, "item") else k): int(v) for k, v in target.value_counts().items()},
            distinct=distinct,
        )

    def merged(self, other: Counts, contract: Contract) -> Counts:
        nulls = {c: self.nulls.get(c, 0) + other.nulls.get(c, 0) for c in {*self.nulls, *other.nulls}}
        classes = dict(self.classes)
        for label, count in other.classes.items():
            classes[label] = classes.get(label, 0) + count
        distinct = {}
        for name in {*self.distinct, *other.distinct}:
            cap = contract.columns[name].max_categories + 1
            distinct[name] = frozenset(smallest(set(self.distinct.get(name, ())) | other.distinct.get(name, set()), cap))
        return Counts(self.rows + other.rows, nulls, classes, distinct)


def check(counts: Counts, contract: Contract) -> list[CheckFailure]:
    """Every data-set check the counts fail, each naming its column, the check and the values at fault."""
    failures = []
    if counts.rows < contract.min_rows:
        failures.append(CheckFailure(column=None, check=f"min_rows({contract.min_rows})", failing_count=1,
                                     examples=[f"{counts.rows} rows"]))
    for name, rule in contract.columns.items():
        nulls = counts.nulls.get(name)
        if nulls and not rule.nullable and nulls / counts.rows > rule.max_null_rate:
            failures.append(CheckFailure(column=name, check=f"max_null_rate({rule.max_null_rate:g})", failing_count=nulls,
                                         examples=[f"{nulls / counts.rows:.1%} of {counts.rows} rows"]))
        values = counts.distinct.get(name, ())
        if rule.max_categories is not None and len(values) > rule.max_categories:
            failures.append(CheckFailure(column=name, check=f"max_categories({rule.max_categories})",
                                         failing_count=len(values), examples=sorted(values)[:EXAMPLES]))
    total = sum(counts.classes.values())
    if total and contract.min_class_share > 0:
        shares = {c: counts.classes.get(c, 0) / total for c in contract.classes}
        low = {c: s for c, s in shares.items() if s < contract.min_class_share}
        if low:
            failures.append(CheckFailure(column=contract.target, check=f"min_class_share({contract.min_class_share:g})",
                                         failing_count=len(low), examples=[f"{k}: {v:.1%}" for k, v in low.items()]))
    return failures


def summary(counts: Counts, contract: Contract) -> dict[str, Any]:
    """The figures a DataValidated event and the MLflow run carry about the data."""
    rows = counts.rows or 1
    total = sum(counts.classes.values()) or 1
    return {
        "rows": counts.rows,
        "features": len(contract.features),
        "numeric": sum(r.kind == NUMERIC for r in contract.columns.values()),
        "categorical": sum(r.kind != NUMERIC for r in contract.columns.values()),
        "null_rates": {c: round(counts.nulls[c] / rows, 4) for c in contract.features if counts.nulls.get(c)},
        "class_balance": {str(k): round(v / total, 4) for k, v in sorted(counts.classes.items(), key=lambda kv: -kv[1])},
    }
