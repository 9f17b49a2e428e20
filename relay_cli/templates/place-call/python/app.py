"""place-call: a double tap on the device's Assistant button calls another device: the `callee` arg of
relay.toml, a device name.

Written for Relay's Python SDK, relay-py (README.md says how to install it). The server below listens on
$PORT (8080 when PORT is not set) and serves this workflow at the path /place-call. The Relay server
connects there once per double tap and sends events; the handlers below answer with actions. relay-py runs
each handler as a task of its own as soon as its event arrives.
"""

import asyncio
import logging
import os

import relay.workflow

wf = relay.workflow.Workflow("place-call")

#: what each run of the workflow knows, by its connection (the `workflow` every handler is given)
runs = {}


@wf.on_start
async def on_start(workflow, trigger):
    # the device that was tapped
    runs[workflow] = {"device": workflow.get_source_uri_from_trigger(trigger)}
    await workflow.start_interaction(workflow.make_target_uris(trigger), "place call")


@wf.on_interaction_lifecycle
async def on_interaction(workflow, itype, interaction_uri, reason):
    run = runs[workflow]
    if itype == relay.workflow.TYPE_STARTED:
        run["interaction"] = interaction_uri  # it owns the device's LEDs and speaker while the call lasts
        callee = await workflow.get_var("callee", "Bob")
        await workflow.place_call(run["device"], relay.workflow.device_name(callee))
    elif itype == relay.workflow.TYPE_ENDED:
        await workflow.terminate()


@wf.on_call_failed
async def on_call_failed(
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
    # the callee declined, or could not be reached
    interaction = runs[workflow]["interaction"]
    await workflow.say_and_wait(interaction, f"{device_name} did not answer")
    await workflow.end_interaction(interaction)


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
    # the call was connected, and one side hung up
    await workflow.end_interaction(runs[workflow]["interaction"])


@wf.on_stop
async def on_stop(workflow, reason):
    runs.pop(workflow, None)


def main():
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    server = relay.workflow.Server("0.0.0.0", int(os.getenv("PORT", "8080")), log_level=logging.INFO)
    server.register(wf, "/place-call")
    # Server.start() uses asyncio.get_event_loop(), which newer Pythons no longer create on demand
    asyncio.set_event_loop(asyncio.new_event_loop())
    server.start()


if __name__ == "__main__":
    main()
