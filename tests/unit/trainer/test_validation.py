"""Contract inference and pandera validation: each kind of broken data names its column and check."""

from __future__ import annotations

import numpy as np
import pytest

from infra.settings import Settings
from tests.unit.trainer.frames import mixed_frame
from trainer.contract import CATEGORICAL, NUMERIC, Contract, infer
from trainer.datasets import Dataset, clean_frame
from trainer.validation import describe, validate


@pytest.fixture
def reference():
    return Dataset("ref.csv", clean_frame(mixed_frame()), "label")


@pytest.fixture
def contract(reference, tmp_path):
    return infer(reference, Settings(data_dir=tmp_path))


def failures(frame, contract):
    verdict = validate(frame, contract)
    assert not verdict.ok
    return {(f.column, f.check.split("(")[0]): f for f in verdict.failures}


def test_inferred_contract_accepts_its_reference_and_survives_a_yaml_round_trip(reference, contract, tmp_path):
    assert contract.columns["x1"].kind == NUMERIC and contract.columns["color"].kind == CATEGORICAL
    assert contract.columns["color"].allowed == ["blue", "green", "red"]
    assert contract.classes == ["no", "yes"] and "x 2" in contract.columns  # the data's own name, space and all
    loaded = Contract.load(contract.save(tmp_path / "s.yaml"))
    assert loaded == contract
    verdict = validate(reference.frame, loaded)
    assert verdict.ok and list(verdict.frame.columns) == ["x1", "x 2", "color", "label"]
    assert verdict.summary["rows"] == 240 and set(verdict.summary["class_balance"]) == {"no", "yes"}
    lo, hi = reference.frame["x1"].min(), reference.frame["x1"].max()
    assert contract.columns["x1"].min < lo and contract.columns["x1"].max > hi
    assert contract.columns["x 2"].min >= 0  # never negative in the reference: stays non-negative


def test_wrong_type_names_the_column_coercion_count_and_values(reference, contract):
    frame = reference.frame.copy()
    frame["x1"] = frame["x1"].astype(object)
    frame.loc[[3, 7, 9], "x1"] = ["abc", "n/a?", "abc"]
    found = failures(frame, contract)
    assert set(found) == {("x1", "numeric_type")}  # no follow-on noise from the dtype or range checks
    failure = found[("x1", "numeric_type")]
    assert failure.failing_count == 3 and failure.examples == ["abc", "n/a?"]
    assert describe(failure) == "column 'x1' failed numeric_type: 3 non-numeric values (e.g. 'abc', 'n/a?')"


def test_out_of_range_too_many_nulls_and_unknown_category_are_all_reported(reference, contract):
    frame = reference.frame.copy()
    frame.loc[:4, "x 2"] = [-50.0, 1e6, 1e6, 3.0, 4.0]
    frame.loc[10:80, "x1"] = np.nan
    frame.loc[5, "color"] = "purple"
    found = failures(frame, contract)
    assert found[("x 2", "in_range")].failing_count == 3
    assert sorted(found[("x 2", "in_range")].examples) == [-50.0, 1e6]  # examples without repeats
    assert found[("x1", "max_null_rate")].failing_count == 71
    assert found[("color", "isin")].examples == ["purple"]


def test_row_count_class_balance_and_labels(reference, contract):
    few = failures(reference.frame.head(10), contract)
    assert few[(None, "min_rows")].examples == ["10 rows"]
    assert describe(few[(None, "min_rows")]) == "data set failed min_rows(50): only 10 rows"
    frame = reference.frame.copy()
    frame["label"] = "yes"
    frame.loc[0, "label"] = "no"
    frame.loc[1, "label"] = "maybe"
    found = failures(frame, contract)
    assert found[("label", "min_class_share")].examples[0].startswith("no: ")
    assert found[("label", "isin")].examples == ["maybe"]


def test_missing_column_is_named(reference, contract):
    found = failures(reference.frame.drop(columns="color"), contract)
    assert ("color", "column_in_dataframe") in found


def test_a_text_column_of_mostly_numbers_is_inferred_numeric_so_the_odd_text_fails(reference, tmp_path):
    frame = reference.frame.copy()
    frame["x1"] = frame["x1"].astype(object)
    frame.loc[2, "x1"] = "oops"
    broken = Dataset("b.csv", frame, "label")
    contract = infer(broken, Settings(data_dir=tmp_path))
    assert contract.columns["x1"].kind == NUMERIC
    assert failures(frame, contract)[("x1", "numeric_type")].examples == ["oops"]


def test_production_rows_for_a_retrain_may_drift_but_not_break_types(reference, contract):
    rows = reference.frame.dropna().head(6).copy()
    rows["x1"] = rows["x1"] + 1000 * (rows["x1"].abs().max() + 1)  # far outside the reference range
    drifted = contract.for_production_rows()
    assert validate(rows, drifted).ok  # drift is the reason for the retrain, not a defect
    assert not validate(rows, contract).ok  # the reference contract still refuses it
    rows["color"] = "purple"
    broken = validate(rows, drifted)
    assert not broken.ok and {f.column for f in broken.failures} == {"color"}
    joined = validate(reference.frame, contract).joined(broken, "production rows")
    assert not joined.ok and joined.failures[0].check.startswith("production rows: ")
    assert len(joined.frame) == len(reference.frame) + 6


def test_schema_of_a_data_set_in_a_read_only_folder_is_kept_in_the_data_dir(tmp_path):
    from trainer.contract import resolve

    folder = tmp_path / "ro"
    folder.mkdir()
    source = folder / "d.csv"
    mixed_frame().to_csv(source, index=False)
    dataset = Dataset(str(source), clean_frame(mixed_frame()), "label")
    settings = Settings(data_dir=tmp_path / "data")
    blocker = folder / "d.schema.yaml"
    blocker.mkdir()  # a folder where the file would go: saving beside the CSV fails as on a read-only mount
    contract, path, inferred = resolve(settings, Dataset(str(source), dataset.frame, "label"), None)
    assert inferred and path == settings.data_dir.resolve() / "schemas" / "d.schema.yaml" and path.is_file()
    blocker.rmdir()
    again, path_again, inferred_again = resolve(settings, dataset, None)
    assert not inferred_again and path_again == path and again == contract
