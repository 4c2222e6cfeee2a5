"""User code (``module:callable`` returning an nn.Module). Runs arbitrary code: needs opt-in."""

from __future__ import annotations

import importlib
import sys
from pathlib import Path
from typing import Any

import torch
from torch import nn

from reportgen.errors import ModelBuildError
from reportgen.models.base import LoadedModel, construct, generic_inputs
from reportgen.spec.choices import Domain
from reportgen.spec.inputs import Inputs
from reportgen.spec.sources import PythonSource

BUILTIN_PREFIX = "reportgen."


def is_builtin(src: PythonSource) -> bool:
    """Callables shipped inside reportgen (e.g. the keyword spotter) run without --allow-code."""
    return src.callable.startswith(BUILTIN_PREFIX) and src.path is None


def import_user_module(mod_name: str, folder: Path | None) -> Any:
    """Import the user's ``mod_name`` from ``folder`` (put first on ``sys.path`` for the import).

    When ``folder`` holds that module, one of the same name imported earlier in this process from
    *another* place (a second study's ``model.py`` in a batch, a notebook that built two studies)
    is dropped first, with its submodules, so each study gets its own code rather than whichever
    was imported first."""
    added = str(folder) if folder is not None else None
    top = mod_name.split(".")[0]
    old = sys.modules.get(top)
    if folder is not None and old is not None and ((folder / f"{top}.py").is_file()
                                                   or (folder / top).is_dir()):
        origin = getattr(old, "__file__", None)
        if origin is None or folder.resolve() not in Path(origin).resolve().parents:
            for name in [n for n in sys.modules if n == top or n.startswith(top + ".")]:
                del sys.modules[name]
    if added is not None:
        sys.path.insert(0, added)
        importlib.invalidate_caches()
    try:
        return importlib.import_module(mod_name)
    finally:
        if added is not None and added in sys.path:
            sys.path.remove(added)


def build(src: PythonSource, inputs: Inputs, domain: Domain, device: str, base_dir: Path,
          allow_code: bool) -> LoadedModel:
    if not (allow_code or is_builtin(src)):
        raise ModelBuildError(
            f"model source 'python' runs your code ({src.callable}); pass --allow-code to "
            "reportgen to allow it")
    mod_name, fn_name = src.callable.split(":")
    folder = None
    if src.path is not None:
        p = Path(src.path)
        folder = (base_dir / p) if not p.is_absolute() else p
    try:
        fn = getattr(import_user_module(mod_name, folder), fn_name)
    except ImportError as e:
        raise ModelBuildError(f"cannot import '{mod_name}' for {src.callable}: {e}") from None
    except AttributeError:
        raise ModelBuildError(f"module '{mod_name}' has no '{fn_name}'") from None
    try:
        model = construct(lambda: fn(**src.kwargs), device)
    except ModelBuildError:
        raise
    except Exception as e:
        raise ModelBuildError(f"{src.callable}({src.kwargs}) raised {type(e).__name__}: {e}") from None
    if not isinstance(model, nn.Module):
        raise ModelBuildError(f"{src.callable} returned {type(model).__name__}, not a torch.nn.Module")
    first = next(iter(model.parameters()), None)
    if first is not None and first.device.type != torch.device(device).type:
        model = model.to(device)  # builders that must construct on CPU (e.g. Ultralytics)
    model.eval()
    recipe = f"{src.callable}({', '.join(f'{k}={v!r}' for k, v in src.kwargs.items())})"
    # the model's own pre-processing (e.g. YOLO's letterbox): the network is traced at its output
    network_msg = None
    pre = getattr(model, "reportgen_network_inputs", None)
    if callable(pre):
        inputs, network_msg = pre(inputs)
    hook = getattr(model, "example_inputs", None)
    if callable(hook):
        def make(dev: str) -> tuple[tuple[Any, ...], dict[str, Any]]:
            return hook(inputs, dev)
        desc = getattr(model, "input_description", lambda i: "model-defined inputs")(inputs)
        return LoadedModel(module=model, make_inputs=make, recipe=recipe, input_description=desc,
                           network_input_msg=network_msg)
    make_generic, desc = generic_inputs(domain, inputs)
    return LoadedModel(module=model, make_inputs=make_generic, recipe=recipe, input_description=desc,
                       network_input_msg=network_msg)
