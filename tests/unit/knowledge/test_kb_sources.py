"""Ingest inputs: what is refused, with which message."""

from __future__ import annotations

import zipfile
from pathlib import Path

import pytest

from knowledge.errors import IngestError
from knowledge.models import ParseProblem
from knowledge.sources import iter_files, resolve_inputs
from tests.support.kb import make_settings

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "dila"


@pytest.fixture
def settings(tmp_path):
    return make_settings(tmp_path / "store", max_member_bytes=64 * 1024)


def test_missing_path(settings, tmp_path):
    with pytest.raises(IngestError, match="no such file or directory"):
        resolve_inputs([str(tmp_path / "nope.zip")], settings, tmp_path)


def test_not_a_zip_dir_or_xml(settings, tmp_path):
    p = tmp_path / "notes.txt"
    p.write_text("bonjour")
    with pytest.raises(IngestError, match="not a DILA zip, a directory or an XML file"):
        resolve_inputs([str(p)], settings, tmp_path)


def test_empty_zip(settings, tmp_path):
    p = tmp_path / "empty.zip"
    with zipfile.ZipFile(p, "w"):
        pass
    with pytest.raises(IngestError, match="holds no XML file"):
        resolve_inputs([str(p)], settings, tmp_path)


def test_corrupt_zip(settings, tmp_path):
    p = tmp_path / "broken.zip"
    good = tmp_path / "good.zip"
    with zipfile.ZipFile(good, "w") as zf:
        zf.writestr("F1.xml", "<Publication/>")
    p.write_bytes(good.read_bytes()[:-30])  # central directory cut off
    with pytest.raises(IngestError, match=r"broken\.zip"):
        resolve_inputs([str(p)], settings, tmp_path)


def test_directory_without_xml(settings, tmp_path):
    d = tmp_path / "vide"
    d.mkdir()
    (d / "readme.txt").write_text("x")
    with pytest.raises(IngestError, match=r"holds no \.xml or \.zip"):
        resolve_inputs([str(d)], settings, tmp_path)


def test_nothing_given(settings, tmp_path):
    with pytest.raises(IngestError, match="nothing to ingest"):
        resolve_inputs([], settings, tmp_path)


def test_oversized_and_bomb_members_refused_rest_read(settings, tmp_path):
    p = tmp_path / "mixed.zip"
    with zipfile.ZipFile(p, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("F1.xml", "<Publication ID='F1'/>")
        zf.writestr("F2.xml", "<a>" + "x" * (200 * 1024) + "</a>")  # > 64 KiB cap
        zf.writestr("notes.txt", "not xml")
    bomb_settings = make_settings(tmp_path / "s2", max_compression_ratio=50.0)
    bomb = tmp_path / "bomb.zip"
    with zipfile.ZipFile(bomb, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("F3.xml", "<a>" + " " * (3 * 1024 * 1024) + "</a>")  # ratio ~1000:1
    skipped: list[ParseProblem] = []
    items = resolve_inputs([str(p)], settings, tmp_path)
    files = list(iter_files(items, settings, skipped))
    assert [f.source for f in files] == ["mixed.zip:F1.xml"]
    reasons = {s.source: s.reason for s in skipped}
    assert "too large" in reasons["mixed.zip:F2.xml"]
    assert reasons["mixed.zip:notes.txt"] == "not an XML file"

    skipped = []
    items = resolve_inputs([str(bomb)], bomb_settings, tmp_path)
    assert list(iter_files(items, bomb_settings, skipped)) == []
    assert "compression ratio" in skipped[0].reason
    assert "zip bomb" in skipped[0].reason


def test_directory_recurses_into_xml_and_zip(settings, tmp_path):
    d = tmp_path / "corpus"
    (d / "sub").mkdir(parents=True)
    (d / "F1.xml").write_text("<Publication ID='F1'/>")
    with zipfile.ZipFile(d / "sub" / "p.zip", "w") as zf:
        zf.writestr("F2.xml", "<Publication ID='F2'/>")
    items = resolve_inputs([str(d)], settings, tmp_path)
    assert sorted(i.kind for i in items) == ["xml", "zip"]
    sources = [f.source for f in iter_files(items, settings, [])]
    assert sorted(sources) == sorted([str(d / "F1.xml"), "p.zip:F2.xml"])


def test_bad_fixture_files_are_readable_inputs(settings, tmp_path):
    # Bad XML is not an input error: it is reported per file by the ingest (see integration).
    items = resolve_inputs([str(FIXTURES)], settings, tmp_path)
    assert len(list(iter_files(items, settings, []))) >= 5
