"""A challenger that won its shadow test is proposed for promotion through the policy (pure): the monitor's
driftline.model.shadow_decided (promote) -> a diagnosis proposing deploy_model {"version": V}. The gate then asks
for the approval the policy names for deploy_model (one approver by default) and the executor moves the champion
alias, with the authorisation it checks for every action. Keep and inconclusive propose nothing: the champion stays.
"""

from __future__ import annotations

from schemas import DiagnosisMade, ModelShadowDecided
from schemas.agent import Diagnosis, Evidence, ProposedAction

SOURCE = "agent/diagnoser"


def propose_promotion(decided: ModelShadowDecided) -> DiagnosisMade | None:
    """ModelShadowDecided -> DiagnosisMade(challenger_better, deploy_model) when the decision is promote."""
    d = decided.data
    if d.decision != "promote":
        return None
    window = f"{d.pairs:,} labelled pairs against champion version {d.champion_version}"
    evidence = [
        Evidence(metric="shadow_log_mixture_ratio", value=d.statistic, threshold=d.threshold, window=window),
        Evidence(metric="accuracy_difference_lower", value=d.difference_lower, threshold=0.0, window=window),
    ]
    headline = (f"Challenger version {d.challenger_version} ({d.alias}) beat champion version {d.champion_version} "
                f"in the shadow: accuracy {d.difference:+.3f} on {d.pairs:,} labelled pairs (band "
                f"{d.difference_lower:+.3f} to {d.difference_upper:+.3f}); proposed: deploy version "
                f"{d.challenger_version}.")
    return decided.caused(DiagnosisMade, source=SOURCE, key="shadow-promotion", data=Diagnosis(
        incident_id=decided.correlation_id, model=d.model, issue="challenger_better", severity="low",
        reasoning=d.reason, evidence=evidence, proposed_actions=[ProposedAction(
            kind="deploy_model", params={"version": d.challenger_version},
            reason=f"won the shadow test against version {d.champion_version} (alpha {d.alpha:g})")],
        signals={"shadow_pairs": float(d.pairs), "shadow_difference": d.difference,
                 "shadow_difference_lower": d.difference_lower, "shadow_difference_upper": d.difference_upper,
                 "shadow_statistic": d.statistic, "shadow_threshold": d.threshold},
        headline=headline))
