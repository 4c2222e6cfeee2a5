"""The Python API for notebooks: analyse your own ``nn.Module`` and get the same report.

    study = reportgen.Study(model=net, example_inputs=torch.randn(1, 3, 224, 224),
                            platform="raspberry_pi_5", constraints={"latency_ms": 50})
    result = study.run()          # StudyResult (data.json's contract)
    study.build("outputs/mynet")  # report.md / report.html (/ report.pdf), data.json

It shares the CLI's code path: the module is registered here and reaches the pipeline as a
built-in ``source: python`` model (``reportgen.api:in_memory``), so ``pipeline.run`` and
``report.render.write_study`` do the rest exactly as for ``reportgen build``. The pipeline
only ever gets deep copies: your module is never moved to the meta device or modified.
"""

from __future__ import annotations

import copy
import itertools
from pathlib import Path
from typing import Any

from reportgen.result import StudyResult
from reportgen.spec.schema import StudySpec

_MODULES: dict[str, tuple[Any, tuple[Any, ...], dict[str, Any]]] = {}
_COUNTER = itertools.count(1)


def _split(example_inputs: Any) -> tuple[tuple[Any, ...], dict[str, Any]]:
    """A tensor, a tuple of arguments, or (args tuple, kwargs dict)."""
    if isinstance(example_inputs, tuple) and len(example_inputs) == 2 \
            and isinstance(example_inputs[0], tuple) and isinstance(example_inputs[1], dict):
        return example_inputs[0], example_inputs[1]
    if isinstance(example_inputs, tuple | list):
        return tuple(example_inputs), {}
    return (example_inputs,), {}


def _describe(args: tuple[Any, ...], kwargs: dict[str, Any]) -> str:
    import torch

    parts = [f"{'×'.join(map(str, a.shape))} {str(a.dtype).removeprefix('torch.')}"
             for a in list(args) + list(kwargs.values()) if isinstance(a, torch.Tensor)]
    return "given example inputs: " + ", ".join(parts)


def in_memory(key: str) -> Any:
    """The registered module (a deep copy) with its example inputs attached (python-source hook)."""
    import torch
    from torch.utils._pytree import tree_map

    if key not in _MODULES:
        raise KeyError(f"no in-memory model '{key}': build it through reportgen.Study")
    module, args, kwargs = _MODULES[key]
    m = copy.deepcopy(module).eval()

    def example_inputs(inputs: Any, device: str) -> tuple[tuple[Any, ...], dict[str, Any]]:
        def to(x: Any) -> Any:
            return x.detach().to(device) if isinstance(x, torch.Tensor) else x
        return tree_map(to, args), tree_map(to, kwargs)
    object.__setattr__(m, "example_inputs", example_inputs)
    object.__setattr__(m, "input_description", lambda inputs: _describe(args, kwargs))
    return m


class Study:
    """One study of an in-memory ``nn.Module``; keyword options are the spec's keys."""

    def __init__(self, model: Any, example_inputs: Any, platform: str | dict[str, Any], *,
                 constraints: dict[str, Any] | None = None, domain: str = "cv",
                 title: str | None = None, language: str = "en",
                 precisions: list[str] | None = None, experiments: bool | dict[str, Any] = False,
                 deterministic: bool = False, **spec: Any) -> None:
        args, kwargs = _split(example_inputs)
        self.key = f"study{next(_COUNTER)}"
        _MODULES[self.key] = (model, args, kwargs)
        data: dict[str, Any] = {
            "title": title or f"{type(model).__name__} study", "language": language,
            "model": {"source": "python", "callable": "reportgen.api:in_memory",
                      "kwargs": {"key": self.key}},
            "domain": domain, "platform": platform, "constraints": constraints or {},
            "experiments": experiments if isinstance(experiments, dict) else {"enabled": experiments},
            "deterministic": deterministic, **spec}
        batch = next((a.shape[0] for a in args if hasattr(a, "shape") and len(a.shape) > 0), None)
        if batch is not None:
            data.setdefault("inputs", {}).setdefault("batch_size", int(batch))
        if precisions is not None:
            data["precisions"] = precisions
        self.spec = StudySpec.model_validate(data)
        self.result: StudyResult | None = None

    def run(self, progress: Any = None) -> StudyResult:
        """Run every stage (the same ``pipeline.run`` as ``reportgen build``)."""
        from reportgen import pipeline

        self.result = pipeline.run(self.spec, None, progress=progress,
                                   command=f"reportgen.Study({type(_MODULES[self.key][0]).__name__}).run()")
        return self.result

    def build(self, out_dir: str | Path, formats: list[str] | None = None) -> Path:
        """Write the report and data.json into ``out_dir`` (atomically, as the CLI does)."""
        from reportgen.report.render import check_replaceable, write_study

        result = self.result or self.run()
        folder = Path(out_dir)
        check_replaceable(folder)
        write_study(result, folder, formats or [f.value for f in self.spec.output.formats],
                    on_step=lambda s: None)
        return folder

    def _repr_html_(self) -> str:
        """Jupyter: the report's HTML (runs the study first when needed)."""
        import html
        import tempfile

        from reportgen.report.render import render_html, render_markdown

        result = self.result or self.run()
        with tempfile.TemporaryDirectory() as tmp:  # figures are inlined, the folder is not kept
            try:
                return render_html(result, render_markdown(result, {}), Path(tmp))
            except Exception as e:  # a display must not raise in a notebook
                return f"<pre>{html.escape(f'{type(e).__name__}: {e}')}</pre>"
