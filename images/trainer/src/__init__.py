"""Inference and training code bundled with every logged model (MLflow ``code_paths``).

Imports inside this package are absolute (``from src.california_housing...``): MLflow copies
this directory to ``<model>/code/src`` and puts ``<model>/code`` on ``sys.path`` at load time,
so the same import paths work in the trainer image and in the serving runtime.
"""
