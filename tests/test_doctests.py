"""Every docstring example in the package runs and shows what it says: the docs are a contract.

Modules are discovered with :func:`pkgutil.walk_packages` (one test per module, so a new module
is covered without touching this file) and run with fixed option flags. A module whose import
needs an optional extra that is not installed is skipped with the extra named; any other import
failure fails its test.
"""

from __future__ import annotations

import doctest
import importlib
import pkgutil
import re
import tomllib
from functools import cache
from pathlib import Path
from types import ModuleType

import pytest

import storewise

FLAGS = doctest.NORMALIZE_WHITESPACE | doctest.ELLIPSIS
PACKAGE_DIR = Path(storewise.__file__).resolve().parent
PYPROJECT = Path(__file__).resolve().parents[1] / "pyproject.toml"


def _walk_errors(name: str) -> None:
    """A package that cannot be imported while walking still gets its own (failing) test."""


MODULES = sorted(
    info.name
    for info in pkgutil.walk_packages(
        storewise.__path__, prefix=f"{storewise.__name__}.", onerror=_walk_errors
    )
)
ALL_MODULES = [storewise.__name__, *MODULES]


def _normalise(name: str) -> str:
    return re.sub(r"[-_.]+", "_", name).lower()


@cache
def optional_extras() -> dict[str, str]:
    """Import name (normalised distribution name) -> the storewise extra that installs it."""
    project = tomllib.loads(PYPROJECT.read_text(encoding="utf-8"))["project"]
    found: dict[str, str] = {}
    for extra, requirements in project.get("optional-dependencies", {}).items():
        for requirement in requirements:
            match = re.match(r"[A-Za-z0-9][A-Za-z0-9._-]*", requirement)
            if match and match.group(0) != project["name"]:
                found.setdefault(_normalise(match.group(0)), extra)
    return found


def import_or_skip(name: str) -> ModuleType:
    """Import module ``name``, or skip if it needs an optional extra that is not installed."""
    try:
        return importlib.import_module(name)
    except ModuleNotFoundError as exc:
        missing = (exc.name or "").partition(".")[0]
        extra = optional_extras().get(_normalise(missing))
        if extra is None:
            raise
        pytest.skip(
            f"{name} imports {missing}, from the optional extra "
            f"storewise[{extra}], which is not installed"
        )


@pytest.mark.parametrize("name", ALL_MODULES)
def test_docstring_examples(name: str) -> None:
    """Every example in the module's docstrings passes (a module without examples passes)."""
    module = import_or_skip(name)
    finder = doctest.DocTestFinder(exclude_empty=True)
    runner = doctest.DocTestRunner(optionflags=FLAGS)
    report: list[str] = []
    for test in sorted(finder.find(module, name), key=lambda t: (t.lineno or 0, t.name)):
        runner.run(test, out=report.append)
    results = runner.summarize(verbose=False)
    assert results.failed == 0, f"{results.failed} failing example(s) in {name}:\n" + "".join(
        report
    )


def test_every_module_is_discovered() -> None:
    """The walk finds every module file of the package (none silently dropped)."""
    expected = set()
    for path in PACKAGE_DIR.rglob("*.py"):
        folder = path.parent
        parts = folder.relative_to(PACKAGE_DIR).parts
        in_package = all(
            (PACKAGE_DIR.joinpath(*parts[:depth]) / "__init__.py").exists()
            for depth in range(len(parts) + 1)
        )
        if not in_package:
            continue  # e.g. alembic's migration scripts, loaded by path, not imported
        dotted = [storewise.__name__, *parts]
        if path.stem != "__init__":
            dotted.append(path.stem)
        expected.add(".".join(dotted))
    assert expected == set(ALL_MODULES)


def test_examples_exist() -> None:
    """The modules known to carry examples still do (guards against finding nothing)."""
    finder = doctest.DocTestFinder(exclude_empty=True)
    for name in ("storewise.store.keys", "storewise.api.app", "storewise.marketing.rfm"):
        module = importlib.import_module(name)
        assert any(t.examples for t in finder.find(module, name)), name


def test_a_failing_example_fails() -> None:
    """The runner used above reports a wrong example as a failure."""
    module = ModuleType("storewise_doctest_probe")
    module.__doc__ = ">>> 1 + 1\n3\n"
    runner = doctest.DocTestRunner(optionflags=FLAGS)
    for test in doctest.DocTestFinder().find(module, module.__name__):
        runner.run(test, out=lambda _text: None)
    assert runner.summarize(verbose=False).failed == 1


def test_a_missing_extra_skips_and_a_missing_core_dependency_fails(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Only the optional extras declared in pyproject.toml turn an import failure into a skip."""

    def missing(module: str) -> ModuleType:
        raise ModuleNotFoundError(f"No module named {module!r}", name=module)

    monkeypatch.setattr(importlib, "import_module", lambda _name: missing("psycopg"))
    with pytest.raises(pytest.skip.Exception, match=r"storewise\[postgres\]"):
        import_or_skip("storewise.store.sql")
    monkeypatch.setattr(importlib, "import_module", lambda _name: missing("polars"))
    with pytest.raises(ModuleNotFoundError):
        import_or_skip("storewise.store.sql")
