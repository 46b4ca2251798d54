# Two commands do all set-up: `make demo` and `make test` (README.md).
# Both create .venv when it is missing and install the locked versions into it.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
UV := $(VENV)/bin/uv
STAMP := $(VENV)/.installed-$(shell cat requirements.lock pyproject.toml | cksum | cut -d' ' -f1)
# torch and torchvision go through pip, not uv: pip honours the machine's pip configuration,
# which may serve them (and their nvidia-* wheels) from a local mirror instead of downloading
# ~3 GB. torchvision is needed by transformers' video processors and by SAM 2.
# --no-cache-dir: wheels pip downloads (the nvidia-* ones are GBs) would otherwise also stay in
# ~/.cache/pip; CI has seen the disk run out during this step (the venv itself is 6.8 GB).
# --compile-bytecode: uv writes no .pyc by default (pip does), and where PYTHONDONTWRITEBYTECODE
# is set Python never caches them either, so every process compiled transformers again: ~3 s of
# each zstvg command's start (measured: torch + transformers import 9.5 s -> 6.5 s).
TORCH_PIN := $(shell grep -E '^(torch|torchvision)==' requirements.lock)
UV_PIN := uv==0.13.9

.PHONY: demo test test-gdino test-slurm test-bench lint env env-gdino lock lock-gdino clean-demo dvc-lock pull bench schema

env: $(STAMP)

$(STAMP): requirements.lock pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --no-cache-dir --disable-pip-version-check "$(UV_PIN)" setuptools $(TORCH_PIN)
	SAM2_BUILD_CUDA=0 $(UV) pip install -q -p $(PY) --no-deps --no-build-isolation-package sam2 \
	  --compile-bytecode -r requirements.lock
	$(UV) pip install -q -p $(PY) --no-deps -e .
	rm -f $(VENV)/.installed-* && touch $@

# proposals.detector=gdino-official's own environment: groundingdino-py 0.4.0 calls BERT helpers
# that transformers 5 removed, so it runs with transformers 4.57.6 in .venv-gdino (started by
# `zstvg propose` as a worker process, proposals.detector_python). Our package goes in without
# its dependencies: the worker needs only numpy, PyYAML and Pillow, which come with the lock.
GDINO_VENV := .venv-gdino
GDINO_PY := $(GDINO_VENV)/bin/python
GDINO_STAMP := $(GDINO_VENV)/.installed-$(shell cat requirements-gdino.lock | cksum | cut -d' ' -f1)
GDINO_TORCH_PIN := $(shell grep -E '^(torch|torchvision)==' requirements-gdino.lock)

env-gdino: $(GDINO_STAMP)

$(GDINO_STAMP): requirements-gdino.lock
	@test -x $(GDINO_PY) || $(PYTHON) -m venv $(GDINO_VENV)
	$(GDINO_PY) -m pip install -q --no-cache-dir --disable-pip-version-check "$(UV_PIN)" setuptools \
	  $(GDINO_TORCH_PIN)
	$(GDINO_VENV)/bin/uv pip install -q -p $(GDINO_PY) --no-deps --compile-bytecode \
	  -r requirements-gdino.lock
	$(GDINO_VENV)/bin/uv pip install -q -p $(GDINO_PY) --no-deps -e .
	rm -f $(GDINO_VENV)/.installed-* && touch $@

# Lint first: a formatting slip or a Snakemake lint fails in seconds, before the suite runs.
test: lint
	$(VENV)/bin/python -m pytest -q --durations=25 -m "not bench"

# The benchmark harness end to end at quick sizes (every stage in its own process, ~3.5 min):
# run before `make bench` after changing a benchmark.
test-bench: $(STAMP)
	PATH=$(abspath $(VENV))/bin:$$PATH $(VENV)/bin/python -m pytest -q -m bench tests/benchmarks

# gdino-official end to end (its tests skip in `make test` when .venv-gdino is absent, as in CI):
# builds .venv-gdino if missing (~1.5 min), then a tiny official-format checkpoint, then propose.
test-gdino: $(STAMP) $(GDINO_STAMP)
	$(VENV)/bin/python -m pytest -q -k gdino_official tests/proposals

# The workflow through profiles/slurm on a local single-node SLURM with two fake GPUs (needs
# root and the Debian packages tools/slurm-local.sh installs); the cluster is stopped after.
test-slurm: $(STAMP)
	tools/slurm-local.sh up
	PATH=$(abspath $(VENV))/bin:$$PATH $(VENV)/bin/python -m pytest -q -m slurm \
	  tests/workflow/test_slurm.py; rc=$$?; tools/slurm-local.sh down; exit $$rc

demo: $(STAMP)
	PATH=$(abspath $(VENV))/bin:$$PATH $(VENV)/bin/snakemake --cores all demo
	@cat results/demo/SUMMARY.md

# dvc.lock of the demo pipeline (params.yaml's `run`: the synthetic benchmark, tiny models),
# made afresh: the old lock goes first (DVC keeps the entries of stages no longer in dvc.yaml),
# so every stage runs (2.5 min on 2 cores). The outputs are deterministic: two fresh runs write
# the same lock. tests/workflow/test_dvc.py fails when code, params or the stage list drift
# from the committed lock: rerun this and commit dvc.lock.
dvc-lock: $(STAMP)
	rm -f dvc.lock
	PATH=$(abspath $(VENV))/bin:$$PATH $(VENV)/bin/dvc repro

# A clone up to date for both tools: `dvc pull` restores the outputs with the pull's mtimes, in
# no order, and no .snakemake/ records, so Snakemake would redo some (the GPU jobs included);
# --touch --forceall then marks every job of TARGET done in DAG order, touching its outputs and
# recording its params and code as a run does, so a later params edit still reruns its jobs
# (docs/reproducibility.md#remotes). Outputs DVC did not pull are left missing (a warning).
TARGET ?= all
pull: $(STAMP)
	PATH=$(abspath $(VENV))/bin:$$PATH $(VENV)/bin/dvc pull
	PATH=$(abspath $(VENV))/bin:$$PATH $(VENV)/bin/snakemake --touch --forceall --quiet rules \
	  -- $(TARGET)

# Every stage benchmark side by side, then docs/performance.md with its plots (docs/development.md:
# Benchmarks; ~15 min on 2 CPU cores). `benchmarks/run_all.py --report-only` re-renders it.
bench: $(STAMP)
	PATH=$(abspath $(VENV))/bin:$$PATH $(PY) benchmarks/run_all.py

lint: $(STAMP)
	$(VENV)/bin/ruff check src tests benchmarks
	$(VENV)/bin/ruff format --check src tests benchmarks
	$(VENV)/bin/snakefmt --check Snakefile workflow
	$(VENV)/bin/mypy
	PATH=$(abspath $(VENV))/bin:$$PATH $(VENV)/bin/snakemake --lint

# The params JSON schema the Snakefile validates with, generated from zstvg.config.params' dataclasses
# (tests/test_config.py fails when the committed file is stale).
schema: $(STAMP)
	$(PY) -m zstvg.config.params --write-schema

# Re-resolve the lock from pyproject.toml (needs the package registry): make lock TORCH=2.14.1
# TORCHVISION=0.29.1. torch/torchvision are resolved by pip (see TORCH_PIN), everything else by
# uv; local-version suffixes (+cu130, +cpu) are dropped so the pins resolve on any machine.
lock:
	rm -rf .lockvenv && $(PYTHON) -m venv .lockvenv
	.lockvenv/bin/pip install -q "$(UV_PIN)" "torch==$(TORCH)" "torchvision==$(TORCHVISION)" setuptools
	SAM2_BUILD_CUDA=0 .lockvenv/bin/uv pip install -q -p .lockvenv/bin/python \
	  --no-build-isolation-package sam2 -e ".[workflow,dev,sam2]"
	( echo "# Locked by 'make lock TORCH=<version> TORCHVISION=<version>'; installed by 'make env'."; \
	  .lockvenv/bin/uv pip freeze -p .lockvenv/bin/python --exclude-editable | sed -E 's/\+[a-z0-9.]+$$//' | grep -v -E '^(pip|setuptools|uv)==' ) > requirements.lock
	rm -rf .lockvenv

# Re-resolve requirements-gdino.lock: groundingdino-py with the newest transformers 4.x and the
# torch/torchvision of requirements.lock (through pip, as for `make lock`).
lock-gdino:
	rm -rf .lockvenv-gdino && $(PYTHON) -m venv .lockvenv-gdino
	.lockvenv-gdino/bin/pip install -q "$(UV_PIN)" $(TORCH_PIN) setuptools
	.lockvenv-gdino/bin/uv pip install -q -p .lockvenv-gdino/bin/python groundingdino-py==0.4.0 \
	  "transformers>=4.57,<5"
	( echo "# Locked by 'make lock-gdino'; installed into .venv-gdino by 'make env-gdino'."; \
	  .lockvenv-gdino/bin/uv pip freeze -p .lockvenv-gdino/bin/python | sed -E 's/\+[a-z0-9.]+$$//' \
	  | grep -v -E '^(pip|setuptools|uv)==' ) > requirements-gdino.lock
	rm -rf .lockvenv-gdino

clean-demo:
	rm -rf results/demo results/synthetic
