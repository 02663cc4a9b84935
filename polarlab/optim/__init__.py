"""Optimizers built from polarlab primitives (being written)."""

__all__: list[str] = []
