"""The Dask cluster a training runs on: the configured scheduler, or a LocalCluster on 127.0.0.1 for one run.

Everything binds to 127.0.0.1 over TCP with no dashboard. That is also what keeps Dask from probing an outside
address: `distributed.utils.get_ip()` "connects" a UDP socket to 8.8.8.8 to pick a local address whenever no
host is given (the in-process `inproc://` transport always does), which on a machine without a network warns
"Couldn't detect a suitable IP address" and falls back to resolving the host name, a DNS wait where no resolver
answers. With an explicit 127.0.0.1 host the only probe is of 127.0.0.1 itself (tests/e2e run a training in a
network namespace with nothing but loopback to hold this).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager

from infra.settings import Settings

log = logging.getLogger("trainer.dask")
LOOPBACK = "127.0.0.1"
CONNECT_TIMEOUT_S = 10


class ClusterUnreachable(RuntimeError):
    """No Dask scheduler answered at the configured address."""


def local_cluster(workers: int, *, threads: int = 1, local_directory: str | None = None):
    """A LocalCluster of worker processes (XGBoost's and LightGBM's collectives need one process per worker)."""
    from dask.distributed import LocalCluster

    return LocalCluster(n_workers=workers, threads_per_worker=threads, processes=True, host=LOOPBACK,
                        protocol="tcp://", dashboard_address=None, local_directory=local_directory)


def quiet() -> None:
    """A training's output is the trainer's: the LocalCluster's start-up and shutdown chatter (INFO) and each
    shuffle's start and end (logged as warnings) stay out of it; LightGBM's Python side prints to stdout unless
    it is given a logger."""
    logging.getLogger("distributed").setLevel(logging.WARNING)
    logging.getLogger("distributed.shuffle").setLevel(logging.ERROR)
    quiet_lightgbm()


def quiet_lightgbm() -> None:
    """LightGBM's messages (its C++ side too: "[LightGBM] [Info] Connected to rank 1") as DEBUG log records."""
    import lightgbm

    logger = logging.getLogger("lightgbm")
    if not any(isinstance(f, _NoThreadsNotice) for f in logger.filters):
        logger.addFilter(_NoThreadsNotice())
    lightgbm.register_logger(logger, info_method_name="debug")


class _NoThreadsNotice(logging.Filter):
    # lightgbm.dask says it ignores n_jobs even when n_jobs is None: Dask gives each worker its own threads.
    def filter(self, record: logging.LogRecord) -> bool:
        return "Parameter n_jobs will be ignored" not in record.getMessage()


@contextmanager
def connect(settings: Settings) -> Iterator:
    """A Client on the configured scheduler, or on a LocalCluster that lives as long as the block."""
    from dask.distributed import Client

    quiet()
    if settings.dask_scheduler:
        log.info("training on the Dask cluster at %s", settings.dask_scheduler)
        try:
            client = Client(settings.dask_scheduler, set_as_default=False, timeout=f"{CONNECT_TIMEOUT_S}s")
        except OSError as exc:
            raise ClusterUnreachable(
                f"no Dask scheduler answered at {settings.dask_scheduler} within {CONNECT_TIMEOUT_S} s ({exc}); start "
                "one (`dask scheduler`, then `dask worker ADDRESS`) or leave --scheduler unset for a local cluster"
            ) from None
        try:
            client.run(quiet_lightgbm)
            yield client
        finally:
            client.close()
        return
    scratch = settings.data_dir.resolve() / "dask"
    scratch.mkdir(parents=True, exist_ok=True)
    with local_cluster(settings.dask_workers, local_directory=str(scratch)) as cluster:
        log.info("training on a LocalCluster of %d workers at %s", settings.dask_workers, cluster.scheduler_address)
        with Client(cluster, set_as_default=False) as client:
            client.run(quiet_lightgbm)
            yield client
