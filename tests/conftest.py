"""Shared fixtures. Tests run on the CPU with meta tensors; no network, no GPU."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("MPLBACKEND", "Agg")
# console output is laid out for a wide terminal unless a test sets its own width: the same in a
# terminal, in CI and in pytest-xdist workers (which have no terminal and would wrap at 80)
os.environ.setdefault("COLUMNS", "300")
# pytest-xdist workers share the machine's cores: each gets its share of intra-op threads, or the
# workers' OpenMP threads oversubscribe the cores and spin against each other (before torch is
# imported; inherited by the builds the tests start as subprocesses)
_WORKERS = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
if _WORKERS > 1:
    os.environ.setdefault("OMP_NUM_THREADS", str(max(1, (os.cpu_count() or 1) // _WORKERS)))

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"

# The two long builds (every example measured; every example in snapshot mode, shared through
# ``built_examples``) run first, one per xdist worker (`make test` passes --no-loadscope-reorder so
# that this order is kept): started late, either would leave the other worker idle at the end.
RUN_FIRST = ("test_examples_measured.py", "test_examples.py")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    def rank(item: pytest.Item) -> int:
        name = item.path.name
        return RUN_FIRST.index(name) if name in RUN_FIRST else len(RUN_FIRST)

    items.sort(key=rank)  # stable: the rest keep their collection order


@pytest.fixture(scope="session")
def built_examples(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Every study in ``examples/``, built once per test session in snapshot mode, as an
    instructor would: `reportgen build examples/*.yaml --format md,pdf` (the PDFs for the layout
    tests). One job, in this worker's process: the test session already runs two workers on
    two cores, and a pool of fresh processes would import torch and the rest again (the parallel
    batch has its own tests in test_batch.py).

    Under pytest-xdist (``make test`` runs two workers) the first worker to get here builds and
    the others wait on a file lock and read the same folder (the pattern in xdist's docs)."""
    from filelock import FileLock

    root = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        root = root.parent  # shared by the workers of this session
    out = root / "examples_built"
    with FileLock(str(root / "examples_built.lock")):
        if not (out / ".done").is_file():
            _build_examples(out)
            (out / ".done").write_text("ok", encoding="utf-8")
    return out


def _build_examples(out: Path) -> None:
    from typer.testing import CliRunner

    from reportgen.cli.main import app

    out.mkdir(parents=True, exist_ok=True)
    specs = sorted(EXAMPLES.glob("*.yaml"))
    result = CliRunner().invoke(app, ["build", *map(str, specs), "--deterministic",
                                      "--format", "md,pdf", "-o", str(out)])
    assert result.exit_code == 0, result.output


TINY_MODEL = """\
from torch import nn


def make():
    return nn.Sequential(nn.Conv2d(3, 4, 3), nn.Flatten(), nn.Linear(4 * 6 * 6, 2))
"""

TINY_SPEC = """\
title: Tiny
model: {{source: python, callable: "{module}:make", path: "."}}
domain: cv
inputs: {{image: {{height: 8, width: 8}}}}
platform: raspberry_pi_5
output: {{formats: [md]}}
"""


def write_tiny_study(folder: Path, module: str) -> Path:
    """A tiny user-code CNN (``{module}.py``) and a spec building it (needs --allow-code); each
    test file uses its own module name so Python's import cache never mixes them."""
    (folder / f"{module}.py").write_text(TINY_MODEL, encoding="utf-8")
    path = folder / "tiny.yaml"
    path.write_text(TINY_SPEC.format(module=module), encoding="utf-8")
    return path


@pytest.fixture
def write_spec(tmp_path: Path):
    """Write YAML text to a spec file in a temp dir and return its path."""

    def _write(text: str, name: str = "study.yaml") -> Path:
        p = tmp_path / name
        p.write_text(text, encoding="utf-8")
        return p

    return _write


MINIMAL = """\
title: "Test study"
model:
  card: resnet18
platform: raspberry_pi_5
"""


def catalog_strings(node: object) -> list[str]:
    """Every string in a (nested) message catalog."""
    if isinstance(node, dict):
        return [s for v in node.values() for s in catalog_strings(v)]
    if isinstance(node, list):
        return [s for v in node for s in catalog_strings(v)]
    return [node] if isinstance(node, str) else []
