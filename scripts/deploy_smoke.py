"""Smoke test of a deployed gateway: what CI's deploy job checks after Render deploys, and what
scripts/topology.sh checks against the local topology. Standard library only (it runs on a bare CI runner).

Usage: python3 scripts/deploy_smoke.py --url URL [--image REF] [--report FILE] [--wait SECONDS]
The API key comes from DRIFTLINE_SMOKE_API_KEY (one of the gateway's DRIFTLINE_API_KEYS), never a flag.
Checks, in order: /health answers (waiting up to --wait for the deploy to go live), /ready (a champion is loaded),
/model names the features, /predict with the key answers a class and a model version, /predict without a key is
refused with 401. Writes the report as JSON (read by scripts/deploy_report.py) and exits 1 if any check failed.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import urllib.error
import urllib.request
from datetime import UTC, datetime


class Checks:
    def __init__(self):
        self.results: list[dict] = []

    def run(self, name: str, check) -> object:
        started = time.monotonic()
        try:
            value = check()
            self.results.append({"check": name, "ok": True, "ms": round((time.monotonic() - started) * 1000, 1),
                                 "detail": str(value)[:300]})
            return value
        except Exception as exc:  # every failure is one line of the report, then the run stops
            self.results.append({"check": name, "ok": False, "ms": round((time.monotonic() - started) * 1000, 1),
                                 "detail": f"{type(exc).__name__}: {exc}"[:300]})
            raise


def get(url: str, timeout: float = 10) -> tuple[int, bytes]:
    with urllib.request.urlopen(url, timeout=timeout) as reply:
        return reply.status, reply.read()


def wait_for(url: str, seconds: float) -> str:
    deadline, last = time.monotonic() + seconds, None
    while True:
        try:
            status, _ = get(url)
            return f"{status} after {seconds - (deadline - time.monotonic()):.0f}s"
        except (urllib.error.URLError, OSError) as exc:
            last = exc
        if time.monotonic() > deadline:
            raise TimeoutError(f"{url} did not answer within {seconds:.0f}s (last: {last})")
        time.sleep(5)


def post_predict(base: str, features: dict, key: str | None) -> dict:
    headers = {"Content-Type": "application/json", **({"X-API-Key": key} if key else {})}
    request = urllib.request.Request(f"{base}/predict", data=json.dumps({"features": features}).encode(),
                                     headers=headers)
    with urllib.request.urlopen(request, timeout=15) as reply:
        return json.load(reply)


def smoke(base: str, key: str | None, wait_s: float, checks: Checks) -> None:
    checks.run("health", lambda: wait_for(f"{base}/health", wait_s))
    checks.run("ready (a champion is loaded)", lambda: wait_for(f"{base}/ready", wait_s))
    model = checks.run("model", lambda: json.loads(get(f"{base}/model")[1]))
    features = {name: 1.0 for name in model["features"]}

    def predicted() -> dict:
        answer = post_predict(base, features, key)
        if "predicted_class" not in answer or not answer.get("model_version"):
            raise AssertionError(f"no class or model version in {answer}")
        return {k: answer[k] for k in ("predicted_class", "model_version")}

    checks.run("predict with the API key", predicted)

    def refused() -> str:
        try:
            post_predict(base, features, None)
        except urllib.error.HTTPError as exc:
            if exc.code == 401:
                return "401"
            raise AssertionError(f"answered {exc.code}, not 401")
        raise AssertionError("served a request without an API key")

    checks.run("predict without a key is refused", refused)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", required=True, help="the deployed gateway, e.g. https://driftline-gateway.onrender.com")
    parser.add_argument("--image", default="", help="the image reference deployed (recorded in the report)")
    parser.add_argument("--report", default="", help="write the report as JSON here")
    parser.add_argument("--wait", type=float, default=600, help="seconds to wait for /health and /ready")
    args = parser.parse_args(argv)
    if not args.url.startswith(("http://", "https://")):
        parser.error(f"--url must be an http(s) URL, not {args.url!r}")
    key = os.environ.get("DRIFTLINE_SMOKE_API_KEY") or None
    checks, started = Checks(), datetime.now(UTC)
    try:
        smoke(args.url.rstrip("/"), key, args.wait, checks)
        ok = True
    except Exception:
        ok = False
    report = {"url": args.url, "image": args.image, "commit": os.environ.get("GITHUB_SHA", ""), "ok": ok,
              "started": started.isoformat(), "finished": datetime.now(UTC).isoformat(), "checks": checks.results}
    if args.report:
        with open(args.report, "w") as out:
            json.dump(report, out, indent=2)
    for result in checks.results:
        print(f"{'ok  ' if result['ok'] else 'FAIL'} {result['check']:<36} {result['ms']:>9.1f} ms  {result['detail']}")
    print(json.dumps({"step": "deploy-smoke", "ok": ok, "checks": len(checks.results)}))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
