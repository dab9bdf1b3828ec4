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

# bench_accuracy trains per 3DC participant (~10 min each on a busy core): `make bench` scores participants 2 and 5
# (two processes, ~10 min); all six: `make bench TINYMYO_ACCURACY_PARTICIPANTS=1,2,3,4,5,6` (~30 min more).
TINYMYO_ACCURACY_PARTICIPANTS ?= 2,5

bench:
	TINYMYO_ACCURACY_PARTICIPANTS=$(TINYMYO_ACCURACY_PARTICIPANTS) $(PYTHON) bench/run_all.py

clean:
	rm -rf demo_out .pytest_cache
