"""The book's machinery, apart from the science: how a chapter runs, is judged, drawn, fed and recorded.

Contract (what a chapter may rely on; everything else is private):

- :mod:`lib.book.runtime` — ``start_chapter(slug, scale=, seed=, device=)`` returns a ``Chapter``: the
  validated parameters, ``ch.pick(quick=, paper=)``, independent named random streams ``ch.rng(name)`` /
  ``ch.generator(name)`` (seeds s and s+1 share no stream), provenance, and ``ch.cached(name, fn, **inputs)``.
- :mod:`lib.book.cache` — resumable sweeps: at paper scale each expensive cell's result is kept on disk under a
  key of its inputs, its code and the ``lib/`` modules' hashes, so an interrupted record continues.
- :mod:`lib.book.claims` — ``Register(ch).claim(id, source=, statement=, paper=, measured=, check=, kind=,
  expected_quick=)``; the verdict is computed from a ``Check`` (``close_to``, ``at_least``, …) and is never
  written by hand; ``kind`` is ``exact`` | ``empirical`` | ``sanity``. ``reg.show()`` saves
  ``_build/claims/<slug>.json`` (schema: :class:`lib.book.claims.ClaimsDoc`).
- :mod:`lib.book.figures` — the house template and palette, ``publish(fig, name, ch, caption)``, and the small
  vocabulary ``lines(grid, ...)``, ``legend_below(fig)``, ``table(rows)``.
- :mod:`lib.book.datasets` — every data source; missing data raises ``DataUnavailable`` naming the remedy.
- :mod:`lib.book.runner` — executes the book (``python -m lib.book.runner``); writes ``_build/runs/<slug>.json``.
- :mod:`lib.book.files` — the folders and the one atomic writer.

Pages declare their role in their front matter (``dlt: {role: chapter|report}``); a ``report`` page (status,
performance) registers no claims and runs after the chapters.
"""
