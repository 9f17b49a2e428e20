// blank: the smallest useful workflow. A tap on the device's Assistant button starts it; it says the
// `greeting` arg of relay.toml and ends. Start your own workflow from here.
//
// Written for Relay's JavaScript SDK, @relaypro/sdk 2.x. `relay()` starts a WebSocket server on $PORT (8080
// when PORT is not set); `app.workflow('blank', ...)` serves this workflow at the path /blank.
// The Relay server connects there once per trigger and sends events; the handlers below answer with
// actions. The SDK runs the handlers of one workflow run one at a time, in the order their events arrived.
'use strict'

const { relay, Event } = require('@relaypro/sdk')

const app = relay()

app.workflow('blank', (workflow) => {
  workflow.on(Event.START, async ({ trigger }) => {
    await workflow.startInteraction(trigger.args.source_uri, 'blank')
  })

  // speaking, listening and the LEDs need an interaction: its uri is the target of those actions
  workflow.on(Event.INTERACTION_STARTED, async ({ source_uri: interaction }) => {
    const greeting = await workflow.getVar('greeting', 'Hello')
    await workflow.sayAndWait(interaction, greeting)
    await workflow.endInteraction(interaction)
  })

  workflow.on(Event.INTERACTION_ENDED, async () => {
    await workflow.terminate()
  })
})
