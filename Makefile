# evaluation: the two commands are `make report` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
STUDY  ?= .
JOBS   ?= 2
# The package's own bytecode: pip compiles the packages it installs, not an editable install,
# and where PYTHONDONTWRITEBYTECODE is set Python never writes it, so every run compiled the
# package's sources again (a tenth of a run with nothing to do). Up-to-date files are skipped.
BYTECODE := $(BIN)/python -m compileall -q src/evaluation

.DEFAULT_GOAL := help
.PHONY: help install report demo run test test-fast test-deep lab lint format bench env screenshots clean

help: ## show this help
	@grep -E '^[a-zA-Z_-]+:.*?## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*?## "}; {printf "  %-12s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml requirements.lock
	@echo "Creating $(VENV)/ and installing the pinned packages of requirements.lock (a few minutes on a fresh clone)..."
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade "pip>=24"
	$(BIN)/python -m pip install --quiet -c requirements.lock -e ".[dev]"
	$(BIN)/python -m ipykernel install --sys-prefix --name evaluation --display-name "evaluation (.venv)" >/dev/null
	-@git rev-parse --git-dir >/dev/null 2>&1 && $(BIN)/nbstripout --install
	@$(BYTECODE)
	@touch $(STAMP)

install: $(STAMP) ## create .venv/, install the pinned package and register the `evaluation` Jupyter kernel

demo: $(STAMP) ## write the deterministic demo study (config + data/raw) into STUDY (default: .)
	$(BIN)/evaluation demo --study $(STUDY)

run: $(STAMP) ## analyse STUDY: validate, score, run the notebooks, write the reports
	@$(BYTECODE)
	$(BIN)/evaluation run --study $(STUDY) --jobs $(JOBS)

report: $(STAMP) demo run ## install, generate the demo study, run every notebook, write reports/html/
	@echo "Reports: $(STUDY)/reports/html/index.html"

# HYPOTHESIS_PROFILE (tests/conftest.py): ci draws 200 examples per property, dev 20.
test: $(STAMP) ## the whole suite: unit, property (ci profile), doctests, end-to-end (~18 min)
	HYPOTHESIS_PROFILE=ci $(BIN)/python -m pytest -n $(JOBS) --dist loadgroup

DEEP ?= 40
test-deep: $(STAMP) ## the generated-studies property with DEEP (default 40) fresh random studies
	HYPOTHESIS_PROFILE=ci EVALUATION_DEEP_EXAMPLES=$(DEEP) \
		$(BIN)/python -m pytest -n $(JOBS) tests/test_generated_studies.py

test-fast: $(STAMP) ## the tests not marked slow, dev hypothesis profile (under a minute)
	HYPOTHESIS_PROFILE=dev $(BIN)/python -m pytest -n $(JOBS) --dist loadgroup -m "not slow"

lab: $(STAMP) ## open JupyterLab with the evaluation kernel (executed notebooks: reports/notebooks/)
	$(BIN)/jupyter lab --ServerApp.root_dir=. $$( [ "$$(id -u)" = 0 ] && echo --allow-root )

lint: $(STAMP) ## ruff check, ruff format --check, the import contract (lint-imports)
	$(BIN)/ruff check src tests benchmarks tools
	$(BIN)/ruff format --check src tests benchmarks tools
	$(BIN)/lint-imports --no-cache --no-logo

format: $(STAMP) ## apply ruff format and fixes
	$(BIN)/ruff check --fix src tests benchmarks tools
	$(BIN)/ruff format src tests benchmarks tools

bench: $(STAMP) ## benchmarks: --help start-up, pipeline vs a naive papermill loop, incremental runs, the scale curve, the disclosure audit (docs/benchmarks.md)
	@$(BYTECODE)
	$(BIN)/python benchmarks/cli_start.py
	$(BIN)/python benchmarks/pipeline.py
	$(BIN)/python benchmarks/incremental.py
	$(BIN)/python benchmarks/scale.py
	$(BIN)/python benchmarks/disclosure.py

screenshots: report ## docs/img/report.png and report-phone.png from STUDY's Finnish consortium report (needs chromium)
	$(BIN)/python tools/screenshots.py --study $(STUDY) --out docs/img

env: ## regenerate environment.yml (conda) from requirements.lock: every package pinned the same
	$(PYTHON) tools/conda_env.py

clean: ## remove derived data and reports (never data/raw)
	rm -rf data/processed/* reports/*
	@touch data/processed/.gitkeep reports/.gitkeep
