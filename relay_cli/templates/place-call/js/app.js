// place-call: a double tap on the device's Assistant button calls another device: the `callee` arg of
// relay.toml, a device name.
//
// Written for Relay's JavaScript SDK, @relaypro/sdk 2.x. `relay()` starts a WebSocket server on $PORT (8080
// when PORT is not set); `app.workflow('place-call', ...)` serves this workflow at the path /place-call.
// The Relay server connects there once per double tap and sends events; the handlers below answer with
// actions. The SDK runs the handlers of one workflow run one at a time, in the order their events arrived.
'use strict'

const { relay, Event, Uri } = require('@relaypro/sdk')

const app = relay()

app.workflow('place-call', (workflow) => {
  let device // the device that was tapped
  let interaction // the interaction the call runs in (it owns the device's LEDs and speaker)

  workflow.on(Event.START, async ({ trigger }) => {
    device = trigger.args.source_uri
    await workflow.startInteraction(device, 'place call')
  })

  workflow.on(Event.INTERACTION_STARTED, async ({ source_uri: uri }) => {
    interaction = uri
    const callee = await workflow.getVar('callee', 'Bob')
    await workflow.placeCall(device, { uri: Uri.deviceName(callee) })
  })

  // the callee declined, or could not be reached
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
