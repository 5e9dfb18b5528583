"""Where matches end: the one rule that says whether the model's probability for a query
counts as a match (docs/SEARCH.md explains the rule and measures it)."""

from __future__ import annotations

import math

# The cutoff in log-odds, as a fraction of the model's logit_bias (the log-odds it gives an
# unrelated pair, cosine 0): a match needs three quarters of the way from there to even
# odds. Demo model (bias -3.39): probability >= 0.30; SigLIP 2 base (bias -16, scale 112):
# probability >= 0.018, cosine >= 0.107. Never above even odds.
MATCH_BIAS_FRACTION = 0.25


def match_logit(bias: float) -> float:
    """The logit (scale·cos + bias) from which a photo matches a query."""
    return min(0.0, MATCH_BIAS_FRACTION * bias)


def match_probability(bias: float) -> float:
    """The probability from which a photo matches a query, for a model with `bias`."""
    return 1.0 / (1.0 + math.exp(-match_logit(bias)))


def match_cosine(scale: float, bias: float) -> float:
    """The cosine from which a photo matches: comparing cosines skips the sigmoid over
    the whole library (the sigmoid is monotonic)."""
    return (match_logit(bias) - bias) / scale
