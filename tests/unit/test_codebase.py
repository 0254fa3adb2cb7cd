"""House rules that keep the code readable: small modules, short functions, one-way layering."""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("app", "streams", "actions", "emulator", "bench")
MAX_MODULE_LINES = 300
MAX_FUNCTION_LINES = 60


def _modules() -> list[Path]:
    return sorted(p for package in PACKAGES for p in (ROOT / package).rglob("*.py"))


def test_no_module_is_over_300_lines() -> None:
    long = {
        str(p.relative_to(ROOT)): n for p in _modules() if (n := len(p.read_text().splitlines())) > MAX_MODULE_LINES
    }
    assert long == {}


def test_no_function_is_over_60_lines() -> None:
    long = {}
    for path in _modules():
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                length = node.end_lineno - node.lineno + 1  # type: ignore[operator]
                if length > MAX_FUNCTION_LINES:
                    long[f"{path.relative_to(ROOT)}:{node.name}"] = length
    assert long == {}


def test_layers_import_one_way() -> None:
    """actions is pure; streams never imports app; nothing imports the test-only SDK."""
    rules = {"actions": ("app", "streams", "piopiy"), "streams": ("app", "piopiy"), "app": ("piopiy",)}
    broken = []
    for package, forbidden in rules.items():
        for path in (ROOT / package).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text())):
                names = [a.name for a in node.names] if isinstance(node, ast.Import) else []
                if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                    names = [node.module]
                broken += [f"{path.relative_to(ROOT)} imports {n}" for n in names if n.split(".")[0] in forbidden]
    assert broken == []


# -- the folders are the architecture (docs/architecture.md): what each may import, and no cycles ---------------

OURS = ("app", "streams", "actions")
ROOTS = ("composition", "process")  # app/__init__.py, app/composition.py, app/process.py: the composition roots
# Module-level imports only: a TYPE_CHECKING block names types, and the roots may import anything.
ALLOWED: dict[str, set[str]] = {
    "actions": set(),
    "streams": set(),  # the vocabulary: events, errors, audio, playback, offload, loopwatch, shedding
    "streams/link": {"actions", "streams"},
    "streams/speech": {"streams"},
    "streams/turns": {"streams"},
    "streams/voice": {"streams", "streams/speech", "streams/turns"},  # never link/ or session/
    "streams/session": {"actions", "streams", "streams/link", "streams/speech", "streams/voice"},
    "app (core)": {"actions", "streams", "app/agents", "streams/speech"},  # config (STT_PROFILE's names), errors, …
    "app/agents": {"actions", "streams/speech", "streams/turns"},  # noise, stt_profile: checked where the file is read
    "app/http": {"app (core)", "streams"},  # streams/jsontext.py: one JSON reading rule, stream frames included
    "app/storage": {"app (core)", "streams"},
    "app/piopiy": {"actions", "app (core)", "streams", "streams/session"},
    "app/api": {"actions", "app (core)", "app/http", "app/piopiy", "app/storage", "streams", "streams/session"},
    "app/webhooks": {"app (core)", "app/http", "app/piopiy", "app/runtime", "app/storage", "streams"},
    "app/openapi": {"actions", "app (core)", "app/api", "app/webhooks", "streams/session"},
    "app/runtime": {
        "app (core)", "app/http", "app/storage", "streams", "streams/link", "streams/session", "streams/turns",
    },
    "app/live": {
        "app (core)", "app/piopiy", "app/storage", "streams", "streams/link", "streams/session", "streams/speech",
        "streams/turns", "streams/voice",
    },
    "app/dashboard": {
        "app (core)", "app/api", "app/http", "app/live", "app/piopiy", "app/runtime", "app/storage", "streams",
        "streams/session",
    },
    # the post-call webhook: stored calls shown as the API shows them, signed recording URLs, signed_post
    "app/outbox": {"app (core)", "app/api", "app/piopiy", "app/storage", "streams/session"},
}  # fmt: skip


def folder_of(module: str) -> str:
    """The layer a dotted module belongs to: a sub-package, or app's core/roots, or streams' vocabulary."""
    parts = module.split(".")
    if parts[0] in ("app", "streams") and len(parts) > 1 and (ROOT / parts[0] / parts[1]).is_dir():
        return f"{parts[0]}/{parts[1]}"
    if parts[0] == "app":
        return "app (roots)" if len(parts) == 1 or parts[1] in ROOTS else "app (core)"
    return parts[0]


def _resolve(name: str) -> str:
    """The module ``name`` (maybe ``module.attribute``) lives in."""
    parts = name.split(".")
    while parts and not ((ROOT / Path(*parts)).with_suffix(".py").exists() or (ROOT / Path(*parts)).is_dir()):
        parts.pop()
    return ".".join(parts)


def module_level_imports(tree: ast.Module) -> list[str]:
    names: list[str] = []
    for statement in tree.body:
        if isinstance(statement, ast.If) and "TYPE_CHECKING" in ast.unparse(statement.test):
            continue
        if not isinstance(statement, (ast.Import, ast.ImportFrom, ast.Try, ast.If)):
            continue  # imports inside functions run later, when everything is loaded
        for node in ast.walk(statement):
            if isinstance(node, ast.Import):
                names += [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names += [node.module, *(f"{node.module}.{a.name}" for a in node.names)]
    return [n for n in names if n.split(".")[0] in OURS]


def folder_graph() -> dict[str, dict[str, list[str]]]:
    """folder -> imported folder -> the modules that import it."""
    graph: dict[str, dict[str, list[str]]] = defaultdict(lambda: defaultdict(list))
    for package in OURS:
        for path in (ROOT / package).rglob("*.py"):
            if "migrations" in path.parts:
                continue
            module = ".".join(path.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")
            source = folder_of(module)
            for name in module_level_imports(ast.parse(path.read_text())):
                target = folder_of(_resolve(name))
                if target != source:
                    graph[source][target].append(module)
    return graph


def test_each_folder_imports_only_the_folders_below_it() -> None:
    graph = folder_graph()
    broken = [
        f"{source} imports {target} ({', '.join(sorted(set(by)))})"
        for source, targets in graph.items()
        if source != "app (roots)"
        for target, by in targets.items()
        if target not in ALLOWED[source]
    ]
    assert broken == []


def test_no_cycle_between_folders() -> None:
    edges = {source: set(targets) for source, targets in folder_graph().items()}
    cycles = set()

    def walk(node: str, path: list[str]) -> None:
        for nxt in edges.get(node, ()):
            if nxt in path:
                cycles.add(" -> ".join([*path[path.index(nxt) :], nxt]))
            else:
                walk(nxt, [*path, nxt])

    for start in edges:
        walk(start, [start])
    assert cycles == set()
