"""Images behind items: which files may become media, and what an image file really is.

An image project's items show a picture. The file behind an item is recorded once, when an
import names it, after these checks (:meth:`MediaPolicy.check`), in this order, so that no
file is even opened before the path checks pass:

1. the value is an ``http(s)`` URL whose host the project allows (``media.allowed_url_hosts``
   in truthset.yaml), or else a path;
2. the path, with every symlink resolved, lies inside the import's folder (the folder
   imported, or the folder of the CSV/JSONL file naming the images);
3. no part of it is hidden (``.truthset/``, ``.git/`` ...) or a project file
   (``truthset.yaml``), and it is none of the store's own files (compared by path and by
   inode, so a hard link is caught too): opening and closing the SQLite database file in
   the process that holds it open drops that process's locks, after which another process
   deleted the live ``-wal``/``-shm`` files and the store was corrupted;
4. it is a regular file of at most ``media.max_image_bytes``;
5. Pillow decodes the whole image (a truncated or damaged file is refused) and finds a type
   browsers show: PNG, JPEG, GIF, WebP or BMP.

The same bytes are read, checked and hashed once; the record keeps the resolved path, the
content type found by decoding, the size and the sha256, and the server serves exactly
those bytes again or nothing. Reading a file is this module's only I/O.
"""

from __future__ import annotations

import hashlib
import io
import os
import re
import stat
import warnings
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from truthset.core.errors import InvalidInput

#: Pillow format name -> (content type, file extension): the types every browser shows
IMAGE_TYPES: dict[str, tuple[str, str]] = {
    "PNG": ("image/png", "png"),
    "JPEG": ("image/jpeg", "jpg"),
    "GIF": ("image/gif", "gif"),
    "WEBP": ("image/webp", "webp"),
    "BMP": ("image/bmp", "bmp"),
}
EXTENSIONS: dict[str, str] = {mime: ext for mime, ext in IMAGE_TYPES.values()}
#: how the files of those types start (a file that starts so but does not decode is damaged)
SIGNATURES = (b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff", b"GIF87a", b"GIF89a", b"RIFF", b"BM")
DEFAULT_MAX_BYTES = 20 * 2**20
MAX_PATH_CHARS = 1024
#: the name of an uploaded image in the project's media store: its sha256 and extension
UPLOAD_NAME = re.compile(r"^[0-9a-f]{64}\.(?:png|jpg|gif|webp|bmp)$")
#: file names that belong to a project, never to its data
PROJECT_FILES = frozenset({"truthset.yaml", "truthset.yaml.tmp"})


class MediaProblem(InvalidInput):
    """A value that cannot be an item's image; the message says why (no server paths)."""


@dataclass(frozen=True)
class MediaInfo:
    """An image as recorded for an item.

    ``kind``: ``file`` (``location`` is the resolved absolute path), ``upload`` (``location``
    is ``<sha256>.<ext>`` in the project's media store) or ``url`` (``location`` is the URL;
    nothing else is known). ``size`` in bytes, ``width`` and ``height`` in pixels.
    """

    kind: str
    location: str
    mime: str | None = None
    size: int | None = None
    sha256: str | None = None
    width: int | None = None
    height: int | None = None

    def to_row(self) -> dict[str, Any]:
        return asdict(self)


def inspect_image(data: bytes) -> tuple[str, int, int]:
    """Decode ``data`` completely with Pillow; return (content type, width, height).

    Raises :class:`MediaProblem` for anything that is not a whole PNG, JPEG, GIF, WebP or
    BMP image: other formats (SVG, HTML, TIFF ...), truncated or damaged files, and images
    above Pillow's decompression-bomb limit (about 89 million pixels).
    """
    from PIL import Image, UnidentifiedImageError

    formats = list(IMAGE_TYPES)
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            with Image.open(io.BytesIO(data), formats=formats) as im:
                fmt = str(im.format)
                width, height = im.size
                im.verify()  # structure and checksums (PNG CRCs)
            with Image.open(io.BytesIO(data), formats=[fmt]) as im:
                # JPEG: decode at 1/8 scale; every byte is still read, so a cut-off file still
                # fails, and a 12-megapixel photo takes 7 ms instead of 50 (measured)
                im.draft(im.mode, (max(1, width // 8), max(1, height // 8)))
                for frame in range(getattr(im, "n_frames", 1)):
                    im.seek(frame)
                    im.load()  # every pixel of every frame: a cut-off file fails here
        except UnidentifiedImageError as exc:
            if data.startswith(SIGNATURES):
                raise MediaProblem(
                    "a damaged or truncated image: it starts like one but Pillow cannot "
                    "read it; export it again from the original"
                ) from exc
            raise MediaProblem(
                "not an image: the content is no PNG, JPEG, GIF, WebP or BMP "
                "(other formats, e.g. SVG or HTML, are never served)"
            ) from exc
        except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
            raise MediaProblem(f"the image has too many pixels to be safe to decode: {exc}") from exc
        except Exception as exc:  # noqa: BLE001 - Pillow's decoders raise many types on bad bytes
            raise MediaProblem(
                f"a damaged or truncated image ({type(exc).__name__}: {exc}); export it again from the original"
            ) from exc
    return IMAGE_TYPES[fmt][0], int(width), int(height)


_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.\-]+:")


def is_url(value: str) -> bool:
    """Does ``value`` start with a URL scheme (``http:``, ``data:``, ``javascript:`` ...)?

    Two letters at least, so a Windows drive (``C:``) reads as a path.
    """
    return _SCHEME.match(value) is not None


@dataclass(frozen=True)
class MediaPolicy:
    """What may become an item's image in one import (picklable: it crosses to the reader).

    ``root``: the folder file paths must stay inside (``None``: no server path is accepted at
    all, as for items pushed through the API). ``forbidden``: absolute paths of the store's
    and the project's own files and folders. ``uploads``: images this request stored itself,
    by the name it gave them.
    """

    root: str | None
    forbidden: tuple[str, ...] = ()
    allowed_hosts: tuple[str, ...] = ()
    max_bytes: int = DEFAULT_MAX_BYTES
    uploads: Mapping[str, MediaInfo] = field(default_factory=dict)

    def check(self, value: Any) -> MediaInfo:
        """The image ``value`` names, checked and recorded; :class:`MediaProblem` if none."""
        if not isinstance(value, str) or not value.strip():
            raise MediaProblem("no image named: every item of an image project needs one")
        if len(value) > MAX_PATH_CHARS or "\x00" in value:
            raise MediaProblem(f"not a usable image name (more than {MAX_PATH_CHARS} characters or a NUL)")
        if value in self.uploads:
            return self.uploads[value]
        if is_url(value):
            return MediaInfo(kind="url", location=self.check_url(value))
        if self.root is None:
            raise MediaProblem(
                "a file path on the server is not accepted here; send the image's "
                "bytes (image_base64) or an allowed URL (image_url)"
            )
        return self.check_file(value)

    def check_url(self, value: str) -> str:
        """``value`` if it is an http(s) URL of an allowed host."""
        try:
            parts = urlsplit(value)
            host = (parts.hostname or "").lower()
        except ValueError as exc:
            raise MediaProblem(f"not a valid URL: {exc}") from exc
        if parts.scheme not in ("http", "https") or not host:
            raise MediaProblem("only http and https image URLs are accepted")
        if parts.username is not None or parts.password is not None:
            raise MediaProblem("an image URL may not carry a user name or password")
        if host not in self.allowed_hosts:
            raise MediaProblem(
                f"image URLs on host {host!r} are not allowed; an admin can add the host "
                "to media.allowed_url_hosts in truthset.yaml"
            )
        return value

    def check_file(self, value: str) -> MediaInfo:
        """Resolve ``value`` inside ``root`` and check, read, decode and hash the file."""
        assert self.root is not None  # check() refuses paths without a root
        root = Path(self.root)
        resolved = Path(os.path.realpath(root / value))
        if not resolved.is_relative_to(root):
            raise MediaProblem(
                "the path leads outside the import's folder (give paths relative to "
                "the folder of the file that names them; symlinks may not lead out)"
            )
        hidden = [p for p in resolved.relative_to(root).parts if p.startswith(".")]
        if hidden:
            raise MediaProblem(f"hidden files and folders ({hidden[0]}) are never images")
        guard(resolved, self.forbidden)
        data = read_regular(resolved, self.max_bytes)
        mime, width, height = inspect_image(data)
        return MediaInfo(
            kind="file",
            location=str(resolved),
            mime=mime,
            size=len(data),
            sha256=hashlib.sha256(data).hexdigest(),
            width=width,
            height=height,
        )


def guard(resolved: Path, forbidden: tuple[str, ...], *, state_folder_ok: bool = False) -> None:
    """Refuse, before anything opens it, a store, project or state file (by path and inode).

    ``state_folder_ok``: the path is in a project's state folder on purpose (the server's
    own store of pushed images); the store's files are still refused.
    """
    if resolved.name in PROJECT_FILES or (".truthset" in resolved.parts and not state_folder_ok):
        raise MediaProblem("a project's own files are never images")
    for f in forbidden:
        if resolved == Path(f) or resolved.is_relative_to(f):
            raise MediaProblem("a project's own files are never images")
    try:
        st = resolved.stat()
    except OSError as exc:
        raise MediaProblem(f"no such file ({exc.strerror})") from exc
    for f in forbidden:
        try:
            other = os.stat(f)
        except OSError:
            continue
        if (other.st_dev, other.st_ino) == (st.st_dev, st.st_ino):
            raise MediaProblem("a project's own files are never images")


def read_regular(path: Path, max_bytes: int) -> bytes:
    """The bytes of a regular file (not a symlink, device or folder) of at most ``max_bytes``."""
    try:
        st = path.lstat()
    except OSError as exc:
        raise MediaProblem(f"no such file ({exc.strerror})") from exc
    if not stat.S_ISREG(st.st_mode):
        raise MediaProblem("not a regular file")
    if st.st_size == 0:
        raise MediaProblem("the file is empty")
    if st.st_size > max_bytes:
        raise MediaProblem(
            f"the file has {st.st_size:,} bytes, more than the {max_bytes:,} allowed "
            "(media.max_image_bytes in truthset.yaml)"
        )
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0))
    except OSError as exc:
        raise MediaProblem(f"cannot be read ({exc.strerror})") from exc
    with os.fdopen(fd, "rb") as fh:
        if not stat.S_ISREG(os.fstat(fh.fileno()).st_mode):
            raise MediaProblem("not a regular file")
        data = fh.read(max_bytes + 1)
    if len(data) > max_bytes:
        raise MediaProblem(f"the file has more than the {max_bytes:,} bytes allowed")
    return data
