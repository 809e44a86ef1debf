"""REGISTRY lists every projection once: a new projection module cannot be forgotten."""

from __future__ import annotations

import importlib
import pkgutil
from types import ModuleType

from processors.pipeline import projections
from processors.pipeline.model import Projection
from processors.pipeline.projections import REGISTRY


def projection_modules() -> dict[str, ModuleType]:
    """Every module of processors/pipeline/projections/, imported, by name."""
    # Discovery is fine here: the test is what holds the written-out list to the folder.
    return {
        info.name: importlib.import_module(f"{projections.__name__}.{info.name}")
        for info in pkgutil.iter_modules(projections.__path__)
    }


def defined(module: ModuleType) -> list[Projection]:
    """The projections a module holds at its top level."""
    return [value for value in vars(module).values() if isinstance(value, Projection)]


def unregistered(modules: dict[str, ModuleType]) -> dict[str, list[str]]:
    """{module: the names of its projections that REGISTRY leaves out}, where any are."""
    left_out = {
        name: [p.name for p in defined(m) if p not in REGISTRY] for name, m in modules.items()
    }
    return {name: names for name, names in left_out.items() if names}


def test_every_projection_module_is_registered() -> None:
    assert unregistered(projection_modules()) == {}


def test_every_module_of_the_package_defines_a_projection() -> None:
    """The package holds projections only: a module without one is a forgotten PROJECTION."""
    assert [name for name, module in projection_modules().items() if not defined(module)] == []


def test_registered_once_each() -> None:
    assert len({id(p) for p in REGISTRY}) == len(REGISTRY)
    assert len({p.name for p in REGISTRY}) == len(REGISTRY)
    assert len({p.stage_table for p in REGISTRY}) == len(REGISTRY)


def test_the_check_sees_an_unregistered_projection() -> None:
    """A projection module that REGISTRY does not list is found: the check can fail."""
    stray = ModuleType(f"{projections.__name__}.stray")
    stray.PROJECTION = Projection(  # type: ignore[attr-defined]
        name="stray",
        fields=frozenset({"messages"}),
        read=lambda event, change: (),
        stage_table="stage_stray",
        columns=(),
        row=lambda item: (),
        queries=(),
        tables={},
    )
    assert unregistered({**projection_modules(), "stray": stray}) == {"stray": ["stray"]}
