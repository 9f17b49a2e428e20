"""auto-answer: answers every call that comes in to the device, then greets the caller.

Written for Relay's Python SDK, relay-py (README.md says how to install it). The server below listens on
$PORT (8080 when PORT is not set) and serves this workflow at the path /auto-answer. The Relay server
connects there once per call and sends events; the handlers below answer with actions. relay-py runs each
handler as a task of its own as soon as its event arrives.
"""

import asyncio
import logging
import os

import relay.workflow

wf = relay.workflow.Workflow("auto-answer")

#: what each run of the workflow knows, by its connection (the `workflow` every handler is given)
runs = {}


@wf.on_start
async def on_start(workflow, trigger):
    # the device this workflow runs on: the one being called
    runs[workflow] = {"device": workflow.get_source_uri_from_trigger(trigger)}


@wf.on_call_received
async def on_call_received(workflow, call_id, direction, device_id, device_name, uri, onnet, start_time_epoch):
    # someone is calling the device (device_name and device_id name the caller)
    run = runs[workflow]
    run["call_id"] = call_id
    await workflow.start_interaction(workflow.targets_from_source_uri(run["device"]), "auto answer")


@wf.on_interaction_lifecycle
async def on_interaction(workflow, itype, interaction_uri, reason):
    run = runs[workflow]
    if itype == relay.workflow.TYPE_STARTED:
        run["interaction"] = interaction_uri  # it owns the device's LEDs and speaker while the call lasts
        await workflow.answer_call(run["device"], run["call_id"])
    elif itype == relay.workflow.TYPE_ENDED:
        await workflow.terminate()


@wf.on_call_connected
async def on_call_connected(
    workflow, call_id, direction, device_id, device_name, uri, onnet, start_time_epoch, connect_time_epoch
):
    # the call is up: greet the caller with the workflow's `greeting` arg (relay.toml)
    greeting = await workflow.get_var("greeting", "Now in call")
    await workflow.say_and_wait(runs[workflow]["interaction"], greeting)


@wf.on_call_disconnected
async def on_call_disconnected(
    workflow,
    call_id,
    direction,
    device_id,
    device_name,
    uri,
    onnet,
    reason,
    start_time_epoch,
    connect_time_epoch,
    end_time_epoch,
):
    # either side hung up
    await workflow.end_interaction(runs[workflow]["interaction"])


@wf.on_stop
async def on_stop(workflow, reason):
    runs.pop(workflow, None)


def main():
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    server = relay.workflow.Server("0.0.0.0", int(os.getenv("PORT", "8080")), log_level=logging.INFO)
    server.register(wf, "/auto-answer")
    # Server.start() uses asyncio.get_event_loop(), which newer Pythons no longer create on demand
    asyncio.set_event_loop(asyncio.new_event_loop())
    server.start()


if __name__ == "__main__":
    main()
