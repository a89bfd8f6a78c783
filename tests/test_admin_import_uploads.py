"""Uploads for the admin import page (``data.exchange.import_uploads``): what is accepted, what is
refused with a message (and nothing stored), and the server-side staging between check and
import."""

from __future__ import annotations

import base64
import io
import struct
import zipfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from data.exchange import import_uploads as uploads
from data.exchange.import_uploads import UploadRefused, unpack_upload

SAMPLE = Path(__file__).parent / "fixtures" / "exchange_sample"
NOW = datetime(2026, 11, 25, 10, 0, tzinfo=UTC)
OWNER = "7:acc-olga-admin"


def data_url(blob: bytes, mime: str = "text/csv") -> str:
    return f"data:{mime};base64," + base64.b64encode(blob).decode()


def sample_files() -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(SAMPLE.glob("*.csv"))}


def as_upload(files: dict[str, bytes]) -> tuple[list[str], list[str]]:
    return list(files), [data_url(b) for b in files.values()]


def zipped(members: dict[str, bytes], **kwargs: object) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED, **kwargs) as z:  # type: ignore[arg-type]
        for name, blob in members.items():
            z.writestr(name, blob)
    return out.getvalue()


def refused(names: object, contents: object) -> str:
    with pytest.raises(UploadRefused) as excinfo:
        unpack_upload(names, contents)
    return str(excinfo.value)


# --- Accepted ------------------------------------------------------------------------------------


def test_csv_files_come_back_in_import_order() -> None:
    files = sample_files()
    names, contents = as_upload(dict(reversed(files.items())))
    unpacked = unpack_upload(names, contents)
    assert list(unpacked.files) == list(uploads.EXPECTED)  # the sample has all eleven
    assert unpacked.files == files
    assert unpacked.source == "11 CSV files"


def test_a_dropped_folder_keeps_its_one_folder_prefix_out() -> None:
    names = ["export/chargers.csv", "export/plans.csv", "export/notes.txt", "export/.DS_Store"]
    contents = [data_url(b"x"), data_url(b"y"), data_url(b"n"), data_url(b"\0")]
    unpacked = unpack_upload(names, contents)
    assert list(unpacked.files) == ["plans.csv", "chargers.csv"]
    assert unpacked.skipped == ["notes.txt"]


def test_an_empty_file_arrives_empty() -> None:
    assert unpack_upload(["plans.csv"], ["data:"]).files == {"plans.csv": b""}
    assert unpack_upload("plans.csv", data_url(b"a")).files == {"plans.csv": b"a"}


def test_zip_flat_or_in_one_folder() -> None:
    files = sample_files()
    flat = unpack_upload(["export.zip"], [data_url(zipped(files), "application/zip")])
    assert flat.files == files and flat.source == "export.zip"
    members = {f"polaris/{n}": b for n, b in files.items()}
    members["__MACOSX/polaris/._plans.csv"] = b"junk"
    members["polaris/README.md"] = b"hello"
    foldered = unpack_upload(["export.zip"], [data_url(zipped(members))])
    assert foldered.files == files
    assert foldered.skipped == ["README.md"]


# --- Refused, with a message ---------------------------------------------------------------------


def test_unknown_file_names_are_named() -> None:
    message = refused(["chargers.csv", "patients.csv"], [data_url(b"a"), data_url(b"b")])
    assert "patients.csv" in message and "operator.csv" in message
    assert "Nothing was stored" in message


def test_no_csv_at_all() -> None:
    assert "No CSV file" in refused(["notes.txt"], [data_url(b"a")])


@pytest.mark.parametrize(
    "name",
    ["../chargers.csv", "a/../../chargers.csv", "/etc/chargers.csv", "C:\\x\\chargers.csv"],
)
def test_paths_that_climb_or_are_absolute(name: str) -> None:
    message = refused([name], [data_url(b"a")])
    assert "'..'" in message or "absolute" in message


@pytest.mark.parametrize(
    "names",
    [
        ["a/b/chargers.csv"],  # two folders deep
        ["a/chargers.csv", "b/plans.csv"],  # two folders
        ["chargers.csv", "a/plans.csv"],  # mixed levels
    ],
)
def test_nested_folders_are_refused(names: list[str]) -> None:
    message = refused(names, [data_url(b"a")] * len(names))
    assert "nested folders" in message


def test_the_same_file_twice() -> None:
    assert "twice" in refused(
        ["x/chargers.csv", "x/chargers.csv"], [data_url(b"a"), data_url(b"b")]
    )


def test_too_large_an_upload_is_refused_before_decoding() -> None:
    big = data_url(b"a" * (uploads.UPLOAD_LIMIT + 1024 * 1024))
    message = refused(["sessions.csv"], [big])
    assert "the limit is 16.0 MB" in message and "import-data" in message


def test_just_under_the_limit_is_accepted() -> None:
    blob = b"session_id\n" + b"x" * (uploads.UPLOAD_LIMIT - 100)
    assert len(unpack_upload(["sessions.csv"], [data_url(blob)]).files["sessions.csv"]) == len(blob)


def test_damaged_uploads() -> None:
    assert "did not arrive" in refused(["plans.csv"], ["not a data url"])
    assert "intact" in refused(["plans.csv"], ["data:text/csv;base64,@@@"])
    assert "intact" in refused(["plans.csv", "chargers.csv"], [data_url(b"a")])
    assert "Nothing was uploaded" in refused(None, None)
    assert "Nothing was uploaded" in refused([], [])


def test_a_zip_and_csv_files_together() -> None:
    message = refused(["a.zip", "plans.csv"], [data_url(zipped({})), data_url(b"a")])
    assert "not both" in message


def test_not_a_zip() -> None:
    assert "not a valid zip" in refused(["export.zip"], [data_url(b"PK\x03\x04 nope")])


def test_zip_member_paths() -> None:
    assert "'..'" in refused(["e.zip"], [data_url(zipped({"../chargers.csv": b"a"}))])
    assert "absolute" in refused(["e.zip"], [data_url(zipped({"/chargers.csv": b"a"}))])
    assert "nested" in refused(["e.zip"], [data_url(zipped({"a/b/chargers.csv": b"a"}))])


def test_zip_with_too_many_entries() -> None:
    members = {f"f{i}.csv": b"" for i in range(uploads.ZIP_ENTRY_LIMIT + 1)}
    assert "entries; the limit is 32" in refused(["e.zip"], [data_url(zipped(members))])


def test_zip_bomb_by_its_declared_size() -> None:
    # 17 MB of zeros compresses to about 17 KB: a small upload, too much once unpacked.
    bomb = zipped({"sessions.csv": b"0" * (uploads.UNPACKED_LIMIT + 1024 * 1024)})
    assert len(bomb) < 1024 * 1024
    assert "unpacks to 17.0 MB; the limit is 16.0 MB" in refused(["b.zip"], [data_url(bomb)])


def test_zip_bomb_that_lies_about_its_size() -> None:
    """A crafted header saying 10 bytes: the member is read against its real size and CRC."""
    blob = bytearray(zipped({"sessions.csv": b"0" * (2 * 1024 * 1024)}))
    central = blob.find(b"PK\x01\x02")
    struct.pack_into("<I", blob, central + 24, 10)  # uncompressed size in the central directory
    struct.pack_into("<I", blob, 22, 10)  # and in the local header
    message = refused(["b.zip"], [data_url(bytes(blob))])
    assert "cannot be unpacked" in message


def test_password_protected_zip() -> None:
    blob = bytearray(zipped({"plans.csv": b"a"}))
    central = blob.find(b"PK\x01\x02")
    struct.pack_into("<H", blob, central + 8, 0x1)  # "encrypted" flag
    assert "password-protected" in refused(["p.zip"], [data_url(bytes(blob))])


# --- Staging ----------------------------------------------------------------------------------


def staged(tmp_path: Path, owner: str = OWNER, now: datetime = NOW) -> uploads.Staged:
    names, contents = as_upload(sample_files())
    return uploads.stage(tmp_path / "imports", owner, unpack_upload(names, contents), now)


def test_staged_files_are_private_and_found_by_their_owner_only(tmp_path: Path) -> None:
    s = staged(tmp_path)
    root = tmp_path / "imports"
    assert len(s.token) == 32 and s.folder == root / s.token
    assert (s.folder / "plans.csv").read_bytes() == (SAMPLE / "plans.csv").read_bytes()
    assert (s.folder.stat().st_mode & 0o777) == 0o700
    assert ((s.folder / "users.csv").stat().st_mode & 0o777) == 0o600
    assert uploads.find(root, s.token, OWNER, NOW) == s
    assert uploads.find(root, s.token, "8:acc-other-admin", NOW) is None
    assert uploads.find(root, s.token, OWNER, NOW + uploads.STAGED_FOR + timedelta(1)) is None


@pytest.mark.parametrize("token", [None, 12, "", "../imports", "a" * 31, "a" * 32 + "/..", ["x"]])
def test_ids_that_are_not_ids_find_nothing(tmp_path: Path, token: object) -> None:
    staged(tmp_path)
    assert uploads.find(tmp_path / "imports", token, OWNER, NOW) is None


def test_claim_once_and_discard(tmp_path: Path) -> None:
    s = staged(tmp_path)
    claimed = uploads.claim(s)
    assert claimed is not None and claimed.folder.is_dir()
    assert uploads.claim(s) is None  # a second click
    assert uploads.find(tmp_path / "imports", s.token, OWNER, NOW) is None
    uploads.discard(claimed)
    assert not claimed.folder.exists()


def test_expired_uploads_are_swept(tmp_path: Path) -> None:
    old = staged(tmp_path, now=NOW - uploads.STAGED_FOR - timedelta(minutes=1))
    fresh = staged(tmp_path)  # staging sweeps
    assert not old.folder.exists() and fresh.folder.exists()
    assert uploads.sweep(tmp_path / "imports", NOW) == 0
    # Coming back for any upload sweeps too, even when nobody uploads again.
    later = NOW + uploads.STAGED_FOR + timedelta(minutes=1)
    assert uploads.find(tmp_path / "imports", "a" * 32, OWNER, later) is None
    assert not fresh.folder.exists()


def test_the_check_is_remembered(tmp_path: Path) -> None:
    s = staged(tmp_path)
    assert uploads.checked_counts(s) is None
    uploads.record_check(s, {"plans.csv": (2, 0, 0)})
    assert uploads.checked_counts(s) == {"plans.csv": (2, 0, 0)}
