"""One incident as the browser test shows it, made by the real parts: a logistic regression on the built-in data, the
monitor's impact measure on a window where two features moved, the diagnoser's verdict and the gate's request under
the shipped policy. Seeded, so the pictures in the README stay the same from run to run."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

import numpy as np
import pandas as pd

from agent.diagnoser import diagnose
from agent.evidence import Evidence
from agent.gate import plan
from agent.policy import load_policy
from consumers.monitor.impact import build, window_impact
from schemas import AlertRaised, ApprovalRequested, DiagnosisMade, DriftReported
from schemas.envelope import utcnow

DRIFTED = {"worst radius": 0.8, "mean concave points": 0.5}  # feature -> shift in reference standard deviations
SHOWN = ("worst radius", "mean concave points", "mean radius", "mean texture", "worst area", "mean smoothness",
         "worst symmetry", "mean fractal dimension")
WINDOWS, DRIFT_FROM, EVENTS = 10, 6, 500


@dataclass
class Story:
    reference: pd.DataFrame
    current: pd.DataFrame
    reports: list[DriftReported]
    alert: AlertRaised
    diagnosis: DiagnosisMade
    request: ApprovalRequested


def _data(seed: int) -> tuple[pd.DataFrame, pd.Series, object]:
    from sklearn.datasets import load_breast_cancer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    data = load_breast_cancer(as_frame=True)
    frame = data.frame[list(SHOWN)]
    model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=500, random_state=seed)).fit(frame, data.target)
    return frame, data.target, model


def _window(reference: pd.DataFrame, rng: np.random.Generator, drifting: bool) -> pd.DataFrame:
    rows = reference.sample(EVENTS, replace=True, random_state=int(rng.integers(1 << 30))).reset_index(drop=True)
    rows = rows + rng.normal(0, 0.02, rows.shape) * reference.std().to_numpy()
    if drifting:
        for feature, sds in DRIFTED.items():
            rows[feature] = rows[feature] + sds * reference[feature].std()
    return rows


def _counts(y_true: np.ndarray, y_pred: np.ndarray) -> dict[str, float]:
    tp, fp = int(((y_pred == 1) & (y_true == 1)).sum()), int(((y_pred == 1) & (y_true == 0)).sum())
    fn, tn = int(((y_pred == 0) & (y_true == 1)).sum()), int(((y_pred == 0) & (y_true == 0)).sum())
    return {"tp": tp, "fp": fp, "fn": fn, "tn": tn, "labelled": float(tp + fp + fn + tn)}


def make(model_name: str, seed: int = 7) -> Story:
    reference, target, model = _data(seed)
    rng = np.random.default_rng(seed)
    impact_model = build(lambda rows: model.predict_proba(rows[list(SHOWN)])[:, 1], reference, list(SHOWN), seed=seed)
    truth = make_truth(reference, target)
    start = utcnow() - timedelta(minutes=5 * WINDOWS)
    reports, window = [], reference
    for i in range(WINDOWS):
        drifting = i >= DRIFT_FROM
        window = _window(reference, rng, drifting)
        proba = model.predict_proba(window)[:, 1]
        labelled = window.iloc[: 80 + 30 * i]
        quality = {**_counts(truth(labelled), (proba[: len(labelled)] >= 0.5).astype(int)),
                   "reference_f1": 0.96, "reference_accuracy": 0.95}
        features = []
        for feature in SHOWN:
            level = abs(rng.normal(0.25, 0.1)) + (0.45 * (i - DRIFT_FROM + 1) if drifting and feature in DRIFTED
                                                  else 0.0)
            features.append(dict(feature=feature, statistic="cusum", value=round(level, 3), threshold=1.0,
                                 drifted=level > 1.0, detector="cusum:mean"))
        drifted = [f["feature"] for f in features if f["drifted"]]
        impact = window_impact(impact_model, window.to_dict("records"), drifted, float(np.mean(proba >= 0.5)), "1")
        reports.append(DriftReported(source="consumers/monitor", subject=model_name, time=start + timedelta(minutes=5 * i + 4),
                                     data=dict(model=model_name, model_version="1", features=features,
                                               share_drifted=len(drifted) / len(SHOWN),
                                               window=dict(start=start + timedelta(minutes=5 * i),
                                                           end=start + timedelta(minutes=5 * i + 4), events=EVENTS,
                                                           labelled=int(quality["labelled"])),
                                               quality=quality, report_url=f"evidently/w{i}.html", impact=impact)))
    last = reports[-1].data
    alert = AlertRaised(source="consumers/monitor", subject=model_name, data=dict(
        kind="data_drift", model=model_name, model_version="1", fingerprint=f"data_drift:{model_name}",
        features=sorted(DRIFTED), statistic="cusum_llr", value=12.6, threshold=11.5, window=last.window,
        detector="cusum:mean", report_url=f"evidently/w{WINDOWS - 1}.html",
        summary=f"Data drift on {model_name} v1: {', '.join(sorted(DRIFTED))}."))
    evidence = Evidence(version="1")
    for report in reports[DRIFT_FROM:]:
        evidence.add_report(report.data)
    diagnosis = diagnose(alert, load_policy(), evidence)
    request = next(r for r in plan(diagnosis, load_policy()).requests if r.data.action.kind == "retrain_model")
    return Story(reference, window, reports, alert, diagnosis, request)


def make_truth(reference: pd.DataFrame, target: pd.Series):
    """The label relation the world keeps under covariate shift: a nearest reference row's label (so a shifted row
    is labelled as the reference rows it now resembles, and the model is wrong where it extrapolates)."""
    from sklearn.neighbors import KNeighborsClassifier

    knn = KNeighborsClassifier(n_neighbors=5).fit((reference - reference.mean()) / reference.std(), target)
    return lambda rows: knn.predict((rows - reference.mean()) / reference.std())
