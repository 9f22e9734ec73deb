"""One report built (and logged to MLflow) in a process of its own: `python -m driftline.report_job KIND ID
--not-before EPOCH [--log VERSION|-]`, the path of the stored PDF on stdout.

The notifier runs its reports this way: WeasyPrint, matplotlib and MLflow's model evidence took its resident memory
from ~110 MB to ~410 MB after the first report and kept it there (measured with bench/soak.py); a process that
ends gives it all back."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys

from consumers.reports.builder import ReportBuilder
from consumers.reports.service import AutoReports
from infra.bus import Bus
from infra.logs import configure_logging
from infra.models import configure_mlflow
from infra.nats_auth import credential_for
from infra.settings import Settings


async def build(settings: Settings, kind: str, ident: str, not_before: float, log_as: str | None) -> str:
    # the notifier's own build, on the notifier's credential (its permissions: the streams its reports read)
    bus = await Bus.connect(settings.resolved_nats_url, name="driftline-report-job",
                            credential=credential_for(settings, "notifier"))
    try:
        builder = ReportBuilder(settings, bus.js)
        if log_as is None:
            path = await builder.ensure(kind, ident, not_before=not_before)
        else:
            path = await AutoReports(settings, builder).publish_here(kind, ident, not_before, log_as or None)
        return str(path)
    finally:
        await bus.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("kind")
    parser.add_argument("ident")
    parser.add_argument("--not-before", type=float, default=0.0, help="rebuild a stored copy older than this (epoch s)")
    parser.add_argument("--log", dest="log_as", default=None,
                        help="also log it to MLflow (when settings say so) for this model version ('-': none)")
    args = parser.parse_args()
    settings = Settings()
    configure_logging(settings.log_level, settings.log_json)
    configure_mlflow(settings)
    try:
        print(asyncio.run(build(settings, args.kind, args.ident, args.not_before,
                                None if args.log_as is None else args.log_as.replace("-", ""))))
    except LookupError as exc:
        logging.getLogger("driftline.report_job").error("%s report %s: %s", args.kind, args.ident, exc)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
