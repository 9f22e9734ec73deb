"""A small registered champion for tests of the parts that serve, watch or repair a model: the benchmarks' own
(bench/champion.py), so that a test and a benchmark measure the same model. The trainer's tests use the real
training pipeline."""

from bench.champion import breast_cancer_frame, register_simple_model

__all__ = ["breast_cancer_frame", "register_simple_model"]
