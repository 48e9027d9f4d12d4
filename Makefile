# Developer commands. Each target creates its own virtual environment on first use.
#   make demo    sync the tutorial's models into SQLite and print them (REPLAY=1: recorded responses only)
#   make serve   serve the example site that make demo filled, at http://127.0.0.1:8000/
#   make test    run the whole test suite (SQLite; set DATABASE_URL for PostgreSQL)
#   make docs    build the documentation strictly into site/ (open site/index.html in a browser)
#   make docs-serve  serve the documentation at http://127.0.0.1:8001/, rebuilt as you edit (search works too)
#   make lint    check the import contracts (layers, no cycles; pyproject.toml [tool.importlinter])
#   make bench   run the benchmarks (figures in benchmarks/RESULTS.md)
# Variables: PYTHON (interpreter for the venv), VENV (its folder), DJANGO (a pip requirement to pin Django).

PYTHON ?= python3
VENV ?= .venv
DJANGO ?= django>=5.2,<7
PYTEST_ARGS ?=
STAMP := $(VENV)/.installed

.PHONY: demo serve test docs docs-serve lint bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/python -m pip install --quiet --upgrade pip
	$(VENV)/bin/python -m pip install --quiet -e '.[dev]' '$(DJANGO)'
	touch $(STAMP)

test: $(STAMP)
	$(VENV)/bin/python -m pytest $(PYTEST_ARGS)

demo: $(STAMP)
	$(VENV)/bin/python -m example_project.demo $(if $(REPLAY),--replay)

serve: $(STAMP)
	$(VENV)/bin/python example_project/manage.py runserver

bench: $(STAMP)
	$(VENV)/bin/python -m benchmarks.bench_deserialise
	$(VENV)/bin/python -m benchmarks.bench_sync --records 10000

lint: $(STAMP)
	$(VENV)/bin/lint-imports

docs: $(STAMP)
	$(VENV)/bin/python -m mkdocs build --strict
	@echo "Open site/index.html in a browser (or run make docs-serve)."

docs-serve: $(STAMP)
	$(VENV)/bin/python -m mkdocs serve --dev-addr 127.0.0.1:8001

clean:
	rm -rf $(VENV) site
