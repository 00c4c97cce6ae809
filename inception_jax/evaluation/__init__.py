"""Multi-crop and ensemble evaluation, behind `python -m inception_jax.evaluate`.

crops.py      the 1-, 12- and 144-crop views of an image (TensorFlow ops)
inputs.py     global batches of those views, one set per input spec, from the trainer's eval iterator
networks.py   networks from training workdirs (raw and EMA) and converted weights, with their specs
scoring.py    view- and ensemble-averaged softmax, top-1/top-5 over one pass
evaluator.py  `evaluate(...)`: all of the above for a list of runs and crop counts
report.py     the paper-style table and the JSON record
"""
