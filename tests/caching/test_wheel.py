"""The package as another project gets it: build the wheel from pyproject.toml,
install it into a directory of its own, and run a second Django project
(tests/adopter, one model of its own) against it, with this repository off the
path (issue 15)."""

from __future__ import annotations

import shutil
import subprocess
import sys
import uuid
import zipfile
from pathlib import Path

import pytest
from django.conf import settings

REPO = Path(__file__).resolve().parents[2]
ADOPTER = REPO / "tests" / "adopter"


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    """Build from a copy of the sources, so the build leaves nothing behind."""
    source = tmp_path_factory.mktemp("source")
    shutil.copy(REPO / "pyproject.toml", source)
    shutil.copytree(REPO / "docs", source / "docs")
    shutil.copytree(
        REPO / "caching",
        source / "caching",
        ignore=shutil.ignore_patterns("__pycache__"),
    )
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
         "--quiet", "--disable-pip-version-check", "-w", str(out), str(source)],
        check=True, capture_output=True,
    )  # fmt: skip
    (built,) = out.glob("*.whl")
    return built


def test_the_wheel_holds_the_package_and_only_it(wheel):
    names = zipfile.ZipFile(wheel).namelist()
    assert wheel.name.startswith("django_stamped_cache-")
    assert "caching/__init__.py" in names
    assert "caching/py.typed" in names
    assert "caching/templates/admin/caching/cache.html" in names
    assert "caching/migrations/0001_initial.py" in names
    assert not [n for n in names if n.split("/")[0] in {"catalog", "users", "project"}]
    metadata = next(n for n in names if n.endswith(".dist-info/METADATA"))
    text = zipfile.ZipFile(wheel).read(metadata).decode()
    assert "Requires-Dist: django-redis" in text
    entry_points = next(n for n in names if n.endswith("entry_points.txt"))
    assert (
        "caching = caching.testing"
        in zipfile.ZipFile(wheel).read(entry_points).decode()
    )


@pytest.mark.processes
def test_a_second_project_caches_its_own_model_with_the_installed_wheel(
    wheel, tmp_path, redis
):
    site = tmp_path / "site"
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--no-deps", "--quiet",
         "--disable-pip-version-check", "--target", str(site), str(wheel)],
        check=True, capture_output=True,
    )  # fmt: skip
    env = {
        "PATH": "/usr/bin:/bin",
        "PYTHONPATH": f"{site}:{ADOPTER}",  # the wheel and the adopter, not us
        "ADOPTER_SITE": str(site),
        "ADOPTER_DB_DIR": str(tmp_path),
        "ADOPTER_PREFIX": f"adopter-{uuid.uuid4().hex[:8]}",
        "REDIS_URL": settings.REDIS_URL,  # a server running for this session
    }
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:randomly"],
        cwd=ADOPTER, env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert run.returncode == 0, run.stdout + run.stderr
    assert "3 passed" in run.stdout, run.stdout
