// outbound: places the call the user asked the device for ("call Bob"), and tells them when it fails.
//
// Written for Relay's JavaScript SDK, @relaypro/sdk 2.x. `relay()` starts a WebSocket server on $PORT (8080
// when PORT is not set); `app.workflow('outbound', ...)` serves this workflow at the path /outbound.
// The Relay server connects there once per call request and sends events; the handlers below answer with
// actions. The SDK runs the handlers of one workflow run one at a time, in the order their events arrived.
'use strict'

const { relay, Event } = require('@relaypro/sdk')

const app = relay()

app.workflow('outbound', (workflow) => {
  let device // the device this workflow runs on: the one placing the call
  let callee // urn of whom the user asked to call
  let interaction // the interaction the call runs in (it owns the device's LEDs and speaker)

  workflow.on(Event.START, ({ trigger }) => {
    device = trigger.args.source_uri
  })

  // the user asked the device to call someone
  workflow.on(Event.CALL_START_REQUEST, async ({ uri }) => {
    callee = uri
    await workflow.startInteraction(device, 'outbound call')
  })

  workflow.on(Event.INTERACTION_STARTED, async ({ source_uri: uri }) => {
    interaction = uri
    await workflow.placeCall(device, { uri: callee })
  })

  // the callee declined, or could not be reached (the event names them: device_name)
  workflow.on(Event.CALL_FAILED, async ({ device_name: name }) => {
    await workflow.sayAndWait(interaction, `${name} did not answer`)
    await workflow.endInteraction(interaction)
  })

  // the call was connected, and one side hung up
  workflow.on(Event.CALL_DISCONNECTED, async () => {
    await workflow.endInteraction(interaction)
  })

  workflow.on(Event.INTERACTION_ENDED, async () => {
    await workflow.terminate()
  })
})
