"""Every test runs in an empty temporary working directory, with random hypothesis examples."""

import pytest
from hypothesis import HealthCheck, settings

# Model builds and traces are slow examples. The working-directory fixture below is
# function-scoped but harmless to share between a test's examples (it only isolates cwd).
settings.register_profile(
    "default", deadline=None, print_blob=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
settings.load_profile("default")


@pytest.fixture(autouse=True)
def isolated_working_directory(tmp_path, monkeypatch):
    """No test reads or writes the user's ``runs/`` (or anything else under the working directory)."""
    monkeypatch.chdir(tmp_path)
    return tmp_path
