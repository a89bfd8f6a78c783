"""The house rule for ``data/``: SQL and models only, nothing of the web, the CLI or the pages.

Every module under ``data/`` (the migrations included; Alembic is allowed) is parsed and each
import, at module level or inside a function, is checked against the packages data/ may never
use. A query function that needs a setting gets it as an argument from its caller.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "data"
# Top-level packages that belong to the web layer, the command line or the app around data/.
FORBIDDEN = frozenset(
    {
        "flask",
        "flask_login",
        "flask_wtf",
        "flask_limiter",
        "werkzeug",
        "dash",
        "dash_bootstrap_components",
        "click",
        "auth",
        "pages",
        "components",
        "central",
        "web",
        "cli",
        "app",
        "config",
    }
)


def _imported(tree: ast.AST) -> list[tuple[int, str]]:
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.append((node.lineno, node.module))
    return found


def forbidden_imports(path: Path, root: Path = ROOT) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    return [
        f"{path.relative_to(root)}:{line} imports {name}"
        for line, name in _imported(tree)
        if name.split(".")[0] in FORBIDDEN
    ]


MODULES = sorted(DATA.rglob("*.py"))


def test_data_has_modules() -> None:
    assert len(MODULES) > 20  # the walk found the package (a wrong path would pass vacuously)


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(ROOT)))
def test_data_imports_nothing_of_the_web_or_cli(path: Path) -> None:
    assert forbidden_imports(path) == []


def test_the_check_sees_imports_inside_functions(tmp_path: Path) -> None:
    module = tmp_path / "m.py"
    module.write_text(
        "import sqlalchemy\n\ndef f():\n    from flask import g\n    import click.core\n"
    )
    assert forbidden_imports(module, tmp_path) == [
        "m.py:4 imports flask",
        "m.py:5 imports click.core",
    ]


def test_data_is_split_by_domain() -> None:
    """Modules live in a subpackage by domain (core, chargers, accounts, charging, ocpp,
    exchange), each saying what lives there; only a few stay loose beside them."""
    loose = sorted(p.name for p in DATA.glob("*.py") if p.name != "__init__.py")
    assert len(loose) <= 4, loose
    packages = sorted(p.parent for p in DATA.glob("*/__init__.py"))
    assert len(packages) >= 6
    for package in packages:
        docstring = ast.get_docstring(ast.parse((package / "__init__.py").read_text()))
        assert docstring, f"{package.relative_to(ROOT)}/__init__.py says what lives there"


# --- Tests mirror the house: helpers in tests/support/, fixtures in tests/conftest.py ----------

TESTS = ROOT / "tests"
TEST_FILES = sorted(TESTS.rglob("*.py"))


def _is_test_module(dotted: str) -> bool:
    parts = dotted.split(".")
    return parts[0] == "tests" and any(p.startswith("test_") or p == "conftest" for p in parts)


def imports_of_test_modules(path: Path, root: Path = ROOT) -> list[str]:
    """Where ``path`` imports a test module (``tests.test_*``) or the conftest, by absolute or
    relative import: what two modules share belongs in tests/support/ (or is a fixture)."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            module = node.module or ""
            if node.level:  # relative to the file's package
                package = path.relative_to(root).parent.parts
                module = ".".join([*package[: len(package) - node.level + 1], module]).strip(".")
            names = (
                [module]
                if _is_test_module(module)
                else [f"{module}.{alias.name}" for alias in node.names]
            )
        else:
            continue
        found += [
            f"{path.relative_to(root)}:{node.lineno} imports {name}"
            for name in names
            if _is_test_module(name)
        ]
    return found


def test_tests_have_modules() -> None:
    assert len(TEST_FILES) > 50 and (TESTS / "support" / "__init__.py") in TEST_FILES


def test_no_test_module_imports_another() -> None:
    """Helpers two test modules share live in tests/support/, shared fixtures in conftest.py."""
    assert [line for path in TEST_FILES for line in imports_of_test_modules(path)] == []


def test_the_check_sees_every_way_of_importing_a_test_module(tmp_path: Path) -> None:
    module = tmp_path / "tests" / "test_m.py"
    module.parent.mkdir()
    module.write_text(
        "from tests.test_idor import leaks\n"
        "import tests.test_exchange\n"
        "from tests import test_rollup, support\n"
        "from .conftest import skip_or_fail\n"
        "from tests.support.callbacks import post\n"
        "import data.test_data\n"
        "def f():\n    from . import test_fuzz\n"
    )
    assert imports_of_test_modules(module, tmp_path) == [
        "tests/test_m.py:1 imports tests.test_idor",
        "tests/test_m.py:2 imports tests.test_exchange",
        "tests/test_m.py:3 imports tests.test_rollup",
        "tests/test_m.py:4 imports tests.conftest",
        "tests/test_m.py:8 imports tests.test_fuzz",
    ]


def test_tests_holds_test_modules_and_support_holds_helpers() -> None:
    """At the top of tests/ only test modules, the conftest and the package marker; helpers
    are in tests/support/, each saying what it is for."""
    top = sorted(p.name for p in TESTS.glob("*.py"))
    assert [n for n in top if not n.startswith("test_")] == ["__init__.py", "conftest.py"]
    helpers = sorted((TESTS / "support").glob("*.py"))
    assert len(helpers) >= 8
    for helper in helpers:
        assert ast.get_docstring(ast.parse(helper.read_text())), f"{helper.name} has a docstring"
