"""What a student uploaded, read without trusting it: archives unpacked within limits, files found
by their place or their name, never through a symbolic link, copied only when small and regular.

One opener (``open_upload``) and one part detector (``parts_in``) serve every path that grades an
upload: ``grade`` of one upload, each submission of a batch, and the Gradescope entry point.
"""
from __future__ import annotations

import os
import shutil
import stat
import zipfile
import zlib
from pathlib import Path
from typing import Iterable

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
                raise UploadError(f"the zip entry {shown_name(repr(info.filename))} points outside "
                              "the upload")
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


def walk(root: Path, limit: int | None = None):
    """(relative path, os.DirEntry) of every entry under the folder ``root`` but folders, in
    sorted order, without following links and without recursion (a student's folder may be
    thousands deep); at most ``limit`` entries (all: None), then ("...", None). Unreadable folders are
    skipped; ``__pycache__`` folders and ``.pyc`` files are left out."""
    stack, count = [(Path(root), "")], 0
    while stack:
        folder, prefix = stack.pop()
        try:
            with os.scandir(folder) as it:
                entries = sorted(it, key=lambda e: e.name)
        except OSError:
            continue
        folders = []
        for entry in entries:
            rel = f"{prefix}{entry.name}"
            if entry.is_dir(follow_symlinks=False):
                if entry.name != "__pycache__":
                    folders.append((Path(entry.path), rel + "/"))
                continue
            if entry.name.endswith(".pyc"):
                continue
            count += 1
            if limit is not None and count > limit:
                yield "...", None
                return
            yield rel, entry
        stack.extend(reversed(folders))


def find_file(upload: Path, relpath: str) -> Path | None:
    """The submitted copy of ``relpath`` (e.g. hw12/rlhf.py): exact path first, else by name.

    Symbolic links are never followed, neither for the file nor for a folder on its way.
    """
    exact = plain_file(upload, Path(relpath))
    if exact is not None:
        return exact
    name = Path(relpath).name
    hits = [upload / rel for rel, entry in walk(upload) if entry.name == name
            and not (SKIP_DIRS & set(Path(rel).parts)) and not name.startswith("._")
            and plain_file(upload, Path(rel)) is not None]
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


def shown_name(name: str) -> str:
    """A file name of the upload as staff and students may read it: control characters (which a
    terminal would obey) written as ``?``."""
    return "".join(c if c.isprintable() else "?" for c in name)


def _extract(archive: Path, dest: Path) -> None:
    try:
        safe_extract(archive, dest)
    except UploadError:
        raise
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, ValueError, EOFError,
            NotImplementedError, RuntimeError, zlib.error) as e:  # unsupported, encrypted, damaged
        raise UploadError(f"{shown_name(archive.name)} is not a readable zip file "
                          f"({type(e).__name__})") from e


def open_upload(path: Path, tmp: Path, modules: Iterable[str]) -> Path:
    """The folder to grade for an upload of the API ``modules`` (e.g. ["rlhf"]): a .zip is unpacked
    into ``tmp``; a folder is graded as it is, unless it holds none of the modules but a zip (the
    one ``python -m hw12.export`` writes, uploaded as is, alone or beside other files), which is
    then unpacked. UploadError, with a reason staff and students can read, when it cannot be."""
    if path.is_symlink() and not path.exists():
        raise UploadError("the submission folder is a broken link")
    if path.is_file():
        if path.suffix != ".zip":
            raise UploadError("the submission is a single file, not a folder or a .zip")
        dest = tmp / "upload"
        dest.mkdir()
        _extract(path, dest)
        return dest
    if not path.is_dir():
        raise UploadError("the submission is neither a folder nor a .zip file")
    if any(find_file(path, f"hw12/{m}.py") for m in modules):
        return path
    try:
        zips = sorted(path / rel for rel, entry in walk(path) if entry.name.endswith(".zip")
                      and plain_file(path, Path(rel)) and not (SKIP_DIRS & set(Path(rel).parts)))
    except OSError as e:
        raise UploadError(f"the submission folder cannot be read ({e.strerror})") from e
    if not zips:
        return path
    dest = tmp / "upload"
    dest.mkdir()
    _extract(zips[0], dest)
    return dest


def part_files(part) -> list[str]:
    """What identifies a part's upload: its API modules (hw12/<module>.py), then its data files."""
    return [f"hw12/{m}.py" for m in part.modules] + list(part.data_files)


def parts_in(upload: Path, cfg) -> list[str]:
    """The parts (of the grading config ``cfg``) whose modules or data files ``upload`` holds, in
    config order; every part when it holds none."""
    found = [name for name, part in cfg.parts.items()
             if any(find_file(upload, rel) for rel in part_files(part))]
    return found or list(cfg.parts)


def release_parts(release: Path) -> dict:
    """The release's ``hw12/parts.py`` PARTS ({part: {"assignment", "files", ...}}), read as data
    (the tests keep it equal to the grading config; a Gradescope zip's config holds one part)."""
    import ast

    tree = ast.parse((Path(release) / "hw12" / "parts.py").read_text())
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(getattr(t, "id", "") == "PARTS" for t in node.targets):
            return ast.literal_eval(node.value)
    return {}


def other_part(upload: Path, parts: dict, part_name: str) -> str | None:
    """A sentence naming the part whose modules ``upload`` holds when it lacks every module of
    ``part_name`` ("This upload looks like the early_exit part ..."), else None. ``parts`` is
    ``release_parts``'s."""
    def modules(name: str) -> list[str]:
        return [f for f in parts.get(name, {}).get("files", []) if f.startswith("hw12/")]

    if part_name not in parts or any(find_file(upload, rel) for rel in modules(part_name)):
        return None
    for name, part in parts.items():
        held = [rel for rel in modules(name) if find_file(upload, rel)]
        if name != part_name and held:
            return (f"This upload looks like the {name} part (it holds {', '.join(held)}): upload "
                    f"it to '{part['assignment']}', and upload "
                    f"{', '.join(parts[part_name]['files'])} to '{parts[part_name]['assignment']}'.")
    return None
