#!/usr/bin/env bash
# Snakemake runs this once in the new conda env (envs/zstvg.yaml), from its working directory:
# the checkout, whose ./Snakefile (or a symlink to it) locates the package. The env file's pins
# are the package's dependencies, so it goes in editable and without them.
set -euo pipefail
if [ ! -e Snakefile ]; then
  echo "zstvg.post-deploy.sh: no ./Snakefile in $PWD: run snakemake from the zstvg checkout" >&2
  exit 1
fi
repo=$(dirname "$(readlink -f Snakefile)")
if [ ! -f "$repo/pyproject.toml" ]; then
  echo "zstvg.post-deploy.sh: $repo (the Snakefile's folder) has no pyproject.toml" >&2
  exit 1
fi
python -m pip install --no-deps --editable "$repo"
