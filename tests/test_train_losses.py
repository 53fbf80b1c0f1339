import pytest
import torch

from train.losses import LossParts, directional_triplet_loss


def t(rows) -> torch.Tensor:
    return torch.tensor(rows, dtype=torch.float64)


# Two triplets worked out by hand (m = 0.5, m~ = 0.2).
# Row 0: a = (2, 0), p = (0, 2), n = (0, 1); scores 0.5, 0.6, 0.9 (n better than both).
#   raw:        |a-p|² = 8, |a-n|² = 5                  -> Le = 0.5 + 8 - 5 = 3.5
#   normalised: â = (1, 0), p̂ = n̂ = (0, 1): 2 and 2    -> Le = 0.5
#   norms 2, 2, 1: (a, n) -> [2 - 1 + 0.2] = 1.2, (p, n) -> [2 - 1 + 0.2] = 1.2
# Row 1: a = (1, 0), p = (2, 0), n = (-1, 0); scores 0.4, 0.5, 0.1 (n worse than both).
#   raw: 0.5 + 1 - 4 < 0, normalised: 0.5 + 0 - 4 < 0   -> Le = 0
#   norms 1, 2, 1: (a, n) -> [1 - 1 + 0.2] = 0.2, (p, n) -> [1 - 2 + 0.2]_+ = 0
A = t([[2, 0], [1, 0]])
P = t([[0, 2], [2, 0]])
N = t([[0, 1], [-1, 0]])
SA, SP, SN = t([0.5, 0.4]), t([0.6, 0.5]), t([0.9, 0.1])


@pytest.mark.parametrize("normalize, triplet", [(True, (0.5 + 0) / 2), (False, (3.5 + 0) / 2)])
def test_hand_computed_values(normalize, triplet):
    parts = directional_triplet_loss(A, P, N, SA, SP, SN, normalize=normalize)
    assert isinstance(parts, LossParts)
    directional = (1.2 + 1.2 + 0.2 + 0) / 4
    assert parts.triplet.item() == pytest.approx(triplet)
    assert parts.directional.item() == pytest.approx(directional)
    assert parts.total.item() == pytest.approx(triplet + directional)


def test_margins_are_parameters():
    parts = directional_triplet_loss(A[:1], P[:1], N[:1], SA[:1], SP[:1], SN[:1], margin=1.0, directional_margin=0.0)
    assert parts.triplet.item() == pytest.approx(1.0)
    assert parts.directional.item() == pytest.approx(1.0)


def test_zero_when_both_constraints_hold_with_margin():
    # p along a, n opposite; n is the better image and longer than a and p by more than m~.
    parts = directional_triplet_loss(t([[2, 0]]), t([[2.5, 0]]), t([[-3, 0]]), t([0.5]), t([0.6]), t([0.9]))
    assert parts.total.item() == 0.0


def test_directional_hinge_inactive_once_the_better_image_is_longer_by_the_margin():
    a, p = t([[1, 0]]), t([[0, 1]])
    s = (t([0.2]), t([0.3]), t([0.8]))
    longer = directional_triplet_loss(a, p, t([[0, 1.25]]), *s)  # 1.25 >= 1 + 0.2
    assert longer.directional.item() == 0.0
    shorter = directional_triplet_loss(a, p, t([[0, 1.1]]), *s)  # 1.1 < 1 + 0.2
    assert shorter.directional.item() == pytest.approx(0.1)


def test_equal_scores_contribute_nothing():
    # Row 0 with s(n) = s(a): (a, n) is dropped although its hinge would be active;
    # (p, n) now has p better (0.6 > 0.5): [|n| - |p| + 0.2]_+ = [1 - 2 + 0.2]_+ = 0.
    parts = directional_triplet_loss(A[:1], P[:1], N[:1], t([0.5]), t([0.6]), t([0.5]))
    assert parts.directional.item() == 0.0
    all_equal = directional_triplet_loss(A, P, N, SA, SA, SA)
    assert all_equal.directional.item() == 0.0


def test_normalisation_makes_the_triplet_term_blind_to_scale():
    scaled = [directional_triplet_loss(A * k, P * k, N * k, SA, SP, SN) for k in (1.0, 7.0)]
    assert scaled[0].triplet.item() == pytest.approx(scaled[1].triplet.item())
    raw = [directional_triplet_loss(A * k, P * k, N * k, SA, SP, SN, normalize=False) for k in (1.0, 7.0)]
    assert raw[1].triplet.item() > raw[0].triplet.item()


@pytest.mark.parametrize("normalize", [True, False])
def test_gradcheck(normalize):
    # The hand example sits at least 0.2 from every hinge kink.
    inputs = tuple(x.clone().requires_grad_() for x in (A, P, N))

    def total(a, p, n):
        return directional_triplet_loss(a, p, n, SA, SP, SN, normalize=normalize).total

    assert torch.autograd.gradcheck(total, inputs)


def test_gradients_lengthen_the_better_image_and_shorten_the_worse():
    # Row 0: n is better than a and p; hinges (a, n) and (p, n) are active.
    a, p, n = (x[:1].clone().requires_grad_() for x in (A, P, N))
    directional_triplet_loss(a, p, n, SA[:1], SP[:1], SN[:1]).total.backward()

    def radial(x):  # component of the gradient along the embedding: d loss / d |x|
        return (x.grad * x.detach() / x.detach().norm()).sum().item()

    # Each active pair adds 1 / (2N) = 1/2 per image; the normalised triplet term adds nothing.
    assert radial(n) == pytest.approx(-1.0)
    assert radial(a) == pytest.approx(0.5)
    assert radial(p) == pytest.approx(0.5)

    with torch.no_grad():
        norms = [x.norm().item() for x in (a, p, n)]
        stepped = [(x - 0.01 * x.grad).norm().item() for x in (a, p, n)]
    assert stepped[0] < norms[0] and stepped[1] < norms[1] and stepped[2] > norms[2]


def test_normalised_triplet_term_leaves_the_norm_free():
    a, p, n = (x.clone().requires_grad_() for x in (A, P, N))
    directional_triplet_loss(a, p, n, SA, SP, SN).triplet.backward()
    for x in (a, p, n):
        assert torch.allclose((x.grad * x.detach()).sum(dim=1), torch.zeros(2, dtype=torch.float64), atol=1e-12)


def test_shape_mismatch_raises():
    with pytest.raises(ValueError, match="N x D"):
        directional_triplet_loss(A, P, N[:1], SA, SP, SN)
    with pytest.raises(ValueError, match="scores"):
        directional_triplet_loss(A, P, N, SA, SP, SN[:1])
