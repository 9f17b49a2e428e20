"""``relay audio create | list | delete``: custom audio files, played by workflows as ``relay-static://NAME``."""

import os
import stat
from typing import TYPE_CHECKING, Annotated

import typer

from ..errors import ApiError, RelayError, UsageError
from ..jsontypes import JSONValue
from ._common import (
    DeleteDryRunOpt,
    DryRunOpt,
    JsonOpt,
    SubscriberOpt,
    TableFlags,
    YesOpt,
    command,
    examples,
    listing_command,
    state,
)
from ._resource import Resource, delete as delete_item, dry_run_report, item_id

if TYPE_CHECKING:
    from collections.abc import Callable

    from rich.progress import Progress

    from ..api.client import RelayClient
    from ..core.wav import WavInfo
    from ..output import Output


#: the account's custom audio files: no GET by id in the API, so an id is looked up in the listing
AUDIO = Resource(
    noun="audio file",
    id_key="id",
    path="/ibot/custom_audio/{id}",
    listing="relay audio list",
    items=lambda client, subscriber: client.custom_audio(subscriber),
    remove=lambda client, subscriber, ident: client.delete_custom_audio(subscriber, ident),
    label=lambda item: item.get("short_name"),
)

#: a progress bar is shown for files larger than this, when stderr is a terminal
PROGRESS_MIN_BYTES = 1 << 20


def _check_file(path: str) -> "WavInfo":
    """The WavInfo of ``path``; anything missing, unreadable, not a regular file or not WAV is a UsageError
    naming --file."""
    from ..core import wav

    try:
        mode = os.stat(path).st_mode
        if stat.S_ISDIR(mode):
            raise UsageError(f"{path} is a directory, expected a .wav file", option="--file")
        if not stat.S_ISREG(mode):  # a pipe or a device: not read (it could block), and its size is unknown
            raise UsageError(f"{path} is not a regular file, expected a .wav file", option="--file")
        return wav.inspect(path)
    except FileNotFoundError:
        raise UsageError(f"{path}: no such file", option="--file") from None
    except PermissionError:
        raise UsageError(f"{path}: permission denied", option="--file") from None
    except OSError as exc:
        raise UsageError(f"{path}: cannot read it ({exc.strerror or exc})", option="--file") from None
    except wav.NotWav as exc:
        raise UsageError(f"{path}: {exc}", option="--file") from None


def _progress_bar(out: "Output", size: int) -> "tuple[Progress, Callable[[int], None]] | tuple[None, None]":
    """(bar, progress) when stderr is a terminal and the file is large, else (None, None); ``progress(n)``
    sets the bytes sent so far (an upload that is retried starts again from 0)."""
    bar = None
    if size > PROGRESS_MIN_BYTES:
        bar = out.progress(
            lambda rp: (rp.TextColumn("uploading"), rp.BarColumn(), rp.DownloadColumn(), rp.TransferSpeedColumn())
        )
    if bar is None:
        return None, None
    task = bar.add_task("upload", total=size)
    return bar, lambda sent: bar.update(task, completed=sent)


@command(
    epilog=examples(
        "relay audio create -n welcome -f welcome.wav",
        "relay audio create --name chime --file sounds/chime.wav --json",
    ),
)
def create(
    ctx: typer.Context,
    name: Annotated[
        str,
        typer.Option(
            "--name",
            "-n",
            metavar="NAME",
            help="Friendly name: workflows play the file as relay-static://NAME.",
            show_default=False,
        ),
    ],
    file: Annotated[
        str, typer.Option("--file", "-f", metavar="FILE", help="The WAV file to upload.", show_default=False)
    ],
    subscriber_id: SubscriberOpt = None,
    dry_run: DryRunOpt = False,
    json_output: JsonOpt = False,
) -> None:
    """Upload a WAV file as custom audio. The file is checked before anything is sent."""
    from ..core.resources import audio_body, check_audio_name

    check_audio_name(name)
    info = _check_file(file)
    st = state(ctx)
    subscriber = st.subscriber_id(subscriber_id)
    body = audio_body(subscriber, name)
    if dry_run:
        dry_run_report(
            st, "POST", "/ibot/custom_audio", {"subscriber_id": subscriber}, body, json_output,
            intro=f"Would upload {file} ({info.size} bytes, {info.describe()}), then PUT it to the upload URL the answer names",
        )  # fmt: skip
        return
    client = st.client()
    created = client.create_custom_audio(subscriber, body)
    record = r if isinstance(r := created.get("result"), dict) else {}
    audio_id, url = record.get("id"), created.get("s3_upload_url")
    if not audio_id or not url:
        missing = "an id for the new audio" if not audio_id else "an upload URL"
        removed = _remove(client, subscriber, str(audio_id)) if audio_id else None
        raise ApiError(f"the server did not return {missing}" + _cleanup_note(audio_id, removed))
    bar, progress = _progress_bar(st.out, info.size)
    try:
        if bar is not None:
            with bar:
                client.upload_presigned(str(url), file, info.size, progress=progress)
        else:
            client.upload_presigned(str(url), file, info.size)
    except (Exception, KeyboardInterrupt) as exc:
        removed = _remove(client, subscriber, str(audio_id))
        if isinstance(exc, RelayError):
            exc.message = f"{exc.message}{_cleanup_note(audio_id, removed)}"
            exc.args = (exc.message,)
        raise

    def human() -> None:
        st.out.success(f"Uploaded '{name}' with ID '{audio_id}' ({info.size} bytes, {info.describe()})")
        st.out.message(f"  Play it in workflows as relay-static://{name}")
        st.out.message(f"  Delete it with: relay audio delete {audio_id}")

    st.out.render(record, human, as_json=json_output)


def _remove(client: "RelayClient", subscriber: str, audio_id: str) -> bool:
    """Delete a half-created audio record; True when that worked."""
    try:
        client.delete_custom_audio(subscriber, audio_id)
    except Exception:  # noqa: BLE001 - the upload's error is the one to report
        return False
    return True


def _cleanup_note(audio_id: JSONValue, removed: bool | None) -> str:
    if removed is None:
        return ""
    if removed:
        return f"; the new audio record {audio_id} was removed again"
    return f"; the audio record {audio_id} was created but has no file: remove it with `relay audio delete {audio_id}`"


@command(epilog=examples("relay audio list", "relay audio list --json", "relay audio list --sort name --csv"))
@listing_command()
def list_audio(
    ctx: typer.Context,
    subscriber_id: SubscriberOpt = None,
    *,
    flags: TableFlags,
) -> None:
    """List the account's custom audio files."""
    from ..table import HANDLE, NAME, Column, field, select, show

    table = [Column("id", "ID", field("id"), fit=HANDLE), Column("name", "Name", field("short_name"), fit=NAME),
             Column("format", "Format", field("audio_format"))]  # fmt: skip
    opts = flags.options(table)
    st = state(ctx)
    subscriber = st.subscriber_id(subscriber_id)
    files = select(st.client().custom_audio(subscriber), opts)
    show(
        files,
        opts,
        st.out,
        empty="No custom audio files have been uploaded yet; use `relay audio create --help` to get started.",
        filtered_empty="No custom audio files match the filters.",
    )


@command(
    epilog=examples(
        "relay audio delete AUDIO_ID", "relay audio delete -i AUDIO_ID --yes", "relay audio delete AUDIO_ID -N"
    ),
)
def delete(
    ctx: typer.Context,
    audio_id: Annotated[
        str | None, typer.Argument(metavar="[ID]", help="The audio file to delete.", show_default=False)
    ] = None,
    id_option: Annotated[
        str | None,
        typer.Option("--id", "-i", metavar="ID", help="The audio file (same as the argument).", show_default=False),
    ] = None,
    subscriber_id: SubscriberOpt = None,
    yes: YesOpt = False,
    dry_run: DeleteDryRunOpt = False,
    json_output: JsonOpt = False,
) -> None:
    """Delete a custom audio file. Asks first on a terminal; scripts pass --yes."""
    aid = item_id(audio_id, id_option, noun="audio file", flag="--id")
    delete_item(state(ctx), AUDIO, aid, subscriber_id, yes=yes, dry_run=dry_run, as_json=json_output)
