"""lib.book.claims: checks, verdicts decided by computation, deterministic JSON, the table."""
import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from lib.book import claims, runtime


def _reg(tmp_path, scale="quick", seed=0):
    return claims.Register(runtime.start_chapter("ctest", scale=scale, seed=seed, device="cpu"), folder=tmp_path)


def test_checks():
    assert claims.close_to(0.96, 0.95, atol=0.02).passed
    assert not claims.close_to(0.90, 0.95, atol=0.02).passed
    assert claims.close_to(105, 100, rtol=0.05).passed
    assert not claims.close_to(float("nan"), 1.0, atol=1).passed
    assert claims.at_least(3, 2).passed and not claims.at_least(1, 2).passed
    assert claims.at_most(1, 2).passed and not claims.at_most(3, 2).passed
    assert claims.in_interval(0.5, 0, 1).passed and not claims.in_interval(2, 0, 1).passed
    assert claims.all_of(claims.at_least(3, 2), claims.at_most(1, 2)).passed
    assert not claims.all_of(claims.at_least(3, 2), claims.at_most(3, 2)).passed


@given(m=st.floats(-1e6, 1e6), p=st.floats(-1e6, 1e6), tol=st.floats(1e-9, 1e6))
def test_close_to_matches_its_definition(m, p, tol):
    assert claims.close_to(m, p, atol=tol).passed == (abs(m - p) <= tol)


def test_bad_check_arguments():
    with pytest.raises(ValueError, match="not both zero"):
        claims.close_to(1, 1)
    with pytest.raises(ValueError, match="real numbers"):
        claims.at_least("abc", 1)
    with pytest.raises(ValueError, match="lo="):
        claims.in_interval(1, 2, 0)
    with pytest.raises(ValueError, match="Python bool"):
        claims.Check(1, "int is not a bool")


def test_verdict_follows_the_check(tmp_path):
    reg = _reg(tmp_path)
    reg.claim("a", source="s", statement="t", paper=1, measured=1.0, check=claims.close_to(1, 1, atol=.1),
              kind="sanity", expected_quick="reproduced")
    reg.claim("b", source="s", statement="t", paper=1, measured=3.0, check=claims.close_to(3, 1, atol=.1),
              kind="sanity", expected_quick="not reproduced")
    reg.claim("c", source="s", statement="t", paper="x", measured="y", check=claims.at_least(1, 0),
              pass_verdict=claims.PAPER_ERROR, kind="sanity", expected_quick="paper error")
    reg.claim("d", source="s", statement="t", paper=1, measured="-", check=claims.at_least(1, 0),
              checkable=False, kind="sanity", expected_quick="not checkable at this scale")
    assert [c.verdict for c in reg.claims] == ["reproduced", "not reproduced", "paper error",
                                               "not checkable at this scale"]
    assert reg.mismatches() == []
    assert reg.counts()["reproduced"] == 1 and sum(reg.counts().values()) == 4


def test_mismatch_is_reported_only_at_quick_scale(tmp_path):
    for scale, n in (("quick", 1), ("paper", 0)):
        reg = _reg(tmp_path, scale=scale)
        reg.claim("a", source="s", statement="t", paper=1, measured=5, check=claims.close_to(5, 1, atol=.1),
                  kind="sanity", expected_quick="reproduced")
        assert len(reg.mismatches()) == n


def test_bad_claim_arguments(tmp_path):
    reg = _reg(tmp_path)
    ok = dict(source="s", statement="t", paper=1, measured=1, check=claims.at_least(1, 0), expected_quick="reproduced",
              kind="exact")
    reg.claim("a", **ok)
    with pytest.raises(ValueError, match="already registered"):
        reg.claim("a", **ok)
    with pytest.raises(ValueError, match="without spaces"):
        reg.claim("a b", **ok)
    with pytest.raises(ValueError, match="expected_quick='yes'.*accepted values"):
        reg.claim("c", **{**ok, "expected_quick": "yes"})
    with pytest.raises(ValueError, match="claims.Check"):
        reg.claim("d", **{**ok, "check": True})
    no_kind = {k: v for k, v in ok.items() if k != "kind"}
    with pytest.raises(TypeError, match="kind"):                 # every claim must say what kind of check decided it
        reg.claim("e", **no_kind)


def test_json_is_deterministic_and_atomic(tmp_path):
    texts = []
    for _ in range(2):
        reg = _reg(tmp_path, seed=4)
        x = float(runtime.numpy_rng(4).normal())
        reg.claim("x", source="s", statement="t", paper=0, measured=x, check=claims.close_to(x, 0, atol=5),
                  kind="sanity", expected_quick="reproduced")
        texts.append(reg.save().read_bytes())
    assert texts[0] == texts[1]
    doc = json.loads(texts[0])
    assert doc["chapter"] == "ctest" and doc["claims"][0]["seed"] == 4 and doc["counts"]["reproduced"] == 1
    assert [p.name for p in tmp_path.iterdir()] == ["ctest.json"]
    assert claims.load_all(tmp_path)[0]["chapter"] == "ctest"


def test_table_html_escapes_and_shows_badges(tmp_path):
    reg = _reg(tmp_path)
    reg.claim("a", source="<src>", statement="x < y", paper=1, measured=1, check=claims.at_least(1, 0),
              kind="sanity", expected_quick="reproduced")
    html = reg.to_html()
    assert "&lt;src&gt;" in html and "x &lt; y" in html and ">reproduced<" in html


def _args(**kw):
    base = dict(source="s", statement="t", paper=1, measured=1, check=claims.at_least(1, 0),
                expected_quick=claims.REPRODUCED, kind=claims.EMPIRICAL)
    base.update(kw)
    return base


def test_kind_is_recorded_validated_and_shown(tmp_path):
    reg = _reg(tmp_path)
    reg.claim("a", **_args(kind=claims.EXACT))
    assert reg.claims[0].kind == "exact"
    assert "exact" in reg.to_html() and "kind-exact" in reg.claims[0].box_html()
    with pytest.raises(ValueError, match="accepted values are exact, empirical, sanity"):
        reg.claim("b", **_args(kind="proof"))


def test_over_seeds_counts_and_robustness():
    ok, bad = claims.at_least(2, 1), claims.at_least(0, 1)
    c = claims.over_seeds([ok, ok, bad, ok])
    assert not c.passed and (c.seeds_passed, c.seeds_total) == (3, 4) and "3/4" in c.detail
    assert claims.over_seeds([ok, ok, bad], need="majority").passed
    assert not claims.over_seeds([ok, bad], need="majority").passed       # a tie is not a majority
    assert claims.seed_robustness(3, 4).startswith("seed-dependent")
    assert claims.seed_robustness(4, 4).startswith("robust") and claims.seed_robustness(0, 4).startswith("robust")
    assert claims.seed_robustness(None, None) == "one seed"
    with pytest.raises(ValueError, match="at least one"):
        claims.over_seeds([])
    with pytest.raises(ValueError, match="accepted values"):
        claims.over_seeds([ok], need="most")
    both = claims.all_of(c, ok)
    assert (both.seeds_passed, both.seeds_total) == (3, 4)


def test_seed_counts_reach_the_json_and_table(tmp_path):
    reg = _reg(tmp_path)
    ok, bad = claims.at_least(2, 1), claims.at_least(0, 1)
    reg.claim("flip", **_args(check=claims.over_seeds([ok, bad, ok], need="majority")))
    doc = json.loads(reg.to_json())
    assert doc["claims"][0]["seeds_passed"] == 2 and doc["claims"][0]["seeds_total"] == 3
    assert "seed-dependent (2/3 seeds pass)" in reg.to_html()


def test_unavailable_data_is_not_checkable_and_passes_the_gate_only_then(tmp_path):
    reg = _reg(tmp_path)
    reg.claim("needs-cifar", **_args(unavailable="CIFAR-10 is not on this machine: put it in $DLT_DATA/cifar10/"))
    reg.claim("plain-nc", **_args(checkable=False))
    assert [c.verdict for c in reg.claims] == [claims.NOT_CHECKABLE, claims.NOT_CHECKABLE]
    assert [c.id for c in reg.mismatches()] == ["plain-nc"]   # declared reproduced, not checkable without a reason
    assert claims.is_mismatch(claims.NOT_CHECKABLE, claims.REPRODUCED, "quick", "")
    assert not claims.is_mismatch(claims.NOT_CHECKABLE, claims.REPRODUCED, "quick", "no data")
    assert claims.is_mismatch(claims.NOT_REPRODUCED, claims.REPRODUCED, "quick", "no data")
    assert not claims.is_mismatch(claims.NOT_REPRODUCED, claims.REPRODUCED, "paper", "")
    assert "$DLT_DATA/cifar10/" in reg.claims[0].box_html()


def test_over_items_names_its_items_and_is_not_seed_robustness():
    ok, bad = claims.at_most(1.0, 2.0, what="x"), claims.at_most(3.0, 2.0, what="y")
    c = claims.over_items([ok, bad, ok], unit="(h, k) cells")
    assert not c.passed and c.seeds_total is None
    assert c.detail.startswith("2/3 (h, k) cells pass (need all); first failing: y = 3")
    assert claims.over_items([ok, bad, ok], unit="widths", need="majority").passed
    assert claims.over_items([ok], unit="widths").detail.endswith("first: x = 1 ≤ 2")
    with pytest.raises(ValueError, match="unit"):
        claims.over_items([ok], unit=" ")
    with pytest.raises(ValueError, match="need"):
        claims.over_items([ok], unit="widths", need="most")
