"""Is this file a WAV the Relay server can take? Checked before ``relay audio create`` sends anything. Pure, stdlib.

Only the RIFF structure is read (the chunk headers and the ``fmt `` chunk), never the samples, so a large file
costs a few small reads. The stdlib ``wave`` module is not used: it refuses formats other than PCM, which the
server may accept.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from pathlib import Path

#: format tags people meet; others are shown as their number
FORMATS = {1: "PCM", 3: "IEEE float", 6: "A-law", 7: "mu-law", 0xFFFE: "extensible"}


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

    @property
    def format_name(self) -> str:
        return FORMATS.get(self.format_tag, f"format {self.format_tag}")

    @property
    def duration(self) -> float | None:
        """Seconds of audio, when the format says how many bytes a second takes."""
        rate = self.sample_rate * self.channels * self.bits_per_sample // 8
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
            raise NotWav("the file is empty")
        header = handle.read(12)
        if len(header) < 12 or header[:4] != b"RIFF" or header[8:12] != b"WAVE":
            raise NotWav("not a WAV file: it does not start with a RIFF/WAVE header")
        fmt: tuple[int, int, int, int] | None = None
        position = 12
        while True:
            chunk = handle.read(8)
            if len(chunk) < 8:
                break
            chunk_id, length = chunk[:4], struct.unpack("<I", chunk[4:])[0]
            body_at = position + 8
            if chunk_id == b"fmt ":
                if length < 16:
                    raise NotWav(f"the fmt chunk is {length} bytes, expected at least 16")
                body = handle.read(16)
                if len(body) < 16:
                    raise NotWav("the file is truncated inside its fmt chunk")
                tag, channels, rate, _, _, bits = struct.unpack("<HHIIHH", body)
                fmt = (tag, channels, rate, bits)
            elif chunk_id == b"data":
                if fmt is None:
                    raise NotWav("the data chunk comes before any fmt chunk")
                if body_at + length > size:
                    raise NotWav(f"the file is truncated: its data chunk needs {length} bytes, "
                                 f"{max(0, size - body_at)} are there")
                tag, channels, rate, bits = fmt
                if channels == 0 or rate == 0:
                    raise NotWav(f"the fmt chunk says {channels} channels at {rate} Hz")
                return WavInfo(size, tag, channels, rate, bits, length)
            position = body_at + length + (length & 1)  # chunks are padded to an even length
            handle.seek(position)
        raise NotWav("no fmt chunk" if fmt is None else "no data chunk")
