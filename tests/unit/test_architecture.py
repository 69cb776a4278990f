"""The import rules of docs/architecture.md, checked on the code's own syntax trees.

Rooms and what each may import (besides the standard library and itself):

=========================  =================================================================
``device_profiles``        nothing else (standard library only)
``hub.core``               ``device_profiles``, numpy
``hub.config``             pydantic, pydantic-settings, ``hub.core.identity`` (the id syntax)
``hub.adapters``           ``hub.core``, ``hub.config``, ``device_profiles``, third parties
``hub.services``           ``hub.core``, ``hub.config``, ``hub.adapters``, ``device_profiles``
``hub.runtime``            anything
``api``                    ``hub`` (not ``hub.runtime``), ``device_profiles``, third parties
``gateway_firmware_sim``   ``device_profiles``, ``hub.core``, ``hub.config``, the gateway's
                           durable outbox
=========================  =================================================================

The pure rooms (``device_profiles``, ``hub.core``) also never read a clock, sleep, open a file
or log: time and data are passed in.
"""

from __future__ import annotations

import ast
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("device_profiles", "hub", "api", "gateway_firmware_sim")
FIRST_PARTY = frozenset(PACKAGES)

# room -> first-party prefixes it may import (a room may always import itself).
ALLOWED: dict[str, tuple[str, ...]] = {
    "device_profiles": (),
    "hub.core": ("device_profiles",),
    "hub.config": ("hub.core.identity",),  # the one id syntax (standard library only)
    "hub.adapters": ("hub.core", "hub.config", "device_profiles"),
    "hub.services": ("hub.core", "hub.config", "hub.adapters", "device_profiles"),
    "hub.runtime": ("hub", "api", "device_profiles", "gateway_firmware_sim"),
    "api": (
        "hub.core",
        "hub.config",
        "hub.adapters",
        "hub.services",
        "device_profiles",
    ),
    "gateway_firmware_sim": (
        "device_profiles",
        "hub.core",
        "hub.config",
        "hub.adapters.frame_outbox",
    ),
}
# Third-party packages a pure room may use.
PURE_THIRD_PARTY = frozenset({"numpy"})
PURE_ROOMS = ("device_profiles", "hub.core")
# What a pure module must not call: clocks, sleeps, files, randomness from the OS.
FORBIDDEN_CALLS = frozenset(
    {
        "datetime.now",
        "datetime.utcnow",
        "datetime.today",
        "date.today",
        "time.time",
        "time.time_ns",
        "time.monotonic",
        "time.perf_counter",
        "time.sleep",
        "open",
        "os.urandom",
    }
)
FORBIDDEN_PURE_MODULES = frozenset({"logging", "socket", "subprocess", "threading", "asyncio"})


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def modules() -> Iterator[tuple[str, Path]]:
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            yield module_name(path), path


def room_of(module: str) -> str:
    """The most specific room a module belongs to."""
    for room in sorted(ALLOWED, key=len, reverse=True):
        if module == room or module.startswith(room + "."):
            return room
    return module.split(".")[0]  # e.g. "hub" itself (its __init__ and __main__)


def imports(path: Path, module: str) -> Iterator[tuple[int, str]]:
    tree = ast.parse(path.read_text(), filename=str(path))
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - node.level + 1]
                target = ".".join([*base, node.module] if node.module else base)
            else:
                target = node.module or ""
            yield node.lineno, target


def allowed(room: str, target: str) -> bool:
    if target == "hub":  # the package itself holds only its version
        return True
    if target == room or target.startswith(room + "."):
        return True
    return any(target == p or target.startswith(p + ".") for p in ALLOWED.get(room, ()))


RULE_BREAKS = [
    (module, line, target)
    for module, path in modules()
    for line, target in imports(path, module)
    if target.split(".")[0] in FIRST_PARTY and not allowed(room_of(module), target)
]


def test_every_first_party_import_follows_the_room_rules() -> None:
    assert RULE_BREAKS == [], "\n".join(f"{m}:{line} imports {t}" for m, line, t in RULE_BREAKS)


def _pure_modules() -> list[tuple[str, Path]]:
    return [(m, p) for m, p in modules() if room_of(m) in PURE_ROOMS]


def test_the_pure_rooms_import_no_io_library() -> None:
    stdlib = sys.stdlib_module_names
    problems = []
    for module, path in _pure_modules():
        for line, target in imports(path, module):
            top = target.split(".")[0]
            if top in FIRST_PARTY:
                continue
            if top in FORBIDDEN_PURE_MODULES or (top not in stdlib and top not in PURE_THIRD_PARTY):
                problems.append(f"{module}:{line} imports {target}")
    assert problems == [], "\n".join(problems)


def _called_name(node: ast.Call) -> str | None:
    func = node.func
    if isinstance(func, ast.Name):
        return func.id
    if isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name):
        return f"{func.value.id}.{func.attr}"
    if (
        isinstance(func, ast.Attribute)
        and isinstance(func.value, ast.Attribute)
        and isinstance(func.value.value, ast.Name)
    ):
        return f"{func.value.attr}.{func.attr}"  # datetime.datetime.now -> datetime.now
    return None


def test_the_pure_rooms_never_read_a_clock_sleep_or_open_a_file() -> None:
    problems = []
    for module, path in _pure_modules():
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Call) and _called_name(node) in FORBIDDEN_CALLS:
                problems.append(f"{module}:{node.lineno} calls {_called_name(node)}")
    assert problems == [], "\n".join(problems)


@pytest.mark.parametrize(
    ("module", "target", "expected"),
    [
        ("hub.core.pipeline", "hub.adapters.store", False),
        ("hub.core.pipeline", "device_profiles.vocabulary", True),
        ("hub.adapters.store.sqlite", "hub.core.model", True),
        ("hub.adapters.mqtt_bridge", "hub.services.ingest", False),
        ("api.routes.readings", "hub.runtime.cli", False),
        ("gateway_firmware_sim.fleet", "hub.adapters.registry", False),
        ("device_profiles.glucose", "hub.core.model", False),
    ],
)
def test_the_rule_check_itself_tells_allowed_from_forbidden(
    module: str, target: str, expected: bool
) -> None:
    assert allowed(room_of(module), target) is expected
