# Fresh machine: `make demo` (installs, then runs the pipeline on the built-in default); `make test`.
PYTHON ?= python3
PIP ?= $(PYTHON) -m pip

.PHONY: install demo test test-fast bench clean

install:
	bash .ci/install

demo: install
	$(PYTHON) -m tinymyo_edge.demo

test: install
	$(PYTHON) -m pytest -q -n 2 --dist loadfile tests

test-fast:
	$(PYTHON) -m pytest -q -x -m "not slow" tests

bench:
	$(PYTHON) bench/run_all.py

clean:
	rm -rf demo_out .pytest_cache
