"""Inference and validation part by part (what the Dask backend does per partition) give the verdict the whole
frame gets: same contract, same failures, same counts, same examples."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from infra.settings import Settings
from tests.unit.trainer.frames import tumours
from trainer.contract import from_profile, infer, profile_cap
from trainer.datasets import Dataset, clean_frame
from trainer.profiles import FrameProfile
from trainer.validation import check_part, merge_parts, validate


def polluted() -> pd.DataFrame:
    frame = tumours(900)
    frame["mean radius"] = frame["mean radius"].astype(object)
    frame.loc[::7, "mean radius"] = "abc"
    frame.loc[frame.sample(frac=0.7, random_state=1).index, "mean texture"] = np.nan
    frame["customer"] = [f"C-{i:05d}" for i in range(len(frame))]
    return clean_frame(frame)


def parts(frame: pd.DataFrame, cuts: list[int]) -> list[pd.DataFrame]:
    return [frame.iloc[a:b] for a, b in zip([0, *cuts], [*cuts, len(frame)], strict=True)]


@pytest.mark.parametrize("cuts", [[450], [100, 101, 700], [1, 2, 3, 899]])
def test_contract_inferred_from_merged_partition_profiles_is_the_whole_frames(tmp_path, cuts):
    settings = Settings(data_dir=tmp_path)
    frame = polluted()
    frame["site"] = frame["site"].where(frame.index % 3 > 0, np.nan)
    cap = profile_cap(settings)
    profiles = [FrameProfile.of(p, "target", cap) for p in parts(frame, cuts)]
    merged = profiles[0]
    for profile in profiles[1:]:
        merged = merged.merged(profile, cap)
    assert from_profile(merged, settings, target="target", source="d.csv") == infer(Dataset("d.csv", frame, "target"),
                                                                                   settings)


@pytest.mark.parametrize("cuts", [[450], [100, 101, 700], [1, 2, 3, 899]])
def test_failures_merged_from_partitions_are_the_whole_frames(tmp_path, cuts):
    frame = polluted()
    contract = infer(Dataset("d.csv", frame, "target"), Settings(data_dir=tmp_path))
    whole = validate(frame, contract)
    findings = [check_part(p, contract)[1] for p in parts(frame, cuts)]
    failures, summary = merge_parts(findings, contract)
    assert not whole.ok and failures == whole.failures and summary == whole.summary
    assert {f.check.split("(")[0] for f in failures} == {"numeric_type", "max_null_rate", "max_categories"}


def test_clean_partitions_pass_and_hand_back_their_coerced_rows(tmp_path):
    frame = clean_frame(tumours(600))
    contract = infer(Dataset("d.csv", frame, "target"), Settings(data_dir=tmp_path))
    checked = [check_part(p.astype(object), contract) for p in parts(frame, [200, 400])]  # text, as Dask reads it
    failures, summary = merge_parts([f for _, f in checked], contract)
    assert failures == [] and summary["rows"] == 600
    rows = pd.concat([valid for valid, _ in checked])
    assert rows["mean radius"].dtype == float and list(rows.columns) == [*contract.features, "target"]
