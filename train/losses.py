"""The aesthetic-space loss: a triplet term on directions plus a directional term on norms."""

from __future__ import annotations

from typing import NamedTuple

import torch
import torch.nn.functional as F


class LossParts(NamedTuple):
    """Scalar loss and its two parts, for logging."""

    total: torch.Tensor
    triplet: torch.Tensor
    directional: torch.Tensor


def directional_triplet_loss(
    anchor: torch.Tensor,
    positive: torch.Tensor,
    negative: torch.Tensor,
    s_anchor: torch.Tensor,
    s_positive: torch.Tensor,
    s_negative: torch.Tensor,
    *,
    margin: float = 0.5,
    directional_margin: float = 0.2,
    normalize: bool = True,
) -> LossParts:
    """``L = mean(Le) + mean(Ld)`` for a batch of N triplets (embeddings N x D, scores N).

    Triplet term ``Le = [m + |Φa - Φp|² - |Φa - Φn|²]_+``. With ``normalize``
    (the default) it is computed on L2-normalised embeddings, as in the
    authors' training script: that bounds the distances (squared distances lie
    in [0, 4]) so that m = 0.5 means something, and it makes the term blind to
    the norm. The norm is the aesthetic score, and it is left to the
    directional term alone: direction encodes what an image looks like, length
    how good it is. That separation is the point of the model.

    Directional term, on raw norms, for the pairs (a, n) and (p, n):
    ``Ld = [|Φ_worse| - |Φ_better| + m~]_+``, better and worse by score; pairs
    with equal scores contribute 0. The paper uses (a, n) only. (p, n) is
    added because Eq. 3 puts n's score beyond both a's and p's by more than
    their own gap, so both orders are equally reliable, a and p play symmetric
    roles in the sampling, and with normalised embeddings the positive's norm
    would otherwise get no gradient at all. (a, p) is left out: it is the
    closest pair of the triplet, often a near tie of a noisy S, and a fixed
    margin m~ would force a norm gap there that the scores do not support.
    ``mean(Ld)`` averages over all 2N pairs.
    """
    if not (anchor.ndim == 2 and anchor.shape == positive.shape == negative.shape):
        raise ValueError(
            f"embeddings must share one N x D shape, got {tuple(anchor.shape)}, "
            f"{tuple(positive.shape)}, {tuple(negative.shape)}"
        )
    n = anchor.shape[0]
    if not (s_anchor.shape == s_positive.shape == s_negative.shape == (n,)):
        raise ValueError(f"scores must have shape ({n},)")

    fa, fp, fn = (F.normalize(x, dim=1) if normalize else x for x in (anchor, positive, negative))
    d_ap = (fa - fp).pow(2).sum(dim=1)
    d_an = (fa - fn).pow(2).sum(dim=1)
    triplet = F.relu(margin + d_ap - d_an).mean()

    # The paper prints Ld(a, n) = sign(s(n) - s(a)) * [|Φa| - |Φn| + m~]_+, which
    # is unbounded below when s(n) < s(a): it is then -[|Φa| - |Φn| + m~]_+, which
    # falls without limit as |Φa| outgrows |Φn|, so blowing norms up would pay
    # forever. The well-posed reading is a hinge asking the better image of each
    # pair for the larger norm by at least m~, and no more.
    norm_n = torch.linalg.vector_norm(negative, dim=1)
    hinges = []
    for x, s_x in ((anchor, s_anchor), (positive, s_positive)):
        # order > 0 when n is the better image; then |Φn| - |Φx| should be at least m~.
        order = torch.sign(s_negative - s_x)
        gain = order * (norm_n - torch.linalg.vector_norm(x, dim=1))
        hinges.append(torch.where(order != 0, F.relu(directional_margin - gain), 0.0))
    directional = torch.stack(hinges).mean()

    return LossParts(triplet + directional, triplet, directional)
