"""Shadow-test benchmark: the paired sequential test the runtime uses against a fixed-sample paired test and a
plain A/B split, on simulated labelled pairs.

    .venv/bin/python bench/bench_shadow.py [--runs 2000] [--alpha 0.05] [--budget 5000] [--prior 1,2,5]
    .venv/bin/python bench/bench_shadow.py --cost [--cost-rounds 5] [--round-seconds 5] [--requests 20000]

With --cost, after the test's figures, what shadowing one challenger costs, measured on one nats-server and one
MLflow store (bench_http.py's and bench_bus.py's own shadow runs, side by side): the gateway's p50/p99 at one
connection with and without the challenger in its shadow (target: at most +1 ms p99), and a worker's predictions/s
with and without (target: at least 80%); then the issue's shadow targets in one table.

Setting (the issue's numbers): the champion is right on 90% of rows, the challenger on 92%; they disagree on 5%
of rows (3.5% only the challenger right, 1.5% only the champion). With a two-sided 5% test and 80% power this needs
[1.96 sqrt(0.05) + 0.84 sqrt(0.05 - 0.02^2)]^2 / 0.02^2 = 979 pairs for McNemar's fixed-sample paired test and
(1.96 + 0.84)^2 (0.9 x 0.1 + 0.92 x 0.08) / 0.02^2 = 3,211 rows per arm for a two-proportion A/B test: the issue's
"about 980" and "about 3,200 per arm". No difference: both right on 90%, disagreeing on 5% (2.5% each way).

Every run of ours goes through consumers/monitor/sequential.ShadowTest.update (the runtime's code), one pair at a
time in effect (vectorised over the run). The peers are run on the same pairs: McNemar once at 979 pairs, McNemar
looked at every 100 pairs (what a dashboard invites: stop at the first significant look), and an A/B split with
3,211 fresh rows per arm.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
from scipy.stats import norm

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))  # bench_http and bench_bus import their neighbours so

from consumers.monitor.sequential import KEEP, PROMOTE, ShadowTest  # noqa: E402

CHAMPION_ACC, BETTER_ACC, DISCORDANT = 0.90, 0.92, 0.05


def pair_probs(delta: float) -> list[float]:
    """P(only challenger right), P(only champion right), P(both right), P(both wrong)."""
    only_challenger, only_champion = (DISCORDANT + delta) / 2, (DISCORDANT - delta) / 2
    both = CHAMPION_ACC - only_champion
    return [only_challenger, only_champion, both, 1 - both - DISCORDANT]


def pairs(runs: int, n: int, delta: float, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """(champion correct, challenger correct), runs x n."""
    kind = rng.choice(4, size=(runs, n), p=pair_probs(delta))
    return (kind == 1) | (kind == 2), (kind == 0) | (kind == 2)


def fixed_n(alpha: float, power: float = 0.8, delta: float = BETTER_ACC - CHAMPION_ACC) -> tuple[int, int]:
    za, zb = norm.ppf(1 - alpha / 2), norm.ppf(power)
    paired = (za * np.sqrt(DISCORDANT) + zb * np.sqrt(DISCORDANT - delta ** 2)) ** 2 / delta ** 2
    ab = (za + zb) ** 2 * (CHAMPION_ACC * (1 - CHAMPION_ACC) + BETTER_ACC * (1 - BETTER_ACC)) / delta ** 2
    return int(np.ceil(paired)), int(np.ceil(ab))


def mcnemar_promotes(champion: np.ndarray, challenger: np.ndarray, alpha: float) -> np.ndarray:
    """Two-sided McNemar z-test at the end of the rows given; promotes when significant and the challenger leads."""
    b = (challenger & ~champion).sum(axis=-1)
    c = (champion & ~challenger).sum(axis=-1)
    z = (b - c) / np.sqrt(np.maximum(b + c, 1))
    return z > norm.ppf(1 - alpha / 2)


def peeking_promotes(champion: np.ndarray, challenger: np.ndarray, alpha: float, every: int) -> np.ndarray:
    b = np.cumsum(challenger & ~champion, axis=1)[:, every - 1::every]
    c = np.cumsum(champion & ~challenger, axis=1)[:, every - 1::every]
    z = (b - c) / np.sqrt(np.maximum(b + c, 1))
    return (z > norm.ppf(1 - alpha / 2)).any(axis=1)


def ab_promotes(runs: int, n: int, delta: float, alpha: float, rng: np.random.Generator) -> np.ndarray:
    a = rng.binomial(n, CHAMPION_ACC, size=runs) / n
    b = rng.binomial(n, CHAMPION_ACC + delta, size=runs) / n
    pooled = (a + b) / 2
    z = (b - a) / np.sqrt(np.maximum(2 * pooled * (1 - pooled) / n, 1e-12))
    return z > norm.ppf(1 - alpha / 2)


def ours(champion: np.ndarray, challenger: np.ndarray, alpha: float, budget: int, prior: float) -> list[ShadowTest]:
    tests = []
    for run in range(len(champion)):
        test = ShadowTest(alpha=alpha, budget=budget, prior=prior)
        test.update(champion[run], challenger[run])
        tests.append(test)
    return tests


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=2000, help="simulated runs per setting (>= 1,000)")
    parser.add_argument("--alpha", type=float, default=0.05)
    parser.add_argument("--budget", type=int, default=5000, help="labelled pairs before 'inconclusive'")
    parser.add_argument("--prior", default="2", help="Beta(a, a) prior(s) of the mixture, comma-separated")
    parser.add_argument("--seed", type=int, default=17)
    parser.add_argument("--cost", action="store_true", help="then the shadow's cost on the gateway and the bus")
    parser.add_argument("--cost-rounds", type=int, default=5, help="interleaved with/without rounds of each cost run")
    parser.add_argument("--round-seconds", type=float, default=5.0, help="seconds per gateway round (1 connection)")
    parser.add_argument("--requests", type=int, default=20_000, help="requests per bus burst")
    args = parser.parse_args()
    rng = np.random.default_rng(args.seed)
    delta = BETTER_ACC - CHAMPION_ACC
    n_paired, n_ab = fixed_n(args.alpha)
    started = time.perf_counter()
    null = pairs(args.runs, args.budget, 0.0, rng)
    better = pairs(args.runs, args.budget, delta, rng)
    print(f"{args.runs:,} runs per setting; champion accuracy {CHAMPION_ACC:.2f}, challenger {BETTER_ACC:.2f} "
          f"(or the same), discordance {DISCORDANT:.0%}; alpha {args.alpha}; budget {args.budget:,} labelled pairs\n")
    head = f"{'test':<44} {'false promotions':>16} {'power':>7} {'labelled rows to promote (p25/median/p75)':>42}"
    print(head)
    print("-" * len(head))
    medians, falses = {}, {}
    for prior in (float(p) for p in args.prior.split(",")):
        t0 = time.perf_counter()
        null_tests = ours(*null, args.alpha, args.budget, prior)
        better_tests = ours(*better, args.alpha, args.budget, prior)
        seconds = time.perf_counter() - t0
        false = np.mean([t.decision == PROMOTE for t in null_tests])
        at = np.array([t.decided_at if t.decision == PROMOTE else np.inf for t in better_tests], dtype=float)
        p25, med, p75 = np.percentile(at, [25, 50, 75])
        medians[prior], falses[prior] = med, false
        power = np.isfinite(at).mean()
        print(f"{f'sequential, paired (ours, Beta({prior:g},{prior:g}) mixture)':<44} {false:>16.2%} {power:>7.1%} "
              f"{f'{p25:,.0f} / {med:,.0f} / {p75:,.0f} pairs':>42}")
        keep = np.mean([t.decision == KEEP for t in null_tests])
        inconclusive = 1 - false - keep
        print(f"{'':<44} no difference: {keep:.1%} keep, {inconclusive:.1%} inconclusive at the budget; "
              f"{2 * args.runs / seconds:,.0f} runs/s")
    fixed_false = mcnemar_promotes(null[0][:, :n_paired], null[1][:, :n_paired], args.alpha).mean()
    fixed_power = mcnemar_promotes(better[0][:, :n_paired], better[1][:, :n_paired], args.alpha).mean()
    print(f"{'fixed-sample paired (McNemar)':<44} {fixed_false:>16.2%} {fixed_power:>7.1%} "
          f"{f'{n_paired:,} pairs, always':>42}")
    peek_false = peeking_promotes(*null, args.alpha, 100).mean()
    peek_power = peeking_promotes(*better, args.alpha, 100).mean()
    print(f"{'McNemar looked at every 100 pairs':<44} {peek_false:>16.2%} {peek_power:>7.1%} {'(not valid)':>42}")
    ab_false = ab_promotes(args.runs, n_ab, 0.0, args.alpha, rng).mean()
    ab_power = ab_promotes(args.runs, n_ab, delta, args.alpha, rng).mean()
    print(f"{'A/B split (two proportions)':<44} {ab_false:>16.2%} {ab_power:>7.1%} "
          f"{f'{n_ab:,} per arm = {2 * n_ab:,} rows, always':>42}")
    med = medians[next(iter(medians))]
    medians_false = falses[next(iter(falses))]
    print(f"\nmedian labelled pairs to promotion: {med:,.0f} (target <= 1,500); {med / n_paired:.2f}x the fixed paired "
          f"test's {n_paired:,}, {med / (2 * n_ab):.2f}x the A/B split's {2 * n_ab:,} labelled rows "
          f"({med / n_ab:.2f}x one arm)")
    print(f"{time.perf_counter() - started:.1f} s")
    if args.cost:
        cost(args, false_promotions=medians_false, median_pairs=med)


def cost(args, *, false_promotions: float, median_pairs: float) -> None:
    """The gateway's and the bus's shadow runs on one stage, then every shadow target side by side."""
    import asyncio
    import gc
    from types import SimpleNamespace

    import bench_bus
    import bench_http
    from common import Stage, sample_record

    started = time.perf_counter()
    with Stage("simple") as stage:
        gc.collect()
        gc.freeze()  # as bench_bus.py does: MLflow is loaded here; keep full collections out of the timings
        print(f"\nthe shadow's cost (registry version {stage.version} champion, a second logistic regression as "
              "challenger; DRIFTLINE_SHADOW_ENABLED on and off, every other setting its default)")
        p99 = bench_http.shadow_cost(stage, sample_record(), SimpleNamespace(rounds=args.cost_rounds,
                                                                             round_seconds=args.round_seconds))
        rates = asyncio.run(bench_bus.shadow_only(stage, SimpleNamespace(rounds=args.cost_rounds,
                                                                         requests=args.requests)))
    added, ratio = p99["with shadow"] - p99["without shadow"], rates[True] / rates[False]
    rows = [("false promotions, no difference", f"{false_promotions:.2%}", "<= 5%", false_promotions <= 0.05),
            ("median labelled pairs to promote (+2 points)", f"{median_pairs:,.0f}", "<= 1,500", median_pairs <= 1500),
            ("gateway p99 at 1 connection, without / with",
             f"{p99['without shadow']:.2f} / {p99['with shadow']:.2f} ms ({added:+.2f} ms)", "<= +1 ms", added <= 1.0),
            ("worker predictions/s, without / with",
             f"{rates[False]:,.0f} / {rates[True]:,.0f} ({ratio:.0%})", ">= 80%", ratio >= 0.8)]
    print(f"\n{'shadow target':<46} {'measured':<38} {'target':<10} met")
    for name, measured, target, met in rows:
        print(f"{name:<46} {measured:<38} {target:<10} {'yes' if met else 'NO'}")
    print(f"cost runs: {time.perf_counter() - started:.1f} s")


if __name__ == "__main__":
    from common import run_with_load_report

    run_with_load_report(main)
