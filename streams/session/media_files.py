"""Audio files a call plays: the ones we ship in media/, and URLs.

One place decides what a file reference means: a URL stays a URL, a file we
ship becomes our own (URL-quoted) ``/media/…`` URL, and anything else is taken
as a file uploaded to Piopiy. Paths never leave the media folder.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from urllib.parse import quote

from actions.fields import is_http_url


class MediaError(ValueError):
    """A file that cannot be played; the message is safe to store and show."""


def is_plain_name(ref: str) -> bool:
    """A bare file name: no folders, no parent references, no scheme."""
    return bool(ref) and "/" not in ref and "\\" not in ref and ref not in (".", "..") and ":" not in ref


def media_url(public_url: str, folder: Path | None, ref: str) -> str:
    """What the platform is told to play for ``ref`` (PCMO ``file_url`` or ``file_name``)."""
    if is_http_url(ref):
        return ref
    if not is_plain_name(ref):
        raise MediaError(f"{ref!r} is neither an http(s) URL nor a plain file name")
    if folder is not None and (folder / ref).is_file():
        return f"{public_url}/media/{quote(ref)}"
    return ref


class MediaFiles:
    def __init__(self, folder: Path | None, public_url: str, fetch: Callable[[str], bytes] | None = None) -> None:
        self.folder = folder
        self.public_url = public_url
        self._fetch = fetch

    def url_for(self, ref: str) -> str:
        return media_url(self.public_url, self.folder, ref)

    def read(self, ref: str) -> bytes:
        """The file's bytes: a URL through ``fetch``, else a file in the media folder (blocking I/O)."""
        if is_http_url(ref):
            if self._fetch is None:
                raise MediaError("fetching URLs is not configured")
            return self._fetch(ref)
        if self.folder is None or not is_plain_name(ref):
            raise MediaError(f"{ref} is not a file in the media folder")
        path = (self.folder / ref).resolve()
        if path.parent != self.folder.resolve() or not path.is_file():
            raise MediaError(f"{ref} is not a file in the media folder")
        return path.read_bytes()
