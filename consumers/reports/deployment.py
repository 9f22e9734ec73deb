"""The deployment report: every candidate, the chosen model, champion against challenger, the model's evidence."""

from __future__ import annotations

from collections.abc import Sequence

from consumers.reports import charts
from consumers.reports.audit_log import of_type
from consumers.reports.model_evidence import ModelEvidence
from infra import plots
from schemas import Event
from schemas.data import DataValidated
from schemas.model import ModelPromoted, ModelTrained

METRIC_ORDER = ("accuracy", "precision", "recall", "f1", "roc_auc")


def metric_names(*dicts: dict[str, float]) -> list[str]:
    names = {k for d in dicts for k in d}
    return [m for m in METRIC_ORDER if m in names] + sorted(names - set(METRIC_ORDER))


def compared_version(event: ModelPromoted) -> str:
    """The version a promotion decision was about (a declined one names the challenger separately)."""
    return getattr(event.data, "challenger_version", None) or event.data.version


def default_version(events: Sequence[Event]) -> str | None:
    """The version of the latest promotion that happened, when the registry cannot be asked."""
    promoted = [e for e in of_type(events, ModelPromoted) if e.data.promoted]
    return promoted[-1].data.version if promoted else None


def deployment_context(events: Sequence[Event], version: str, evidence: ModelEvidence | None) -> dict:
    """Events (and MLflow evidence, if any) about one version -> the template's context."""
    trained = [e for e in of_type(events, ModelTrained) if e.data.version == version]
    promotions = [e for e in of_type(events, ModelPromoted) if compared_version(e) == version]
    train = trained[-1] if trained else None
    promo = promotions[-1] if promotions else None
    validation = None
    if train is not None:
        matches = [e for e in of_type(events, DataValidated) if e.data.content_hash == train.data.dataset_hash]
        validation = matches[-1] if matches else None
    figures: list[dict] = []
    candidates, columns = [], []
    if train is not None:
        columns = metric_names(*(c.metrics for c in train.data.candidates))
        chosen = next((c for c in train.data.candidates if c.family == train.data.best_family), None)
        for c in train.data.candidates:
            candidates.append({"family": c.family, "run_id": c.run_id, "chosen": c is chosen,
                               "metrics": [c.metrics.get(m) for m in columns]})
        figures.append({"title": "Held-out metrics of every candidate",
                        "src": charts.grouped_bars({c.family: c.metrics for c in train.data.candidates},
                                                   "Candidates on the hold-out split", train.data.best_family),
                        "sources": [f"ModelTrained {train.id}"], "section": "training"})
    comparison = []
    if promo is not None and (promo.data.champion_metrics or promo.data.challenger_metrics):
        d = promo.data
        for m in metric_names(d.challenger_metrics, d.champion_metrics):
            new, old = d.challenger_metrics.get(m), d.champion_metrics.get(m)
            comparison.append({"metric": m, "challenger": new, "champion": old,
                               "delta": None if new is None or old is None else new - old})
        series = {f"challenger v{d.version}": d.challenger_metrics}
        if d.champion_metrics:
            series["champion" + (f" v{d.previous_version}" if d.previous_version else "")] = d.champion_metrics
        figures.append({"title": "Champion against challenger", "src": charts.grouped_bars(series, "Same hold-out rows"),
                        "sources": [f"ModelPromoted {promo.id}"], "section": "comparison"})
    if evidence is not None:
        source = [f"MLflow run {evidence.run_id} (version {evidence.version})"] + ([f"ModelTrained {train.id}"]
                                                                                   if train else [])
        if evidence.confusion is not None:
            rows = f" on {evidence.holdout_rows} hold-out rows" if evidence.holdout_rows else ""
            figures.append({"title": f"Confusion matrix{rows}", "half": True, "section": "evidence", "sources": source,
                            "src": plots.data_uri(plots.confusion(evidence.confusion, evidence.labels,
                                                                  "Confusion matrix"))})
        elif "confusion" in evidence.images:
            figures.append({"title": "Confusion matrix (logged by the trainer)", "src": evidence.images["confusion"],
                            "sources": source, "half": True, "section": "evidence"})
        if evidence.importance is not None:
            figures.append({"title": "Feature importance", "half": True, "section": "evidence", "sources": source,
                            "src": plots.data_uri(plots.importance(dict(zip(*evidence.importance, strict=True)),
                                                                   "Top features"))})
        elif "importance" in evidence.images:
            figures.append({"title": "Feature importance (logged by the trainer)", "src": evidence.images["importance"],
                            "sources": source, "half": True, "section": "evidence"})
    return {
        "kind": "deployment", "title": f"Deployment report: {train.data.model if train else 'model'} v{version}",
        "version": version, "train": train, "promotion": promo, "validation": validation,
        "candidates": candidates, "columns": columns, "comparison": comparison, "evidence": evidence,
        "figures": figures, "source_ids": [e.id for e in (train, promo, validation) if e is not None],
    }
