# Sourced by the tools' shell scripts: sets ROOT (the repository) and PYTHON
# (kept if set, else the repository's .venv/bin/python if it exists, else
# python).
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
if [ -z "${PYTHON:-}" ]; then
  if [ -x "$ROOT/.venv/bin/python" ]; then
    PYTHON="$ROOT/.venv/bin/python"
  else
    PYTHON=python
  fi
fi
