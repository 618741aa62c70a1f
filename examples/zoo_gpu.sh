#!/usr/bin/env bash
# Train and evaluate every paper-scale zoo recipe (recipes/zoo/catalogue.json, role "paper":
# MSTI-Net, MNAD-pred, MNAD-recon, FFP, the fast tier) on UCSD Ped2 on one GPU, one after the other, and
# print each model's frame AUC beside the one its paper publishes.
#
#   bash examples/zoo_gpu.sh [DATA] [OUT]          # defaults: ../shared/data/ped2 runs/zoo-gpu
#   EPOCHS=60 bash examples/zoo_gpu.sh              # every model at that many epochs
#   MODELS="mnad-pred ffp" bash examples/zoo_gpu.sh # a subset
#   DRY_RUN=1 bash examples/zoo_gpu.sh              # print the commands only
#
# Without EPOCHS each recipe keeps its own epoch count (MNAD-pred and -recon 60, FFP 125, fast 60, MSTI-Net 60):
# hours on one GPU. Not run yet: no GPU was available when it was written (docs/zoo.md).
set -euo pipefail
cd "$(dirname "$0")/.."
DATA=${1:-../shared/data/ped2}
OUT=${2:-runs/zoo-gpu}
WORKERS=${WORKERS:-$(( $(nproc) > 12 ? 12 : $(nproc) ))}
RUN=()  # DRY_RUN=1: print the commands instead of running them (checks the script without a GPU)
if [ -n "${DRY_RUN:-}" ]; then RUN=(echo); else
  python -c "import torch, sys; sys.exit(0 if torch.cuda.is_available() else 'no CUDA device: this script needs a GPU')"
fi
# model name, paper-scale recipe and whether it has a motion stream, one model a line
PAIRS=$(python - <<'PY'
from vadkit.builder import model_section
from vadkit.cli.zoo_cmd import read_catalogue
from vadkit.recipe import load_recipe
for m in read_catalogue():
    if "paper" in m["recipes"]:
        recipe = "recipes/" + m["recipes"]["paper"]
        print(m["name"], recipe, model_section(load_recipe(recipe))["motion"].get("type", "none") != "none")
PY
)
SETS=(--set train.device=cuda --set train.fast=true --set train.workers="$WORKERS")
[ -n "${EPOCHS:-}" ] && SETS+=(--set train.epochs="$EPOCHS")
while read -r name recipe motion; do
  if [ -n "${MODELS:-}" ] && [[ " $MODELS " != *" $name "* ]]; then continue; fi
  start=$(date +%s)
  if [ "$motion" = True ]; then
    "${RUN[@]}" python -m vadkit flow --data "$DATA" --recipe "$recipe" --workers "$WORKERS" < /dev/null  # flow cache first, all cores
  fi
  "${RUN[@]}" python -m vadkit train --recipe "$recipe" --data "$DATA" --out "$OUT/$name" --eval "${SETS[@]}" < /dev/null
  echo "$name: wall time $(( $(date +%s) - start )) s (training, calibration, evaluation)"
done <<< "$PAIRS"
python - "$OUT" <<'PY'
import json, sys
from pathlib import Path
from vadkit.cli.zoo_cmd import read_catalogue
for m in read_catalogue():
    metrics = Path(sys.argv[1]) / m["name"] / "metrics.json"
    if metrics.is_file():
        r = json.loads(metrics.read_text())
        paper = m["published"].get("ped2")
        print(f"{m['name']:10s} Ped2 micro {100 * r['auc_micro']:.1f} (paper {paper if paper is not None else '—'}), "
              f"macro {100 * r['auc_macro']:.1f}, pooled calibrated {100 * r['detection']['auc_pooled']:.1f}, "
              f"epoch {r['checkpoint_epoch']}")
PY
