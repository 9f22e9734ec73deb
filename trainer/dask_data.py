"""A data set as Dask partitions: read on the workers, profiled and validated part by part, never whole in
the trainer's process.

Every column is read as text, as pandas would read a polluted column: the contract then decides which columns
are numbers (`trainer.contract`), and each partition is checked by the same `trainer.validation.check_part` a
frame in memory goes through, its findings merged into one verdict.
"""

from __future__ import annotations

import hashlib
import operator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from schemas.data import CheckFailure
from trainer.contract import Contract, from_profile, profile_cap
from trainer.datasets import BUILTIN_PREFIX, NA_VALUES, DatasetError, clean_frame, load_dataset
from trainer.profiles import FrameProfile
from trainer.validation import check_part, merge_parts


def _typed_target(part: pd.DataFrame, target: str, classes: list[Any]) -> pd.DataFrame:
    """Labels read as text ("0", "yes") become the contract's classes (0, "yes"); others stay, to fail isin."""
    lookup = {str(c): c for c in classes}
    lookup.update({str(int(c)): c for c in classes if isinstance(c, float) and c.is_integer()})
    part = part.copy()
    labels = part[target]
    typed = labels.astype(str).map(lookup)
    part[target] = typed.where(typed.notna() | labels.isna(), labels).where(labels.notna())
    if all(isinstance(c, int) and not isinstance(c, bool) for c in classes) and part[target].map(type).eq(int).all():
        part[target] = part[target].astype("int64")
    return part


def digest(part: pd.DataFrame) -> str:
    """sha256 of one partition's content (row hashes of every column, in order)."""
    hasher = hashlib.sha256("\x1f".join(map(str, part.columns)).encode())
    hasher.update(pd.util.hash_pandas_object(part, index=False).to_numpy().tobytes())
    return hasher.hexdigest()


def _check(part: pd.DataFrame, contract: Contract):
    typed = _typed_target(part, contract.target, contract.classes) if contract.target in part else part
    valid, findings = check_part(typed, contract)
    return valid, findings, digest(part)


@dataclass
class Checked:
    """The verdict on all partitions, and (when it passed) the coerced partitions, held by the workers."""

    failures: list[CheckFailure]
    summary: dict[str, Any]
    rows: int
    content_hash: str
    partitions: int
    frame: Any = None  # dask DataFrame of the coerced data, features then target; None when rejected


class PartitionedData:
    """A CSV file (or a builtin data set) as a Dask DataFrame of text columns, read where the workers are."""

    def __init__(self, client, frame, source: str, target: str):
        self.client, self.frame, self.source, self.target = client, frame, source, target

    @classmethod
    def open(cls, client, spec: str, target: str | None, blocksize: str) -> PartitionedData:
        import dask
        import dask.dataframe as dd

        from trainer.datasets import legacy_names

        if spec.startswith(BUILTIN_PREFIX):  # small by nature: loaded here, cut into partitions
            dataset = load_dataset(spec, target)
            frame = dd.from_pandas(dataset.frame.astype(object), npartitions=2)
            return cls(client, frame, spec, dataset.target)
        if not Path(spec).is_file():
            raise DatasetError(f"data set file {spec} does not exist")
        if not target:
            raise DatasetError("a CSV data set needs --target COLUMN")
        with dask.config.set({"dataframe.convert-string": False}):  # plain text, as pandas reads it
            try:
                frame = dd.read_csv(spec, dtype=object, blocksize=blocksize, skipinitialspace=True, na_values=NA_VALUES)
            except (pd.errors.ParserError, UnicodeDecodeError, pd.errors.EmptyDataError, ValueError) as exc:
                raise DatasetError(f"cannot read {spec} as CSV: {exc}") from exc
        frame = frame.map_partitions(clean_frame)
        target = legacy_names([target], list(frame.columns)).get(target, target)  # names as the data has them
        if target not in frame.columns:
            raise DatasetError(f"target column {target!r} is not in the data set (columns: {', '.join(frame.columns)})")
        return cls(client, frame, spec, target)

    def _each(self, fn, *args) -> list:
        from dask import delayed

        return self.client.compute([delayed(fn)(part, *args) for part in self.frame.to_delayed()])

    def infer(self, settings) -> Contract:
        """The contract inferred from profiles of every partition, merged (no partition leaves its worker)."""
        cap = profile_cap(settings)
        profiles = self.client.gather(self._each(FrameProfile.of, self.target, cap))
        merged = profiles[0]
        for profile in profiles[1:]:
            merged = merged.merged(profile, cap)
        return from_profile(merged, settings, target=self.target, source=self.source)

    def check(self, contract: Contract) -> Checked:
        """Validate every partition against the contract; keep the coerced partitions on the workers if all pass."""
        import dask.dataframe as dd

        results = self._each(_check, contract)
        findings = self.client.gather([self.client.submit(operator.itemgetter(1), r) for r in results])
        digests = self.client.gather([self.client.submit(operator.itemgetter(2), r) for r in results])
        failures, summary = merge_parts(findings, contract)
        content_hash = hashlib.sha256("".join(digests).encode()).hexdigest()
        checked = Checked(failures, summary, summary["rows"], content_hash, len(results))
        if not failures:
            parts = [self.client.submit(operator.itemgetter(0), r) for r in results]
            meta = self.client.submit(lambda p: p.iloc[0:0], parts[0]).result()
            checked.frame = dd.from_delayed(parts, meta=meta, verify_meta=False)
        del results  # the workers keep the coerced partitions (held by `parts`) and drop the tuples
        return checked
