"""The architecture is a rule the build checks, not a hope: the import contracts in
pyproject.toml hold, they catch a wrong import, the edges never reach for the store, and no
module grows past the size a reader can hold."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SRC = ROOT / "src" / "actas"
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")
EDGES = [*sorted((SRC / "api").rglob("*.py")), *sorted((SRC / "console").rglob("*.py"))]
EDGES += [*sorted((SRC / "cli").rglob("*.py")), *sorted((SRC / "http").rglob("*.py"))]
MAX_LINES = 450


def _lint_imports(root: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": f"{root / 'src'}{os.pathsep}{ROOT / 'sdk' / 'src'}"}
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache"],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


@pytest.fixture(scope="module")
def linter() -> Path:
    if not LINT_IMPORTS.exists():
        pytest.fail(f"{LINT_IMPORTS} is missing: install the dev extras (make test does)")
    return LINT_IMPORTS


def test_the_import_contracts_hold(linter: Path) -> None:
    result = _lint_imports(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


@pytest.mark.parametrize(
    ("module", "line", "contract"),
    [
        ("services/cases.py", "from actas.store import uow", "Services use ports"),
        ("domain/access.py", "import sqlalchemy", "The domain is pure"),
        ("console/web.py", "from actas.store import tables", "Edges reach the store"),
        ("store/uow.py", "from actas.audit import verify", "The store does not depend"),
        ("services/sessions.py", "from actas.api import deps", "Layers"),
    ],
)
def test_a_wrong_import_breaks_the_build(
    linter: Path, tmp_path: Path, module: str, line: str, contract: str
) -> None:
    """The same contracts on a copy of the tree with one forbidden import added."""
    shutil.copytree(SRC, tmp_path / "src" / "actas", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    target = tmp_path / "src" / "actas" / module
    text = target.read_text()
    target.write_text(
        text.replace(
            "from __future__ import annotations\n",
            f"from __future__ import annotations\n\n{line}  # noqa\n",
            1,
        )
    )
    result = _lint_imports(tmp_path)
    assert result.returncode != 0, result.stdout
    broken = [ln for ln in result.stdout.splitlines() if ln.endswith("BROKEN")]
    assert any(ln.startswith(contract) for ln in broken), result.stdout


@pytest.mark.parametrize("path", EDGES, ids=lambda p: str(p.relative_to(SRC)))
def test_edges_never_hold_the_store(path: Path) -> None:
    text = path.read_text()
    for pattern in (r"\bbroker\.(store|engine|keys|bus)\b", r"\.transaction\(\)", r"\bBroker\b"):
        assert not re.search(pattern, text), f"{path.name} matches {pattern}"


def test_no_module_is_too_long_to_read() -> None:
    long = {
        str(p.relative_to(SRC)): n
        for p in SRC.rglob("*.py")
        if "migrations" not in p.parts and (n := len(p.read_text().splitlines())) > MAX_LINES
    }
    assert long == {}
