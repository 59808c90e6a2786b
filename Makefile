# Every target installs what it needs first: a fresh clone needs only `make run` or `make test`.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
# What `pip install -e '.[EXTRAS]'` adds: the tests also cover the optional sentence encoder.
EXTRAS ?= dev
comma  := ,
STAMP  := $(VENV)/.installed-$(subst $(comma),-,$(EXTRAS))
GEN    := service/api/stance/v1/stance_pb2.py
UI_PORT ?= 5000

.PHONY: install run test train evaluate benchmark bench validate stats agreement ui clean

$(STAMP): pyproject.toml
	$(PYTHON) -c 'import sys; assert sys.version_info[:2] == (3, 11), "Python 3.11 is required (set PYTHON=...)"'
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -e '.[$(EXTRAS)]'
	touch $(STAMP)

# gRPC code is generated from protos/ by the pinned grpcio-tools, never committed (see README).
$(GEN): protos/stance/v1/stance.proto $(STAMP)
	$(PY) -m grpc_tools.protoc -Iservice/api=protos --python_out=. --pyi_out=. --grpc_python_out=. \
		protos/stance/v1/stance.proto

install: $(STAMP) $(GEN)

run: install  ## train a model if the registry has none, then serve gRPC
	$(PY) -m service

# The tests cover the optional encoder too, so they get their own venv with it: with torch installed, spaCy's
# thinc imports it at start-up (+1 s, +300 MB per worker), which the serving venv (.venv) should not pay.
TEST_VENV ?= .venv-test
test:  ## the whole test suite (what CI runs), in $(TEST_VENV) with the optional encoder extra
	$(MAKE) install VENV=$(TEST_VENV) EXTRAS=dev,encoder
	$(TEST_VENV)/bin/python -m pytest

train: install  ## one MLflow run; promotes to @champion only if it beats the champion on dev
	$(PY) -m training train $(ARGS)

evaluate: install  ## champion's figures on a split: make evaluate SPLIT=dev (ARGS="--ids at,bt")
	$(PY) -m training evaluate --split $(or $(SPLIT),dev) $(ARGS)

benchmark: install  ## public datasets under STANCE_DATASETS_DIR (default ../shared/datasets): one table
	$(PY) -m training benchmark $(ARGS)

bench: install  ## latency/throughput/memory of the gRPC server on this machine (not a test)
	$(PY) -m service.bench $(ARGS)

validate: install  ## check the annotated corpus (file:line for every problem)
	$(PY) -m training.corpus validate --strict

stats: install
	$(PY) -m training.corpus stats

agreement: install  ## second-pass agreement (Cohen's kappa) and the adjudicated disagreements
	$(PY) -m training.agreement report --summary

ui: install  ## MLflow UI on the embedded store: http://127.0.0.1:$(UI_PORT)
	$(VENV)/bin/mlflow ui --backend-store-uri "$${MLFLOW_TRACKING_URI:-sqlite:///models/mlflow.db}" \
		--host 127.0.0.1 --port $(UI_PORT)

clean:
	rm -rf $(VENV) $(TEST_VENV) service/api/stance/v1/stance_pb2*.py* .pytest_cache
