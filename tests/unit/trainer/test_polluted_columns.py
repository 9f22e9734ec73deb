"""The data contract against polluted columns (issue 16): each case is a CSV written here and read as a user's
file is, its contract inferred from that very file, as `driftline train` does on a first run."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import yaml

from infra.settings import Settings
from tests.unit.trainer.frames import tumours
from trainer.contract import CATEGORICAL, NUMERIC, Contract, ContractError, infer
from trainer.datasets import load_dataset
from trainer.validation import NUMERIC_TYPE, describe, remedy, validate


@pytest.fixture
def settings(tmp_path) -> Settings:
    return Settings(data_dir=tmp_path / "data")


def read(frame: pd.DataFrame, tmp_path, name="data.csv"):
    path = tmp_path / name
    frame.to_csv(path, index=False)
    return load_dataset(str(path), "target")


def found(dataset, contract) -> dict:
    verdict = validate(dataset.frame, contract)
    assert not verdict.ok
    return {(f.column, f.check.split("(")[0]): f for f in verdict.failures}


def test_text_in_every_7th_row_of_a_numeric_column_is_a_type_violation_not_a_category(tmp_path, settings):
    frame = tumours()
    frame["mean radius"] = frame["mean radius"].astype(object)
    frame.loc[::7, "mean radius"] = "abc"  # 82 of 569 rows: the column is 86% numbers
    dataset = read(frame, tmp_path)
    contract = infer(dataset, settings)

    rule = contract.columns["mean radius"]
    assert rule.kind == NUMERIC and rule.allowed is None
    failures = found(dataset, contract)
    assert set(failures) == {("mean radius", NUMERIC_TYPE)}  # nothing else: the other values are fine
    failure = failures[("mean radius", NUMERIC_TYPE)]
    assert failure.failing_count == 82 and failure.examples == ["abc"]
    assert describe(failure) == "column 'mean radius' failed numeric_type: 82 non-numeric values (e.g. 'abc')"
    assert "fix or blank" in remedy(failure)


def test_a_coded_column_with_a_text_level_stays_a_category(tmp_path, settings):
    frame = tumours()
    codes = np.random.default_rng(1).choice(["1", "2", "3", "unknown"], len(frame), p=[0.3, 0.3, 0.25, 0.15])
    frame["stage"] = codes  # 85% numbers but only three of them: a category with an "unknown" level
    contract = infer(read(frame, tmp_path), settings)
    assert contract.columns["stage"].kind == CATEGORICAL
    assert contract.columns["stage"].allowed == ["1", "2", "3", "unknown"]


def test_a_column_70_percent_empty_is_refused_until_its_schema_entry_allows_it(tmp_path, settings):
    frame = tumours()
    empty = frame.sample(frac=0.7, random_state=1).index
    frame.loc[empty, "mean texture"] = np.nan
    dataset = read(frame, tmp_path)
    contract = infer(dataset, settings)

    assert contract.columns["mean texture"].max_null_rate == settings.validation_max_null_share == 0.5
    failure = found(dataset, contract)[("mean texture", "max_null_rate")]
    assert failure.failing_count == len(empty) == 398 and failure.examples == ["69.9% of 569 rows"]
    assert describe(failure) == "column 'mean texture' failed max_null_rate(0.5): 398 null values (69.9% of 569 rows)"
    assert "nullable: true" in remedy(failure)

    path = contract.save(tmp_path / "data.schema.yaml")
    doc = yaml.safe_load(path.read_text())
    doc["columns"]["mean texture"]["nullable"] = True  # what the remedy says a person may do
    path.write_text(yaml.safe_dump(doc))
    assert validate(dataset.frame, Contract.load(path)).ok
    doc["columns"]["mean texture"] = {"kind": "numeric", "max_null_rate": 0.75}  # or a higher bound
    path.write_text(yaml.safe_dump(doc))
    assert validate(dataset.frame, Contract.load(path)).ok


def test_a_column_just_under_the_bound_passes(tmp_path, settings):
    frame = tumours()
    frame.loc[frame.sample(frac=0.4, random_state=2).index, "mean texture"] = np.nan
    dataset = read(frame, tmp_path)
    assert validate(dataset.frame, infer(dataset, settings)).ok


def test_a_high_cardinality_categorical_is_flagged_and_not_listed_in_the_schema(tmp_path, settings):
    frame = tumours()
    frame["customer"] = [f"C-{i:05d}" for i in range(len(frame))]  # an identifier, not a category
    dataset = read(frame, tmp_path)
    contract = infer(dataset, settings)

    rule = contract.columns["customer"]
    assert rule.kind == CATEGORICAL and rule.allowed is None and rule.max_categories == 100
    assert "C-00042" not in contract.to_yaml()  # 569 "allowed values" would make the file useless to read
    failure = found(dataset, contract)[("customer", "max_categories")]
    assert failure.examples == ["C-00000", "C-00001", "C-00002", "C-00003", "C-00004"]
    assert describe(failure).startswith("column 'customer' failed max_categories(100): more than 100 distinct values")
    assert "remove it from the schema" in remedy(failure)

    doc = yaml.safe_load(contract.to_yaml())
    del doc["columns"]["customer"]  # a person deletes the entry...
    verdict = validate(dataset.frame, Contract(**doc))
    assert verdict.ok and "customer" not in verdict.frame  # ...and the column is left out of training


def test_all_three_pollutions_at_once_are_each_reported(tmp_path, settings):
    frame = tumours()
    frame["mean radius"] = frame["mean radius"].astype(object)
    frame.loc[::7, "mean radius"] = "abc"
    frame.loc[frame.sample(frac=0.7, random_state=1).index, "mean texture"] = np.nan
    frame["customer"] = [f"C-{i:05d}" for i in range(len(frame))]
    dataset = read(frame, tmp_path)
    assert set(found(dataset, infer(dataset, settings))) == {
        ("mean radius", NUMERIC_TYPE), ("mean texture", "max_null_rate"), ("customer", "max_categories")}


@pytest.mark.parametrize("text, says", [
    ("target: [unclosed", "is not valid YAML"),
    ("- just\n- a list\n", "must be a mapping"),
    ("target: t\nclasses: [0, 1]\ncolumns: {a: {kind: number}}\nmin_rows: 1\nmin_class_share: 0.1\n",
     "columns.a.kind: Input should be 'numeric' or 'categorical'"),
    ("target: t\nclasses: [0, 1]\ncolumns: {a: {kind: numeric, max_nul_rate: 0.2}}\nmin_rows: 1\nmin_class_share: 0\n",
     "columns.a.max_nul_rate: unknown key (known: kind, min, max, allowed, max_null_rate, nullable, max_categories)"),
    ("target: t\ncolumns: {a: {kind: numeric}}\nmin_rows: 1\nmin_class_share: 0\n", "classes: required"),
    ("target: t\nclasses: [0, 1]\ncolumns: {a: {kind: numeric, min: low}}\nmin_rows: 1\nmin_class_share: 0\n",
     "columns.a.min: Input should be a valid number"),
])
def test_a_malformed_schema_file_is_one_clear_error_naming_the_file_and_the_field(tmp_path, text, says):
    path = tmp_path / "bad.schema.yaml"
    path.write_text(text)
    with pytest.raises(ContractError) as raised:
        Contract.load(path)
    assert str(path) in str(raised.value) and says in str(raised.value)
