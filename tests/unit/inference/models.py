"""In-memory models shaped like infra.models.LoadedModel, for tests that need no registry."""

from __future__ import annotations

from functools import cache

from infra.models import LoadedModel


@cache
def breast_cancer():
    from tests.model_fixtures import breast_cancer_frame

    frame = breast_cancer_frame()
    return frame.drop(columns="target"), frame["target"]


def memory_model(version: str = "1", C: float = 1.0, name: str = "driftline-classifier") -> LoadedModel:
    """A fitted scaler + logistic regression pipeline on breast cancer, as a LoadedModel."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    x, y = breast_cancer()
    pipeline = make_pipeline(StandardScaler(), LogisticRegression(C=C, max_iter=500)).fit(x, y)
    features = list(x.columns)
    return LoadedModel(name=name, version=version, run_id=f"run-{version}", model=pipeline, features=features,
                       feature_types={c: "double" for c in features}, classes=list(pipeline.classes_))


def records(n: int, start: int = 0) -> list[dict]:
    x, _ = breast_cancer()
    return x.iloc[start:start + n].to_dict("records")
