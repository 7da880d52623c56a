"""The packages' roles: lstm_ref.checker knows no framework (it imports none and names
none), lstm_ref.layouts is numpy only and sits below the checker, and the frameworks'
runners live in lstm_ref.frameworks."""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "lstm_ref"
FRAMEWORKS = (
    "torch",
    "onnx",
    "onnxruntime",
    "keras",
    "flax",
    "equinox",
    "jax",
    "jaxlib",
    "tensorflow",
)
NAMES = re.compile(r"torch|onnx|keras|flax|equinox|jax|tensorflow", re.IGNORECASE)
# Text in checker modules that is not ours to change: a profile's description says where
# such arithmetic is found (lstm_ref/checker/profiles.py is the lead's).
ALLOWED = {"profiles.py": "(cuDNN, PyTorch autocast)"}


def modules(package: str) -> list[Path]:
    return sorted((PACKAGE / package).glob("*.py"))


def imports(path: Path, *, type_checking: bool = True) -> set[str]:
    """Every module `path` imports (with `type_checking=False`, not counting the imports
    under `if TYPE_CHECKING:`, which never run)."""
    tree = ast.parse(path.read_text())
    skipped: set[int] = set()
    if not type_checking:
        for node in ast.walk(tree):
            if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
                skipped |= {id(n) for child in node.body for n in ast.walk(child)}
    found = set()
    for node in ast.walk(tree):
        if id(node) in skipped:
            continue
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
            found |= {f"{node.module}.{alias.name}" for alias in node.names}
    return found


def top(name: str) -> str:
    return name.split(".")[0]


@pytest.mark.parametrize("path", modules("checker"), ids=lambda p: p.name)
def test_the_checker_imports_no_framework(path):
    found = imports(path)
    assert not {n for n in found if top(n) in FRAMEWORKS}, path
    assert not {n for n in found if n.startswith("lstm_ref.frameworks")}, path


@pytest.mark.parametrize("path", modules("checker"), ids=lambda p: p.name)
def test_the_checker_names_no_framework(path):
    text = path.read_text().replace(ALLOWED.get(path.name, "\0"), "")
    named = sorted({m.group(0) for m in NAMES.finditer(text)})
    assert not named, f"{path.name} names {named}"


@pytest.mark.parametrize("path", modules("layouts"), ids=lambda p: p.name)
def test_layouts_are_numpy_only_and_below_the_checker(path):
    found = imports(path, type_checking=False)
    assert not {n for n in found if top(n) in FRAMEWORKS}, path
    assert not {n for n in found if n.startswith(("lstm_ref.checker", "lstm_ref.frameworks"))}


def test_no_adapters_package():
    """Split by role into layouts and frameworks, with no compatibility shims."""
    assert not list((PACKAGE / "adapters").glob("*.py"))


def test_layouts_and_the_checker_work_without_any_framework():
    """With every framework unimportable, the layouts map and the checker checks."""
    code = (
        "import sys\n"
        f"for name in {FRAMEWORKS!r}:\n"
        "    sys.modules[name] = None\n"
        "import numpy as np\n"
        "from lstm_ref import Spec, check, random_params\n"
        "from lstm_ref.layouts import LAYOUTS, onnx, torch\n"
        "spec = Spec('lstm', 3, 2)\n"
        "assert torch.to_torch(spec, random_params(spec))['weight_ih_l0'].shape == (8, 3)\n"
        "assert onnx.to_onnx(spec, random_params(spec))['W'].shape == (1, 8, 3)\n"
        "print(sorted(LAYOUTS))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=PACKAGE.parent
    )
    assert out.returncode == 0, out.stderr
    assert "canonical" in out.stdout
