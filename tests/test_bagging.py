"""Tests of lib.bagging: recipes against explicit lifts, bag fits against pinv and the least-squares kernel,
the jackknife against an explicit leave-one-out loop."""

import math

import pytest
import torch

from lib import bagging as bg
from lib import least_squares as ls
from lib import polyfeatures as pf

P6 = pf.conv_pair_table(6, 6, unique=True)


def _imgs(n, seed=0):
    return torch.randint(0, 256, (n, 6, 6), dtype=torch.uint8, generator=torch.Generator().manual_seed(seed))


def test_lifter_recipes():
    X = _imgs(5)
    base = bg.lifter(bg.Recipe("baseline"), P6)(X)
    torch.testing.assert_close(base, pf.lift_conv2(X, P6, pair_scale=pf.unique_pair_scale(P6)))
    raw = bg.lifter(bg.Recipe("raw", pixel_scale=1.0), P6)(X)
    torch.testing.assert_close(raw[:, 1:37], X.reshape(5, -1).float())
    torch.testing.assert_close(bg.lifter(bg.Recipe("baseline"), P6)(X.float() / 255), base)   # [0, 1] floats too
    uniq = bg.lifter(bg.Recipe("unique", basis="unique"), P6)(X)
    torch.testing.assert_close(uniq, pf.lift_conv2(X, P6))
    mu = X.float().mean(0)
    cen = bg.lifter(bg.Recipe("centred", centre=True), P6, mean_image=mu)(X)
    torch.testing.assert_close(cen[:, 1:37].sum(0), torch.zeros(36), atol=1e-5, rtol=0)   # centred pixels
    with pytest.raises(ValueError, match="mean_image"):
        bg.lifter(bg.Recipe("centred", centre=True), P6)
    with pytest.raises(ValueError, match="intercept"):
        bg.Recipe("bad", intercept="none")


def test_fit_bags_equals_kernel_and_pinv():
    X, y = _imgs(60, 1), torch.randint(0, 3, (60,), generator=torch.Generator().manual_seed(2))
    Y = ls.one_hot(y, 3)
    rec = bg.Recipe("baseline")
    lift = bg.lifter(rec, P6)
    fit = ls.bagged_least_squares(X, Y, lift, 3, 20, torch.Generator().manual_seed(3), bags_per_group=2)
    bags = bg.draw_bags(60, 3, 20, torch.Generator().manual_seed(3))
    assert torch.equal(bags, fit.bags)
    betas = bg.fit_bags(X, Y, lift, bags, bags_per_group=2)
    torch.testing.assert_close(betas, fit.betas)
    F = lift(X[bags[0]]).double()                                    # 20 rows < p = 1 + 36 + P: interpolates
    torch.testing.assert_close(betas[0].double(), torch.linalg.pinv(F) @ Y[bags[0]].double(), atol=2e-3, rtol=0)


def test_bags_with_replacement_solve_the_distinct_rows():
    X, y = _imgs(30, 4), torch.randint(0, 3, (30,), generator=torch.Generator().manual_seed(5))
    Y = ls.one_hot(y, 3)
    lift = bg.lifter(bg.Recipe("boot", replacement=True), P6)
    bags = bg.draw_bags(30, 2, 25, torch.Generator().manual_seed(6), replacement=True)
    assert bags.shape == (2, 25) and int(bags.max()) < 30
    assert any(torch.unique(b).numel() < 25 for b in bags)          # repeats happen
    betas = bg.fit_bags(X, Y, lift, bags)
    for b, beta in zip(bags, betas):
        F, Yb = lift(X[b]).double(), Y[b].double()                   # with the repeated rows: the same min-norm fit
        torch.testing.assert_close(beta.double(), torch.linalg.pinv(F) @ Yb, atol=2e-3, rtol=0)


def test_unpenalised_intercept_is_passed_through():
    X, y = _imgs(40, 7), torch.randint(0, 3, (40,), generator=torch.Generator().manual_seed(8))
    Y = ls.one_hot(y, 3)
    rec = bg.Recipe("free intercept", intercept="unpenalised")
    lift = bg.lifter(rec, P6)
    bags = bg.draw_bags(40, 2, 15, torch.Generator().manual_seed(9))
    betas = bg.fit_bags(X, Y, lift, bags, intercept_col=rec.intercept_col)
    for b, beta in zip(bags, betas):                                 # centred min-norm, intercept from the means
        F, Yb = lift(X[b]).double(), Y[b].double()
        Fc = F[:, 1:] - F[:, 1:].mean(0)
        w = torch.linalg.pinv(Fc) @ (Yb - Yb.mean(0))
        torch.testing.assert_close(beta[1:].double(), w, atol=2e-3, rtol=0)
        torch.testing.assert_close(beta[0].double(), Yb.mean(0) - F[:, 1:].mean(0) @ w, atol=2e-3, rtol=0)


def test_learning_curves_and_jackknife():
    X, y = _imgs(80, 10), torch.randint(0, 3, (80,), generator=torch.Generator().manual_seed(11))
    Xt, yt = _imgs(30, 12), torch.randint(0, 3, (30,), generator=torch.Generator().manual_seed(13))
    lift = bg.lifter(bg.Recipe("baseline"), P6)
    bags = bg.draw_bags(80, 4, 20, torch.Generator().manual_seed(14))
    betas = bg.fit_bags(X, ls.one_hot(y, 3), lift, bags)
    cur = bg.learning_curves(betas, bags, lift, X, y, Xt, yt, 15, torch.Generator().manual_seed(15))
    assert cur.each.shape == cur.avg.shape == cur.avg_in.shape == (4,)
    assert cur.avg_in[0] == pytest.approx(1.0)                         # one bag interpolates its own rows
    assert cur.avg[-1] == pytest.approx(float(ls.accuracy(lift(Xt), betas.mean(0), yt)))
    acc, se = bg.jackknife_accuracy(betas, lift, Xt, yt)
    assert acc == pytest.approx(cur.avg[-1])
    loo = [float(ls.accuracy(lift(Xt), torch.cat([betas[:i], betas[i + 1:]]).mean(0), yt)) for i in range(4)]
    m = sum(loo) / 4
    assert se == pytest.approx(math.sqrt(3 / 4 * sum((a - m) ** 2 for a in loo)))
