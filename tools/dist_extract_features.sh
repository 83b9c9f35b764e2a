#!/usr/bin/env bash
# tools/extract_features.py on several processes, each taking every N-th video:
#   tools/dist_extract_features.sh NPROC [extract_features.py arguments...]
# e.g. tools/dist_extract_features.sh 4 --video-list videos.txt --checkpoint x.pth --out-dir feats/
# Without CUDA the processes run on CPU with gloo. Environment: NNODES,
# NODE_RANK, PORT, MASTER_ADDR, PYTHON as dist_train.sh.
set -euo pipefail

NPROC=$1
source "$(dirname "$0")/launch_env.sh"

PYTHONPATH="$ROOT${PYTHONPATH:+:$PYTHONPATH}" \
"$PYTHON" -m torch.distributed.run --nnodes="$NNODES" --node_rank="$NODE_RANK" \
    --master_addr="$MASTER_ADDR" --nproc_per_node="$NPROC" --master_port="$PORT" \
    "$ROOT/tools/extract_features.py" --launcher pytorch "${@:2}"
