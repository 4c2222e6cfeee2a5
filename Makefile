# Two commands on a fresh clone:  `make demo` (set up + build the example report) and
# `make test` (set up + run the tests). Set-up is a venv in .venv with the pinned torch trio.
PYTHON ?= python3
VENV   ?= .venv
BIN     = $(VENV)/bin

.PHONY: setup demo test lint bench clean

setup: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[dev,experiments]'
	touch $@

demo: setup
	$(BIN)/reportgen build examples/resnet50_rpi5.yaml
	@echo "open outputs/resnet50_rpi5/report.html (or report.pdf, report.md)"

test: setup
	$(BIN)/python -m pytest -q -n 2 --dist loadfile --no-loadscope-reorder

lint: setup
	$(BIN)/ruff check reportgen tests bench
	$(BIN)/mypy

bench: setup
	$(BIN)/python bench/run_all.py

clean:
	rm -rf outputs/* build dist *.egg-info .pytest_cache
