#!/usr/bin/env bash
# Check evalcli the way users get it: build the sdist and the wheel (the wheel from the sdist),
# install the wheel (not editable) into fresh venvs and, from a directory outside the checkout,
# run the quickstart and judged/safety samples against the loopback stub server.
#
# Two installs, each in its own venv:
#   newest  every dependency at its newest release;
#   lowest  every declared dependency pinned to its declared lower bound (a constraints file
#           from the wheel's own metadata, scripts/lower_bounds.py), transitive ones newest,
#           which is what `pip install evalcli` can give a user whose environment holds old
#           versions.
#
# Quiet on success; on failure prints the failing step with its output and exits 1.
# Needs the dev venv from scripts/bootstrap.sh (uv, packaging, and the NLTK data it builds)
# and PyPI (uv caches downloads, so a second run is fast). Idempotent: everything it makes
# lives in a temporary directory that is removed at exit.
#
#   scripts/check_wheel.sh                          # both installs
#   WHEEL_CHECK_MODES=lowest scripts/check_wheel.sh # one of them
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
VENV=${VENV:-.venv}
case $VENV in /*) ;; *) VENV=$ROOT/$VENV ;; esac
UV=${UV:-$VENV/bin/uv}
MODES=${WHEEL_CHECK_MODES:-newest lowest}
NLTK_DATA_DIR=${NLTK_DATA_DIR:-$VENV/share/nltk_data}
# The fresh venvs use the dev venv's interpreter; never let uv fetch a Python of its own.
export UV_PYTHON_DOWNLOADS=never UV_NO_PROGRESS=1
unset VIRTUAL_ENV PYTHONPATH

die() {
  echo "check_wheel: FAILED: $*" >&2
  exit 1
}

[ -x "$UV" ] || die "uv not found at $UV (run 'make setup': the dev extras install it)"
[ -d "$NLTK_DATA_DIR" ] || die "no NLTK data at $NLTK_DATA_DIR (run 'make setup')"

WORK=$(mktemp -d "${TMPDIR:-/tmp}/evalcli-wheel-check.XXXXXX")
case $WORK/ in "$ROOT"/*) die "the temporary directory $WORK is inside the checkout" ;; esac
STUB_PID=""
cleanup() {
  if [ -n "$STUB_PID" ]; then
    kill "$STUB_PID" 2>/dev/null || true
    wait "$STUB_PID" 2>/dev/null || true
  fi
  rm -rf "$WORK"
}
trap cleanup EXIT
LOG=$WORK/step.log

# step DESCRIPTION COMMAND...: run COMMAND with its output captured; show it only on failure.
step() {
  local what=$1
  shift
  if ! "$@" >"$LOG" 2>&1; then
    {
      echo "check_wheel: FAILED: $what"
      echo "  command: $*"
      tail -n 60 "$LOG" | sed 's/^/  | /'
    } >&2
    exit 1
  fi
}

step "build the sdist and the wheel" \
  "$UV" build --quiet --python "$VENV/bin/python" --out-dir "$WORK/dist" "$ROOT"
WHEEL=$(echo "$WORK"/dist/evalcli-*.whl)
[ -f "$WHEEL" ] || die "uv build made no wheel in $WORK/dist"
step "read the lower bounds from the wheel's metadata" \
  "$VENV/bin/python" "$ROOT/scripts/lower_bounds.py" "$WHEEL"
cp "$LOG" "$WORK/lowest.txt"

# The samples: copied out of the checkout, so nothing in it can be found by accident.
SAMPLES=$WORK/samples
mkdir -p "$SAMPLES/configs"
cp "$ROOT"/configs/{quickstart,phi3-endpoint,content-safety}.yaml "$SAMPLES/configs/"
cp -r "$ROOT/sample_data" "$SAMPLES/"

check_mode() {
  local mode=$1 venv=$WORK/venv-$1 run=$WORK/run-$1
  local -a pins=()
  case $mode in
    newest) ;;
    lowest) pins=(--constraint "$WORK/lowest.txt") ;;
    *) die "unknown mode '$mode' in WHEEL_CHECK_MODES (newest, lowest)" ;;
  esac
  step "[$mode] create a venv" "$UV" venv --quiet --python "$VENV/bin/python" "$venv"
  step "[$mode] install the wheel" \
    "$UV" pip install --quiet --python "$venv/bin/python" "${pins[@]}" "$WHEEL"
  cp -r "$SAMPLES" "$run"
  cd "$run"
  export NLTK_DATA=$NLTK_DATA_DIR
  local evalcli=$venv/bin/evalcli

  step "[$mode] evalcli and its rubrics come from the installed wheel" \
    "$venv/bin/python" - "$ROOT" <<'EOF'
import json, subprocess, sys, sysconfig
from pathlib import Path
import evalcli
from evalcli.prompts import builtin_prompt_dir, builtin_prompt_names
site = Path(sysconfig.get_paths()["purelib"]).resolve()
checkout = Path(sys.argv[1]).resolve()
for what, path in [("evalcli", Path(evalcli.__file__)), ("rubrics", builtin_prompt_dir())]:
    path = path.resolve()
    assert path.is_relative_to(site), f"{what} loaded from {path}, not from {site}"
    assert not path.is_relative_to(checkout), f"{what} loaded from the checkout: {path}"
assert "relevance" in builtin_prompt_names(), builtin_prompt_names()
listed = json.loads(subprocess.run(
    [str(Path(sys.executable).parent / "evalcli"), "list-evaluators", "--json"],
    check=True, stdout=subprocess.PIPE, text=True).stdout)
assert {"relevance", "bleu", "content_safety"} <= {e["name"] for e in listed}, listed
EOF
  step "[$mode] evalcli --version" "$evalcli" --version
  # A usage error goes through typer's and click's error formatting, which breaks (a
  # traceback instead of exit 2) when their versions do not fit together.
  step "[$mode] a usage error is one message and exit 2" \
    bash -c 'out=$("$@" 2>&1); rc=$?; echo "$out"; [ "$rc" -eq 2 ] && [[ $out != *Traceback* ]]' _ \
    "$evalcli" run configs/quickstart.yaml --limit 0
  step "[$mode] quickstart" "$evalcli" run configs/quickstart.yaml --quiet --no-cache

  # Deterministic faults (429 with and without Retry-After, 500, dropped connections) make
  # the runs go through the retry paths too: the exception classes and headers of the
  # installed openai/httpx2/tenacity versions must be the ones evalcli expects.
  "$venv/bin/python" -m evalcli.testing.stub_server --api-key test-key \
    --faults rate_limit=0.2,server_error=0.1,dropped=0.05,retry_after=0.1 \
    >"$run/stub.out" 2>"$run/stub.err" &
  STUB_PID=$!
  local url="" _
  for _ in $(seq 100); do
    url=$(head -n 1 "$run/stub.out")
    [ -n "$url" ] && break
    kill -0 "$STUB_PID" 2>/dev/null || break
    sleep 0.1
  done
  [ -n "$url" ] || die "[$mode] the stub server printed no URL: $(cat "$run/stub.err")"
  export AZURE_OPENAI_ENDPOINT=$url AZURE_OPENAI_API_KEY=test-key
  export PHI3_ENDPOINT_URL=$url/score PHI3_KEY=test-key
  export CONTENT_SAFETY_ENDPOINT=$url CONTENT_SAFETY_KEY=test-key

  # The stub's canned judge scores miss phi3-endpoint's relevance gate: exit 1 (gate failed)
  # is expected there; what matters is checked in results.json below.
  step "[$mode] judged sample (HTTP target + judge, configs/phi3-endpoint.yaml)" \
    bash -c '"$@"; rc=$?; [ "$rc" -le 1 ] || exit "$rc"' _ \
    "$evalcli" run configs/phi3-endpoint.yaml --quiet --no-cache
  step "[$mode] safety sample (configs/content-safety.yaml)" \
    "$evalcli" run configs/content-safety.yaml --quiet --no-cache
  kill "$STUB_PID"
  wait "$STUB_PID" 2>/dev/null || true
  STUB_PID=""

  step "[$mode] the judged runs retried, then scored every row with the wheel's rubrics" \
    "$venv/bin/python" - <<'EOF'
import json, sysconfig
from pathlib import Path
site = Path(sysconfig.get_paths()["purelib"]).resolve()
for name in ("phi3-endpoint", "content-safety"):
    res = json.loads(Path(f"results/{name}/results.json").read_text())
    assert res["status"] in ("completed", "gate_failed"), (name, res["status"], res["message"])
    assert not res["errors"], (name, res["errors"][:3])
    clients = res["usage"]["clients"].values()
    assert clients and all(c["succeeded"] == c["calls"] > 0 for c in clients), (name, clients)
    assert res["usage"]["total"]["retries"] > 0, (name, "the stub's faults were never retried")
judged = json.loads(Path("results/phi3-endpoint/results.json").read_text())
evaluators = judged["run"]["evaluators"]
for alias in ("relevance", "coherence", "fluency", "similarity"):
    prompt = Path(evaluators[alias]["params"]["prompt"]).resolve()
    assert prompt.is_relative_to(site), f"{alias} used the rubric {prompt}, not the wheel's"
    assert judged["metrics"][f"{alias}.error_count"] == 0, judged["metrics"]
EOF
  cd "$WORK"
}

for mode in $MODES; do
  check_mode "$mode"
done
