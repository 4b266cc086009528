"""Installed versions read from the metadata's headers agree with importlib's full parse."""

from __future__ import annotations

import subprocess
import sys
from importlib import metadata
from pathlib import Path

import pytest

from mlform.compiler.plan.stamps import PLAN_PACKAGES

SCRIPT = """
import sys
sys.path.insert(0, sys.argv[1])
from mlform.specs.graph.libraries import installed_version
print(installed_version(sys.argv[2]))
"""


@pytest.mark.parametrize("name", ["mlform", *PLAN_PACKAGES])
def test_each_plan_package_has_the_version_importlib_reads(name: str) -> None:
    from mlform.specs.graph.libraries import installed_version

    assert installed_version(name) == metadata.version(name)


@pytest.mark.parametrize(("metadata_text", "shown"), [
    ("Metadata-Version: 2.1\nName: toy\nVersion: 1.2.3\n\nVersion: 9 in the description\n", "1.2.3"),
    ("Metadata-Version: 2.1\nName: toy\n\nVersion: 9 in the description\n", "None"),
])
def test_only_the_headers_name_the_version(tmp_path: Path, metadata_text: str, shown: str) -> None:
    dist = tmp_path / "toy-1.2.3.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text(metadata_text)
    done = subprocess.run([sys.executable, "-c", SCRIPT, str(tmp_path), "toy"], capture_output=True, text=True,
                          check=True)
    assert done.stdout.strip() == shown
    missing = subprocess.run([sys.executable, "-c", SCRIPT, str(tmp_path), "not-installed-anywhere"],
                             capture_output=True, text=True, check=True)
    assert missing.stdout.strip() == "None"
