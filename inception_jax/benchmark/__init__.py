"""Benchmarks: a network's real train step or eval forward pass against timm and Keras, FID features/s, the
one-shot GPU run, and what FSDP saves per device.

    python -m inception_jax.benchmark --model=inception_v3 --mode=train --batch=8 --image_size=299 \
        [--dtype=bfloat16] [--remat=block] [--compare=timm,keras] [--json=result.json] [--profile=DIR]
    python -m inception_jax.benchmark --input_pipeline --batch=64 --image_size=299
    python -m inception_jax.benchmark.fid --weights=default_1.pt --batch=16 --rounds=3
    python -m inception_jax.benchmark.fsdp_memory --model=inception_v4 --devices=8 --batch=16
    python -m inception_jax.benchmark.xla_flags --models=inception_v3 --modes=train,infer --rounds=2
    bash benchmarks/gpu.sh OUT_DIR [--tiny]      # the one-shot GPU benchmark (`gpu`)

The throughput benchmark prints images/s, compile seconds, peak memory, achieved TFLOP/s, MFU where the device's
peak is known, and our/peer ratios; `--json` writes everything. Inputs are synthetic and already on the device;
compilation and warm-up steps are untimed; the median of `--repeats` timed windows is reported. Every
implementation, ours and the peers, is timed by `timing`. FLOPs: 2·MACs per image for inference, 6·MACs for
training (`report`). Modules:

* `timing`: the timing protocol (warm-up, windows, medians, taking turns) and the host figures recorded beside.
* `ours`: our step, compiled ahead of time, on random parameters built without compiling `init`.
* `peers`: timm / Keras / plain-optax / TorchScript runners, each run as a script in its own interpreter.
* `profiling`: where our step spends its time, per HLO instruction, from a `jax.profiler` trace.
* `report`: FLOP rates, ratios and the printed tables.
* `fid`: `inception_jax.fid.features` against the same network in PyTorch, in alternating rounds.
* `gpu`: the one-shot GPU benchmark's driver (ours at the largest batch, timm, remat, input pipeline).
* `fsdp_memory`: the compiled train step's per-device memory, replicated against FSDP (compiled, not run).
* `xla_flags`: our step under each XLA:CPU configuration (YNNPACK, XNNPACK, oneDNN), taking turns.

Nothing here imports TensorFlow, torch or Keras, except `--input_pipeline` (which times the tf.data pipeline)
and the peer subprocesses. `benchmarks/` beside the package holds `gpu.sh` and the committed records, `results/`.
"""
