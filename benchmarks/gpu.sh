#!/usr/bin/env bash
# The one-shot GPU benchmark (inception_jax/benchmark/gpu.py): ours in bfloat16 against timm (CUDA, AMP,
# channels_last, torch.compile) on one GPU, JSON records under OUT. Under 8 minutes on one H100/H200.
#
#   bash benchmarks/gpu.sh OUT [--tiny] [--models=...] [--max_batch=1024] [--budget_s=450] [--timm_python=...]
#
# --tiny checks it on any CPU. It needs this package's requirements (jax, flax, optax, ml-collections, absl-py)
# and, for the peer, torch and timm in --timm_python (default: the same Python). PYTHON picks the interpreter.
set -euo pipefail
if [[ $# -lt 1 || $1 == -* ]]; then
  echo "usage: bash benchmarks/gpu.sh OUT_DIR [--tiny] [more flags of python -m inception_jax.benchmark.gpu]" >&2
  exit 2
fi
out=$(realpath -m "$1")
shift
cd "$(dirname "$0")/.."
python=${PYTHON:-$(test -x .venv/bin/python && echo .venv/bin/python || echo python3)}
missing=$("$python" -c 'import importlib.util as u; print(" ".join(m for m in ("jax", "flax", "optax", "ml_collections", "absl") if not u.find_spec(m)))')
if [[ -n $missing ]]; then
  echo "benchmarks/gpu.sh: $python lacks $missing; install them (pip install -e .) or set PYTHON." >&2
  exit 2
fi
exec "$python" -m inception_jax.benchmark.gpu --out="$out" "$@"
