# lenet-parity: `make check` is the main job, `make test` runs the test suite. Both set themselves up.
# The venv's interpreter: the system's CPython 3.10+ when it has venv (distributions build it with PGO and
# LTO; here Debian's runs pure-Python code ~1.5x faster than pyenv's default build), else python3 on PATH.
# Choose another with `make PYTHON=/path/to/python3.X ...` (after `make clean`).
ifndef PYTHON
PYTHON := $(shell for p in /usr/bin/python3 python3; do "$$p" -c 'import sys, venv, ensurepip; sys.exit(sys.version_info < (3, 10))' 2>/dev/null && { echo "$$p"; break; }; done)
endif
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
CLI    := $(BIN)/lenet-parity
# Golden captures use a fixed thread count (recorded in the file); this keeps the rest reproducible too.
export OMP_NUM_THREADS ?= 1

.PHONY: help setup data data-fashion weights phase0 train check any-language test test-fast bench bench-quick bench-grading bench-sandbox follow experiments report report-screenshot clean

help:
	@echo "make check   set up, fetch MNIST, run every layer check (numpy and pure-Python backends, LeNet and the 1998 LeNet-5, the mutants, the C example)"
	@echo "make test    set up, fetch MNIST, run the test suite"
	@echo "other: setup data data-fashion weights phase0 train follow any-language bench bench-quick bench-grading bench-sandbox experiments report clean"

setup: $(STAMP)

$(STAMP): pyproject.toml
	@test -n "$(PYTHON)" || { echo "no Python >= 3.10 with venv found (tried /usr/bin/python3 and python3); install one (e.g. apt-get install python3-venv) or run: make PYTHON=/path/to/python3.11" >&2; exit 2; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $@

# Ray, the optional distributed executor: the tests of --executor ray need it; `make check` does not
RAY_STAMP := $(VENV)/.ray-installed
$(RAY_STAMP): $(STAMP)
	$(BIN)/pip install --quiet -e '.[test,ray]'
	touch $@

data: setup
	$(CLI) data fetch --dataset mnist --root data

# Fashion-MNIST comes from Debian's dataset-fashion-mnist; install it when we are root, else say how.
data-fashion: setup
	@test -d /usr/share/datasets/fashion-mnist || { \
	  if [ "$$(id -u)" = 0 ]; then apt-get install -y -q dataset-fashion-mnist || { apt-get update -q && apt-get install -y -q dataset-fashion-mnist; }; \
	  else echo "hint: sudo apt-get install dataset-fashion-mnist"; fi; }
	$(CLI) data fetch --dataset fashion-mnist --root data

weights: setup
	$(CLI) export-weights --seed 42 --out weights/lenet_seed42.json
	$(CLI) export-weights --seed 42 --model lenet5 --out weights/lenet5_seed42.json

phase0: data
	$(CLI) phase0 --weights weights/lenet_seed42.json --lenet5-weights weights/lenet5_seed42.json --out phase0/_reference.json

train: data
	$(CLI) train --backend torch --out runs/torch

# NumpyLeNet and torch in lockstep, float64, one epoch: the loss gap step by step (runs/follow/follow.png)
follow: data
	$(CLI) follow --backend numpy --dtype float64 --epochs 1 --out runs/follow

check: data
	$(CLI) check all --backend numpy
	$(CLI) check all --backend python
	$(CLI) check all --backend numpy --model lenet5
	$(CLI) check all --backend python --model lenet5
	$(CLI) mutants
	$(MAKE) --no-print-directory any-language

# Layers in any language: export the ReLU and Linear cases, answer them with the C example, check the answers
# (only where a C compiler exists)
ANY_LANGUAGE := build/any-language
any-language: setup
	@if command -v $${CC:-cc} >/dev/null 2>&1; then \
	  $(MAKE) --no-print-directory -C examples/any_language answer && \
	  $(CLI) cases export relu dense --scope torch --out $(ANY_LANGUAGE) && \
	  examples/any_language/answer $(ANY_LANGUAGE) && \
	  $(CLI) cases check $(ANY_LANGUAGE) relu dense --scope torch; \
	else echo "no C compiler (cc): the C example is skipped"; fi

test: data $(RAY_STAMP)
	$(BIN)/python -m pytest

test-fast: data $(RAY_STAMP)
	$(BIN)/python -m pytest -m "not slow"

# Forward/backward per layer and whole-model figures (torch vs numpy vs pure Python); writes reports/bench.json
bench: data
	$(BIN)/python benchmarks/bench.py --out reports/bench.json

# 20 correct copies of one file graded two at a time (local pool; Ray of 1 and 2 CPUs): submissions per minute and
# the cost of one submission over `check all --impl` on that file (issue 23: at most 0.5); writes reports/bench-grading.json
bench-grading: data $(RAY_STAMP)
	$(BIN)/python benchmarks/bench_grading.py --students 20 --workers 2 --out reports/bench-grading.json

# What the bubblewrap sandbox costs: check all --impl and grading a class of 12, with and without it
bench-sandbox: setup
	$(BIN)/python benchmarks/bench_sandbox.py --out reports/bench-sandbox.json

bench-quick: data
	$(BIN)/python benchmarks/bench.py --quick --out reports/bench-quick.json

# Issue 6: the robustness, drift and batch-size studies (resumable), then one self-contained HTML report
experiments: data
	$(CLI) experiment robustness --out reports/robustness
	$(CLI) experiment drift --runs reports/robustness
	$(CLI) experiment batch-size --out reports/batch-size

report: data
	-$(CLI) check all --json reports/checks/numpy.json
	$(CLI) report --out reports/report.html --check-json reports/checks/numpy.json

report-screenshot: report
	$(CLI) screenshot reports/report.html reports/report.png --height 17000

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache
