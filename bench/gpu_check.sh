#!/usr/bin/env bash
# One prepared GPU check for Ethos's speech path (issue 24); fits in ~10 minutes on one
# H100/H200 with no internet. Run from the repository root with the project's Python:
#
#   bash bench/gpu_check.sh            # on the GPU host
#   bash bench/gpu_check.sh --dry-run  # on CPU: every step with the tiny model, in minutes
#
# Steps (each under its own time limit, a failing step does not stop the others):
#   1. the `gpu`-marked tests (dry run: only collected)
#   2. transformers engine RTFx at batch 1/8/32, eager and static KV cache + torch.compile, on a
#      random-weight model of Voxtral Mini 3B's shape (bench/stt_throughput.py)
#   3. where vllm imports (in $VLLM_PYTHON, default python3: vllm pins its own torch, so a
#      separate venv is usual): that random model exported by ethos-export-vllm, served by
#      vLLM, RTFx of the vllm engine at 64 segments in flight (dry run without vllm: the tiny
#      model exported, and the engine against the tests' OpenAI-protocol stand-in server)
# At the end it prints a summary block to paste into the README ("Performance").
# Results stay in $GPU_CHECK_OUT (default a temporary folder; $OUT when set).
set -u
DRY=0
[ "${1:-}" = "--dry-run" ] && DRY=1
PY=${PYTHON:-python3}
VLLM_PY=${VLLM_PYTHON:-$PY}
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}" HF_HUB_OFFLINE=1 TOKENIZERS_PARALLELISM=false
D=${GPU_CHECK_OUT:-${OUT:-$(mktemp -d)}}
mkdir -p "$D"
# Per-step limits, and one budget for the whole run (a late step gets what is left).
T_TESTS=${T_TESTS:-90} T_BENCH=${T_BENCH:-240} T_EXPORT=${T_EXPORT:-120} T_VLLM=${T_VLLM:-180}
BUDGET=${GPU_CHECK_BUDGET_S:-560}
lim() { local l=$1 r=$((BUDGET - SECONDS)); [ "$r" -lt "$l" ] && l=$r; [ "$l" -lt 5 ] && l=5; echo "$l"; }
step() { echo; echo "=== $* ($(date +%T), ${SECONDS} s in)"; }

step "0. environment"
$PY - > "$D/env.txt" 2>/dev/null <<'PYEOF'
import torch, transformers
gpu = torch.cuda.get_device_name() if torch.cuda.is_available() else "no GPU"
print(f"{gpu}; torch {torch.__version__}, transformers {transformers.__version__}")
PYEOF
cat "$D/env.txt"; nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader 2>/dev/null || true

step "1. gpu-marked tests"
if [ $DRY = 1 ]; then
  timeout "$(lim "$T_TESTS")" $PY -m pytest -m gpu --collect-only -q tests/test_voxtral.py tests/test_voxtral_decode.py \
    tests/test_training.py 2>&1 | tail -3 | tee "$D/tests.txt"
else
  timeout "$(lim "$T_TESTS")" $PY -m pytest -m gpu -q -p no:cacheprovider tests/test_voxtral.py tests/test_voxtral_decode.py \
    tests/test_training.py 2>&1 | tail -15 | tee "$D/tests.txt"
fi

step "2. transformers engine: eager vs static+compile, batch 1/8/32"
if [ $DRY = 1 ]; then ARGS=(--dry-run); else ARGS=(--batches 1,8,32 --segments 20 --rounds 2 --mix-segments 64); fi
timeout "$(lim "$T_BENCH")" $PY bench/stt_throughput.py "${ARGS[@]}" --json "$D/stt.json" 2>&1 \
  | grep -v -e "Loading weights" -e "Writing model" | tee "$D/stt.log" | grep -E "^stt_|^  |FAILED"

step "3. vLLM serving the export, 64 in flight"
PORT=${VLLM_PORT:-8765}
SERVER_PID=""
cleanup() { [ -n "$SERVER_PID" ] && kill "$SERVER_PID" 2>/dev/null; wait 2>/dev/null; }
trap cleanup EXIT
(
  set -e
  if [ $DRY = 1 ]; then M=(--tiny); else M=(); fi
  timeout "$(lim "$T_EXPORT")" $PY bench/gpu_check.py model "$D/hf" "${M[@]}"
  timeout "$(lim "$T_EXPORT")" $PY -m training.export_vllm --base "$D/hf" --adapter none --out "$D/vllm-model" 2>&1 | tail -1
  ls -la "$D/vllm-model"
) > "$D/export.log" 2>&1 || { echo "export FAILED:"; tail -20 "$D/export.log"; }
tail -5 "$D/export.log"
if [ -f "$D/vllm-model/consolidated.safetensors" ] && $VLLM_PY -c "import vllm" 2>/dev/null; then
  $VLLM_PY -m vllm.entrypoints.openai.api_server --model "$D/vllm-model" --served-model-name evoxtral \
    --tokenizer-mode mistral --config-format mistral --load-format mistral --port "$PORT" \
    --max-model-len 4096 --max-num-seqs 128 --gpu-memory-utilization 0.85 > "$D/vllm-server.log" 2>&1 &
  SERVER_PID=$!
  URL="http://127.0.0.1:$PORT"
  deadline=$((SECONDS + $(lim "$T_VLLM")))
  until curl -sf "$URL/health" >/dev/null 2>&1 || [ $SECONDS -ge $deadline ] || ! kill -0 $SERVER_PID 2>/dev/null; do sleep 3; done
  if curl -sf "$URL/health" >/dev/null 2>&1; then
    timeout "$(lim 90)" $PY bench/gpu_check.py serve "$URL" --in-flight 64 --segments 256 \
      --server "vllm $($VLLM_PY -c 'import vllm; print(vllm.__version__)')" --json "$D/vllm.json" \
      || echo "the client run failed" > "$D/vllm.txt"
  else
    echo "the server did not come up in time: $(tail -3 "$D/vllm-server.log" | tr '\n' ' ')" | tee "$D/vllm.txt"
  fi
  cleanup; SERVER_PID=""
elif [ $DRY = 1 ]; then
  echo "vllm not installed: the engine against the OpenAI-protocol stand-in server instead"
  $PY bench/gpu_check.py standin > "$D/standin.url" 2>"$D/standin.log" &
  SERVER_PID=$!
  for _ in $(seq 60); do [ -s "$D/standin.url" ] && break; sleep 1; done
  timeout 120 $PY bench/gpu_check.py serve "$(head -1 "$D/standin.url")" --in-flight 64 --segments 128 \
    --seconds 5 --server "stand-in (dry run, not vLLM)" --json "$D/vllm.json" || echo "stand-in run failed" > "$D/vllm.txt"
  cleanup; SERVER_PID=""
else
  echo "not run: vllm is not importable by $VLLM_PY (set VLLM_PYTHON to a venv with vllm==0.33.0)" | tee "$D/vllm.txt"
fi

step "summary (paste into README, 'Performance')"
$PY bench/gpu_check.py summary "$D"
echo "(raw results in $D)"
