# Two commands do all set-up: `make demo` and `make test` (README.md).
# Both create .venv when it is missing and install the locked versions into it.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
UV := $(VENV)/bin/uv
STAMP := $(VENV)/.installed-$(shell cat requirements.lock pyproject.toml | cksum | cut -d' ' -f1)
# torch goes through pip, not uv: pip honours the machine's pip configuration, which may offer a
# local CPU wheel (~200 MB) instead of PyPI's CUDA build (~3 GB of nvidia-* wheels).
TORCH_PIN := $(shell grep -E '^torch==' requirements.lock)
UV_PIN := uv==0.13.9

.PHONY: demo test lint env lock clean-demo

env: $(STAMP)

$(STAMP): requirements.lock pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --disable-pip-version-check "$(UV_PIN)" "$(TORCH_PIN)" 2>&1 | grep -v "is ignored" || true
	$(UV) pip install -q -p $(PY) --no-deps -r requirements.lock
	$(UV) pip install -q -p $(PY) --no-deps -e .
	rm -f $(VENV)/.installed-* && touch $@

test: $(STAMP)
	$(VENV)/bin/ruff check src tests benchmarks
	$(VENV)/bin/python -m pytest -q

demo: $(STAMP)
	PATH=$(abspath $(VENV))/bin:$$PATH $(VENV)/bin/snakemake --cores all demo
	@cat results/demo/SUMMARY.md

lint: $(STAMP)
	$(VENV)/bin/ruff check src tests benchmarks
	$(VENV)/bin/ruff format --check src tests benchmarks

# Re-resolve the lock from pyproject.toml (needs the package registry). torch is resolved by pip
# (see TORCH_PIN); everything else by uv; the local-version suffix (+cpu) is dropped so the pin
# also resolves on machines without the local wheel.
lock:
	rm -rf .lockvenv && $(PYTHON) -m venv .lockvenv
	.lockvenv/bin/pip install -q "$(UV_PIN)" "torch==$(TORCH)"
	.lockvenv/bin/uv pip install -q -p .lockvenv/bin/python -e ".[workflow,dev]"
	( echo "# Locked by 'make lock TORCH=<version>'; installed by 'make env'."; \
	  .lockvenv/bin/uv pip freeze -p .lockvenv/bin/python --exclude-editable | sed -E 's/\+cpu$$//' | grep -v -E '^(pip|setuptools|uv)==' ) > requirements.lock
	rm -rf .lockvenv

clean-demo:
	rm -rf results/demo results/synthetic
