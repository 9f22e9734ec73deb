"""The served model: loaded by registry alias, swapped atomically, and called once per batch."""

from __future__ import annotations

import asyncio
import logging
import warnings
import weakref
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from inference import metrics
from inference.features import build_frame
from infra.models import LoadedModel, champion_version, load_version
from infra.settings import Settings

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Prediction:
    """One record's answer."""

    predicted_class: int | str
    probabilities: dict[str, float]


def _plain(value):
    """A numpy scalar as the Python value JSON and the event schema expect."""
    return value.item() if hasattr(value, "item") else value


# Models verified to give the same answer on a plain float matrix as on a DataFrame. sklearn validates feature
# names and dtypes of a DataFrame in every pipeline step (~2 ms a call here, against ~0.3 ms for the matrix).
_matrix_ok: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _matrix(records: Sequence[dict], features: list[str]) -> np.ndarray:
    return np.array([[record[name] for name in features] for record in records], dtype="float64")


def _proba_from_matrix(model: LoadedModel, matrix: np.ndarray) -> np.ndarray:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "X does not have valid feature names": the columns are in fit order
        return model.model.predict_proba(matrix)


def check_matrix_path(model: LoadedModel, records: Sequence[dict]) -> bool:
    """Use the fast matrix input for this model only if it is all numeric and answers exactly as with a frame."""
    ok = False
    if all(model.feature_types.get(name) in ("double", "float", "long", "integer") for name in model.features):
        names = getattr(model.model, "feature_names_in_", None)
        if names is None or list(names) == list(model.features):
            try:
                framed = model.model.predict_proba(build_frame(records, model.features, model.feature_types))
                ok = bool(np.allclose(framed, _proba_from_matrix(model, _matrix(records, model.features))))
            except Exception:
                ok = False
    try:
        _matrix_ok[model.model] = ok
    except TypeError:  # not weak-referenceable: keep the safe path
        pass
    return ok


def predict_batch(model: LoadedModel, records: Sequence[dict]) -> list[Prediction]:
    """Predict every record with one vectorized predict_proba call."""
    if _matrix_ok.get(model.model, False):
        proba = _proba_from_matrix(model, _matrix(records, model.features))
    else:
        proba = model.model.predict_proba(build_frame(records, model.features, model.feature_types))
    classes = [_plain(c) for c in (model.classes or range(proba.shape[1]))]
    names = [str(c) for c in classes]
    winners = proba.argmax(axis=1).tolist()
    return [
        Prediction(classes[best], dict(zip(names, row, strict=True)))
        for best, row in zip(winners, proba.tolist(), strict=True)
    ]


class ModelHolder:
    """Holds the champion in memory; a swap replaces one reference, so a batch in flight keeps its model."""

    def __init__(self, settings: Settings, loader: Callable[[Settings, str], LoadedModel] = load_version,
                 resolver: Callable[[Settings], str | None] | None = None):
        self.settings = settings
        self._loader = loader
        self._resolver = resolver or _champion
        self._lock = asyncio.Lock()
        self.current: LoadedModel | None = None

    @property
    def version(self) -> str | None:
        model = self.current
        return model.version if model else None

    def swap(self, model: LoadedModel) -> None:
        """Serve `model` from now on; batches already running finish on the old one."""
        _warm_up(model)
        old, self.current = self.current, model
        metrics.set_model_info(model.name, model.version, model.run_id)
        log.info("serving %s version %s (was %s)", model.name, model.version, old.version if old else None)

    async def load_alias(self) -> bool:
        """Serve whatever the champion alias points at; False when the registry has none yet."""
        version = await asyncio.to_thread(self._resolver, self.settings)
        if version is None:
            return False
        await self.load(version, "champion alias")
        return True

    async def load(self, version: str, reason: str) -> bool:
        """Load and swap to `version` unless it is already served; True when a swap happened."""
        async with self._lock:
            if version == self.version:
                return False
            try:
                model = await asyncio.to_thread(self._loader, self.settings, version)
            except Exception:
                metrics.MODEL_RELOADS.labels("failed").inc()
                log.exception("could not load %s version %s (%s); still serving %s", self.settings.model_name,
                              version, reason, self.version)
                return False
            self.swap(model)
            metrics.MODEL_RELOADS.labels("ok").inc()
            log.info("reloaded to version %s: %s", version, reason)
            return True


def _champion(settings: Settings) -> str | None:
    mv = champion_version(settings)
    return str(mv.version) if mv else None


def _warm_up(model: LoadedModel) -> None:
    """Call the model once before it serves, so the first request does not pay for lazy initialisation."""
    # Distinct values per column, so a model that would read columns in another order answers differently.
    samples = [
        {name: ("" if kind == "string" else False if kind == "boolean" else 0.1 * (j + 1) * (1 - 2 * row) + row)
         for j, (name, kind) in enumerate(model.feature_types.items())}
        for row in (0, 1)
    ]
    try:
        fast = check_matrix_path(model, samples)
        predict_batch(model, samples)
        log.info("version %s takes %s input", model.version, "matrix" if fast else "DataFrame")
    except Exception as exc:  # a model that rejects zeros still serves real records
        log.debug("warm-up of version %s skipped: %s", model.version, exc)
