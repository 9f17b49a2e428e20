// auto-answer: answers every call that comes in to the device, then greets the caller.
//
// Written for Relay's JavaScript SDK, @relaypro/sdk 2.x. `relay()` starts a WebSocket server on $PORT (8080
// when PORT is not set); `app.workflow('auto-answer', ...)` serves this workflow at the path /auto-answer.
// The Relay server connects there once per call and sends events; the handlers below answer with actions.
// The SDK runs the handlers of one workflow run one at a time, in the order their events arrived.
'use strict'

const { relay, Event } = require('@relaypro/sdk')

const app = relay()

app.workflow('auto-answer', (workflow) => {
  let device // the device this workflow runs on: the one being called
  let callId // the incoming call
  let interaction // the interaction the call is answered in (it owns the device's LEDs and speaker)

  workflow.on(Event.START, ({ trigger }) => {
    device = trigger.args.source_uri
  })

  // someone is calling the device (the event names the caller: device_name, device_id)
  workflow.on(Event.CALL_RECEIVED, async (call) => {
    callId = call.call_id
    await workflow.startInteraction(device, 'auto answer')
  })

  workflow.on(Event.INTERACTION_STARTED, async ({ source_uri: uri }) => {
    interaction = uri
    await workflow.answerCall(device, callId)
  })

  // the call is up: greet the caller with the workflow's `greeting` arg (relay.toml)
  workflow.on(Event.CALL_CONNECTED, async () => {
    const greeting = await workflow.getVar('greeting', 'Now in call')
    await workflow.sayAndWait(interaction, greeting)
  })

  // either side hung up
  workflow.on(Event.CALL_DISCONNECTED, async () => {
    await workflow.endInteraction(interaction)
  })

  workflow.on(Event.INTERACTION_ENDED, async () => {
    await workflow.terminate()
  })
})
