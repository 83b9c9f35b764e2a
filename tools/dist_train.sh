#!/usr/bin/env bash
# Distributed training on one or more nodes, as MMAction2's dist_train.sh:
#   tools/dist_train.sh CONFIG GPUS [train.py arguments...]
#   tools/dist_train.sh configs/xclip_b16_k400.py 8
# GPUS processes per node through torchrun. On a machine without CUDA they
# are CPU processes talking gloo (tools/train.py switches the backend), e.g.
#   tools/dist_train.sh configs/xclip_toy.py 2
# Environment: NNODES, NODE_RANK, PORT, MASTER_ADDR as MMAction2's script;
# PYTHON (default: the repository's .venv/bin/python if it exists, else
# python).
set -euo pipefail

CONFIG=$1
GPUS=$2
source "$(dirname "$0")/launch_env.sh"

PYTHONPATH="$ROOT${PYTHONPATH:+:$PYTHONPATH}" \
"$PYTHON" -m torch.distributed.run --nnodes="$NNODES" --node_rank="$NODE_RANK" \
    --master_addr="$MASTER_ADDR" --nproc_per_node="$GPUS" --master_port="$PORT" \
    "$ROOT/tools/train.py" "$CONFIG" --launcher pytorch "${@:3}"
