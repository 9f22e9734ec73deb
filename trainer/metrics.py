"""Held-out metrics of a classifier, computed the same way for candidates and for the champion."""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.metrics import accuracy_score, confusion_matrix, f1_score, precision_score, recall_score, roc_auc_score

METRICS = ("accuracy", "precision", "recall", "f1", "roc_auc")


def score(y_true, proba: np.ndarray, classes: list[Any]) -> dict[str, float]:
    """accuracy, precision, recall, F1 and ROC AUC from class probabilities (columns in `classes` order).

    Binary: the positive class is the second of `classes`; more classes: macro averages, one-vs-rest AUC.
    """
    y_true = np.asarray(y_true)
    proba = np.asarray(proba, dtype=float)
    y_pred = predicted(proba, classes)
    binary = len(classes) == 2
    kw = {"pos_label": classes[1], "average": "binary"} if binary else {"average": "macro"}
    present = len(np.unique(y_true)) > 1
    if binary:
        auc = roc_auc_score(y_true == classes[1], proba[:, 1]) if present else float("nan")
    else:
        auc = roc_auc_score(y_true, proba, multi_class="ovr", labels=classes) if present else float("nan")
    return {
        "accuracy": float(accuracy_score(y_true, y_pred)),
        "precision": float(precision_score(y_true, y_pred, zero_division=0, **kw)),
        "recall": float(recall_score(y_true, y_pred, zero_division=0, **kw)),
        "f1": float(f1_score(y_true, y_pred, zero_division=0, **kw)),
        "roc_auc": float(auc),
    }


def predicted(proba: np.ndarray, classes: list[Any]) -> np.ndarray:
    """The most probable class per row, as labels of the same kind as `classes`."""
    return np.asarray(classes)[np.asarray(proba).argmax(axis=1)]


def confusion(y_true, proba: np.ndarray, classes: list[Any]) -> list[list[int]]:
    return confusion_matrix(np.asarray(y_true), predicted(proba, classes), labels=list(classes)).tolist()


def proba_for(model, frame, classes: list[Any]) -> np.ndarray:
    """A model's probabilities with columns in `classes` order (a champion may order its classes differently)."""
    proba = np.asarray(model.predict_proba(frame), dtype=float)
    own = list(getattr(model, "classes_", classes))
    if own == list(classes):
        return proba
    out = np.zeros((len(proba), len(classes)))
    for j, label in enumerate(classes):
        if label in own:
            out[:, j] = proba[:, own.index(label)]
    return out
