# Two commands do all the set-up on a fresh machine: `make demo` and `make test`.
# Each builds .venv with pip; torch is pinned through constraints.txt to the CPU build.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip install --disable-pip-version-check -q -c constraints.txt
STAMP_RUN := $(VENV)/.stamp-run
STAMP_TEST := $(VENV)/.stamp-test

.PHONY: demo examples figures docs test lint format bench clean

$(STAMP_RUN): pyproject.toml constraints.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) "torch==2.13.0"
	$(PIP) -e .
	touch $@

# The test run covers every backend and integration: Ray, MLflow and Optuna are extras a
# user installs on demand, and the tests of them run here.
$(STAMP_TEST): $(STAMP_RUN)
	$(PIP) -e ".[test,imbalanced,docs,ray,mlflow,optuna]"
	touch $@

# The main job as a study: run it (resuming an unfinished run), then write its HTML report.
demo: $(STAMP_RUN)
	$(PIP) -e ".[plot]"
	$(VENV)/bin/ensemblekit run examples/demo.toml --out runs/demo --report

# Every example, with the extras they use (plot, imbalanced, optuna); figures in examples/figures/.
examples: $(STAMP_RUN)
	$(PIP) -e ".[plot,imbalanced,optuna]"
	for script in examples/*.py; do echo "== $$script"; \
		ENSEMBLEKIT_FIGURES=examples/figures $(PY) $$script || exit 1; done

# The figures the user guide shows (docs/images/), drawn by the examples in full.
figures: $(STAMP_RUN)
	$(PIP) -e ".[plot,optuna]"
	ENSEMBLEKIT_FIGURES=docs/images $(PY) examples/plot_diagnostics.py
	ENSEMBLEKIT_FIGURES=docs/images $(PY) examples/plot_stacked_search.py
	ENSEMBLEKIT_FIGURES=docs/images $(PY) examples/plot_halving_and_optuna.py
	ENSEMBLEKIT_FIGURES=docs/images $(PY) examples/plot_choosing_an_ensemble.py
	# The demo study's report, as a browser shows its top (needs Debian's chromium).
	$(VENV)/bin/ensemblekit run examples/demo.toml --out runs/demo --report -q
	chromium --headless --no-sandbox --disable-gpu --hide-scrollbars --window-size=1000,1250 \
		--screenshot=docs/images/experiment_report.png file://$(CURDIR)/runs/demo/report.html

# The documentation site in docs/_build/html: user guide, API reference, and the gallery
# with every example run in full (minutes), so it shows their real results. Warnings are errors.
docs: $(STAMP_TEST)
	$(PY) -m sphinx -b html -W --keep-going -q docs docs/_build/html
	@echo "The site: docs/_build/html/index.html"

# The tests, and the site with warnings as errors; its gallery pages show each example's
# code without running it here (the tests run every example; `make docs` shows their output).
test: $(STAMP_TEST)
	$(PY) -m ruff check ensemblekit tests examples benchmarks
	$(PY) -m ruff format --check ensemblekit tests examples benchmarks
	$(PY) -m sphinx -b html -W --keep-going -q -D plot_gallery=0 docs docs/_build/html
	$(PY) -m pytest -n auto

lint: $(STAMP_TEST)
	$(PY) -m ruff check --fix ensemblekit tests examples benchmarks
	$(PY) -m ruff format ensemblekit tests examples benchmarks

bench: $(STAMP_TEST)
	# torchensemble declares torchvision, which it never imports and we must not pull in.
	$(PY) -m pip install --disable-pip-version-check -q --no-deps torchensemble==0.2.0
	$(PY) benchmarks/bench_nets.py
	$(PY) benchmarks/bench_bagging.py
	$(PY) benchmarks/bench_snapshots.py
	$(PY) benchmarks/bench_ensemble_speed.py
	$(PY) benchmarks/bench_diagnostics.py
	$(PY) benchmarks/bench_search.py

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache *.egg-info docs/_build docs/generated docs/auto_examples docs/sg_execution_times.rst
