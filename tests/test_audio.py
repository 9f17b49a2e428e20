"""``relay audio create | list | delete``: the WAV check before any request, the exact requests (the presigned PUT
without our credentials), the rollback of a failed upload, outputs and exit codes, and the sandbox."""

from __future__ import annotations

import json
import struct
from pathlib import Path
from typing import Any

import httpx
import pytest
import respx

from relay_cli.core import wav
from relay_cli.output import Output

from conftest import API, SUB, TOKEN, answering, clean, sent

UPLOAD = "https://bucket.s3.amazonaws.com/custom/au-1.wav"
SIGNED = UPLOAD + "?X-Amz-Credential=AKIAEXAMPLE%2F20261123&X-Amz-Signature=deadbeefcafe&X-Amz-Expires=900"
CREATED = {
    "result": {"id": "au-1", "subscriber_id": SUB, "audio_format": "wave", "short_name": "welcome"},
    "s3_upload_url": SIGNED,
}
LISTED = [{"id": "au-1", "subscriber_id": SUB, "audio_format": "wave", "short_name": "welcome"}]
Q = {"subscriber_id": SUB}


def wav_bytes(
    frames: bytes = b"\x00\x01" * 800,
    *,
    tag: int = 1,
    channels: int = 1,
    rate: int = 8000,
    bits: int = 16,
    before_data: bytes = b"",
) -> bytes:
    block = channels * bits // 8
    fmt = struct.pack("<HHIIHH", tag, channels, rate, rate * block, block, bits)
    body = b"WAVE" + b"fmt " + struct.pack("<I", 16) + fmt + before_data
    body += b"data" + struct.pack("<I", len(frames)) + frames + (b"\x00" if len(frames) % 2 else b"")
    return b"RIFF" + struct.pack("<I", len(body)) + body


@pytest.fixture
def sound(tmp_path: Path) -> Path:
    path = tmp_path / "welcome.wav"
    path.write_bytes(wav_bytes())
    return path


@pytest.fixture
def api() -> Any:
    with respx.mock(assert_all_called=False, assert_all_mocked=True) as mock:
        mock.post(f"{API}/ibot/custom_audio").mock(return_value=httpx.Response(200, json=CREATED))
        mock.get(f"{API}/ibot/custom_audio").mock(return_value=httpx.Response(200, json=LISTED))
        mock.delete(f"{API}/ibot/custom_audio/au-1").mock(return_value=httpx.Response(204))
        mock.put(UPLOAD).mock(return_value=httpx.Response(200))
        yield mock


def relay_calls(api: Any) -> list[tuple[str, str, dict[str, str]]]:
    return sent(
        type("Only", (), {"calls": [c for c in api.calls if c.request.url.host != "bucket.s3.amazonaws.com"]})()
    )


def upload_calls(api: Any) -> list[httpx.Request]:
    return [c.request for c in api.calls if c.request.url.host == "bucket.s3.amazonaws.com"]


# --- create --------------------------------------------------------------------------------------------------


def test_create_posts_the_record_then_puts_the_file_without_our_credentials(
    run: Any, api: Any, sound: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RELAY_HEADERS", '{"X-Team": "blue"}')
    result = run("audio", "create", "-n", "welcome", "-f", str(sound), "-s", SUB)
    assert result.code == 0, result.err
    assert relay_calls(api) == [("POST", "/ibot/custom_audio", Q)]
    post = api.calls[0].request
    assert post.content == b'{"audio_format":"wave","subscriber_id":"SUB","short_name":"welcome"}'
    assert post.headers["X-Team"] == "blue"
    [put] = upload_calls(api)
    assert str(put.url) == SIGNED
    assert put.headers["content-type"] == "audio/wave"
    assert put.headers["content-length"] == str(sound.stat().st_size)
    assert "authorization" not in put.headers and "x-team" not in put.headers
    assert "transfer-encoding" not in put.headers
    assert put.read() == sound.read_bytes()
    assert result.out == ""
    assert result.err.splitlines() == [
        "Uploaded 'welcome' with ID 'au-1' (1644 bytes, PCM, 1 ch, 8000 Hz, 16-bit, 0.1 s)",
        "  Play it in workflows as relay-static://welcome",
        "  Delete it with: relay audio delete au-1",
    ]
    clean(result)


def test_create_json_prints_the_record_never_the_upload_url(run: Any, api: Any, sound: Path) -> None:
    result = run("audio", "create", "--name", "welcome", "--file", str(sound), "-s", SUB, "--json")
    assert result.code == 0, result.err
    assert result.json() == CREATED["result"]
    assert "Signature" not in result.out + result.err


def test_verbose_masks_the_presigned_signature(run: Any, api: Any, sound: Path) -> None:
    result = run("--verbose", "audio", "create", "-n", "welcome", "-f", str(sound), "-s", SUB)
    assert result.code == 0, result.err
    assert "> PUT https://bucket.s3.amazonaws.com/custom/au-1.wav?" in result.err
    assert "deadbeefcafe" not in result.err and "AKIAEXAMPLE" not in result.err
    assert "X-Amz-Signature=***" in result.err and "X-Amz-Credential=***" in result.err
    assert TOKEN not in result.err


def test_dry_run_prints_the_body_and_sends_nothing(run: Any, api: Any, sound: Path) -> None:
    result = run("audio", "create", "-n", "welcome", "-f", str(sound), "-s", SUB, "--dry-run")
    assert result.code == 0, result.err
    assert api.calls.call_count == 0
    assert json.loads(result.out) == {"audio_format": "wave", "subscriber_id": SUB, "short_name": "welcome"}


@pytest.mark.parametrize("status", [403, 400])
def test_a_failed_upload_removes_the_new_record_and_exits_1(run: Any, api: Any, sound: Path, status: int) -> None:
    api.put(UPLOAD).mock(return_value=httpx.Response(status))
    result = run("audio", "create", "-n", "welcome", "-f", str(sound), "-s", SUB)
    assert result.code == 1
    assert relay_calls(api) == [("POST", "/ibot/custom_audio", Q), ("DELETE", "/ibot/custom_audio/au-1", Q)]
    assert result.out == ""
    hint = (
        "hint: the upload URL the API gave is valid for a few minutes, and the storage checks this machine's clock: "
        "run the command again for a new URL, and check the clock if it is refused again\n"
    )
    assert result.err == (
        f"error: uploading the file to https://bucket.s3.amazonaws.com failed: HTTP {status} "
        f"{httpx.codes.get_reason_phrase(status)} (tried once); the new audio record au-1 was removed again\n"
    ) + (hint if status == 403 else "")  # a refused signature, not a refused login: never "relay login"


def test_a_flaky_upload_is_retried_then_succeeds(run: Any, api: Any, sound: Path) -> None:
    api.put(UPLOAD).mock(side_effect=[httpx.Response(503), httpx.ConnectError("reset"), httpx.Response(200)])
    result = run("audio", "create", "-n", "welcome", "-f", str(sound), "-s", SUB)
    assert result.code == 0, result.err
    uploads = upload_calls(api)
    assert len(uploads) == 3
    assert all(u.read() == sound.read_bytes() for u in uploads)  # the whole file, each time
    assert relay_calls(api) == [("POST", "/ibot/custom_audio", Q)]


def test_upload_failure_whose_cleanup_fails_says_what_is_left(run: Any, api: Any, sound: Path) -> None:
    api.put(UPLOAD).mock(return_value=httpx.Response(403))
    api.delete(f"{API}/ibot/custom_audio/au-1").mock(return_value=httpx.Response(400, json={"error": "nope"}))
    result = run("audio", "create", "-n", "welcome", "-f", str(sound), "-s", SUB)
    assert result.code == 1
    error, hint = result.err.splitlines()
    assert error.endswith(
        "; the audio record au-1 was created but has no file: remove it with `relay audio delete au-1`"
    )
    assert hint.startswith("hint: the upload URL the API gave is valid for a few minutes")


def test_no_id_in_the_answer_is_exit_1_and_nothing_uploaded(run: Any, api: Any, sound: Path) -> None:
    api.post(f"{API}/ibot/custom_audio").mock(return_value=httpx.Response(200, json={"s3_upload_url": SIGNED}))
    result = run("audio", "create", "-n", "welcome", "-f", str(sound), "-s", SUB)
    assert result.code == 1
    assert upload_calls(api) == []
    assert result.err == "error: the server did not return an id for the new audio\n"


@pytest.mark.parametrize("url", ["/custom/au-1.wav", "au-1.wav", 5, "ftp://bucket/au-1.wav", "http://[::1/au-1.wav"],
                         ids=["a path", "a word", "a number", "ftp", "a malformed host"])  # fmt: skip
def test_an_upload_url_that_is_not_an_absolute_http_url_is_not_used(run: Any, api: Any, sound: Path, url: Any) -> None:
    """Taken as a path, the file would go to the API's host, and "Uploaded" would be said of a record with no file."""
    api.post(f"{API}/ibot/custom_audio").mock(return_value=httpx.Response(200, json={**CREATED, "s3_upload_url": url}))
    result = run("audio", "create", "-n", "welcome", "-f", str(sound), "-s", SUB)
    assert (result.code, result.out) == (1, "")
    assert relay_calls(api) == [("POST", "/ibot/custom_audio", Q), ("DELETE", "/ibot/custom_audio/au-1", Q)]  # no PUT
    assert upload_calls(api) == []
    assert result.err == (
        f"error: the upload URL from {API} is not an absolute http or https URL; nothing was uploaded; "
        "the new audio record au-1 was removed again\n"
    )


def test_an_upload_answered_with_a_web_page_is_not_an_upload(run: Any, api: Any, sound: Path) -> None:
    """A captive portal answers the PUT 200 with its page: nothing was stored, and the record is removed."""
    api.put(UPLOAD).mock(
        return_value=httpx.Response(200, text="<html>Sign in</html>", headers={"Content-Type": "text/html"})
    )
    result = run("audio", "create", "-n", "welcome", "-f", str(sound), "-s", SUB)
    assert (result.code, result.out) == (1, "")
    assert relay_calls(api) == [("POST", "/ibot/custom_audio", Q), ("DELETE", "/ibot/custom_audio/au-1", Q)]
    assert result.err == (
        "error: uploading the file failed: https://bucket.s3.amazonaws.com answered PUT /custom/au-1.wav with HTTP 200 "
        "and text/html, not object storage's answer (tried once); the new audio record au-1 was removed again\n"
    )


def test_an_upload_redirected_is_not_followed_nor_blamed_on_relay_host(run: Any, api: Any, sound: Path) -> None:
    api.put(UPLOAD).mock(return_value=httpx.Response(307, headers={"Location": "https://elsewhere.example/x"}))
    result = run("audio", "create", "-n", "welcome", "-f", str(sound), "-s", SUB)
    assert (result.code, result.out) == (1, "")
    assert result.err == (
        "error: uploading the file failed: https://bucket.s3.amazonaws.com answered PUT /custom/au-1.wav with HTTP 307, "
        "a redirect to https://elsewhere.example/x, which relay does not follow (tried once); the new audio record au-1 "
        "was removed again\n"
    )
    assert len(upload_calls(api)) == 1


def test_an_audio_id_that_is_not_an_id_is_malformed(run: Any, api: Any, sound: Path) -> None:
    """The id is what the command deletes by and tells the user to: an object is never sent as one."""
    api.post(f"{API}/ibot/custom_audio").mock(
        return_value=httpx.Response(200, json={**CREATED, "result": {"id": {"a": 1}}})
    )
    result = run("audio", "create", "-n", "welcome", "-f", str(sound), "-s", SUB)
    assert (result.code, result.out) == (1, "")
    assert relay_calls(api) == [("POST", "/ibot/custom_audio", Q)]
    assert upload_calls(api) == []
    assert result.err.startswith(
        f"error: {API} answered POST /ibot/custom_audio with JSON of an unexpected shape: expected object, but result.id "
        "is an object, not a string or a number"
    )


def test_a_name_taken_is_the_apis_409_exit_1(run: Any, api: Any, sound: Path) -> None:
    api.post(f"{API}/ibot/custom_audio").mock(
        return_value=httpx.Response(409, json={"error": "conflict", "message": "an audio file named 'welcome' exists"})
    )
    result = run("audio", "create", "-n", "welcome", "-f", str(sound), "-s", SUB)
    assert result.code == 1
    assert upload_calls(api) == []
    assert "an audio file named 'welcome' exists (conflict) (HTTP 409)" in result.err


def test_an_upload_that_never_connects_says_so_and_removes_the_record(run: Any, api: Any, sound: Path) -> None:
    api.put(UPLOAD).mock(side_effect=httpx.ConnectError("connection refused"))
    result = run("audio", "create", "-n", "welcome", "-f", str(sound), "-s", SUB)
    assert result.code == 1
    assert len(upload_calls(api)) == 4  # MAX_ATTEMPTS
    assert relay_calls(api)[-1] == ("DELETE", "/ibot/custom_audio/au-1", Q)
    assert result.err.startswith(
        "error: uploading the file failed: could not connect to https://bucket.s3.amazonaws.com: connection refused (tried 4 times)"
        "; the new audio record au-1 was removed again\n"
    )


def test_the_object_stores_xml_error_is_shown(run: Any, api: Any, sound: Path) -> None:
    xml = "<?xml version='1.0'?><Error><Code>AccessDenied</Code><Message>Request has expired</Message></Error>"
    api.put(UPLOAD).mock(return_value=httpx.Response(403, text=xml, headers={"Content-Type": "application/xml"}))
    result = run("audio", "create", "-n", "welcome", "-f", str(sound), "-s", SUB)
    assert result.code == 1
    assert (
        "failed: HTTP 403 AccessDenied: Request has expired (tried once); the new audio record au-1 was removed"
        in result.err
    )


def test_upload_presigned_streams_reports_progress_and_restarts_it_on_retry(tmp_path: Path) -> None:
    from relay_cli.api.client import RelayClient

    path = tmp_path / "big.wav"
    path.write_bytes(wav_bytes(b"\x01\x02" * 100_000))
    size = path.stat().st_size
    seen: list[int] = []
    with respx.mock(assert_all_mocked=True) as mock:
        put = mock.put(UPLOAD).mock(side_effect=[httpx.Response(500), httpx.Response(200)])
        client = RelayClient(API, token=TOKEN, user_agent="t", headers={"X-Team": "blue"}, sleep=lambda s: None)
        client.upload_presigned(SIGNED, str(path), size, progress=seen.append)
    assert put.call_count == 2
    for call in put.calls:
        assert call.request.read() == path.read_bytes()
        assert {"authorization", "x-team"}.isdisjoint(call.request.headers.keys())
        assert call.request.headers["user-agent"] == "t"
    first = seen[: seen.index(size) + 1]
    assert first[0] == 0 and first == sorted(first) and len(first) > 2  # in chunks, not one read
    assert seen[len(first)] == 0 and seen[-1] == size  # the second attempt starts again from 0


def test_a_pipe_is_refused_without_reading_it(run: Any, api: Any, tmp_path: Path) -> None:
    import os

    fifo = tmp_path / "pipe.wav"
    os.mkfifo(fifo)
    result = run("audio", "create", "-n", "x", "-f", str(fifo), "-s", SUB)
    assert (result.code, api.calls.call_count) == (2, 0)
    assert result.err == f"error: --file: {fifo} is not a regular file, expected a .wav file\n"


def _file(tmp_path: Path, name: str, content: bytes | None) -> str:
    path = tmp_path / name
    if content is not None:
        path.write_bytes(content)
    return str(path)


@pytest.mark.parametrize(
    ("content", "needle"),
    [
        (None, "no such file"),
        (b"", "empty file"),
        (b"RIFF\x10\x00", "truncated: the file ends inside its RIFF/WAVE header"),
        (b"ID3\x04 an mp3, not a wav", "not a WAV file: it does not start with a RIFF/WAVE header"),
        (b"RIFF\x10\x00\x00\x00AVI LIST", "not a WAV file"),
        (wav_bytes()[:30], "truncated: the file ends inside its fmt chunk"),
        (wav_bytes()[:-10], "truncated: the data chunk needs 1600 bytes, 1590 are there"),
        (wav_bytes()[:40], "truncated: the file ends inside a chunk header at byte 36"),
        (b"RIFF\x04\x00\x00\x00WAVE", "no fmt chunk"),
        (wav_bytes()[:36], "no data chunk"),
    ],
)
def test_a_file_that_is_not_a_readable_wav_is_exit_2_and_nothing_sent(
    run: Any, api: Any, tmp_path: Path, content: bytes | None, needle: str
) -> None:
    result = run("audio", "create", "-n", "x", "-f", _file(tmp_path, "in.wav", content), "-s", SUB)
    assert (result.code, result.out) == (2, "")
    assert api.calls.call_count == 0
    assert len(result.err.splitlines()) == 1 and result.err.startswith("error: --file: ")
    assert needle in result.err


def test_a_directory_is_exit_2(run: Any, api: Any, tmp_path: Path) -> None:
    result = run("audio", "create", "-n", "x", "-f", str(tmp_path), "-s", SUB)
    assert result.code == 2 and api.calls.call_count == 0
    assert result.err == f"error: --file: {tmp_path} is a directory, expected a .wav file\n"


@pytest.mark.parametrize("name", ["", " ", "two words", "a/b", "what?", "x#1", "50%", "tab\there"])
def test_a_name_that_breaks_relay_static_uri_is_exit_2(run: Any, api: Any, sound: Path, name: str) -> None:
    result = run("audio", "create", "-n", name, "-f", str(sound), "-s", SUB)
    assert (result.code, result.out) == (2, "")
    assert api.calls.call_count == 0
    assert result.err.startswith("error: --name: ") and len(result.err.splitlines()) == 1


def test_missing_flags_are_exit_2(run: Any, api: Any, sound: Path) -> None:
    assert run("audio", "create", "-f", str(sound), "-s", SUB).code == 2
    assert run("audio", "create", "-n", "x", "-s", SUB).code == 2
    assert api.calls.call_count == 0


def test_progress_bar_only_for_large_files_on_a_terminal(
    run: Any, api: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from relay_cli.commands import audio

    shown: list[int] = []
    real = audio._progress_bar

    def spy(out: Any, size: int) -> Any:
        bar, advance = real(out, size)
        if bar is not None:
            shown.append(size)
        return bar, advance

    monkeypatch.setattr(audio, "_progress_bar", spy)
    big = _file(tmp_path, "big.wav", wav_bytes(b"\x00\x01" * (600 << 10)))
    assert run("audio", "create", "-n", "big", "-f", big, "-s", SUB, out=Output(stderr_isatty=True)).code == 0
    assert upload_calls(api)[-1].read() == Path(big).read_bytes()
    small = _file(tmp_path, "small.wav", wav_bytes())
    assert run("audio", "create", "-n", "small", "-f", small, "-s", SUB, out=Output(stderr_isatty=True)).code == 0
    assert shown == [Path(big).stat().st_size]


# --- list and delete ---------------------------------------------------------------------------------------


def test_list_table_and_json(run: Any, api: Any) -> None:
    result = run("audio", "list", "-s", SUB)
    assert result.code == 0, result.err
    assert relay_calls(api) == [("GET", "/ibot/custom_audio", Q)]
    assert result.out == "ID    NAME     FORMAT\nau-1  welcome  wave\n"
    assert run("audio", "list", "-s", SUB, "--json").json() == LISTED


def test_list_empty(run: Any, api: Any) -> None:
    api.get(f"{API}/ibot/custom_audio").mock(return_value=httpx.Response(200, json=[]))
    result = run("audio", "list", "-s", SUB)
    assert (result.code, result.out) == (0, "")
    assert (
        result.err == "No custom audio files have been uploaded yet; use `relay audio create --help` to get started.\n"
    )


@pytest.mark.parametrize("args", [["au-1"], ["-i", "au-1"], ["--id", "au-1"]])
def test_delete_checks_the_id_then_deletes(run: Any, api: Any, args: list[str]) -> None:
    result = run("audio", "delete", *args, "--yes", "-s", SUB)
    assert result.code == 0, result.err
    assert relay_calls(api) == [("GET", "/ibot/custom_audio", Q), ("DELETE", "/ibot/custom_audio/au-1", Q)]
    assert result.err == "Deleted audio file au-1 (welcome)\n"


def test_delete_unknown_is_exit_3_and_deletes_nothing(run: Any, api: Any) -> None:
    result = run("audio", "delete", "au-9", "--yes", "-s", SUB)
    assert result.code == 3
    assert relay_calls(api) == [("GET", "/ibot/custom_audio", Q)]
    assert result.err == "error: no audio file 'au-9' in account SUB\nhint: `relay audio list` shows them\n"


def test_delete_needs_yes_without_a_terminal(run: Any, api: Any) -> None:
    result = run("audio", "delete", "au-1", "-s", SUB)
    assert (result.code, result.out) == (2, "")
    assert api.calls.call_count == 0
    assert result.err == "error: --yes: no terminal to confirm on; pass --yes to delete without asking\n"


@pytest.mark.parametrize(("answer", "deleted"), [("y\n", True), ("\n", False)])
def test_delete_asks_on_a_terminal(run: Any, api: Any, answer: str, deleted: bool) -> None:
    result = run("audio", "delete", "au-1", "-s", SUB, "--json", out=answering(answer))
    assert result.code == 0, result.err
    assert "Delete audio file au-1 (welcome) from account SUB? [y/N]" in result.err
    assert len(relay_calls(api)) == (2 if deleted else 1)
    assert (result.json() if deleted else result.out) == ({**LISTED[0], "deleted": True} if deleted else "")


# --- core/wav.py ----------------------------------------------------------------------------------------------


def test_wav_inspect_reads_the_format(tmp_path: Path) -> None:
    info = wav.inspect(_file(tmp_path, "a.wav", wav_bytes(b"\x00" * 32000, channels=2, rate=8000, bits=16)))
    assert (info.format_tag, info.channels, info.sample_rate, info.bits_per_sample, info.data_bytes) == (
        1,
        2,
        8000,
        16,
        32000,
    )
    assert info.duration == 1.0
    assert info.describe() == "PCM, 2 ch, 8000 Hz, 16-bit, 1.0 s"


def test_wav_inspect_accepts_non_pcm_padding_and_chunks_before_data(tmp_path: Path) -> None:
    mulaw = wav.inspect(_file(tmp_path, "m.wav", wav_bytes(b"\x7f" * 801, tag=7, bits=8)))  # odd length: padded
    assert (mulaw.format_name, mulaw.data_bytes) == ("mu-law", 801)
    listed = b"LIST" + struct.pack("<I", 5) + b"INFOx" + b"\x00"  # an odd-sized chunk and its pad byte
    info = wav.inspect(_file(tmp_path, "l.wav", wav_bytes(before_data=listed)))
    assert info.data_bytes == 1600
    assert (
        wav.inspect(_file(tmp_path, "x.wav", wav_bytes(tag=0x55, bits=0))).describe()
        == "format 85, 1 ch, 8000 Hz, 0-bit"
    )


def test_wav_data_before_fmt_is_refused(tmp_path: Path) -> None:
    frames = b"\x00" * 4
    body = b"WAVE" + b"data" + struct.pack("<I", 4) + frames
    with pytest.raises(wav.NotWav, match="no fmt chunk before the data chunk"):
        wav.inspect(_file(tmp_path, "d.wav", b"RIFF" + struct.pack("<I", len(body)) + body))


def test_wav_duration_uses_the_byte_rate_of_compressed_formats(tmp_path: Path) -> None:
    fmt = struct.pack("<HHIIHH", 0x11, 1, 8000, 4055, 256, 4) + b"\x02\x00\xf9\x01"  # IMA ADPCM, 20-byte fmt
    body = b"WAVE" + b"fmt " + struct.pack("<I", len(fmt)) + fmt + b"data" + struct.pack("<I", 8110) + b"\x00" * 8110
    info = wav.inspect(_file(tmp_path, "a.wav", b"RIFF" + struct.pack("<I", len(body)) + body))
    assert (info.format_name, info.bits_per_sample, info.duration) == ("IMA ADPCM", 4, 2.0)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"RIFF\x00\x00\x00\x00WAV", "truncated: the file ends inside its RIFF/WAVE header"),
        (b"RIFF\x00\x00\x00\x00WAVX", "not a WAV file: it does not start with a RIFF/WAVE header"),
        (b"RIFX\x00\x00\x00\x00WAVE", "not a WAV file: it does not start with a RIFF/WAVE header"),
        (
            b"RIFF\x00\x00\x00\x00WAVEfmt \x0e\x00\x00\x00" + b"\x00" * 14,
            "the fmt chunk is 14 bytes, expected at least 16",
        ),
        (
            b"RIFF\x00\x00\x00\x00WAVELIST\x00\x10\x00\x00INFO",
            "truncated: the LIST chunk needs 4096 bytes, 4 are there",
        ),
        (wav_bytes(channels=0), "the fmt chunk says 0 channels at 8000 Hz"),
    ],
)
def test_wav_refusals(tmp_path: Path, content: bytes, message: str) -> None:
    with pytest.raises(wav.NotWav) as caught:
        wav.inspect(_file(tmp_path, "w.wav", content))
    assert str(caught.value) == message


# --- the sandbox ----------------------------------------------------------------------------------------------


def test_audio_on_the_sandbox(run: Any, sound: Path) -> None:
    result = run("-P", "local", "audio", "create", "-n", "welcome", "-f", str(sound), "--json")
    assert result.code == 0, result.err
    created = result.json()
    assert {k: created[k] for k in ("subscriber_id", "audio_format", "short_name")} == {
        "subscriber_id": "demo-account",
        "audio_format": "wave",
        "short_name": "welcome",
    }
    assert run("-P", "local", "audio", "list", "--json").json() == [created]
    again = run("-P", "local", "audio", "create", "-n", "welcome", "-f", str(sound))
    assert again.code == 1 and f"exists already (id {created['id']})" in again.err

    from relay_cli.local.store import SandboxStore

    dbs = list(Path(__import__("os").environ["RELAY_DATA_DIR"]).rglob("*.db"))
    [db] = dbs
    upload = SandboxStore(db).resource("custom_audio_file", "demo-account", created["id"])
    assert upload is not None and upload["size"] == sound.stat().st_size and upload["content_type"] == "audio/wave"

    assert run("-P", "local", "audio", "delete", created["id"], "--yes").code == 0
    assert run("-P", "local", "audio", "list", "--json").json() == []
    assert run("-P", "local", "audio", "delete", created["id"], "--yes").code == 3


def test_sandbox_upload_needs_a_valid_signature_not_the_token(tmp_path: Path) -> None:
    from relay_cli.local.server import in_process_transport

    transport = in_process_transport(tmp_path / "s.db", "tok")
    with httpx.Client(base_url="http://sandbox", transport=transport) as http:
        created = http.post(
            "/ibot/custom_audio",
            params={"subscriber_id": "demo-account"},
            headers={"Authorization": "Bearer tok"},
            json={"audio_format": "wave", "subscriber_id": "demo-account", "short_name": "s"},
        ).json()
        url = httpx.URL(created["s3_upload_url"])
        assert url.path.startswith("/_sandbox/upload/custom_audio/") and url.host == "sandbox"
        body = wav_bytes()
        assert http.put(url, content=body, headers={"Content-Type": "audio/wave"}).status_code == 200  # no token
        forged = url.copy_set_param("signature", "0" * 64)
        refused = http.put(forged, content=body)
        assert refused.status_code == 403 and refused.json()["error"] == "forbidden"
        expired = url.copy_set_param("expires", "1")
        assert http.put(expired, content=body).status_code == 403
        bad = http.post(
            "/ibot/custom_audio",
            params={"subscriber_id": "demo-account"},
            headers={"Authorization": "Bearer tok"},
            json={"audio_format": "mp3", "short_name": "s"},
        )
        assert bad.status_code == 400 and "audio_format" in bad.json()["message"]
