# govlake — the targets a newcomer needs. Every target installs what it needs first (idempotent).
PY := .venv/bin/python
SCALE ?= 20000

.PHONY: help install demo test test-fast lint format lock clean

help:  ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

install:  ## create .venv from requirements.lock and fetch Spark's jars into .jars/ (once)
	@bash infra/install.sh

demo: install  ## run the whole pipeline on the embedded default (local files under .lake/, no servers)
	@.venv/bin/govlake demo --scale $(SCALE)

test: install  ## run the whole test suite (starts and stops its own object store and Airflow)
	@.venv/bin/pytest

test-fast: install  ## unit tests only: no object store, no Airflow scheduler, no SQL endpoint, no end-to-end runs
	@.venv/bin/pytest -m "not objectstore and not airflow and not slow and not cluster and not sqlserver"

lint: install  ## ruff lint and format check
	@.venv/bin/ruff check . && .venv/bin/ruff format --check .

format: install  ## apply ruff's fixes and formatting
	@.venv/bin/ruff check --fix . && .venv/bin/ruff format .

lock:  ## re-resolve requirements.lock from pyproject.toml (after changing a pin)
	@uv pip compile pyproject.toml --extra dev --python-version 3.11 -q -o requirements.lock || \
	  .venv/bin/uv pip compile pyproject.toml --extra dev --python-version 3.11 -q -o requirements.lock

clean:  ## delete the local lake, generated data and server state (keeps .venv and .jars)
	rm -rf .lake .data .run spark-warehouse
