"""River's detectors as the monitor's runtime choice: seeded streams with pinned detection rows, the state that
survives a restart, and alerts that say which detector fired."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from consumers.monitor.drift_monitor import DriftMonitor, MonitorConfig
from consumers.monitor.encoding import RankIndex, encode_matrix
from consumers.monitor.river_bank import RiverBank
from consumers.monitor.windows import WindowPolicy
from schemas import PredictionMade

from .streams import profile, stream


def feed(bank, prof, frame, batch=250):
    index, numeric, found = RankIndex(prof), [r.name for r in prof.numeric], []
    for start in range(0, len(frame), batch):
        part = frame.iloc[start:start + batch]
        found += bank.update(encode_matrix(prof, part[numeric].to_numpy(float), [part["colour"].tolist()], index))
    return found


def shifted(seed=7, rows=3000, column="x3", by=1.0):
    frame = stream(seed, rows)
    frame.loc[1000:, column] += by
    return frame


@pytest.mark.parametrize("kind, first", [("adwin", (1087, "x3", "change")), ("page_hinkley", (1046, "x3", "change")),
                                         ("kswin", (1027, "x3", "change"))])
def test_a_one_sigma_shift_is_found_at_a_pinned_row(kind, first):
    prof = profile()
    frame = shifted(rows=1400)  # short: KSWIN runs a K-S test per value (~0.5 ms)
    after = [(d.row, d.column, d.test) for d in feed(RiverBank(prof, kind), prof, frame) if d.row >= 1000]
    assert after[0] == first


@pytest.mark.parametrize("kind, first", [("adwin", (1055, "colour", "share:red")),
                                         ("page_hinkley", (1027, "colour", "share:red"))])
def test_a_category_taking_over_is_found_at_a_pinned_row(kind, first):
    prof = profile()
    frame = stream(8, 3000)
    frame.loc[1000:, "colour"] = "red"
    after = [(d.row, d.column, d.test) for d in feed(RiverBank(prof, kind), prof, frame) if d.row >= 1000]
    assert after[0] == first


@pytest.mark.parametrize("seed", [0, 1])
def test_adwin_stays_quiet_on_a_control_stream(seed):
    prof = profile()
    assert feed(RiverBank(prof, "adwin"), prof, stream(seed, 10_000)) == []


def test_page_hinkley_with_rivers_defaults_cries_wolf_which_is_why_cusum_stays_the_default():
    prof = profile()
    assert len(feed(RiverBank(prof, "page_hinkley"), prof, stream(0, 10_000))) == 47  # on 7 detectors, 10k rows


@pytest.mark.parametrize("kind", ["adwin", "page_hinkley", "kswin"])
def test_saved_state_resumes_exactly_where_the_detectors_stopped(kind):
    prof = profile()
    frame = shifted(rows=2400 if kind != "kswin" else 1100)
    cut = 1000 if kind != "kswin" else 750
    one = RiverBank(prof, kind)
    feed(one, prof, frame.iloc[:cut])
    saved = json.loads(json.dumps(one.to_state()))  # what PostgreSQL keeps
    resumed = RiverBank(prof, kind)
    assert resumed.load_state(saved)
    resumed.seen = one.seen
    after_restart, uninterrupted = feed(resumed, prof, frame.iloc[cut:]), feed(one, prof, frame.iloc[cut:])
    assert after_restart == uninterrupted and [d for d in uninterrupted if d.column == "x3"]  # it still finds x3


def test_a_state_of_another_detector_or_river_version_starts_fresh():
    prof = profile()
    saved = RiverBank(prof, "adwin").to_state()
    assert not RiverBank(prof, "page_hinkley").load_state(saved)
    assert not RiverBank(prof, "adwin").load_state({**saved, "river": "0.0.1"})


def test_unknown_detector_is_refused():
    with pytest.raises(ValueError, match="adwin, kswin, page_hinkley"):
        RiverBank(profile(), "ddm")


def predictions(frame, t0=datetime(2026, 1, 5, tzinfo=UTC)):
    return [PredictionMade(source="t", subject="m", time=t0 + timedelta(seconds=i), data=dict(
        request_id=f"r{i}", model="m", model_version="1", features=row, predicted_class="1",
        probabilities={"0": 0.4, "1": 0.6}, latency_ms=1.0, channel="bus"))
            for i, row in enumerate(frame.to_dict("records"))]


def test_the_monitor_runs_river_by_configuration_and_its_alert_names_the_detector():
    config = MonitorConfig(window=WindowPolicy(events=500), detector="adwin")
    monitor = DriftMonitor(profile(), config)
    events = predictions(shifted(rows=2000))
    raised = []
    for start in range(0, len(events), 250):
        raised += [e for e in monitor.process(events[start:start + 250], {}).events if e.type.startswith("driftline.alert.raised")]
        if start == 1000:  # a restart between batches: the saved state (JSON, as stored) resumes River's detectors
            saved = json.loads(json.dumps(monitor.state_dict()))
            monitor = DriftMonitor(profile(), config)
            assert monitor.load_state(saved) and saved["detector"] == "adwin"
    [alert] = raised
    assert (alert.data.kind, alert.data.features, alert.data.detector) == ("data_drift", ["x3"], "adwin:change")
    assert "River ADWIN saw a change in change" in alert.data.summary and alert.data.details["detector"] == "adwin"
    assert alert.data.statistic == "river_drift"
    cusum = DriftMonitor(profile(), MonitorConfig(window=WindowPolicy(events=500)))
    assert not cusum.load_state(saved)  # another detector's state: the CUSUM bank starts fresh
