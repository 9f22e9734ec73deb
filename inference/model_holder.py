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
from inference.fast_path import compile_model
from inference.features import build_frame
from infra.champion import forced
from infra.models import LoadedModel, champion_version, load_version
from infra.settings import Settings
from schemas import Event

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Prediction:
    """One record's answer."""

    predicted_class: int | str
    probabilities: dict[str, float]


class NonFiniteOutput(ValueError):
    """The model gave no finite probabilities for some records (values far outside what it was trained on make
    e.g. a linear model's sum overflow); `rows` are their indices in the call."""

    def __init__(self, rows: list[int]):
        super().__init__(f"the model gives no finite probabilities for record(s) {rows}: are the values far "
                         "outside the training range?")
        self.rows = rows


def _plain(value):
    """A numpy scalar as the Python value JSON and the event schema expect."""
    return value.item() if hasattr(value, "item") else value


# How each loaded model is called, chosen once at load by comparing answers with its own predict_proba on a
# DataFrame: "compiled" (inference.fast_path), "matrix" (predict_proba on a float matrix) or "frame".
_paths: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
_compiled: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
NUMERIC = ("double", "float", "long", "integer")


def _matrix(records: Sequence[dict], features: list[str]) -> np.ndarray:
    return np.array([[record[name] for name in features] for record in records], dtype="float64")


def _proba_from_matrix(model: LoadedModel, matrix: np.ndarray) -> np.ndarray:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "X does not have valid feature names": the columns are in fit order
        return model.model.predict_proba(matrix)


def choose_path(model: LoadedModel, records: Sequence[dict]) -> str:
    """The fastest way to call this model that answers exactly as predict_proba on a DataFrame does."""
    path = "frame"
    if all(model.feature_types.get(name) in NUMERIC for name in model.features):
        expected = model.model.predict_proba(build_frame(records, model.features, model.feature_types))
        matrix = _matrix(records, model.features)
        compiled = compile_model(model.model, model.features)
        names = getattr(model.model, "feature_names_in_", None)
        if compiled is not None and _same(expected, lambda: compiled(matrix)):
            path = "compiled"
        elif (names is None or list(names) == list(model.features)) and _same(
                expected, lambda: _proba_from_matrix(model, matrix)):
            path = "matrix"
        if path == "compiled":
            _compiled[model.model] = compiled
    try:
        _paths[model.model] = path
    except TypeError:  # not weak-referenceable: keep the safe path
        return "frame"
    return path



def _same(expected: np.ndarray, compute) -> bool:
    try:
        got = compute()
    except Exception:
        return False
    return got.shape == expected.shape and bool(np.allclose(got, expected, rtol=1e-6, atol=1e-9))


def predict_batch(model: LoadedModel, records: Sequence[dict]) -> list[Prediction]:
    """Predict every record with one vectorized call."""
    path = _paths.get(model.model, "frame")
    if path == "compiled":
        proba = _compiled[model.model](_matrix(records, model.features))
    elif path == "matrix":
        proba = _proba_from_matrix(model, _matrix(records, model.features))
    else:
        proba = model.model.predict_proba(build_frame(records, model.features, model.feature_types))
    finite = np.isfinite(proba)
    if not finite.all():  # NaN is no probability: JSON would carry null, and the event would be invalid
        raise NonFiniteOutput(np.flatnonzero(~finite.all(axis=1)).tolist())
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
        warm_up(model)
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

    async def follow(self, version: str | None, cause: Event | None) -> bool:
        """infra.champion.ChampionFollower's callback: the version a model event names, else the alias; a reload
        request loads again even the version already served."""
        if not version:
            version = await asyncio.to_thread(self._resolver, self.settings)
            if version is None:
                return False
        return await self.load(version, f"{cause.type} {cause.id}" if cause else "champion alias", force=forced(cause))

    async def load(self, version: str, reason: str, *, force: bool = False) -> bool:
        """Load and swap to `version` unless it is already served (or `force`); True when a swap happened."""
        async with self._lock:
            if version == self.version and not force:
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


def warm_up(model: LoadedModel) -> None:
    """Call the model once before it serves, so the first request does not pay for lazy initialisation."""
    # Distinct values per column, so a model that would read columns in another order answers differently.
    samples = [
        {name: ("" if kind == "string" else False if kind == "boolean" else 0.1 * (j + 1) * (1 - 2 * row) + row)
         for j, (name, kind) in enumerate(model.feature_types.items())}
        for row in (0, 1)
    ]
    try:
        path = choose_path(model, samples)
        predict_batch(model, samples)
        log.info("version %s is called through the %s path", model.version, path)
    except Exception as exc:  # a model that rejects zeros still serves real records
        log.debug("warm-up of version %s skipped: %s", model.version, exc)
