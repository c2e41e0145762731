"""What a student uploaded, read without trusting it: archives unpacked within limits, files found
by their place or their name, never through a symbolic link, copied only when small and regular."""
from __future__ import annotations

import os
import shutil
import stat
import zipfile
from pathlib import Path

MAX_UPLOAD_BYTES = 256 * 1024 * 1024
MAX_UPLOAD_FILES = 5000
MAX_FILE_BYTES = 32 * 1024 * 1024  # one submitted file
MAX_HELPER_MODULES = 50  # the student's own extra modules next to an API module
SKIP_DIRS = {"__MACOSX", "__pycache__", ".ipynb_checkpoints", ".git"}


class UploadError(Exception):
    """The uploaded archive cannot be unpacked safely."""


def safe_extract(archive: Path, dest: Path) -> None:
    """Unzip without leaving ``dest`` and within size limits."""
    with zipfile.ZipFile(archive) as zf:
        infos = zf.infolist()
        if len(infos) > MAX_UPLOAD_FILES:
            raise UploadError(f"the zip holds {len(infos)} files; at most {MAX_UPLOAD_FILES}")
        if sum(i.file_size for i in infos) > MAX_UPLOAD_BYTES:
            raise UploadError("the zip unpacks to more than 256 MB")
        root = dest.resolve()
        for info in infos:
            target = (dest / info.filename).resolve()
            if root != target and root not in target.parents:
                raise UploadError(f"the zip entry {info.filename!r} points outside the upload")
            if info.is_dir():
                target.mkdir(parents=True, exist_ok=True)
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            with zf.open(info) as src, open(target, "wb") as out:
                shutil.copyfileobj(src, out)


def plain_file(upload: Path, rel: Path) -> Path | None:
    """``upload / rel`` if it and every folder on the way are real (no symbolic links)."""
    path = upload
    for i, name in enumerate(rel.parts):
        path = path / name
        try:
            st = os.lstat(path)
        except OSError:
            return None
        last = i == len(rel.parts) - 1
        if stat.S_ISLNK(st.st_mode) or not (stat.S_ISREG(st.st_mode) if last
                                             else stat.S_ISDIR(st.st_mode)):
            return None
    return path


def find_file(upload: Path, relpath: str) -> Path | None:
    """The submitted copy of ``relpath`` (e.g. hw12/rlhf.py): exact path first, else by name.

    Symbolic links are never followed, neither for the file nor for a folder on its way.
    """
    exact = plain_file(upload, Path(relpath))
    if exact is not None:
        return exact
    name = Path(relpath).name
    hits = [p for p in upload.rglob(name)
            if not (SKIP_DIRS & set(p.relative_to(upload).parts)) and not p.name.startswith("._")
            and plain_file(upload, p.relative_to(upload)) is not None]
    parent = Path(relpath).parent.name
    hits.sort(key=lambda p: (p.parent.name != parent, len(p.parts), str(p)))
    return hits[0] if hits else None


def linked_file(upload: Path, relpath: str) -> bool:
    """Whether ``relpath`` is in the upload only as (or through) a symbolic link."""
    path = upload
    for name in Path(relpath).parts:
        path = path / name
        if path.is_symlink():
            return True
    return False


def copy_upload_file(src: Path, dest: Path, max_bytes: int = MAX_FILE_BYTES) -> None:
    """Copy one submitted file without following links, refusing anything but a small regular file."""
    fd = os.open(src, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise UploadError(f"{src.name} is not a regular file")
        if st.st_size > max_bytes:
            raise UploadError(f"{src.name} is larger than {max_bytes // 2**20} MB")
        with open(fd, "rb", closefd=False) as f:
            data = f.read(max_bytes + 1)
        if len(data) > max_bytes:
            raise UploadError(f"{src.name} is larger than {max_bytes // 2**20} MB")
    finally:
        os.close(fd)
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(dest, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o600)
    with open(fd, "wb") as f:
        f.write(data)
