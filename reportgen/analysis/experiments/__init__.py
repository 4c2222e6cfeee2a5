"""Experiments: apply acceleration methods to the model on this host and measure them.

Each method (``registry.py``; one module per family: ``quantization``, ``pruning``,
``inference``, ``distillation``, and ``combinations`` for methods stacked into one) turns the
fp32 baseline into a transformed model; ``runner.py``
times it with the section-4 harness (``measurement.timing``), measures output fidelity against
the baseline on the same inputs (``fidelity.py``), size on disk and peak memory, each method
isolated (a failure or an overrun is recorded with its reason, the others still run).
``stage.py`` is the pipeline stage: it sits after ``hypotheses`` (it reads their predictions to
put predicted and measured speed-ups side by side) and before ``tradeoffs``.
"""
