"""Is this file a WAV the Relay server can take? Checked before ``relay audio create`` sends anything. Pure, stdlib.

Only the RIFF structure is read (the chunk headers and the ``fmt `` chunk); the chunk bodies are seeked over, so
a large file costs a few small reads. The stdlib ``wave`` module is not used: it refuses formats other than PCM,
which the server may accept.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from pathlib import Path

#: format tags people meet; others are shown as their number
FORMATS = {1: "PCM", 3: "IEEE float", 6: "A-law", 7: "mu-law", 0x11: "IMA ADPCM", 0xFFFE: "extensible"}


class NotWav(ValueError):
    """The file is not a readable WAV; the message says why, in plain words."""


@dataclass(frozen=True)
class WavInfo:
    size: int  # bytes in the file
    format_tag: int
    channels: int
    sample_rate: int
    bits_per_sample: int
    data_bytes: int
    byte_rate: int = 0  # the fmt chunk's average bytes per second (0: not given)

    @property
    def format_name(self) -> str:
        return FORMATS.get(self.format_tag, f"format {self.format_tag}")

    @property
    def duration(self) -> float | None:
        """Seconds of audio: from the fmt chunk's byte rate, else from rate × channels × bits; None if neither."""
        rate = self.byte_rate or self.sample_rate * self.channels * self.bits_per_sample // 8
        return self.data_bytes / rate if rate > 0 else None

    def describe(self) -> str:
        text = f"{self.format_name}, {self.channels} ch, {self.sample_rate} Hz, {self.bits_per_sample}-bit"
        seconds = self.duration
        return text + (f", {seconds:.1f} s" if seconds is not None else "")


def inspect(path: str | Path) -> WavInfo:
    """The WAV's format, or NotWav. OSError (missing, unreadable, a directory) is the caller's to report."""
    with open(path, "rb") as handle:
        size = handle.seek(0, 2)
        handle.seek(0)
        if size == 0:
            raise NotWav("empty file")
        header = handle.read(12)
        if header[:4] != b"RIFF"[: len(header)] or (len(header) == 12 and header[8:] != b"WAVE"):
            raise NotWav("not a WAV file: it does not start with a RIFF/WAVE header")
        if len(header) < 12:
            raise NotWav("truncated: the file ends inside its RIFF/WAVE header")
        fmt: tuple[int, int, int, int, int] | None = None
        position = 12
        while position < size:
            chunk = handle.read(8)
            if len(chunk) < 8:
                raise NotWav(f"truncated: the file ends inside a chunk header at byte {position}")
            chunk_id, length = chunk[:4], struct.unpack("<I", chunk[4:])[0]
            body_at = position + 8
            name = chunk_id.decode("latin-1").strip() or "unnamed"
            if chunk_id == b"fmt ":
                if length < 16:
                    raise NotWav(f"the fmt chunk is {length} bytes, expected at least 16")
                body = handle.read(16)
                if len(body) < 16:
                    raise NotWav("truncated: the file ends inside its fmt chunk")
                tag, channels, rate, byte_rate, _, bits = struct.unpack("<HHIIHH", body)
                fmt = (tag, channels, rate, byte_rate, bits)
            elif chunk_id == b"data":
                if fmt is None:
                    raise NotWav("no fmt chunk before the data chunk")
                if body_at + length > size:
                    raise NotWav(f"truncated: the data chunk needs {length} bytes, {max(0, size - body_at)} are there")
                tag, channels, rate, byte_rate, bits = fmt
                if channels == 0 or rate == 0:
                    raise NotWav(f"the fmt chunk says {channels} channels at {rate} Hz")
                return WavInfo(size, tag, channels, rate, bits, length, byte_rate)
            if body_at + length > size:
                raise NotWav(f"truncated: the {name} chunk needs {length} bytes, {max(0, size - body_at)} are there")
            position = body_at + length + (length & 1)  # chunks are padded to an even length
            handle.seek(position)
        raise NotWav("no fmt chunk" if fmt is None else "no data chunk")
