"""pyproject.toml and requirements.txt say the same (#22.4), and the package leaves out no code."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())


def _normal(requirement: str) -> str:
    """One spelling: lower-case names with '-', no spaces, double quotes in markers."""
    name, rest = re.match(r"([A-Za-z0-9_.\-]+)(.*)", requirement.strip()).groups()  # type: ignore[union-attr]
    return re.sub(r"[-_.]+", "-", name).lower() + rest.replace(" ", "").replace("'", '"')


def _requirements(path: Path) -> set[str]:
    lines = (line.split(" #", 1)[0].strip() for line in path.read_text().splitlines())
    return {_normal(line) for line in lines if line and not line.startswith(("#", "-r"))}


def test_the_package_depends_on_exactly_what_requirements_txt_pins() -> None:
    declared = {_normal(r) for r in PYPROJECT["project"]["dependencies"]}
    assert declared == _requirements(ROOT / "requirements.txt")


def test_every_code_folder_is_a_listed_package() -> None:
    listed = set(PYPROJECT["tool"]["setuptools"]["packages"])
    found = {
        ".".join(init.parent.relative_to(ROOT).parts)
        for top in ("actions", "app", "bench", "emulator", "streams")
        for init in (ROOT / top).rglob("__init__.py")
    }
    assert found <= listed, f"add to pyproject.toml [tool.setuptools] packages: {sorted(found - listed)}"
    assert listed - found == {"app.bundled"}  # the checkout's root files, shipped as package data


def test_the_console_script_offers_every_command() -> None:
    from app.cli import command_for

    assert PYPROJECT["project"]["scripts"]["callstream"] == "app.cli:main"
    for name in ("serve", "call", "migrate", "bench"):
        assert command_for([name]) is not None
    serve = command_for(["serve", "--timeout", "9"])
    assert serve is not None and serve[1:3] == ["-m", "app.runtime.launcher"] and serve[-2:] == ["--timeout", "9"]
    assert command_for(["nope"]) is None and command_for([]) is None
