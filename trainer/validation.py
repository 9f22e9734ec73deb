"""Validation: pandera checks every value (types, ranges, categories, labels), `dataset_checks` the data set as
a whole (rows, null shares, class balance, categories per column). A failed check becomes a CheckFailure that
names the column, the check, how many values failed and a few of them.

`check_part` is the unit of work: one frame, or one partition of a Dask data frame (`merge_parts` then adds the
partitions' findings up into one verdict with the same failures a single frame would get).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pandas as pd
import pandera.pandas as pa
from pandera import Check

from schemas.data import CheckFailure
from trainer import dataset_checks
from trainer.contract import NUMERIC, ColumnRule, Contract
from trainer.dataset_checks import EXAMPLES, Counts

NUMERIC_TYPE = "numeric_type"  # the check a value that is not a number fails in a numeric column
# Noise pandera adds once a value failed type coercion: the dtype check and range checks that cannot compare text.
_AFTER_COERCE = ("dtype(",)


def column_schema(rule: ColumnRule) -> pa.Column:
    if rule.kind == NUMERIC:
        checks = [Check.in_range(rule.min, rule.max)] if rule.min is not None and rule.max is not None else []
        return pa.Column(float, checks=checks, nullable=True, coerce=True)
    checks = [Check.isin(rule.allowed)] if rule.allowed is not None else []
    return pa.Column(object, checks=checks, nullable=True)


def dataframe_schema(contract: Contract) -> pa.DataFrameSchema:
    """The pandera schema of a contract's value checks: one column per feature, and the target."""
    columns = {name: column_schema(rule) for name, rule in contract.columns.items()}
    columns[contract.target] = pa.Column(checks=[Check.isin(contract.classes)], nullable=False)
    # Columns outside the contract are not features: dropped, not an error.
    return pa.DataFrameSchema(columns, strict="filter")


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


def failures_from(cases: pd.DataFrame, rows: int) -> list[CheckFailure]:
    """pandera's failure cases grouped per (column, check), with counts and a few example values."""
    coerced = set(cases.loc[cases["check"].astype(str).str.startswith("coerce_dtype"), "column"])
    failures = []
    for (column, check), group in cases.groupby(["column", "check"], dropna=False, sort=False):
        column = None if pd.isna(column) else str(column)
        check = str(check)
        if column in coerced and (check.startswith(_AFTER_COERCE) or group["index"].isna().all()):
            continue
        if check == "column_in_dataframe":  # pandera puts the missing column's name in the failure case
            for name in group["failure_case"]:
                failures.append(CheckFailure(column=str(name), check=check, failing_count=rows, examples=[]))
            continue
        if check.startswith("coerce_dtype") and check != "coerce_dtype('object')":
            check = NUMERIC_TYPE  # text in a numeric column: a type violation
        examples = list(dict.fromkeys(_plain(v) for v in group["failure_case"]))[:EXAMPLES]
        failures.append(CheckFailure(column=column, check=check[:120], failing_count=len(group), examples=examples))
    return failures


@dataclass
class PartFindings:
    """One part's value failures and counts: small, so many partitions' findings travel to one place."""

    failures: list[CheckFailure]
    counts: Counts


def check_part(frame: pd.DataFrame, contract: Contract) -> tuple[pd.DataFrame | None, PartFindings]:
    """Check one part; returns its coerced frame (None when a value failed) and its findings."""
    frame = conform(frame, contract)
    counts = Counts.of(frame, contract)
    try:
        valid = dataframe_schema(contract).validate(frame, lazy=True)
    except pa.errors.SchemaErrors as exc:
        return None, PartFindings(failures_from(exc.failure_cases, len(frame)), counts)
    return valid[[*contract.features, contract.target]], PartFindings([], counts)


def merge_parts(findings: list[PartFindings], contract: Contract) -> tuple[list[CheckFailure], dict[str, Any]]:
    """The partitions' failures per (column, check), counts added, plus the data-set checks on all the rows."""
    merged: dict[tuple, CheckFailure] = {}
    counts = findings[0].counts
    for i, part in enumerate(findings):
        if i:
            counts = counts.merged(part.counts, contract)
        for f in part.failures:
            key = (f.column, f.check)
            if key not in merged:
                merged[key] = f
            elif f.check == "column_in_dataframe":
                merged[key] = f.model_copy(update={"failing_count": merged[key].failing_count + f.failing_count})
            else:
                examples = list(dict.fromkeys([*merged[key].examples, *f.examples]))[:EXAMPLES]
                merged[key] = f.model_copy(update={"failing_count": merged[key].failing_count + f.failing_count,
                                                   "examples": examples})
    failures = list(merged.values()) + dataset_checks.check(counts, contract)
    return failures, dataset_checks.summary(counts, contract)


def validate(frame: pd.DataFrame, contract: Contract) -> Verdict:
    """Check a data set against its contract; every failing check is reported, not just the first."""
    valid, findings = check_part(frame, contract)
    failures, summary = merge_parts([findings], contract)
    if failures or valid is None:
        return Verdict(False, conform(frame, contract), failures, summary)
    return Verdict(True, valid, [], summary)


def describe(failure: CheckFailure) -> str:
    """One line a person can act on: column, check, how many failed, a few values."""
    where = f"column {failure.column!r}" if failure.column else "data set"
    check, count = failure.check.split(": ")[-1], failure.failing_count
    examples = ", ".join("null" if v is None else repr(v) for v in failure.examples)
    if check.startswith("max_null_rate"):
        return f"{where} failed {failure.check}: {count} null values ({', '.join(map(str, failure.examples))})"
    if check.startswith("max_categories"):
        bound = int(check[len("max_categories("):-1])
        many = f"more than {bound}" if count > bound else str(count)
        return f"{where} failed {failure.check}: {many} distinct values (e.g. {examples})"
    if check.startswith("min_rows"):
        return f"{where} failed {failure.check}: only {', '.join(map(str, failure.examples))}"
    what = "non-numeric values" if check == NUMERIC_TYPE else "failing"
    return f"{where} failed {failure.check}: {count} {what}" + (f" (e.g. {examples})" if examples else "")


def remedy(failure: CheckFailure) -> str | None:
    """What a person can change in the schema file when the data is right and the contract too strict."""
    check = failure.check.split(": ")[-1]
    if check.startswith("max_null_rate"):
        return (f"if {failure.column!r} may be this empty, raise its max_null_rate (or set nullable: true) in the "
                "schema file, or remove the column from it to train without it")
    if check.startswith("max_categories"):
        return (f"if {failure.column!r} is a category with this many values, raise its max_categories in the "
                "schema file; if it is an identifier or free text, remove it from the schema to train without it")
    if check == NUMERIC_TYPE:
        return f"fix or blank the non-numeric values of {failure.column!r} in the data"
    return None
