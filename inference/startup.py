"""What the gateway and worker wirings share: waiting for a first champion, then settling the heap."""

from __future__ import annotations

import asyncio
import gc
import logging

from inference.model_holder import ModelHolder

log = logging.getLogger(__name__)


async def load_first_model(holder: ModelHolder, stop: asyncio.Event, every_s: float = 2.0) -> None:
    """Load the champion, waiting (and saying so) while the registry has none, e.g. during the first training."""
    said = False
    while not stop.is_set() and holder.current is None:
        try:
            if await holder.load_alias():
                settle_heap()
                return
        except Exception as exc:
            log.warning("could not load the champion yet: %r", exc)
        if not said:
            log.info("no champion in the registry yet; waiting (train one with `driftline train`)")
            said = True
        try:
            await asyncio.wait_for(stop.wait(), timeout=every_s)
        except TimeoutError:
            pass


def settle_heap() -> None:
    """Move everything loaded so far (MLflow, pandas, sklearn, the model: about a million objects) out of the
    garbage collector's sight; otherwise each full collection walks them all, a pause of tens of ms on a request."""
    gc.collect()
    gc.freeze()
