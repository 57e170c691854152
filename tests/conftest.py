"""Every test runs in an empty temporary working directory, with random hypothesis examples."""

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


@pytest.fixture(autouse=True)
def isolated_working_directory(tmp_path, monkeypatch):
    """No test reads or writes the user's ``runs/`` (or anything else under the working
    directory), nor the user's cache."""
    monkeypatch.chdir(tmp_path)
    # Image-folder caches (runners.data.image_cache) go here, not into the user's ~/.cache.
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / ".cache"))
    return tmp_path


def pytest_collection_modifyitems(config, items):
    """Browser tests need a browser: say what to install and stop (exit 2) rather than skip them."""
    if any(item.get_closest_marker("browser") for item in items):
        if not ((shutil.which("chromium") or shutil.which("chromium-browser")) and shutil.which("chromedriver")):
            pytest.exit(BROWSER_HINT, returncode=2)
