#!/usr/bin/env bash
# Distributed testing, as MMAction2's dist_test.sh:
#   tools/dist_test.sh CONFIG CHECKPOINT GPUS [test.py arguments...]
# Without CUDA the processes run on CPU with gloo (see dist_train.sh).
# Environment: NNODES, NODE_RANK, PORT, MASTER_ADDR, PYTHON as dist_train.sh.
set -euo pipefail

CONFIG=$1
CHECKPOINT=$2
GPUS=$3
source "$(dirname "$0")/launch_env.sh"

PYTHONPATH="$ROOT${PYTHONPATH:+:$PYTHONPATH}" \
"$PYTHON" -m torch.distributed.run --nnodes="$NNODES" --node_rank="$NODE_RANK" \
    --master_addr="$MASTER_ADDR" --nproc_per_node="$GPUS" --master_port="$PORT" \
    "$ROOT/tools/test.py" "$CONFIG" "$CHECKPOINT" --launcher pytorch "${@:4}"
