"""Throughput benchmark: a network's real train step or eval forward pass, optionally against timm and Keras.

    python -m inception_jax.benchmark --model=inception_v3 --mode=train --batch=8 --image_size=299 \
        [--dtype=bfloat16] [--remat=block] [--compare=timm,keras] [--json=result.json] [--profile=DIR]
    python -m inception_jax.benchmark --input_pipeline --batch=64 --image_size=299
    bash benchmarks/gpu.sh OUT_DIR [--tiny]      # the one-shot GPU benchmark (`gpu`)

Prints images/s, compile seconds, peak memory, achieved TFLOP/s, MFU where the device's peak is known, and
our/peer ratios; `--json` writes everything. Inputs are synthetic and already on the device; compilation and
warm-up steps are untimed; the median of `--repeats` timed windows is reported (`peers.measure`, used by every
implementation). FLOPs: 2·MACs per image for inference, 6·MACs for training (`report`). Modules:

* `ours`: our step, compiled ahead of time, on random parameters built without compiling `init`.
* `peers`: the timing protocol, and timm / Keras runners, each run as a script in its own interpreter.
* `profiling`: where our step spends its time, per HLO instruction, from a `jax.profiler` trace.
* `report`: FLOP rates, ratios and the printed tables.
* `gpu`: the one-shot GPU benchmark's driver (ours at the largest batch, timm, remat, input pipeline).

Nothing here imports TensorFlow, torch or Keras, except `--input_pipeline` (which times the tf.data pipeline)
and the peer subprocesses.
"""
