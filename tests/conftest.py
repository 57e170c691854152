"""Every test runs in an empty temporary working directory, with random hypothesis examples.

The suite runs on parallel workers (pytest-xdist, ``-n`` in ``pyproject.toml``): each test
module stays on one worker (its module-scoped fixtures, a PostgreSQL server or a set of
runs, are made once), and each worker computes on one thread, so that two workers never fight over the
cores with spinning OpenMP threads (the processes a test starts inherit the setting). Tests
that start a local Ray or a Ray cluster are marked ``ray`` and share one worker: one Ray at a
time on the machine.
"""

import os
import shutil

import pytest
from hypothesis import HealthCheck, settings

BROWSER_HINT = ("the dashboard's browser tests need Debian's chromium and chromium-driver: "
                "apt-get install -y chromium chromium-driver (see the README's test command)")

# Model builds and traces are slow examples. The working-directory fixture below is
# function-scoped but harmless to share between a test's examples (it only isolates cwd).
settings.register_profile(
    "default", deadline=None, print_blob=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
settings.load_profile("default")

if os.environ.get("PYTEST_XDIST_WORKER"):
    os.environ["OMP_NUM_THREADS"] = os.environ["MKL_NUM_THREADS"] = "1"
    import torch

    torch.set_num_threads(1)


@pytest.fixture(autouse=True)
def isolated_working_directory(tmp_path, monkeypatch):
    """No test reads or writes the user's ``runs/`` (or anything else under the working
    directory), nor the user's cache."""
    monkeypatch.chdir(tmp_path)
    # Image-folder caches (runners.data.image_cache) go here, not into the user's ~/.cache.
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / ".cache"))
    return tmp_path


def pytest_collection_modifyitems(config, items):
    """Browser tests need a browser: say what to install and stop (exit 2) rather than skip them.
    Each test joins its module's worker group; the tests that start Ray one group together."""
    for item in items:
        item.add_marker(pytest.mark.xdist_group("ray" if item.get_closest_marker("ray") else item.path.name))
    if any(item.get_closest_marker("browser") for item in items):
        if not ((shutil.which("chromium") or shutil.which("chromium-browser")) and shutil.which("chromedriver")):
            pytest.exit(BROWSER_HINT, returncode=2)
