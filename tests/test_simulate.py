"""``relay workflow simulate`` against small workflow apps served on loopback.

Each app is an asyncio ``websockets`` server in a background thread, written the way Relay's SDKs and the
calling guide's examples behave: requests carry a fresh ``_id`` and wait for the response with that
``_id``; events are dispatched to handlers that read their fields by indexing (as relay-py does, so a
missing field is a KeyError, recorded in ``app.errors``). No network beyond 127.0.0.1.
"""

from __future__ import annotations

import asyncio
import json
import sys
import threading
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator
from typing import Any

import httpx
import pytest
import respx

from conftest import API, free_port, stored_workflow

pytestmark = pytest.mark.filterwarnings("error::pytest.PytestUnraisableExceptionWarning")

FAST = (
    "--timeout",
    "2",
    "--hold",
    "0.2",
    "--set",
    "event_delay=0.02",
    "--set",
    "speaking_rate=3000",
    "--set",
    "play_time=0.05",
)

#: the fields relay-py reads from each event (its receive loop indexes them directly)
READS = {
    "wf_api_start_event": ("trigger",),
    "wf_api_stop_event": ("reason",),
    "wf_api_interaction_lifecycle_event": ("type", "source_uri"),
    "wf_api_prompt_event": ("source_uri", "type", "id"),
    "wf_api_button_event": ("button", "taps", "source_uri"),
    "wf_api_call_start_request_event": ("uri",),
    "wf_api_call_received_event": ("call_id", "direction", "device_id", "device_name", "uri", "onnet", "start_time_epoch"),
    "wf_api_call_ringing_event": ("call_id", "direction", "device_id", "device_name", "uri", "onnet", "start_time_epoch"),
    "wf_api_call_connected_event": (
        "call_id", "direction", "device_id", "device_name", "uri", "onnet", "start_time_epoch", "connect_time_epoch",
    ),
    "wf_api_call_disconnected_event": (
        "call_id", "direction", "device_id", "device_name", "uri", "onnet", "reason", "start_time_epoch",
        "connect_time_epoch", "end_time_epoch",
    ),
    "wf_api_call_failed_event": (
        "call_id", "direction", "device_id", "device_name", "uri", "onnet", "reason", "start_time_epoch",
        "connect_time_epoch", "end_time_epoch",
    ),
    "wf_api_speech_event": ("request_id", "text", "lang", "source_uri"),
}  # fmt: skip


class WorkflowError(Exception):
    pass


class App:
    """A minimal workflow SDK: one per connection."""

    def __init__(self, ws: Any, log: list[Any]) -> None:
        self.ws = ws
        self.log = log  # shared across connections: received messages, errors
        self.handlers: dict[str, Callable[..., Awaitable[None]]] = {}
        self.pending: dict[str, asyncio.Future[Any]] = {}
        self.waiters: list[tuple[dict[str, Any], asyncio.Future[Any]]] = []
        self.tasks: set[asyncio.Task[Any]] = set()
        self.state: dict[str, Any] = {}

    def on(self, name: str) -> Callable[[Callable[..., Awaitable[None]]], Callable[..., Awaitable[None]]]:
        def register(func: Callable[..., Awaitable[None]]) -> Callable[..., Awaitable[None]]:
            self.handlers[name] = func
            return func

        return register

    async def request(self, _kind: str, **fields: Any) -> dict[str, Any]:
        _id = fields.pop("_id", None) or uuid.uuid4().hex
        future = asyncio.get_running_loop().create_future()
        self.pending[_id] = future
        await self.ws.send(json.dumps({"_id": _id, "_type": f"wf_api_{_kind}_request", **fields}))
        reply = await future
        if reply["_type"] == "wf_api_error_response":
            raise WorkflowError(reply["error"])
        assert reply["_type"] == f"wf_api_{_kind}_response", reply
        return reply

    async def terminate(self) -> None:
        await self.ws.send(json.dumps({"_id": uuid.uuid4().hex, "_type": "wf_api_terminate_request"}))

    def wait_event(self, **match: Any) -> asyncio.Future[Any]:
        future = asyncio.get_running_loop().create_future()
        self.waiters.append((match, future))
        return future

    async def say_and_wait(self, target: str, text: str) -> None:
        _id = uuid.uuid4().hex
        stopped = self.wait_event(_type="wf_api_prompt_event", type="stopped", id=_id)
        reply = await self.request("say", _id=_id, _target={"uris": [target]}, text=text, lang="en-US")
        assert reply["id"] == _id
        await asyncio.wait_for(stopped, 5)

    async def listen(self, target: str) -> str:
        _id = uuid.uuid4().hex
        heard = self.wait_event(_type="wf_api_speech_event", request_id=_id)
        await self.request("listen", _id=_id, _target={"uris": [target]}, phrases=[], transcribe=True, timeout=5)
        return (await asyncio.wait_for(heard, 5))["text"]

    async def _guarded(self, func: Callable[..., Awaitable[None]], event: dict[str, Any]) -> None:
        try:
            await func(self, event)
        except Exception as exc:  # noqa: BLE001 - an SDK logs handler errors and carries on
            self.log.append(("error", repr(exc)))

    async def run(self) -> None:
        try:
            async for frame in self.ws:
                message = json.loads(frame)
                self.log.append(("recv", message))
                if "_id" in message:
                    future = self.pending.pop(message["_id"], None)
                    if future is not None:
                        future.set_result(message)
                    continue
                try:
                    for name in READS.get(message["_type"], ()):
                        message[name]  # relay-py indexes each field; a missing one is a KeyError
                except KeyError as exc:
                    self.log.append(("error", f"missing field {exc} in {message['_type']}"))
                for match, future in list(self.waiters):
                    if all(message.get(k) == v for k, v in match.items()) and not future.done():
                        future.set_result(message)
                        self.waiters.remove((match, future))
                short = message["_type"].removeprefix("wf_api_").removesuffix("_event")
                handler = self.handlers.get(short)
                if handler is not None:
                    task = asyncio.create_task(self._guarded(handler, message))
                    self.tasks.add(task)
                    task.add_done_callback(self.tasks.discard)
        except Exception as exc:  # noqa: BLE001 - the connection went away
            self.log.append(("closed", repr(exc)))
        finally:  # a handler still waiting for a response or an event will never get it: end it with the connection
            for task in list(self.tasks):
                task.cancel()
            await asyncio.gather(*self.tasks, return_exceptions=True)


class Served:
    """A websockets server on 127.0.0.1:<free port> in a thread with its own event loop.

    ``stop`` returns what the loop leaked: tasks still pending once the server and its connections are closed,
    and the errors the loop reported (such as "Task was destroyed but it is pending!"); the ``serve`` fixture
    fails the test on any."""

    def __init__(self, handler: Callable[[Any], Awaitable[None]]) -> None:
        self.loop = asyncio.new_event_loop()
        self.loop_errors: list[str] = []
        self.loop.set_exception_handler(lambda _loop, context: self.loop_errors.append(str(context.get("message"))))
        self.ready = threading.Event()
        self.handler = handler
        self.thread = threading.Thread(target=self._main, daemon=True)
        self.thread.start()
        assert self.ready.wait(5), "the test app did not start"

    def _main(self) -> None:
        from websockets.asyncio.server import serve

        asyncio.set_event_loop(self.loop)

        async def start() -> None:
            self.server = await serve(self.handler, "127.0.0.1", 0, ping_interval=None, compression=None)
            self.port = self.server.sockets[0].getsockname()[1]
            self.ready.set()

        self.loop.run_until_complete(start())
        self.loop.run_forever()

    def uri(self, path: str = "/app") -> str:
        return f"ws://127.0.0.1:{self.port}{path}"

    def stop(self) -> list[str]:
        async def close() -> list[str]:
            self.server.close()
            await self.server.wait_closed()
            leaked = [task for task in asyncio.all_tasks() if task is not asyncio.current_task() and not task.done()]
            for task in leaked:
                task.cancel()
            await asyncio.gather(*leaked, return_exceptions=True)
            return [f"task left pending: {task.get_coro()!r}" for task in leaked]

        leaked = asyncio.run_coroutine_threadsafe(close(), self.loop).result(5)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)
        self.loop.close()
        return leaked + self.loop_errors


@pytest.fixture
def serve() -> Iterator[Callable[..., tuple[str, list[Any]]]]:
    """``uri, log = serve(build)``: ``build(app)`` registers handlers on each connection's App."""
    servers: list[Served] = []

    def _serve(
        build: Callable[[App], None], raw: Callable[[Any], Awaitable[None]] | None = None
    ) -> tuple[str, list[Any]]:
        log: list[Any] = []

        async def handler(ws: Any) -> None:
            if raw is not None:
                await raw(ws)
                return
            app = App(ws, log)
            build(app)
            await app.run()

        served = Served(handler)
        servers.append(served)
        return served.uri(), log

    yield _serve
    leaks = [leak for served in servers for leak in served.stop()]
    if leaks:
        pytest.fail("the test app's event loop leaked: " + "; ".join(leaks))


# --- the calling guide's three apps, and broken ones -------------------------------------------------


def auto_answer(app: App, *, answer: bool = True, terminate: bool = True, greeting_var: str | None = None) -> None:
    """Inbound: on call_received start an interaction; when it starts, answer; once connected say
    "Now in call"; when the caller hangs up end the interaction; when it ends, terminate."""

    @app.on("start")
    async def start(app: App, event: dict[str, Any]) -> None:
        app.state["device"] = event["trigger"]["args"]["source_uri"]

    @app.on("call_received")
    async def received(app: App, event: dict[str, Any]) -> None:
        app.state["call_id"] = event["call_id"]
        await app.request("start_interaction", _target={"uris": [app.state["device"]]}, name="inbound call", options={})

    @app.on("interaction_lifecycle")
    async def lifecycle(app: App, event: dict[str, Any]) -> None:
        if event["type"] == "started":
            app.state["interaction"] = event["source_uri"]
            if answer:
                await app.request("answer", _target={"uris": [app.state["device"]]}, call_id=app.state["call_id"])
        elif event["type"] == "ended" and terminate:
            await app.terminate()

    @app.on("call_connected")
    async def connected(app: App, event: dict[str, Any]) -> None:
        text = "Now in call"
        if greeting_var:
            text = (await app.request("get_var", name=greeting_var)).get("value", text)
        await app.say_and_wait(app.state["interaction"], text)

    @app.on("call_disconnected")
    async def disconnected(app: App, event: dict[str, Any]) -> None:
        await app.request("end_interaction", _target={"uris": [app.state["interaction"]]}, name="inbound call")


def outbound(app: App) -> None:
    """Outbound: on call_start_request start an interaction; when it starts, say "calling from dispatch",
    then place the call; when the call ends (or fails), end the interaction; then terminate."""

    @app.on("start")
    async def start(app: App, event: dict[str, Any]) -> None:
        app.state["device"] = event["trigger"]["args"]["source_uri"]

    @app.on("call_start_request")
    async def start_request(app: App, event: dict[str, Any]) -> None:
        app.state["callee"] = event["uri"]
        await app.request("start_interaction", _target={"uris": [app.state["device"]]}, name="outbound", options={})

    @app.on("interaction_lifecycle")
    async def lifecycle(app: App, event: dict[str, Any]) -> None:
        if event["type"] == "started":
            app.state["interaction"] = event["source_uri"]
            await app.say_and_wait(event["source_uri"], "calling from dispatch")
            await app.request("call", _target={"uris": [app.state["device"]]}, uri=app.state["callee"])
        elif event["type"] == "ended":
            await app.terminate()

    async def over(app: App, event: dict[str, Any]) -> None:
        await app.request("end_interaction", _target={"uris": [app.state["interaction"]]})

    app.on("call_disconnected")(over)
    app.on("call_failed")(over)


def place_call(app: App) -> None:
    """Double-tap place-call: on a double tap start an interaction, ask whom to call, place the call to
    Bob; when it ends, end the interaction and terminate."""

    @app.on("start")
    async def start(app: App, event: dict[str, Any]) -> None:
        trigger = event["trigger"]
        app.state["device"] = trigger["args"]["source_uri"]
        app.state["trigger"] = trigger
        await app.request("start_interaction", _target={"uris": [app.state["device"]]}, name="place call", options={})

    @app.on("interaction_lifecycle")
    async def lifecycle(app: App, event: dict[str, Any]) -> None:
        if event["type"] == "started":
            app.state["interaction"] = event["source_uri"]
            app.state["heard"] = await app.listen(event["source_uri"])
            await app.request("call", _target={"uris": [app.state["device"]]}, uri="urn:relay-resource:name:device:Bob")
        elif event["type"] == "ended":
            await app.terminate()

    async def over(app: App, event: dict[str, Any]) -> None:
        await app.request("end_interaction", _target={"uris": [app.state["interaction"]]})

    app.on("call_disconnected")(over)
    app.on("call_failed")(over)


def greeter(app: App) -> None:
    """A phrase (or any) workflow: in an interaction, say what was heard, then terminate."""

    @app.on("start")
    async def start(app: App, event: dict[str, Any]) -> None:
        app.state["phrase"] = event["trigger"]["args"].get("phrase")
        device = event["trigger"]["args"]["source_uri"]
        await app.request("log_analytics_event", content="{}", content_type="application/json", category="sdk")
        await app.request("start_interaction", _target={"uris": [device]}, name="greeting", options={})

    @app.on("interaction_lifecycle")
    async def lifecycle(app: App, event: dict[str, Any]) -> None:
        if event["type"] == "started":
            await app.say_and_wait(event["source_uri"], f"you said {app.state['phrase']}")
            await app.terminate()


# --- helpers ----------------------------------------------------------------------------------------


def lines(out: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in out.splitlines() if line.strip()]


def types(records: list[dict[str, Any]]) -> list[str]:
    """``server:call_received``, ``app:answer``, ``server:answer_response`` ... in order."""
    out = []
    for r in records:
        t = r["message"]["_type"].removeprefix("wf_api_")
        t = t.removesuffix("_event") if t.endswith("_event") else t.removesuffix("_request")
        if t == "interaction_lifecycle" or t == "prompt":
            t += ":" + r["message"]["type"]
        out.append(f"{r['from']}:{t}")
    return out


def in_order(seq: list[str], *wanted: str) -> bool:
    it = iter(seq)
    return all(any(x == w for x in it) for w in wanted)


def app_errors(log: list[Any]) -> list[Any]:
    return [entry for entry in log if entry[0] == "error"]


# --- the built-in scenarios against the guide's apps ----------------------------------------------


def test_inbound_call_against_the_auto_answer_app(run: Any, serve: Any) -> None:
    uri, log = serve(auto_answer)
    result = run("workflow", "simulate", uri, "--scenario", "inbound-call", "--from", "Carol", *FAST, "--json")
    assert result.code == 0, result.err
    records = lines(result.out)
    seq = types(records)
    assert in_order(
        seq,
        "server:start", "server:call_received", "app:start_interaction", "server:start_interaction_response",
        "server:interaction_lifecycle:started", "server:interaction_lifecycle:resumed", "app:answer",
        "server:answer_response", "server:call_connected", "app:say", "server:say_response", "server:prompt:started",
        "server:prompt:stopped", "server:call_disconnected", "app:end_interaction", "server:end_interaction_response",
        "server:interaction_lifecycle:ended", "app:terminate", "server:stop",
    ), seq  # fmt: skip
    assert seq[-2:] == ["app:terminate", "server:stop"]
    messages = {r["message"]["_type"]: r["message"] for r in records}
    start = messages["wf_api_start_event"]
    assert start["trigger"] == {"type": "telephony", "args": {"source_uri": "urn:relay-resource:name:device:Alice"}}
    received = messages["wf_api_call_received_event"]
    assert received["direction"] == "inbound" and received["uri"] == "urn:relay-resource:name:device:Carol"
    # the calling device, with the id the sandbox's demo account gives Carol (the guide; relay-py: other_device_*)
    assert (received["device_name"], received["device_id"]) == ("Carol", "990007560011111")
    call_id = received["call_id"]
    assert len(call_id) == 32
    answer = messages["wf_api_answer_request"]
    assert answer["call_id"] == call_id
    assert messages["wf_api_answer_response"] == {
        "_id": answer["_id"],
        "_type": "wf_api_answer_response",
        "call_id": call_id,
    }
    say = messages["wf_api_say_request"]
    assert say["text"] == "Now in call"
    assert messages["wf_api_say_response"]["id"] == say["_id"]  # say_and_wait matches prompt events on it
    prompts = [r["message"] for r in records if r["message"]["_type"] == "wf_api_prompt_event"]
    assert all(p["id"] == say["_id"] and p["source_uri"] == say["_target"]["uris"][0] for p in prompts)
    disconnected = messages["wf_api_call_disconnected_event"]
    assert (
        disconnected["end_time_epoch"] >= disconnected["connect_time_epoch"] >= disconnected["start_time_epoch"] > 1e9
    )
    assert messages["wf_api_stop_event"] == {"_type": "wf_api_stop_event", "reason": "normal"}
    for r in records:  # events never carry an _id; responses always echo one
        assert ("_id" in r["message"]) == (not r["message"]["_type"].endswith("_event"))
        assert r["step"] is None or r["step"] >= 1
    assert app_errors(log) == []
    assert "passed" in result.err


def test_the_human_transcript(run: Any, serve: Any) -> None:
    uri, _log = serve(auto_answer)
    result = run("workflow", "simulate", uri, "--scenario", "inbound-call", *FAST)
    assert result.code == 0, result.err
    text = result.out
    assert "← server  START" in text and "telephony trigger on Alice" in text
    assert "← server  CALL_RECEIVED" in text and "inbound from Bob" in text
    assert "app →     answer" in text
    assert "app →     say                      'Now in call' on inbound call@Alice" in text
    assert "← server  STOP" in text
    assert "\x1b" not in text
    first = text.splitlines()[0]
    assert float(first.split()[0]) >= 0
    assert "simulating inbound-call against" in result.err


def test_outbound_call_against_the_dispatch_app(run: Any, serve: Any) -> None:
    uri, log = serve(outbound)
    result = run("workflow", "simulate", uri, "--scenario", "outbound-call", "--to", "Dave", *FAST, "--json")
    assert result.code == 0, result.err
    records = lines(result.out)
    seq = types(records)
    assert in_order(
        seq,
        "server:start", "server:call_start_request", "app:start_interaction", "server:interaction_lifecycle:started",
        "app:say", "server:prompt:stopped", "app:call", "server:call_response", "server:call_ringing",
        "server:call_connected", "server:call_disconnected", "app:end_interaction", "app:terminate", "server:stop",
    ), seq  # fmt: skip
    messages = {r["message"]["_type"]: r["message"] for r in records}
    assert messages["wf_api_call_start_request_event"]["uri"] == "urn:relay-resource:name:device:Dave"
    assert messages["wf_api_say_request"]["text"] == "calling from dispatch"
    call = messages["wf_api_call_request"]
    assert call["uri"] == "urn:relay-resource:name:device:Dave"
    call_id = messages["wf_api_call_response"]["call_id"]
    assert messages["wf_api_call_connected_event"]["call_id"] == call_id
    assert messages["wf_api_call_connected_event"]["direction"] == "outbound"
    assert app_errors(log) == []


def test_outbound_call_rejected(run: Any, serve: Any) -> None:
    uri, log = serve(outbound)
    result = run("workflow", "simulate", uri, "--scenario", "outbound-call", "--reject", *FAST, "--json")
    assert result.code == 0, result.err
    seq = types(lines(result.out))
    assert in_order(
        seq, "app:call", "server:call_ringing", "server:call_failed", "app:end_interaction", "app:terminate"
    )
    assert "server:call_connected" not in seq
    failed = next(r["message"] for r in lines(result.out) if r["message"]["_type"] == "wf_api_call_failed_event")
    assert failed["reason"] == "rejected" and failed["connect_time_epoch"] == 0
    assert app_errors(log) == []


def test_button_double_tap_against_the_place_call_app(run: Any, serve: Any) -> None:
    uri, log = serve(place_call)
    result = run("workflow", "simulate", uri, "--scenario", "button", "--taps", "double", *FAST, "--json")
    assert result.code == 0, result.err
    records = lines(result.out)
    seq = types(records)
    assert in_order(
        seq,
        "server:start", "app:start_interaction", "server:interaction_lifecycle:started", "app:listen", "server:speech",
        "app:call", "server:call_ringing", "server:call_connected", "server:call_disconnected", "app:terminate",
        "server:stop",
    ), seq  # fmt: skip
    start = records[0]["message"]
    assert start["trigger"] == {
        "type": "button",
        "args": {"source_uri": "urn:relay-resource:name:device:Alice", "action": "action_button_double_tap"},
    }
    listen = next(r["message"] for r in records if r["message"]["_type"] == "wf_api_listen_request")
    speech = next(r["message"] for r in records if r["message"]["_type"] == "wf_api_speech_event")
    assert speech["request_id"] == listen["_id"] and speech["text"] == "yes" and speech["lang"] == "en-US"
    assert app_errors(log) == []


def test_button_single_tap_and_phrase(run: Any, serve: Any) -> None:
    uri, log = serve(greeter)
    tapped = run("workflow", "simulate", uri, "--scenario", "button", "--taps", "single", *FAST, "--json")
    assert tapped.code == 0, tapped.err
    assert lines(tapped.out)[0]["message"]["trigger"]["args"]["action"] == "action_button_single_tap"
    said = run("workflow", "simulate", uri, "--scenario", "phrase", "--phrase", "what time is it", *FAST, "--json")
    assert said.code == 0, said.err
    records = lines(said.out)
    assert records[0]["message"]["trigger"] == {
        "type": "phrase",
        "args": {"source_uri": "urn:relay-resource:name:device:Alice", "phrase": "what time is it", "spillover": ""},
    }
    say = next(r["message"] for r in records if r["message"]["_type"] == "wf_api_say_request")
    assert say["text"] == "you said what time is it"
    assert types(records)[-2:] == ["app:terminate", "server:stop"]
    assert app_errors(log) == []


def test_options_for_the_unknowns(run: Any, serve: Any) -> None:
    uri, log = serve(auto_answer)
    result = run(
        "workflow", "simulate", uri, "--scenario", "inbound-call", "--device", "990007560045678", *FAST, "--json",
        "--set", "call_trigger_type=call", "--set", "epoch_unit=ms", "--set", "call_id_style=counter",
        "--set", "disconnect_reason=remote_hangup",
    )  # fmt: skip
    assert result.code == 0, result.err
    messages = {r["message"]["_type"]: r["message"] for r in lines(result.out)}
    assert messages["wf_api_start_event"]["trigger"]["type"] == "call"
    # a device of the account given by its id is named by its one urn, as when it is given by name
    assert messages["wf_api_start_event"]["trigger"]["args"]["source_uri"] == "urn:relay-resource:name:device:Alice"
    received = messages["wf_api_call_received_event"]
    assert received["call_id"] == "call-1"
    assert (received["device_id"], received["device_name"]) == ("990007560023456", "Bob")  # the caller
    assert received["start_time_epoch"] > 1e12  # milliseconds
    assert messages["wf_api_call_disconnected_event"]["reason"] == "remote_hangup"
    assert app_errors(log) == []


# --- broken apps ------------------------------------------------------------------------------------


def test_an_app_that_never_answers(run: Any, serve: Any) -> None:
    uri, _log = serve(lambda app: auto_answer(app, answer=False))
    result = run("workflow", "simulate", uri, "--scenario", "inbound-call", "--timeout", "0.5", "--json")
    assert result.code == 6, result.err
    assert "step 3 (expect answer)" in result.err
    assert "sent no answer request within 0.5s" in result.err
    assert "start_interaction" in result.err  # what it did send meanwhile
    assert result.err.count("error:") == 1


def test_an_app_that_sends_malformed_json(run: Any, serve: Any) -> None:
    def broken(app: App) -> None:
        @app.on("start")
        async def start(app: App, event: dict[str, Any]) -> None:
            await app.ws.send("{'_type': 'wf_api_answer_request'")

    uri, _log = serve(broken)
    result = run("workflow", "simulate", uri, "--scenario", "inbound-call", *FAST, "--json")
    assert result.code == 6, result.err
    assert "malformed message" in result.err and "not JSON" in result.err
    assert "step 3 (expect answer)" in result.err or "step 2" in result.err
    raw = [r for r in lines(result.out) if "raw" in r]
    assert raw and raw[0]["from"] == "app" and raw[0]["raw"].startswith("{'_type'")


def test_an_app_that_never_terminates(run: Any, serve: Any) -> None:
    uri, _log = serve(lambda app: auto_answer(app, terminate=False))
    result = run(
        "workflow", "simulate", uri, "--scenario", "inbound-call", "--timeout", "0.5", "--hold", "0.1",
        "--set", "speaking_rate=3000", "--json",
    )  # fmt: skip
    assert result.code == 6, result.err
    assert "step 4 (expect terminate)" in result.err
    assert "did not terminate within 0.5s" in result.err
    seq = types(lines(result.out))
    assert "server:interaction_lifecycle:ended" in seq and "server:stop" not in seq


def test_a_refused_request_the_app_does_not_recover_from(run: Any, serve: Any) -> None:
    """The refusal is part of the conversation: the app gets the error and the run goes on; what fails the run is
    that the expected answer never comes, and the failure names the refused one as a near miss."""

    def wrong_call(app: App) -> None:
        @app.on("call_received")
        async def received(app: App, event: dict[str, Any]) -> None:
            try:
                await app.request("answer", _target={"uris": ["urn:relay-resource:name:device:Alice"]}, call_id="nope")
            except WorkflowError as exc:
                app.log.append(("refused", str(exc)))

    uri, log = serve(wrong_call)
    result = run("workflow", "simulate", uri, "--scenario", "inbound-call", *FAST[:2], "--timeout", "0.5", "--json")
    assert result.code == 6, result.err
    assert (
        "step 3 (expect answer): the app sent no answer request within 0.5s; near misses: answer at 0.0"
    ) in result.err and "s: the server refused it: unknown call_id 'nope'" in result.err
    error = [r["message"] for r in lines(result.out) if r["message"]["_type"] == "wf_api_error_response"]
    assert error and error[0]["error"] == "unknown call_id 'nope'"
    assert ("refused", "unknown call_id 'nope'") in log, log  # the app had it long before the run ended


def test_an_app_that_closes_the_connection(run: Any, serve: Any) -> None:
    async def hang_up_at_once(ws: Any) -> None:
        await ws.recv()
        await ws.close()

    uri, _log = serve(lambda app: None, raw=hang_up_at_once)
    result = run("workflow", "simulate", uri, "--scenario", "inbound-call", *FAST)
    assert result.code == 6, result.err
    assert "closed the connection" in result.err and "before terminating" in result.err
    assert "check the URI's path" in result.err


def test_an_app_that_sends_a_request_without_a_target(run: Any, serve: Any) -> None:
    def untargeted(app: App) -> None:
        @app.on("start")
        async def start(app: App, event: dict[str, Any]) -> None:
            try:
                await app.request("say", text="hello")
            except WorkflowError:
                pass

    uri, _log = serve(untargeted)
    result = run("workflow", "simulate", uri, "--scenario", "phrase", *FAST)
    assert result.code == 6, result.err
    assert "_target" in result.err and "step 2 (expect terminate" in result.err


# --- a user scenario file ------------------------------------------------------------------------------

USER_SCENARIO = """\
name = "carol-calls"
description = "Carol calls; the app must greet her, and hang up the interaction when she leaves"

[params]
from = "Carol"
hold = -1          # Carol never hangs up by herself: step 6 does it
greeting = "Now in call"

[[steps]]
send = "start"
trigger = "{call_trigger_type}"

[[steps]]
send = "call_received"
from = "{from}"

[[steps]]
expect = "answer"
timeout = 1

[[steps]]
expect = "say"
check = { text = "{greeting}", lang = "en-US" }
check_regex = { _target.uris = "interaction" }

[[steps]]
wait = 0.1

[[steps]]
send = "call_disconnected"
fields = { reason = "caller_hangup" }

[[steps]]
expect = "end_interaction"

[[steps]]
expect = "terminate"
"""


@pytest.mark.long
def test_a_user_scenario_file(run: Any, serve: Any, tmp_path: Any) -> None:
    uri, log = serve(auto_answer)
    path = tmp_path / "carol.toml"
    path.write_text(USER_SCENARIO, encoding="utf-8")
    result = run(
        "workflow",
        "simulate",
        uri,
        "--scenario-file",
        str(path),
        "--timeout",
        "2",
        "--set",
        "event_delay=0.02",
        "--json",
    )
    assert result.code == 0, result.err
    records = lines(result.out)
    disconnected = next(r for r in records if r["message"]["_type"] == "wf_api_call_disconnected_event")
    assert disconnected["message"]["reason"] == "caller_hangup"
    assert disconnected["message"]["uri"] == "urn:relay-resource:name:device:Carol"
    assert disconnected["step"] == 6
    assert app_errors(log) == []
    assert "carol-calls passed" in result.err

    wrong = tmp_path / "wrong.toml"
    wrong.write_text(USER_SCENARIO.replace('greeting = "Now in call"', 'greeting = "Hello Carol"'), encoding="utf-8")
    failed = run(
        "workflow", "simulate", uri, "--scenario-file", str(wrong), "--timeout", "2", "--set", "event_delay=0.02"
    )
    assert failed.code == 6, failed.err
    assert "step 4 (expect say text='Hello Carol' lang='en-US' _target.uris='interaction')" in failed.err
    assert "its text is 'Now in call', expected 'Hello Carol'" in failed.err


def test_the_readme_scenario_example_runs(run: Any, serve: Any, tmp_path: Any) -> None:
    from pathlib import Path

    readme = (Path(__file__).parent.parent / "README.md").read_text(encoding="utf-8")
    block = next(b for b in readme.split("```toml\n")[1:] if b.startswith("# calls/greeting.toml"))
    path = tmp_path / "greeting.toml"
    path.write_text(block.split("```")[0], encoding="utf-8")
    uri, log = serve(auto_answer)
    result = run("workflow", "simulate", uri, "--scenario-file", str(path), "--set", "pause=0.1", *FAST[:2], "--json")
    assert result.code == 0, result.err
    assert "greeting passed" in result.err
    assert app_errors(log) == []


# --- registered workflows -------------------------------------------------------------------------


def test_a_registered_workflow_gives_uri_scenario_device_and_args(run: Any, serve: Any) -> None:
    uri, log = serve(lambda app: auto_answer(app, greeting_var="greeting"))
    workflow = stored_workflow("wf-9", "my_auto_answer", install=["990007560045678"])
    workflow["config"]["trigger"]["start"]["workflow"] = {"uri": uri, "args": {"greeting": "Hello from the args"}}
    with respx.mock(base_url=API, assert_all_mocked=True) as mock:
        mock.get("/ibot/workflow").mock(return_value=httpx.Response(200, json={"results": [workflow]}))
        result = run("workflow", "simulate", "my_auto_answer", "-s", "SUB", *FAST, "--json")
    assert result.code == 0, result.err
    records = lines(result.out)
    # installed on 990007560045678: Alice, with the urn `simulate URI` and `dev` give her
    assert records[0]["message"]["trigger"]["args"]["source_uri"] == "urn:relay-resource:name:device:Alice"
    var = next(r["message"] for r in records if r["message"]["_type"] == "wf_api_get_var_response")
    assert var["value"] == "Hello from the args"
    say = next(r["message"] for r in records if r["message"]["_type"] == "wf_api_say_request")
    assert say["text"] == "Hello from the args"
    assert "simulating inbound-call" in result.err
    assert app_errors(log) == []


@pytest.mark.parametrize("tap", ["single", "double"])
def test_a_registered_button_workflow_is_simulated_with_its_own_tap(run: Any, serve: Any, tap: str) -> None:
    uri, log = serve(greeter)
    workflow = stored_workflow("wf-7", "tapper", {"on_button": f"action_button_{tap}_tap"}, install=["990007560045678"])
    workflow["config"]["trigger"]["start"]["workflow"]["uri"] = uri
    with respx.mock(base_url=API, assert_all_mocked=True) as mock:
        mock.get("/ibot/workflow").mock(return_value=httpx.Response(200, json={"results": [workflow]}))
        result = run("workflow", "simulate", "tapper", "-s", "SUB", *FAST, "--json")
        flagged = run("workflow", "simulate", "tapper", "-s", "SUB", "--taps", "triple", *FAST, "--json")
    assert result.code == 0, result.err
    assert "simulating button" in result.err
    assert lines(result.out)[0]["message"]["trigger"]["args"]["action"] == f"action_button_{tap}_tap"
    assert flagged.code == 0, flagged.err  # a flag still wins over what the workflow says
    assert lines(flagged.out)[0]["message"]["trigger"]["args"]["action"] == "action_button_triple_tap"
    assert app_errors(log) == []


def test_a_registered_workflow_that_is_not_a_websocket_uri(run: Any) -> None:
    workflow = stored_workflow("wf-9", "sandboxed")
    workflow["config"]["trigger"]["start"]["workflow"]["uri"] = "relay-local://sandboxed"
    with respx.mock(base_url=API, assert_all_mocked=True) as mock:
        mock.get("/ibot/workflow").mock(return_value=httpx.Response(200, json={"results": [workflow]}))
        result = run("workflow", "simulate", "sandboxed", "-s", "SUB")
    assert result.code == 2
    assert "sandboxed's URI" in result.err and "ws://" in result.err


# --- unreachable apps and bad input ---------------------------------------------------------------------


def test_an_unreachable_app(run: Any) -> None:
    uri = f"ws://127.0.0.1:{free_port()}/autoanswer"
    result = run("workflow", "simulate", uri, "--scenario", "inbound-call", "--timeout", "2")
    assert result.code == 1
    assert "cannot reach the workflow app" in result.err and "connection refused" in result.err
    assert 'calls to devices running this workflow announce "not available"' in result.err
    assert result.out == ""


@pytest.mark.parametrize(
    ("args", "wanted"),
    [
        (
            ("--scenario", "voicemail"),
            "unknown scenario 'voicemail' (built-in: button, inbound-call, missed-call, outbound-call, phrase",
        ),
        ((), "expected --scenario NAME"),
        (("--scenario", "inbound-call", "--scenario-file", "x.toml"), "cannot be used together"),
        (("--scenario", "inbound-call", "--taps", "double"), "--taps: does not apply to scenario 'inbound-call'"),
        (("--scenario", "button", "--taps", "quadruple"), "taps: expected one of single, double, triple"),
        (("--scenario", "inbound-call", "--set", "nope=1"), "--set: unknown parameter 'nope' (this scenario has: "),
        (
            ("--scenario", "button", "--set", "speking_rate=3"),
            "unknown parameter 'speking_rate'; did you mean 'speaking_rate'?",
        ),
        (("--scenario", "inbound-call", "--set", "epoch_unit=us"), "epoch_unit: expected one of s, ms"),
        (("--scenario", "inbound-call", "--set", "reject=yes"), "reject: expected true or false"),
        (("--scenario", "inbound-call", "--hold", "-1"), "--hold"),
        (("--scenario-file", "/nonexistent/scenario.toml"), "cannot read /nonexistent/scenario.toml"),
        # huge finite values would wait for ever: each has a documented maximum
        (("--scenario", "inbound-call", "--hold", "1e308"), "error: --hold: expected at most 3600 seconds, got 1e+308"),
        (("--scenario", "inbound-call", "--timeout", "3601"), "error: --timeout: expected at most 3600 seconds"),
        (("--scenario", "inbound-call", "--max-time", "1e9"), "error: --max-time: expected at most 86400 seconds"),
        (("--scenario", "inbound-call", "--set", "hold=1e308"), "hold: expected a number of seconds up to 3600"),
        (
            ("--scenario", "inbound-call", "--set", "event_delay=1e308"),
            "event_delay: expected a number of seconds from 0 to 3600",
        ),
    ],
)
def test_bad_input_is_refused_before_connecting(run: Any, args: tuple[str, ...], wanted: str) -> None:
    uri = f"ws://127.0.0.1:{free_port()}/app"  # nothing listens: a connection attempt would be exit 1
    result = run("workflow", "simulate", uri, *args)
    assert result.code == 2, result.err
    assert wanted in result.err
    assert result.out == ""


@pytest.mark.parametrize("uri", ["http://127.0.0.1:8080/app", "wss://", "ws://host/with space", "relay-local://x"])
def test_non_websocket_uris_are_refused(run: Any, uri: str) -> None:
    result = run("workflow", "simulate", uri, "--scenario", "inbound-call")
    assert result.code == 2, result.err
    assert "ws:// or wss://" in result.err
    assert len(result.err.strip().splitlines()) == 1


@pytest.mark.parametrize(
    ("text", "wanted"),
    [
        (
            "name = 'x'\n[[steps]]\nsend = 'start'\ntrigger = 'phrase'\n[[steps]]\nexpct = 'answer'\n",
            "step 2: expected exactly one of send, expect, wait (got none)",
        ),
        (
            "[[steps]]\nsend = 'start'\ntrigger = 'x'\n[[steps]]\nexpect = 'answer'\ntimout = 3\n",
            "step 2 (expect answer): unknown key 'timout'",
        ),
        ("[[steps]]\nsend = 'ring'\n", "step 1: send: unknown event 'ring'"),
        ("[[steps]]\nsend = 'call_received'\n", "step 1: send call_received needs the key 'from'"),
        ("[[steps]]\nwait = 'soon'\n", "step 1: wait: expected a number of seconds"),
        ("[[steps]]\nexpect = 'say'\ncheck = { text = '{greeting}' }\n", "step 1: unknown parameter {greeting}"),
        (
            "[[steps]]\nexpect = 'terminate'\n[[steps]]\nexpect = 'say'\n",
            "step 1: expect terminate must be the last step",
        ),
        ("[[steps]]\nexpect = 'wf_api_say_request'\n", "give the short name ('say')"),
        ("[[steps]]\nexpect = 'say'\ncheck_regex = { text = '(' }\n", "check_regex.text: not a regular expression"),
        ("steps = 3\n", "no steps"),
        ("name = \n", "not valid TOML"),
        ("title = 'x'\n[[steps]]\nwait = 1\n", "unknown key 'title'"),
    ],
)
def test_malformed_scenario_files_name_the_file_step_and_key(run: Any, tmp_path: Any, text: str, wanted: str) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(text, encoding="utf-8")
    result = run("workflow", "simulate", f"ws://127.0.0.1:{free_port()}/app", "--scenario-file", str(path))
    assert result.code == 2, result.err
    assert str(path) in result.err
    assert wanted in result.err
    assert len(result.err.strip().splitlines()) == 1


def test_the_help_lists_the_built_in_scenarios(run: Any) -> None:
    from relay_cli.simulator.runner import builtin_names

    result = run("workflow", "simulate", "--help")
    assert result.code == 0
    assert builtin_names() == ["button", "inbound-call", "missed-call", "outbound-call", "phrase", "trigger"]
    for name in builtin_names():
        assert name in result.out


# --- issue 13: timers, the path hints, the timing warning ----------------------------------------------


def timers(app: App) -> None:
    """Sets a named 100 ms timer and terminates when it fires (relay-py's set_timer / on_timer_fired)."""

    @app.on("start")
    async def start(app: App, event: dict[str, Any]) -> None:
        await app.request("set_timer", type="timeout", name="reminder", timeout=100, timeout_type="ms")

    @app.on("timer_fired")
    async def fired(app: App, event: dict[str, Any]) -> None:
        app.log.append(("fired", event["name"]))
        await app.terminate()


def test_a_named_timer_fires_on_its_own(run: Any, serve: Any) -> None:
    uri, log = serve(timers)
    result = run("workflow", "simulate", uri, "--scenario", "button", *FAST, "--json")
    assert result.code == 0, result.err
    records = lines(result.out)
    assert types(records) == [
        "server:start", "app:set_timer", "server:set_timer_response", "server:timer_fired", "app:terminate", "server:stop",
    ]  # fmt: skip
    response_at = next(r["t"] for r in records if r["message"]["_type"] == "wf_api_set_timer_response")
    fired_at = next(r["t"] for r in records if r["message"]["_type"] == "wf_api_timer_fired_event")
    assert 0.09 <= fired_at - response_at < 1.0
    assert ("fired", "reminder") in log and app_errors(log) == []


def test_the_timer_fired_step_of_a_scenario_file(run: Any, serve: Any, tmp_path: Any) -> None:
    """The README documents ``send = "timer_fired"``; it once crashed with a TypeError (exit 1)."""

    def waits_for_its_timer(app: App) -> None:
        @app.on("timer_fired")
        async def fired(app: App, event: dict[str, Any]) -> None:
            app.log.append(("fired", event["name"]))
            await app.terminate()

    uri, log = serve(waits_for_its_timer)
    path = tmp_path / "timer.toml"
    path.write_text(
        '[[steps]]\nsend = "start"\ntrigger = "button"\n[[steps]]\nsend = "timer_fired"\nname = "nightly"\n'
    )
    result = run("workflow", "simulate", uri, "--scenario-file", str(path), *FAST, "--json")
    assert result.code == 0, result.err
    assert {"_type": "wf_api_timer_fired_event", "name": "nightly"} in [r["message"] for r in lines(result.out)]
    assert ("fired", "nightly") in log
    assert "Traceback" not in result.err


def test_a_handshake_refused_with_400_names_the_path(run: Any) -> None:
    from websockets.sync.server import serve as sync_serve

    server = sync_serve(
        lambda conn: None, "127.0.0.1", 0, process_request=lambda conn, request: conn.respond(400, "no\n")
    )
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        uri = f"ws://127.0.0.1:{server.socket.getsockname()[1]}/autoanswer"
        result = run("workflow", "simulate", uri, "--scenario", "inbound-call", "--timeout", "2")
    finally:
        server.shutdown()
        thread.join(5)
    assert result.code == 1
    assert "answered HTTP 400 instead of switching to WebSocket: no workflow at this URI's path?" in result.err
    assert "check the URI's path" in result.err and "app.workflow('name', ...) serves /name" in result.err
    assert result.out == ""


def test_an_app_that_closes_with_its_own_code_gets_no_path_hint(run: Any, serve: Any) -> None:
    async def refuse(ws: Any) -> None:
        await ws.recv()
        await ws.close(4001, "no devices today")

    uri, _log = serve(lambda app: None, raw=refuse)
    result = run("workflow", "simulate", uri, "--scenario", "inbound-call", *FAST)
    assert result.code == 6, result.err
    assert "the app closed the connection (code 4001, 'no devices today') before terminating" in result.err
    assert "path" not in result.err


def test_an_event_delay_the_sdks_do_not_tolerate_is_warned_about(run: Any, serve: Any) -> None:
    uri, _log = serve(greeter)
    result = run("workflow", "simulate", uri, "--scenario", "phrase", *FAST, "--set", "event_delay=0")
    assert result.code == 0, result.err  # this test app, like relay-py, waits for the prompt before it asks
    assert "warning: event_delay=0: " in result.err and "relay-js (@relaypro/sdk)" in result.err
    quiet = run("workflow", "simulate", uri, "--scenario", "phrase", *FAST)
    assert "warning" not in quiet.err


def test_a_malformed_uri_is_refused_naming_the_argument(run: Any) -> None:
    result = run("workflow", "simulate", "ws://[::1", "--scenario", "button")
    assert result.code == 2
    assert result.err == (
        "error: URI_OR_REF: expected a ws:// or wss:// URI such as ws://localhost:8080/path, got 'ws://[::1'\n"
    )


# --- issue 19: bounds; issue 20: the transcript is escaped -----------------------------------------------


def chatter(app: App) -> None:
    """Never terminates: asks for a var, says something and waits for it, again and again."""

    @app.on("start")
    async def start(app: App, event: dict[str, Any]) -> None:
        device = event["trigger"]["args"]["source_uri"]
        await app.request("start_interaction", _target={"uris": [device]}, name="loop", options={})

    @app.on("interaction_lifecycle")
    async def lifecycle(app: App, event: dict[str, Any]) -> None:
        if event["type"] == "started":
            while True:
                await app.request("get_var", name="x")
                await app.say_and_wait(event["source_uri"], "still here")


def test_a_run_ends_at_max_time_however_much_the_app_keeps_sending(run: Any, serve: Any) -> None:
    """Each prompt of the app's loop gives it the step's --timeout again; --max-time bounds the whole run."""
    uri, _log = serve(chatter)
    started = time.monotonic()
    result = run("workflow", "simulate", uri, "--scenario", "button", *FAST, "--max-time", "1", "--json")
    assert result.code == 6, result.err
    assert time.monotonic() - started < 5
    assert "step 2 (expect terminate): the run did not end within --max-time 1s (the app sent " in result.err
    assert "hint: an app that keeps the conversation going without reaching the scenario's end fails here" in result.err
    assert len([r for r in lines(result.out) if r.get("from") == "app"]) > 10


def test_a_frame_over_the_size_limit_fails_the_run(run: Any, serve: Any) -> None:
    from relay_cli.simulator.runner import MAX_FRAME

    async def huge(ws: Any) -> None:
        await ws.recv()
        await ws.send(json.dumps({"_id": "1", "_type": "wf_api_say_request", "text": "x" * MAX_FRAME}))
        await asyncio.sleep(1)

    uri, _log = serve(lambda app: None, raw=huge)
    result = run("workflow", "simulate", uri, "--scenario", "button", *FAST)
    assert result.code == 6, result.err
    assert (
        "step 2 (expect terminate): the app sent a message larger than 1,048,576 bytes, the simulator's limit for one "
        "frame; the connection was closed (1009, message too big)"
    ) in result.err


def test_a_non_string_id_is_named_as_such(run: Any, serve: Any) -> None:
    async def numbered(ws: Any) -> None:
        await ws.recv()
        await ws.send(json.dumps({"_id": 7, "_type": "wf_api_terminate_request"}))
        await asyncio.sleep(1)

    uri, _log = serve(lambda app: None, raw=numbered)
    result = run("workflow", "simulate", uri, "--scenario", "button", *FAST)
    assert result.code == 6
    assert "wf_api_terminate_request has an _id that is a number ('7'), not a string" in result.err


HOSTILE = "\x1b[31m\u202e"


def hostile(app: App) -> None:
    """Puts an ANSI escape and a bidi override in a say, and in the _type of a request."""

    @app.on("start")
    async def start(app: App, event: dict[str, Any]) -> None:
        device = event["trigger"]["args"]["source_uri"]
        await app.request("start_interaction", _target={"uris": [device]}, name="x", options={})

    @app.on("interaction_lifecycle")
    async def lifecycle(app: App, event: dict[str, Any]) -> None:
        if event["type"] == "started":
            await app.say_and_wait(event["source_uri"], f"red{HOSTILE}text")
            try:
                await app.request(f"{HOSTILE}sneaky")
            except WorkflowError:
                pass
            await app.terminate()


def test_the_transcript_escapes_what_the_app_sends_and_json_stays_exact(run: Any, serve: Any) -> None:
    uri, _log = serve(hostile)
    shown = run("workflow", "simulate", uri, "--scenario", "button", *FAST)
    assert shown.code == 0, shown.err
    for stream in (shown.out, shown.err):
        assert "\x1b" not in stream and "\u202e" not in stream
    assert "'red\\x1b[31m\\u202etext' on x@Alice" in shown.out  # the say, escaped visibly
    assert "\\x1b[31m\\u202esneaky" in shown.out  # the label of the unknown request, and its warning line
    warning = next(line for line in shown.out.splitlines() if " warning " in line)
    assert "unknown request wf_api_\\x1b[31m\\u202esneaky_request" in warning
    exact = run("workflow", "simulate", uri, "--scenario", "button", *FAST, "--json")
    assert exact.code == 0, exact.err
    records = lines(exact.out)
    say = next(r["message"] for r in records if r.get("message", {}).get("_type") == "wf_api_say_request")
    assert say["text"] == f"red{HOSTILE}text"
    assert any(r.get("message", {}).get("_type") == f"wf_api_{HOSTILE}sneaky_request" for r in records)


@pytest.mark.skipif(sys.platform != "linux", reason="RLIMIT_AS as Linux has it")
def test_a_huge_message_is_refused_within_a_memory_limit(serve: Any, tmp_path: Any) -> None:
    """200 MB sent as one message (in 1 MB fragments, so the test app holds none of it): `relay` with 256 MiB of
    address space refuses it at the limit of one message (exit 6), instead of reading it whole (MemoryError)."""
    import os
    import subprocess

    async def flood(ws: Any) -> None:
        await ws.recv()

        async def chunks() -> Any:
            for _ in range(200):
                yield "x" * 1_000_000

        try:
            await ws.send(chunks())
        except Exception:  # noqa: BLE001 - the simulator closed the connection (1009), as it should
            pass

    uri, _log = serve(lambda app: None, raw=flood)
    script = (
        "import resource, sys\n"
        "resource.setrlimit(resource.RLIMIT_AS, (256 * 2**20, 256 * 2**20))\n"
        "from relay_cli.__main__ import main\n"
        "sys.exit(main(sys.argv[1:]))\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("RELAY_")}
    env.update(RELAY_CONFIG_DIR=str(tmp_path / "c"), RELAY_DATA_DIR=str(tmp_path / "d"), RELAY_API_KEY="t")
    proc = subprocess.run(
        [sys.executable, "-c", script, "workflow", "simulate", uri, "--scenario", "button", *FAST],
        capture_output=True, text=True, env=env, timeout=60, check=False,
    )  # fmt: skip
    assert proc.returncode == 6, proc.stderr[-2000:]
    assert "the app sent a message larger than 1,048,576 bytes" in proc.stderr
    assert "MemoryError" not in proc.stderr and "Traceback" not in proc.stderr
