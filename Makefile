# Deep Learning Theory, Executed — the two commands: `make book` and `make test`.
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
SCALE  ?= quick
DEVICE ?= auto
SEED   ?= 0
JOBS   ?= 2
MATHJAX_VERSION := 3.2.2
STAMP  := $(VENV)/.installed

.PHONY: help book chapter record html test static data lab pdf lint bench clean

help:
	@echo "make book   [SCALE=quick|paper] [DEVICE=auto|cpu|cuda] [SEED=0] [JOBS=2]  execute every chapter, build _build/html"
	@echo "make chapter NAME=<slug> [SCALE=...] [DEVICE=...]                       execute one chapter, rebuild the HTML"
	@echo "make record NAME=<slug> [SCALE=paper] [DEVICE=auto|cpu|cuda]              execute one chapter at paper scale, store records/<scale>/<slug>/"
	@echo "make test                                                                 run the test suite"
	@echo "make data                                                                 fetch and verify the data sets (book, chapter and test run it)"
	@echo "make lab                                                                  open the chapters as live notebooks (JupyterLab + jupytext)"
	@echo "make pdf                                                                  the built book as _build/pdf/book.pdf (headless Chromium)"
	@echo "make html | static | lint | bench | clean"

# The virtual environment: created if missing, re-installed when requirements.txt or pyproject.toml change.
$(STAMP): requirements.txt pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q -r requirements.txt 2>&1 | { grep -v '^WARNING: Location' || true; }
	$(BIN)/pip install -q --no-deps -e . 2>&1 | { grep -v '^WARNING: Location' || true; }
	$(BIN)/python -c 'import torch, lib; print("installed: torch", torch.__version__)'
	touch $@

# MathJax 3 served from book/_static (offline math), installed from the npm registry.
book/_static/mathjax/tex-chtml.js:
	npm install --no-save --no-audit --no-fund --loglevel=error --prefix .cache/npm mathjax@$(MATHJAX_VERSION)
	rm -rf book/_static/mathjax.tmp
	mkdir -p book/_static/mathjax.tmp/output/chtml book/_static/mathjax.tmp/input/tex
	cp .cache/npm/node_modules/mathjax/es5/tex-chtml.js book/_static/mathjax.tmp/
	cp -r .cache/npm/node_modules/mathjax/es5/output/chtml/fonts book/_static/mathjax.tmp/output/chtml/
	cp -r .cache/npm/node_modules/mathjax/es5/input/tex/extensions book/_static/mathjax.tmp/input/tex/
	rm -rf book/_static/mathjax && mv book/_static/mathjax.tmp book/_static/mathjax

static: book/_static/mathjax/tex-chtml.js

# The data sets (full Fashion-MNIST and MNIST) into $DLT_DATA (default ~/.cache/dlt-data), without root: cached,
# SHA-256 verified, atomic; a second run only re-verifies (no network). DLT_OFFLINE=1 fetches nothing. A data set
# that stays unavailable is reported with its remedy and does not fail the build (its claims say not checkable).
data: $(STAMP)
	$(BIN)/python -m lib.book.datasets fetch

book: $(STAMP) static data
	$(BIN)/python -m lib.book.runner --scale $(SCALE) --device $(DEVICE) --seed $(SEED) -j $(JOBS)

chapter: $(STAMP) static data
	@test -n "$(NAME)" || { echo "usage: make chapter NAME=<slug> (see _toc.yml)"; exit 2; }
	$(BIN)/python -m lib.book.runner --only $(NAME) --scale $(SCALE) --device $(DEVICE) --seed $(SEED) --html

record: $(STAMP) data
	@test -n "$(NAME)" || { echo "usage: make record NAME=<slug> [SCALE=paper] [DEVICE=auto|cpu|cuda] [TIMEOUT=seconds]"; exit 2; }
	$(BIN)/python -m lib.book.records $(NAME) --scale $(if $(filter command line,$(origin SCALE)),$(SCALE),paper) --device $(DEVICE) --seed $(SEED) $(if $(TIMEOUT),--timeout $(TIMEOUT))

html: $(STAMP) static
	$(BIN)/python -m lib.book.runner --html-only

test: $(STAMP) data
	$(BIN)/python -m pytest -q tests

lab: $(STAMP) data
	$(BIN)/python -m lib.book.lab

pdf: $(STAMP)
	$(BIN)/python -m lib.book.pdf

lint: $(STAMP)
	$(BIN)/ruff check lib tests bench
	$(BIN)/python -m lib.book.lint

# The machine's peak first (every "fraction of peak" on the performance page divides by it), then every kernel.
# Run it on a quiet machine: each result records the load, and the page marks results taken under load as noisy.
bench: $(STAMP) data
	@start=$$(date +%s); $(BIN)/python bench/bench_machine_peak.py || exit 1; \
	for b in bench/bench_*.py; do [ "$$b" = bench/bench_machine_peak.py ] && continue; echo "== $$b"; \
	  $(BIN)/python $$b || { echo "FAILED: $$b"; exit 1; }; done; \
	echo "make bench: every benchmark refreshed in $$(( $$(date +%s) - start )) s (load now: $$(cut -d' ' -f1 /proc/loadavg))"

clean:
	rm -rf _build figures book/*.ipynb
