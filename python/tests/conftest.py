"""Shared fixtures: the repository's schemas and the embplan binary the bindings are checked
against (EMBPLAN_BIN, required: the tests compare with the command line and never skip)."""

import os
import pathlib
import subprocess

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def kaggle_path():
    return ROOT / "schemas" / "criteo-kaggle.toml"


@pytest.fixture(scope="session")
def cli():
    """Runs the embplan binary: cli(*args) -> CompletedProcess (text)."""
    binary = os.environ.get("EMBPLAN_BIN")
    if not binary or not os.path.exists(binary):
        raise RuntimeError("set EMBPLAN_BIN to the embplan binary (e.g. target/debug/embplan)")

    def run(*args):
        return subprocess.run([binary, *map(str, args)], capture_output=True, text=True)

    return run
