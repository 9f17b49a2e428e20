"""Workflow apps written with relay-py (relaypro/relay-py, not on PyPI), one per thing the simulator must get right
for a relay-py app, served by one process on $PORT at /<name>. tests/test_conformance_relay_py.py runs each
through `relay workflow simulate` (when a Python with relay-py is available: RELAY_PY_PYTHON) and checks what the
app saw, which it reports here as JSON lines on stdout: {"wf": name, "what": label, "value": ...}.
"""

import json
import logging
import os
import sys

import relay.workflow as rw
from relay.workflow import Relay, Server, Workflow, WorkflowException


def report(wf: str, what: str, value: object) -> None:
    sys.stdout.write(json.dumps({"wf": wf, "what": what, "value": value}) + "\n")
    sys.stdout.flush()


workflows: dict[str, Workflow] = {}


def define(name: str) -> Workflow:
    workflows[name] = Workflow(name)
    return workflows[name]


# --- other devices of the account ---------------------------------------------------------------------------

other = define("other-device")


@other.on_start
async def other_start(relay: Relay, trigger: dict) -> None:
    alice = relay.get_source_uri_from_trigger(trigger)
    bob = rw.device_name("Bob")
    report("other-device", "bob", {
        "name": await relay.get_device_name(bob),
        "id": await relay.get_device_id(bob),
        "indoor": await relay.get_device_indoor_location(bob),
        "battery": await relay.get_device_battery(bob),
    })  # fmt: skip
    await relay.set_device_name(bob, "Robert")
    await relay.disable_location(bob)
    report("other-device", "bob_after", {
        "name": await relay.get_device_name(bob),
        "location_enabled": await relay.get_device_location_enabled(bob),
    })  # fmt: skip
    report("other-device", "alice", await relay.get_device_name(alice))
    for label, call in [
        ("zed", lambda: relay.get_device_name(rw.device_name("Zed"))),
        ("list", lambda: relay.vibrate([alice, bob], [100])),  # relay-py sends {"uris": [[alice, bob]]}
    ]:
        try:
            report("other-device", label, await call())
        except WorkflowException as exc:
            report("other-device", label, f"refused: {exc.message}")
    await relay.terminate()
    report("other-device", "end", True)


# --- refusals an app survives -------------------------------------------------------------------------------

missed = define("missed")


@missed.on_start
async def missed_start(relay: Relay, trigger: dict) -> None:
    relay.device = relay.get_source_uri_from_trigger(trigger)


@missed.on_call_received
async def missed_call(relay: Relay, call_id: str, *_call: object) -> None:
    relay.call_id = call_id
    await relay.start_interaction({"uris": [relay.device]}, "inbound call")


@missed.on_interaction_lifecycle
async def missed_lifecycle(relay: Relay, itype: str, source_uri: str, _reason: object) -> None:
    if itype == rw.TYPE_STARTED:
        try:
            await relay.answer_call(relay.device, relay.call_id)
            report("missed", "answered", True)
        except WorkflowException as exc:
            report("missed", "refused", exc.message)
            await relay.end_interaction(source_uri)
    elif itype == rw.TYPE_ENDED:
        await relay.terminate()
        report("missed", "end", True)


unknown = define("unknown-request")


@unknown.on_start
async def unknown_start(relay: Relay, trigger: dict) -> None:
    try:  # relay-py's own helper for testing error handling: a request type no server serves
        await relay._invalid_type()
    except WorkflowException as exc:
        report("unknown-request", "refused", exc.message)
    await relay.terminate()
    report("unknown-request", "end", True)


# --- scripted conversations ---------------------------------------------------------------------------------

dialogue = define("dialogue")


@dialogue.on_start
async def dialogue_start(relay: Relay, trigger: dict) -> None:
    await relay.start_interaction(relay.make_target_uris(trigger), "order")


@dialogue.on_interaction_lifecycle
async def dialogue_lifecycle(relay: Relay, itype: str, source_uri: str, _reason: object) -> None:
    if itype == rw.TYPE_STARTED:
        await relay.say_and_wait(source_uri, "Connecting you")
        await relay.say_and_wait(source_uri, "What would you like?")
        dish = await relay.listen(source_uri, ["pizza", "pasta"])
        await relay.say_and_wait(source_uri, "What size?")
        size = await relay.listen(source_uri, ["small", "large"])
        report("dialogue", "order", [dish, size])
        await relay.say_and_wait(source_uri, f"One {size} {dish}")
        await relay.end_interaction(source_uri)
    elif itype == rw.TYPE_ENDED:
        await relay.terminate()
        report("dialogue", "end", True)


if __name__ == "__main__":
    server = Server("127.0.0.1", int(os.environ["PORT"]), log_handler=logging.NullHandler())
    for name, workflow in workflows.items():
        server.register(workflow, f"/{name}")
    report("", "ready", list(workflows))
    server.start()
