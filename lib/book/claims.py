"""The claims register: every tested statement of a source document, measured and judged.

A chapter makes one :class:`Register` and records each claim with the check that decides it::

    reg = claims.Register(ch)
    reg.claim("nopt-linear-in-d", source="Emschwiller 2020, Fig 2.8, L520",
              statement="N_opt grows linearly in d", paper="R² = 0.998", measured=f"R² = {r2:.3f}",
              check=claims.at_least(r2, 0.95, what="R² of the linear fit"), kind="empirical",
              expected_quick="reproduced")
    reg.show()

The verdict is ``pass_verdict`` when the check passed and ``fail_verdict`` otherwise; it is never
written by hand. ``checkable=False`` (e.g. a claim that needs the paper's scale) gives ``"not checkable
at this scale"``. Each claim also declares the verdict expected at quick scale; the runner fails the
chapter when the measured verdict differs (the regression gate). ``save`` writes
``_build/claims/<chapter>.json`` deterministically: the same seed twice gives byte-identical files.
"""
from __future__ import annotations

import dataclasses
import html
import json
import math
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from lib.book.runtime import Chapter

REPRODUCED = "reproduced"
NOT_REPRODUCED = "not reproduced"
PAPER_ERROR = "paper error"
DEVIATION = "deviation"
NOT_CHECKABLE = "not checkable at this scale"
VERDICTS: tuple[str, ...] = (REPRODUCED, NOT_REPRODUCED, PAPER_ERROR, DEVIATION, NOT_CHECKABLE)

#: What kind of check decided a claim, so that "reproduced" is never read as empirical confirmation when it is
#: an identity. ``exact``: a theorem, identity or closed form checked to rounding (or by exact arithmetic /
#: enumeration). ``empirical``: a measurement of a stochastic or numerical experiment against a tolerance.
#: ``sanity``: a check that cannot discriminate much (shown for completeness, not as evidence).
EXACT, EMPIRICAL, SANITY = "exact", "empirical", "sanity"
KINDS: tuple[str, ...] = (EXACT, EMPIRICAL, SANITY)

COLOURS = {REPRODUCED: "#1b7f3b", NOT_REPRODUCED: "#b3261e", PAPER_ERROR: "#8e24aa",
            DEVIATION: "#b26a00", NOT_CHECKABLE: "#5f6368"}


def _check_verdict(v: str, name: str) -> str:
    if v not in VERDICTS:
        raise ValueError(f"{name}={v!r} is not a verdict; accepted values: {', '.join(VERDICTS)}")
    return v


def _fmt(x: Any) -> str:
    """Short, deterministic text for a number or string."""
    if isinstance(x, bool):
        return str(x)
    if isinstance(x, int):
        return str(x)
    if isinstance(x, float):
        if math.isnan(x) or math.isinf(x):
            return str(x)
        return f"{x:.4g}"
    return str(x)


@dataclasses.dataclass(frozen=True)
class Check:
    """The outcome of a computation that decides a claim: ``passed`` and how it was decided.

    ``seeds_passed`` / ``seeds_total`` are set by :func:`over_seeds` (the check was repeated on independent
    random streams); they are shown beside the verdict as seed robustness.
    """

    passed: bool
    detail: str
    seeds_passed: int | None = None
    seeds_total: int | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.passed, bool):  # numpy bools etc. are converted by the helpers
            raise ValueError(f"passed={self.passed!r}: accepted values are True/False (a Python bool)")


def _num(x: Any, name: str) -> float:
    try:
        v = float(x)
    except (TypeError, ValueError):
        raise ValueError(f"{name}={x!r}: accepted values are real numbers") from None
    return v


def close_to(measured: float, paper: float, *, rtol: float = 0.0, atol: float = 0.0) -> Check:
    """Passes when ``|measured - paper| <= atol + rtol * |paper|`` (NaN never passes)."""
    m, p = _num(measured, "measured"), _num(paper, "paper")
    if rtol < 0 or atol < 0 or (rtol == 0 and atol == 0):
        raise ValueError("close_to needs rtol >= 0 and atol >= 0, not both zero")
    tol = atol + rtol * abs(p)
    ok = bool(abs(m - p) <= tol)
    return Check(ok, f"|{_fmt(m)} − {_fmt(p)}| = {_fmt(abs(m - p))} {'≤' if ok else '>'} tol {_fmt(tol)}")


def at_least(value: float, bound: float, *, what: str = "value") -> Check:
    """Passes when ``value >= bound``."""
    v, b = _num(value, "value"), _num(bound, "bound")
    ok = bool(v >= b)
    return Check(ok, f"{what} = {_fmt(v)} {'≥' if ok else '<'} {_fmt(b)}")


def at_most(value: float, bound: float, *, what: str = "value") -> Check:
    """Passes when ``value <= bound``."""
    v, b = _num(value, "value"), _num(bound, "bound")
    ok = bool(v <= b)
    return Check(ok, f"{what} = {_fmt(v)} {'≤' if ok else '>'} {_fmt(b)}")


def in_interval(value: float, lo: float, hi: float, *, what: str = "value") -> Check:
    """Passes when ``lo <= value <= hi``."""
    v, lo_, hi_ = _num(value, "value"), _num(lo, "lo"), _num(hi, "hi")
    if lo_ > hi_:
        raise ValueError(f"in_interval: lo={lo} > hi={hi}")
    ok = bool(lo_ <= v <= hi_)
    return Check(ok, f"{what} = {_fmt(v)} {'∈' if ok else '∉'} [{_fmt(lo_)}, {_fmt(hi_)}]")


def over_seeds(checks: list[Check] | tuple[Check, ...], *, need: str = "all") -> Check:
    """Combine one check per independent seed into one: ``need="all"`` (every seed passes) or ``"majority"``.

    The detail says how many seeds passed and quotes the first seed's detail; the counts are kept on the
    Check (``seeds_passed`` / ``seeds_total``) and shown in verdict boxes and on the status page, so a verdict
    that flips across seeds is visible as such (see :func:`seed_robustness`).
    """
    checks, k, n, ok = _count(checks, need, "over_seeds", "one per seed")
    return Check(ok, f"{k}/{n} independent seeds pass (need {need}); seed 1: {checks[0].detail}",
                 seeds_passed=k, seeds_total=n)


def _count(checks: list[Check] | tuple[Check, ...], need: str, fn: str, each: str
           ) -> tuple[list[Check], int, int, bool]:
    """The checks as a list, how many passed, how many there are, and whether that meets ``need``."""
    checks = list(checks)
    if not checks:
        raise ValueError(f"{fn} needs at least one Check ({each})")
    if need not in ("all", "majority"):
        raise ValueError(f"need={need!r}: accepted values are 'all', 'majority'")
    k, n = sum(c.passed for c in checks), len(checks)
    return checks, k, n, bool(k == n if need == "all" else 2 * k > n)


def over_items(checks: list[Check] | tuple[Check, ...], *, unit: str, need: str = "all") -> Check:
    """Combine one check per item that is *not* an independent seed (a grid cell, a width, a (h, k, seed) cell) into
    one: ``need="all"`` or ``"majority"``. The detail names the items (``unit``, e.g. ``"(h, k, seed) cells"``), and
    no seed counts are set, so the verdict is not shown as seed robustness; repeat a check over independent seeds
    with :func:`over_seeds` instead.
    """
    if not unit.strip():
        raise ValueError("unit: name the items, e.g. '(h, k, seed) cells'")
    checks, k, n, ok = _count(checks, need, "over_items", "one per item")
    first_bad = next((c.detail for c in checks if not c.passed), None)
    tail = f"first failing: {first_bad}" if first_bad else f"first: {checks[0].detail}"
    return Check(ok, f"{k}/{n} {unit} pass (need {need}); {tail}")


def seed_robustness(seeds_passed: int | None, seeds_total: int | None) -> str:
    """``"robust (5/5 seeds)"``, ``"seed-dependent (3/5 seeds)"``, or ``"one seed"`` when not repeated."""
    if not seeds_total:
        return "one seed"
    if seeds_passed in (0, seeds_total):
        return f"robust ({seeds_passed}/{seeds_total} seeds pass)"
    return f"seed-dependent ({seeds_passed}/{seeds_total} seeds pass)"


def all_of(*checks: Check) -> Check:
    """Passes when every check passes; the detail joins theirs."""
    if not checks:
        raise ValueError("all_of needs at least one Check")
    seeded = [c for c in checks if c.seeds_total]
    sp = min((c.seeds_passed or 0) for c in seeded) if seeded else None
    st = max(c.seeds_total or 0 for c in seeded) if seeded else None
    return Check(all(c.passed for c in checks), "; ".join(c.detail for c in checks), seeds_passed=sp, seeds_total=st)


def is_mismatch(verdict: str, expected_quick: str, scale: str, unavailable: str = "") -> bool:
    """The regression gate, in one place: at quick scale a verdict must equal the declared one, except a claim
    that was ``not checkable`` because its data were really unavailable (``unavailable`` holds the reason)."""
    if scale != "quick" or verdict == expected_quick:
        return False
    return not (verdict == NOT_CHECKABLE and bool(unavailable))


@dataclasses.dataclass(frozen=True)
class Claim:
    """One registered claim (see the module docstring)."""

    id: str
    source: str
    statement: str
    paper: str
    measured: str
    verdict: str
    check: str
    expected_quick: str
    scale: str
    seed: int
    note: str = ""
    kind: str = ""
    unavailable: str = ""
    seeds_passed: int | None = None
    seeds_total: int | None = None

    def as_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def box_html(self) -> str:
        """Inline verdict box, shown right after the experiment that decided it."""
        extra = f" · {html.escape(seed_robustness(self.seeds_passed, self.seeds_total))}" if self.seeds_total else ""
        why = f"<br><small>{html.escape(self.unavailable)}</small>" if self.unavailable else ""
        if self.note:
            why += f"<br><small><i>{html.escape(self.note)}</i></small>"
        return (f'<div class="claim-box">{verdict_badge(self.verdict)} {kind_badge(self.kind)} '
                f"<b>{html.escape(self.id)}</b>: "
                f"{html.escape(self.statement)}<br><small>paper: {html.escape(self.paper)} · measured: "
                f"{html.escape(self.measured)} · check: {html.escape(self.check)}{extra}</small>{why}</div>")


class Register:
    """The claims of one chapter. ``claim`` records, ``show`` displays the table, ``save`` writes JSON."""

    def __init__(self, chapter: Chapter, *, folder: Path | None = None, record: Any = "auto") -> None:
        self.chapter = chapter
        from lib.book.files import build_dir
        self.folder = Path(folder) if folder is not None else build_dir() / "claims"
        self.claims: list[Claim] = []
        if record == "auto":  # a quick build shows the recorded paper-scale verdicts beside its own
            from lib.book import records
            record = records.load_cached(chapter.slug, "paper") if chapter.scale != "paper" else None
        self.record = record

    def claim(self, id: str, *, source: str, statement: str, paper: Any, measured: Any, check: Check,
              expected_quick: str, kind: str, pass_verdict: str = REPRODUCED,
              fail_verdict: str = NOT_REPRODUCED, checkable: bool = True, unavailable: str = "",
              note: str = "") -> None:
        """Record a claim whose verdict is decided by ``check`` (a :class:`Check` from a computation).

        ``pass_verdict``/``fail_verdict`` name what a passed/failed check means (for a paper error,
        the check tests the error's evidence and ``pass_verdict=PAPER_ERROR``). ``checkable=False``
        records the claim as ``not checkable at this scale``. ``unavailable="<reason and remedy>"`` records it
        as not checkable because its data are missing on this machine (the quick-scale gate accepts that, and
        only that, in place of the declared verdict). ``kind`` is one of :data:`KINDS`. Ids must be unique
        within a chapter.
        In a notebook the claim's verdict box is displayed where the claim is decided.
        """
        if not id or any(c.isspace() for c in id):
            raise ValueError(f"id={id!r}: accepted values are non-empty strings without spaces")
        if any(c.id == id for c in self.claims):
            raise ValueError(f"id={id!r} is already registered in chapter {self.chapter.slug!r}")
        if kind not in KINDS:
            raise ValueError(f"kind={kind!r}: accepted values are {', '.join(KINDS)}")
        if not isinstance(check, Check):
            raise ValueError(f"check={check!r}: accepted values are claims.Check objects "
                             "(from close_to, at_least, ...)")
        for v, n in ((pass_verdict, "pass_verdict"), (fail_verdict, "fail_verdict"),
                     (expected_quick, "expected_quick")):
            _check_verdict(v, n)
        if checkable and not unavailable:
            verdict = pass_verdict if check.passed else fail_verdict
        else:
            verdict = NOT_CHECKABLE
        c = Claim(id=id, source=source, statement=statement, paper=_fmt(paper), measured=_fmt(measured),
                  verdict=verdict, check=check.detail, expected_quick=expected_quick,
                  scale=self.chapter.scale, seed=self.chapter.seed, note=note, kind=kind,
                  unavailable=unavailable, seeds_passed=check.seeds_passed, seeds_total=check.seeds_total)
        self.claims.append(c)
        self.save()  # after every claim: a run killed later (a paper-scale timeout) still leaves what it decided
        try:
            from IPython import get_ipython
            from IPython.display import HTML, display
        except ImportError:
            return
        if get_ipython() is not None:
            display(HTML(c.box_html() + self._paper_line(c.id)))

    def _paper_line(self, claim_id: str) -> str:
        """The recorded paper-scale verdict of ``claim_id`` as a line under its box ('' without a record)."""
        if self.record is None:
            return ""
        return paper_cell(self.record.claims.get(claim_id), self.record.label(), self.record.is_stale, block=True)

    def counts(self) -> dict[str, int]:
        """Number of claims per verdict (every verdict present, zeros included)."""
        return {v: sum(c.verdict == v for c in self.claims) for v in VERDICTS}

    def mismatches(self) -> list[Claim]:
        """Claims whose verdict differs from the one declared for quick scale (only at quick scale)."""
        return [c for c in self.claims
                if is_mismatch(c.verdict, c.expected_quick, self.chapter.scale, c.unavailable)]

    def to_json(self) -> str:
        """Deterministic JSON: no wall times or dates, sorted keys."""
        doc = {"chapter": self.chapter.slug, "scale": self.chapter.scale, "seed": self.chapter.seed,
               "device": self.chapter.device.type, "counts": self.counts(),
               "claims": [c.as_dict() for c in self.claims]}
        return json.dumps(doc, indent=1, sort_keys=True, ensure_ascii=False) + "\n"

    def save(self) -> Path:
        """Write ``<folder>/<chapter>.json`` atomically and return its path."""
        from lib.book.files import atomic_write_text
        return atomic_write_text(self.folder / f"{self.chapter.slug}.json", self.to_json())

    def to_html(self) -> str:
        """The chapter's claims table as HTML (with the recorded paper-scale column when there is a record)."""
        paper = None
        if self.record is not None:
            paper = {c.id: paper_cell(self.record.claims.get(c.id), self.record.label(), self.record.is_stale)
                     for c in self.claims}
        return render_table([c.as_dict() for c in self.claims], with_chapter=False, paper=paper)

    def record_line(self) -> str:
        """One paragraph on the paper-scale record of this chapter: where it came from, or that there is none."""
        if self.chapter.scale == "paper":
            return ""
        if self.record is None:
            return (f"<p><small>No paper-scale record of this chapter yet: <code>make record "
                    f"NAME={html.escape(self.chapter.slug)}</code> executes it at the source's scale and stores "
                    "the result under <code>records/paper/</code>.</small></p>")
        stale = ""
        if self.record.is_stale:
            stale = (" <b>Stale</b>: changed since it was recorded: "
                     + ", ".join(f"<code>{html.escape(f)}</code>" for f in self.record.stale) + ".")
        carried = ""
        cells = [c for c in self.record.meta.cells or [] if c.get("how") != "computed"]
        if cells:
            secs = sum(c.get("seconds") or 0.0 for c in cells)
            whens = sorted({(c.get("when") or "?")[:10] for c in cells})
            carried = (f" {len(cells)} of its sweep cells were computed in earlier sittings ({secs:.0f} s, "
                       f"{html.escape(', '.join(whens))}) and loaded, as <code>run.json</code> lists.")
        partial = ""
        if self.record.meta.partial:
            why = "; ".join(self.record.meta.problems or []) or "the run did not finish"
            partial = (f" Partial ({html.escape(why)}): a claim the run did not reach has no paper-scale verdict "
                       "(—); the next sitting resumes from the cells kept.")
        return (f'<p class="record-line"><small>Paper-scale column: the record {html.escape(self.record.label())}'
                f" ({self.record.meta.wall_s:.0f} s).{partial}{carried}{stale}</small></p>")

    def show(self) -> None:
        """Save the register and display its table (and a warning box for quick-scale mismatches)."""
        self.save()
        from IPython.display import HTML, display
        display(HTML(self.record_line() + self.to_html()))
        bad = self.mismatches()
        if bad:
            ids = ", ".join(f"{c.id} ({c.verdict}, expected {c.expected_quick})" for c in bad)
            display(HTML(f'<p style="color:#b3261e"><b>Regression:</b> verdicts differ from the expected '
                         f"quick-scale verdicts: {html.escape(ids)}</p>"))


def kind_badge(kind: str) -> str:
    """A small outlined badge naming the check kind (exact / empirical / sanity); empty when unknown."""
    if not kind:
        return ""
    return (f'<span class="kind-badge kind-{html.escape(kind)}" style="border:1px solid #888;border-radius:3px;'
            f'padding:0 5px;font-size:0.8em;white-space:nowrap">{html.escape(kind)}</span>')


def verdict_badge(v: str, label: str | None = None) -> str:
    """A coloured HTML badge for verdict ``v`` (showing ``label`` instead of the verdict if given)."""
    col = COLOURS.get(v, "#333")
    return (f'<span style="background:{col};color:white;border-radius:3px;padding:1px 6px;'
            f'white-space:nowrap;font-size:0.85em">{html.escape(label or v)}</span>')


def paper_cell(rec_claim: dict[str, Any] | None, label: str, stale: bool, *, block: bool = False) -> str:
    """The recorded paper-scale verdict and measured value of one claim, greyed when the record is stale."""
    if rec_claim is None:
        body = "<i>not in the record</i>"
    else:
        body = f"{verdict_badge(rec_claim['verdict'])} {html.escape(str(rec_claim.get('measured', '')))}"
    style = "opacity:0.5;" if stale else ""
    title = html.escape(label + (" — stale: its code changed since" if stale else ""))
    if block:
        return (f'<div class="paper-record" style="{style}margin:-0.4em 0 0.8em 1.2em"><small>paper scale '
                f'(recorded{", stale" if stale else ""}): {body} · {title}</small></div>')
    return f'<span class="paper-record" style="{style}" title="{title}">{body}{" (stale)" if stale else ""}</span>'


def render_table(rows: list[dict[str, Any]], *, with_chapter: bool, paper: dict[str, str] | None = None) -> str:
    """HTML table of claim dicts (as saved): id, source, statement, paper, measured, verdict, kind, check;
    ``paper`` maps a claim id (or ``"chapter/id"`` with ``with_chapter``) to the HTML of its recorded
    paper-scale cell (see :func:`paper_cell`), adding that column."""
    cols = (["chapter"] if with_chapter else []) + ["id", "source", "statement", "paper", "measured",
                                                    "verdict", "kind", "check"]
    if paper is not None:
        cols.insert(cols.index("verdict") + 1, "paper scale")
    head = "".join(f"<th>{c}</th>" for c in cols)
    body = []
    for r in rows:
        cells = []
        for c in cols:
            if c == "verdict":
                cells.append(f"<td>{verdict_badge(r['verdict'])}</td>")
            elif c == "paper scale":
                key = f"{r['chapter']}/{r['id']}" if with_chapter else r["id"]
                cells.append(f"<td>{(paper or {}).get(key, '–')}</td>")
            elif c == "kind":
                cells.append(f"<td>{kind_badge(r.get('kind', ''))}</td>")
            elif c == "check" and r.get("seeds_total"):
                rob = seed_robustness(r.get("seeds_passed"), r.get("seeds_total"))
                cells.append(f"<td>{html.escape(str(r.get(c, '')))} <i>({html.escape(rob)})</i></td>")
            else:
                cells.append(f"<td>{html.escape(str(r.get(c, '')))}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    return ('<div class="claims-table" style="overflow-x:auto"><table class="table">'
            f"<thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table></div>")


def load_all(folder: Path | None = None) -> list[dict[str, Any]]:
    """Every chapter's saved claims document under ``folder`` (default ``_build/claims``), by name."""
    from lib.book.files import build_dir
    folder = Path(folder) if folder is not None else build_dir() / "claims"
    return [json.loads(p.read_text(encoding="utf-8")) for p in sorted(folder.glob("*.json"))]
