"""Audio files a call plays: the ones we ship in media/, and URLs.

One place decides what a file reference means: a URL stays a URL, a file we
ship becomes our own (URL-quoted) ``/media/…`` URL, and anything else is taken
as a file uploaded to Piopiy. Paths never leave the media folder.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from urllib.parse import quote

from actions.fields import is_file_name, is_http_url

MAX_PLAY_SECONDS = 300.0  # the longest one play decodes to, whatever the call has left (MEDIA_MAX_SECONDS)


class MediaError(ValueError):
    """A file that cannot be played; the message is safe to store and show."""


def is_plain_name(ref: str) -> bool:
    """A bare file name the platform can hold: no folders, parent references, scheme or control characters."""
    return is_file_name(ref) and "/" not in ref and ":" not in ref


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
    def __init__(
        self,
        folder: Path | None,
        public_url: str,
        fetch: Callable[[str], bytes] | None = None,
        max_seconds: float = MAX_PLAY_SECONDS,
    ) -> None:
        self.folder = folder
        self.public_url = public_url
        self._fetch = fetch
        self.max_seconds = max_seconds

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

    def decode(self, ref: str, rate: int, max_ms: float) -> bytes:
        """The file as L16 mono at ``rate``: at most ``max_ms`` (what the call has left) and ``max_seconds``.

        What a file decodes to is bounded here, not by its size: a 60 KB WAV claiming 1 Hz was
        480 MB at 8 kHz (#25.2). WAV decoding (CPU) runs off the event loop; ffmpeg runs in this
        greenlet, as a gevent subprocess. Implausible formats are a MediaError.
        """
        from streams.audio import AudioFormatError, ffmpeg_decode, wav_to_l16
        from streams.offload import run_blocking

        limit = min(max_ms, self.max_seconds * 1000)
        if limit < 20:
            raise MediaError("the call has no time left to play it")
        data = self.read(ref)
        try:
            pcm = run_blocking(wav_to_l16, data, rate, limit)
        except AudioFormatError as exc:
            raise MediaError(str(exc)) from None
        return pcm if pcm is not None else ffmpeg_decode(data, rate, max_ms=limit)
