"""Offline model builders, one module per source. ``build`` is the entry point."""
