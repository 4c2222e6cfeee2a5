"""Where the shipped data lives: inside the wheel (``reportgen/_data``) or at the repo root."""

from __future__ import annotations

from pathlib import Path

_PKG = Path(__file__).resolve().parent
_REPO = _PKG.parent


def _data_dir(name: str) -> Path:
    installed = _PKG / "_data" / name
    if installed.is_dir():
        return installed
    return _REPO / name


def templates_dir() -> Path:
    return _data_dir("templates")


def model_cards_dir() -> Path:
    return _data_dir("model_cards")
