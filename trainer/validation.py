"""Validation with pandera: a data contract becomes a schema; a failed check becomes a CheckFailure."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pandas as pd
import pandera.pandas as pa
from pandera import Check

from schemas.data import CheckFailure
from trainer.contract import NUMERIC, ColumnRule, Contract

EXAMPLES = 5
# Noise pandera adds once a value failed type coercion: the dtype check and range checks that cannot compare text.
_AFTER_COERCE = ("dtype(",)


def _null_rate(rate: float) -> Check:
    # Element-wise so the failing count is the number of nulls, but only once the rate is exceeded.
    return Check(lambda s: s.notna() | (s.isna().mean() <= rate), name=f"max_null_rate({rate:g})", ignore_na=False)


def column_schema(rule: ColumnRule) -> pa.Column:
    checks = [_null_rate(rule.max_null_rate)]
    if rule.kind == NUMERIC:
        if rule.min is not None and rule.max is not None:
            checks.insert(0, Check.in_range(rule.min, rule.max))
        return pa.Column(float, checks=checks, nullable=True, coerce=True)
    checks.insert(0, Check.isin(rule.allowed or []))
    return pa.Column(object, checks=checks, nullable=True)


def dataframe_schema(contract: Contract) -> pa.DataFrameSchema:
    """The pandera schema of a contract: one column per feature, the target, row count and class balance."""
    classes, share, target = contract.classes, contract.min_class_share, contract.target

    def balanced(frame: pd.DataFrame) -> bool:
        counts = frame[target].value_counts(normalize=True).reindex(classes, fill_value=0.0)
        return bool(counts.min() >= share)

    columns = {name: column_schema(rule) for name, rule in contract.columns.items()}
    columns[target] = pa.Column(checks=[Check.isin(classes)], nullable=False)
    return pa.DataFrameSchema(
        columns,
        checks=[
            Check(lambda f: len(f) >= contract.min_rows, name=f"min_rows({contract.min_rows})"),
            Check(balanced, name=f"min_class_share({share:g})"),
        ],
        strict="filter",  # columns outside the contract are not features: dropped, not an error
    )


@dataclass
class Verdict:
    """What validation found; `frame` is the coerced data (features in contract order, then the target)."""

    ok: bool
    frame: pd.DataFrame
    failures: list[CheckFailure] = field(default_factory=list)
    summary: dict[str, Any] = field(default_factory=dict)

    def joined(self, other: Verdict, label: str) -> Verdict:
        """This verdict followed by another part's (e.g. production rows), whose failures say which part."""
        failures = self.failures + [f.model_copy(update={"check": f"{label}: {f.check}"}) for f in other.failures]
        frame = pd.concat([self.frame, other.frame], ignore_index=True)
        summary = {**self.summary, "rows": len(frame), label.replace(" ", "_"): other.summary.get("rows", 0)}
        return Verdict(self.ok and other.ok, frame, failures, summary)


def conform(frame: pd.DataFrame, contract: Contract) -> pd.DataFrame:
    """Categories as text: a category column that happens to hold numbers (codes) is still compared as text."""
    frame = frame.copy()
    for name, rule in contract.columns.items():
        if rule.kind != NUMERIC and name in frame:
            frame[name] = frame[name].map(lambda v: v if pd.isna(v) else str(v)).astype(object)
    return frame


def _plain(value: Any) -> Any:
    if value is None or (isinstance(value, float) and pd.isna(value)):
        return None
    return value.item() if hasattr(value, "item") else value


def failures_from(cases: pd.DataFrame, frame: pd.DataFrame, contract: Contract) -> list[CheckFailure]:
    """pandera's failure cases grouped per (column, check), with counts and a few example values."""
    coerced = set(cases.loc[cases["check"].astype(str).str.startswith("coerce_dtype"), "column"])
    failures = []
    for (column, check), group in cases.groupby(["column", "check"], dropna=False, sort=False):
        column = None if pd.isna(column) else str(column)
        check = str(check)
        if column in coerced and (check.startswith(_AFTER_COERCE) or group["index"].isna().all()):
            continue
        if column is None and check.startswith("min_class_share"):
            shares = frame[contract.target].value_counts(normalize=True).reindex(contract.classes, fill_value=0.0)
            low = shares[shares < contract.min_class_share]
            failures.append(CheckFailure(column=contract.target, check=check, failing_count=len(low),
                                         examples=[f"{k}: {v:.1%}" for k, v in low.items()]))
            continue
        if check == "column_in_dataframe":  # pandera puts the missing column's name in the failure case
            for name in group["failure_case"]:
                failures.append(CheckFailure(column=str(name), check=check, failing_count=len(frame), examples=[]))
            continue
        if column is None and check.startswith("min_rows"):
            failures.append(CheckFailure(column=None, check=check, failing_count=1, examples=[f"{len(frame)} rows"]))
            continue
        examples = list(dict.fromkeys(_plain(v) for v in group["failure_case"]))[:EXAMPLES]
        failures.append(CheckFailure(column=column, check=check[:120], failing_count=len(group), examples=examples))
    return failures


def summarize(frame: pd.DataFrame, contract: Contract) -> dict[str, Any]:
    target = frame[contract.target] if contract.target in frame else pd.Series(dtype=object)
    nulls = {c: round(float(frame[c].isna().mean()), 4) for c in contract.features if c in frame}
    return {
        "rows": len(frame),
        "features": len(contract.features),
        "numeric": sum(r.kind == NUMERIC for r in contract.columns.values()),
        "categorical": sum(r.kind != NUMERIC for r in contract.columns.values()),
        "null_rates": {c: r for c, r in nulls.items() if r > 0},
        "class_balance": {str(k): round(float(v), 4) for k, v in target.value_counts(normalize=True).items()},
    }


def validate(frame: pd.DataFrame, contract: Contract) -> Verdict:
    """Check a data set against its contract; every failing check is reported, not just the first."""
    frame = conform(frame, contract)
    try:
        valid = dataframe_schema(contract).validate(frame, lazy=True)
    except pa.errors.SchemaErrors as exc:
        return Verdict(False, frame, failures_from(exc.failure_cases, frame, contract), summarize(frame, contract))
    ordered = valid[[*contract.features, contract.target]]
    return Verdict(True, ordered, [], summarize(ordered, contract))


def describe(failure: CheckFailure) -> str:
    """One line a person can act on: column, check, how many failed, a few values."""
    where = f"column {failure.column!r}" if failure.column else "data set"
    examples = ", ".join("null" if v is None else repr(v) for v in failure.examples)
    return f"{where} failed {failure.check}: {failure.failing_count} failing" + (f" (e.g. {examples})" if examples else "")
