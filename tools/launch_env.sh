# Sourced by the tools' shell scripts. Sets ROOT (the repository), PYTHON
# (kept if set, else the repository's .venv/bin/python if it exists, else
# python) and, as MMAction2's launch scripts, NNODES (1), NODE_RANK (0),
# PORT (29500) and MASTER_ADDR (127.0.0.1) unless set.
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
if [ -z "${PYTHON:-}" ]; then
  if [ -x "$ROOT/.venv/bin/python" ]; then
    PYTHON="$ROOT/.venv/bin/python"
  else
    PYTHON=python
  fi
fi
NNODES=${NNODES:-1}
NODE_RANK=${NODE_RANK:-0}
PORT=${PORT:-29500}
MASTER_ADDR=${MASTER_ADDR:-"127.0.0.1"}
