"""Uploaded import folders, kept server-side between the dry run and the import.

The admin import page (``pages/admin_import.py``) receives the files of a data-exchange folder,
or one zip of them, as the browser's data URLs. ``unpack_upload`` checks them (size, names, zip
safety) and returns the files by their data-exchange name; ``stage`` writes them into a new
folder named by an unguessable id, bound to the admin who uploaded them; the import then reads
that folder as the CLI reads any folder. The browser only ever holds the id: no path it sends is
used, and an id belongs to one person and one account and expires after ``STAGED_FOR``.

Staged files can hold passwords (``users.csv``), so the folder is private to the server's user
and is deleted after the import, on "start over" and when it expires.
"""

from __future__ import annotations

import base64
import binascii
import io
import json
import os
import re
import secrets
import shutil
import zipfile
import zlib
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

from data.exchange.format import FILES

MB = 1024 * 1024
# What one upload may hold: the files as sent (a zip counts at its compressed size). Base64 in
# the callback's JSON body adds a third: 16 MB of files is a request of about 22 MB.
UPLOAD_LIMIT = 16 * MB
# A zip: at most this many entries, and this much once unpacked (a zip bomb stops here). The
# same 16 MB as plain files: the check and the import run inside a web request (gunicorn's 30 s
# timeout), and 16 MB of sessions (200,000 rows) take 10-20 s for each on a busy 2-core machine.
ZIP_ENTRY_LIMIT = 32
UNPACKED_LIMIT = 16 * MB
STAGED_FOR = timedelta(hours=1)

EXPECTED = tuple(f"{name}.csv" for name in FILES)
_TOKEN = re.compile(r"[A-Za-z0-9_-]{32}")
_DATA_URL = re.compile(r"data:[^,]*?(;base64)?,", re.ASCII)
_META = "upload.json"
_CLAIMED = ".applying"
# What zip tools add beside the files (macOS resource forks, Finder and Explorer metadata).
_JUNK = re.compile(r"(^|[/\\])(__MACOSX[/\\]|\.DS_Store$|\._|Thumbs\.db$|desktop\.ini$)")


class UploadRefused(ValueError):
    """The upload cannot be used; the message says why, for the person. Nothing was stored."""


@dataclass
class Unpacked:
    """The files of an upload by data-exchange name (``"sessions.csv"``), in import order."""

    files: dict[str, bytes]
    skipped: list[str] = field(default_factory=list)  # names that are not CSV: not imported
    source: str = ""  # "3 CSV files" or "export.zip"


def _size(n: int) -> str:
    return f"{n / MB:.1f} MB" if n >= MB / 10 else f"{max(1, round(n / 1024))} KB"


def _decode(content: object, name: str) -> bytes:
    """The bytes of one data URL as ``FileReader.readAsDataURL`` makes it."""
    if not isinstance(content, str):
        raise UploadRefused(f"{name}: the file did not arrive; choose it again.")
    if content == "data:":
        return b""  # an empty file, as Chromium reads it
    match = _DATA_URL.match(content)
    if match is None:
        raise UploadRefused(f"{name}: the file did not arrive; choose it again.")
    payload = content[match.end() :]
    if match.group(1) is None:
        if payload:
            raise UploadRefused(f"{name}: the file did not arrive; choose it again.")
        return b""  # "data:text/csv," : another browser's empty file
    try:
        return base64.b64decode(payload, validate=True)
    except (binascii.Error, ValueError):
        raise UploadRefused(f"{name}: the file did not arrive intact; choose it again.") from None


def _parts(path: str) -> list[str]:
    """A relative path's parts; ``UploadRefused`` for an absolute path or ``..``."""
    unified = path.replace("\\", "/")
    if unified.startswith("/") or re.match(r"[A-Za-z]:", unified):
        raise UploadRefused(f"{path}: absolute paths are not allowed; nothing was stored.")
    parts = [p for p in unified.split("/") if p not in ("", ".")]
    if ".." in parts:
        raise UploadRefused(f"{path}: paths with '..' are not allowed; nothing was stored.")
    if not parts:
        raise UploadRefused(f"{path!r} is not a file name; nothing was stored.")
    return parts


def _flatten(paths: list[str], what: str) -> list[str]:
    """The file name of each path, in order. The files may sit at the top or in one folder (a
    dropped or zipped folder), never deeper: the format is one flat folder."""
    split = [_parts(p) for p in paths]
    deep = [p for p, parts in zip(paths, split, strict=True) if len(parts) > 2]
    folders = {parts[0] for parts in split if len(parts) == 2}
    at_top = any(len(parts) == 1 for parts in split)
    if deep or len(folders) > 1 or (folders and at_top):
        example = (deep or sorted(paths))[0]
        raise UploadRefused(
            f"{what} has files in nested folders ({example}): the import takes one flat folder "
            "of CSV files. Put them at the top (or in one folder) and upload again."
        )
    names = [parts[-1] for parts in split]
    seen: dict[str, str] = {}
    for path, name in zip(paths, names, strict=True):
        if name in seen:
            raise UploadRefused(f"{what} holds {name} twice ({seen[name]} and {path}).")
        seen[name] = path
    return names


def _sort(files: dict[str, bytes], skipped: list[str], source: str) -> Unpacked:
    unknown = sorted(n for n in files if n not in EXPECTED)
    if unknown:
        raise UploadRefused(
            f"Unknown file name{'s' if len(unknown) > 1 else ''}: {', '.join(unknown)}. "
            f"The import takes only: {', '.join(EXPECTED)}. Nothing was stored."
        )
    if not files:
        raise UploadRefused(
            "No CSV file of the data-exchange format in this upload; expected some of: "
            f"{', '.join(EXPECTED)}."
        )
    ordered = {n: files[n] for n in EXPECTED if n in files}
    return Unpacked(ordered, sorted(skipped), source)


def unpack_upload(names: object, contents: object) -> Unpacked:
    """Check an upload (``dcc.Upload``'s ``filename`` and ``contents``, both lists) and return its
    files. Raises ``UploadRefused`` with the reason; nothing is stored either way."""
    if isinstance(names, str) and isinstance(contents, str):
        names, contents = [names], [contents]
    if not isinstance(names, list) or not isinstance(contents, list) or not names:
        raise UploadRefused("Nothing was uploaded; choose the files again.")
    if len(names) != len(contents) or not all(isinstance(n, str) for n in names):
        raise UploadRefused("The upload did not arrive intact; choose the files again.")
    if len(names) > ZIP_ENTRY_LIMIT:
        raise UploadRefused(
            f"{len(names)} files in one upload: the import takes at most {len(EXPECTED)} CSV "
            "files. Choose only the files of the data-exchange folder."
        )
    # The encoded length bounds the size before anything is decoded: 4 characters per 3 bytes.
    encoded = sum(len(c) for c in contents if isinstance(c, str))
    if encoded * 3 // 4 > UPLOAD_LIMIT + 1024 * len(names):
        raise UploadRefused(
            f"The upload is about {_size(encoded * 3 // 4)}; the limit is {_size(UPLOAD_LIMIT)}. "
            "Zip the files (CSV shrinks a lot), or use the command line "
            "(flask --app app import-data FOLDER). Nothing was stored."
        )
    blobs = [_decode(c, n) for n, c in zip(names, contents, strict=True)]
    total = sum(len(b) for b in blobs)
    if total > UPLOAD_LIMIT:
        raise UploadRefused(
            f"The upload is {_size(total)}; the limit is {_size(UPLOAD_LIMIT)}. Zip the files, "
            "or use the command line (flask --app app import-data FOLDER). Nothing was stored."
        )
    zips = [n for n in names if n.lower().endswith(".zip")]
    if zips:
        if len(names) > 1:
            raise UploadRefused(
                "Upload either the CSV files or one zip of them, not both and not several zips."
            )
        return _unzip(names[0], blobs[0])
    kept = [(n, b) for n, b in zip(names, blobs, strict=True) if not _JUNK.search(n)]
    flat = _flatten([n for n, _ in kept], "The upload")
    files: dict[str, bytes] = {}
    skipped: list[str] = []
    for name, (_, blob) in zip(flat, kept, strict=True):
        if name.lower().endswith(".csv"):
            files[name] = blob
        else:
            skipped.append(name)
    count = len(files)
    return _sort(files, skipped, f"{count} CSV file{'' if count == 1 else 's'}")


def _unzip(zip_name: str, blob: bytes) -> Unpacked:
    label = os.path.basename(zip_name.replace("\\", "/")) or "the zip"
    try:
        archive = zipfile.ZipFile(io.BytesIO(blob))
    except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, EOFError):
        raise UploadRefused(f"{label} is not a valid zip file; nothing was stored.") from None
    with archive:
        entries = archive.infolist()
        if len(entries) > ZIP_ENTRY_LIMIT:
            raise UploadRefused(
                f"{label} holds {len(entries)} entries; the limit is {ZIP_ENTRY_LIMIT}. "
                "Zip only the CSV files of the folder. Nothing was stored."
            )
        members = [e for e in entries if not e.is_dir() and not _JUNK.search(e.filename)]
        declared = sum(e.file_size for e in members)
        if declared > UNPACKED_LIMIT:
            raise UploadRefused(
                f"{label} unpacks to {_size(declared)}; the limit is {_size(UNPACKED_LIMIT)}. "
                "Use the command line (flask --app app import-data FOLDER). Nothing was stored."
            )
        if any(e.flag_bits & 0x1 for e in members):
            raise UploadRefused(f"{label} is password-protected; zip the files without a password.")
        flat = _flatten([e.filename for e in members], label)
        files: dict[str, bytes] = {}
        skipped: list[str] = []
        budget = UNPACKED_LIMIT
        for name, entry in zip(flat, members, strict=True):
            if not name.lower().endswith(".csv"):
                skipped.append(name)
                continue
            files[name] = _read_member(archive, entry, label, budget)
            budget -= len(files[name])
    return _sort(files, skipped, label)


def _read_member(
    archive: zipfile.ZipFile, entry: zipfile.ZipInfo, label: str, budget: int
) -> bytes:
    """One member, read in chunks and cut off past the budget: the sizes a zip declares are not
    trusted (a crafted header can say 1 KB and unpack to gigabytes)."""
    out = io.BytesIO()
    try:
        with archive.open(entry) as fh:
            while chunk := fh.read(1024 * 1024):
                if out.tell() + len(chunk) > budget:
                    raise UploadRefused(
                        f"{label} unpacks to more than {_size(UNPACKED_LIMIT)}; nothing was stored."
                    )
                out.write(chunk)
    except (zipfile.BadZipFile, zlib.error, EOFError, NotImplementedError, RuntimeError, OSError):
        raise UploadRefused(
            f"{label}: {entry.filename} cannot be unpacked (damaged, or a compression this server "
            "does not read); nothing was stored."
        ) from None
    return out.getvalue()


# --- Staging --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Staged:
    token: str
    folder: Path
    files: tuple[str, ...]
    skipped: tuple[str, ...]
    source: str


def _owner_matches(meta: dict[str, object], owner: str) -> bool:
    return meta.get("owner") == owner


def _read_meta(folder: Path) -> dict[str, object] | None:
    try:
        meta = json.loads((folder / _META).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return meta if isinstance(meta, dict) else None


def _expired(meta: dict[str, object], now: datetime) -> bool:
    created = meta.get("created")
    if not isinstance(created, str):
        return True
    try:
        return now - datetime.fromisoformat(created) > STAGED_FOR
    except (TypeError, ValueError):
        return True


def sweep(root: Path, now: datetime) -> int:
    """Delete expired (and unreadable) staged uploads; returns how many."""
    if not root.is_dir():
        return 0
    removed = 0
    for folder in root.iterdir():
        if not folder.is_dir():
            continue
        meta = _read_meta(folder)
        if meta is None or _expired(meta, now):
            shutil.rmtree(folder, ignore_errors=True)
            removed += 1
    return removed


def stage(root: Path, owner: str, unpacked: Unpacked, now: datetime) -> Staged:
    """Write the files into a new private folder under ``root``; returns its id."""
    root.mkdir(parents=True, exist_ok=True, mode=0o700)
    sweep(root, now)
    token = secrets.token_urlsafe(24)  # 32 characters, 192 random bits
    folder = root / token
    folder.mkdir(mode=0o700)
    for name, blob in unpacked.files.items():
        path = folder / name
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as fh:
            fh.write(blob)
    meta = {
        "owner": owner,
        "created": now.isoformat(),
        "files": list(unpacked.files),
        "skipped": unpacked.skipped,
        "source": unpacked.source,
    }
    (folder / _META).write_text(json.dumps(meta), encoding="utf-8")
    return Staged(token, folder, tuple(unpacked.files), tuple(unpacked.skipped), unpacked.source)


def find(root: Path, token: object, owner: str, now: datetime) -> Staged | None:
    """The staged upload ``token`` if it exists, is ``owner``'s and has not expired; else None.

    ``token`` comes from the browser: only the exact shape of an id is ever joined to a path."""
    if not isinstance(token, str) or not _TOKEN.fullmatch(token):
        return None
    sweep(root, now)  # expired uploads go whenever anyone comes back for one
    folder = root / token
    meta = _read_meta(folder)
    if meta is None or not _owner_matches(meta, owner) or _expired(meta, now):
        return None
    files = meta.get("files")
    skipped = meta.get("skipped")
    if not isinstance(files, list) or not isinstance(skipped, list):
        return None
    return Staged(token, folder, tuple(files), tuple(skipped), str(meta.get("source", "")))


def claim(staged: Staged) -> Staged | None:
    """Take the upload for one import: a second click or tab finds it gone (None)."""
    claimed = staged.folder.with_name(staged.token + _CLAIMED)
    try:
        os.rename(staged.folder, claimed)
    except OSError:
        return None
    return Staged(staged.token, claimed, staged.files, staged.skipped, staged.source)


def discard(staged: Staged) -> None:
    shutil.rmtree(staged.folder, ignore_errors=True)


_CHECK = "check.json"


def record_check(staged: Staged, counts: dict[str, tuple[int, int, int]]) -> None:
    """Keep what the dry run counted per file (added, updated, unchanged), to compare the import
    with it."""
    (staged.folder / _CHECK).write_text(json.dumps(counts), encoding="utf-8")


def checked_counts(staged: Staged) -> dict[str, tuple[int, int, int]] | None:
    try:
        raw = json.loads((staged.folder / _CHECK).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(raw, dict):
        return None
    return {str(k): tuple(v) for k, v in raw.items() if isinstance(v, list) and len(v) == 3}
