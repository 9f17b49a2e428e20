"""blank: the smallest useful workflow. A tap on the device's Assistant button starts it; it says the
`greeting` arg of relay.toml and ends. Start your own workflow from here.

Written for Relay's Python SDK, relay-py (README.md says how to install it). The server below listens on
$PORT (8080 when PORT is not set) and serves this workflow at the path /blank. The Relay server connects
there once per trigger and sends events; the handlers below answer with actions. relay-py runs each handler
as a task of its own as soon as its event arrives.
"""

import asyncio
import logging
import os

import relay.workflow

wf = relay.workflow.Workflow("blank")


@wf.on_start
async def on_start(workflow, trigger):
    await workflow.start_interaction(workflow.make_target_uris(trigger), "blank")


@wf.on_interaction_lifecycle
async def on_interaction(workflow, itype, interaction_uri, reason):
    # speaking, listening and the LEDs need an interaction: its uri is the target of those actions
    if itype == relay.workflow.TYPE_STARTED:
        greeting = await workflow.get_var("greeting", "Hello")
        await workflow.say_and_wait(interaction_uri, greeting)
        await workflow.end_interaction(interaction_uri)
    elif itype == relay.workflow.TYPE_ENDED:
        await workflow.terminate()


def main():
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    server = relay.workflow.Server("0.0.0.0", int(os.getenv("PORT", "8080")), log_level=logging.INFO)
    server.register(wf, "/blank")
    # Server.start() uses asyncio.get_event_loop(), which newer Pythons no longer create on demand
    asyncio.set_event_loop(asyncio.new_event_loop())
    server.start()


if __name__ == "__main__":
    main()
