"""The detectors the detection benchmark compares, behind one interface: run(x, channel) -> [(row, column)]."""

from __future__ import annotations

import json

from consumers.monitor.detectors import CusumBank
from consumers.monitor.encoding import RankIndex, encode_matrix
from consumers.monitor.histograms import WindowHistogram
from consumers.monitor.river_bank import RIVER_DETECTORS, RiverBank

CHANNELS = ["web", "app", "store", "partner"]
WINDOW = 1000  # Evidently's window, in rows
BATCH = 250  # the monitor service's consumer batch (settings.monitor_batch)


class Cusum:
    name = "cusum (ours)"

    def __init__(self, profile):
        self.profile, self.index, self.bank = profile, RankIndex(profile), CusumBank(profile)
        self.hist = WindowHistogram(profile)

    def run(self, x, channel):
        out = []
        for s in range(0, len(x), BATCH):
            enc = encode_matrix(self.profile, x[s:s + BATCH], [channel[s:s + BATCH]], self.index)
            out += [(d.row, d.column) for d in self.bank.update(enc)]
            self.hist.update(enc)  # the per-window histograms ride on the same path
        return out

    def state_bytes(self):
        return self.bank.state_bytes() + self.hist.state_bytes()


class River(Cusum):
    """River's detector as the monitor runs it (DRIFTLINE_MONITOR_DETECTOR): the same batches, encoding and
    histograms as the CUSUM bank, one River detector per numeric column and per category (RiverBank)."""

    def __init__(self, profile, kind):
        super().__init__(profile)
        self.name, self.bank = f"river {RIVER_DETECTORS[kind]} (runtime)", RiverBank(profile, kind)

    def state_bytes(self):
        return len(json.dumps(self.bank.to_state())) + self.hist.state_bytes()


class EvidentlyDefault:
    """Evidently's default per window: K-S p < 0.05 per numeric column, chi-squared for the category."""

    name = "evidently per-window (per column)"

    def __init__(self, ref, feats, dataset_rule=False):
        self.ref, self.feats, self.dataset_rule = ref, feats, dataset_rule
        if dataset_rule:
            self.name = "evidently per-window (dataset rule)"

    def verdicts(self, x, channel):
        from scipy.stats import chi2_contingency, ks_2samp

        cur = {f: x[:, j] for j, f in enumerate(self.feats)}
        out = {f: ks_2samp(self.ref[f], cur[f]).pvalue < 0.05 for f in self.feats}
        table = [[list(self.ref["channel"]).count(c) for c in CHANNELS], [list(channel).count(c) for c in CHANNELS]]
        out["channel"] = chi2_contingency(table)[1] < 0.05
        return out

    def run(self, x, channel):
        out = []
        for s in range(0, len(x) - WINDOW + 1, WINDOW):
            flags = self.verdicts(x[s:s + WINDOW], channel[s:s + WINDOW])
            drifted = [c for c, v in flags.items() if v]
            if self.dataset_rule and len(drifted) < 0.5 * len(flags):
                continue
            out += [(s + WINDOW - 1, c) for c in drifted]
        return out
