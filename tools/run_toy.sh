#!/usr/bin/env bash
# The main job: a tiny X-CLIP learns motion on CPU in a few minutes.
#   bash tools/run_toy.sh [CONFIG] [tools/train.py arguments...]
# 1. renders the synthetic motion dataset into data/toy unless it is there
#    (tools/data/make_toy_dataset.py: 8 classes that only motion tells apart;
#    its default size, 150 + 10 videos per class, is what the toy configs
#    are made for);
# 2. trains CONFIG (default configs/xclip_toy.py) into work_dirs/<config name>,
#    validating every 2 epochs and keeping the best checkpoint;
# 3. tests the best checkpoint on val with 2 clips x 3 crops and prints top-1,
#    the direction-pair accuracy and the wall time.
# The ablation (no message tokens, no MIT): bash tools/run_toy.sh configs/xclip_toy_ablation.py
set -euo pipefail
source "$(dirname "$0")/launch_env.sh"
cd "$ROOT"

CONFIG=${1:-configs/xclip_toy.py}
WORK_DIR=work_dirs/$(basename "$CONFIG" .py)
SECONDS=0

if [ ! -f data/toy/classes.txt ] || [ ! -f data/toy/train.txt ] || [ ! -f data/toy/val.txt ]; then
  "$PYTHON" tools/data/make_toy_dataset.py data/toy
fi
"$PYTHON" tools/train.py "$CONFIG" --work-dir "$WORK_DIR" "${@:2}"
CHECKPOINT=$(ls -t "$WORK_DIR"/best_*.pth 2>/dev/null | head -n 1 || true)
if [ -z "$CHECKPOINT" ]; then
  CHECKPOINT=$(cat "$WORK_DIR/last_checkpoint")
fi
"$PYTHON" tools/test.py "$CONFIG" "$CHECKPOINT" --work-dir "$WORK_DIR" \
  --dump "$WORK_DIR/val_predictions.pkl"
echo "checkpoint: $CHECKPOINT"
"$PYTHON" tools/analysis/toy_accuracy.py "$WORK_DIR/val_predictions.pkl"
echo "wall time: ${SECONDS} s (data, training and testing)"
