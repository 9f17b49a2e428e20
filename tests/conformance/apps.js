// Workflow apps written with Relay's published JavaScript SDK (@relaypro/sdk, pinned in package.json), one
// per area of the SDK, served by one node process on $PORT. tests/test_conformance.py runs each through
// `relay workflow simulate` and checks both sides: the transcript, and what the app saw, which it reports
// here as JSON lines on stdout: {"wf": path, "what": label, "value": ...}.
//
// Each workflow is wrapped by `watch`: every SDK method it calls and every event handler that runs is
// reported too ({"what": "called", "value": method} / {"what": "event", ...}), so the tests can check that
// each method a workflow names was really called. A workflow ends by reporting "end".
'use strict'

const sdk = require('@relaypro/sdk')
const { Event, Uri, TimerType, TimeoutType, Notification } = sdk

// the SDK logs every message it sends and receives; only our report goes to stdout
for (const name of ['log', 'info', 'warn', 'debug']) console[name] = () => {}

const report = (wf, what, value) => {
  const line = { wf, what }
  if (value === undefined) line.undefined = true
  else line.value = value
  process.stdout.write(JSON.stringify(line) + '\n')
}

// wf → a proxy that reports each SDK method called on it, and each event handler that runs
const watch = (name, body) => (workflow) => {
  const wf = new Proxy(workflow, {
    get (target, prop) {
      const value = target[prop]
      if (typeof value !== 'function' || typeof prop !== 'string' || prop.startsWith('_')) return value
      if (prop === 'on') {
        return (event, handler) => target.on(event, async (args) => {
          report(name, 'event', { event, args })
          try {
            await handler(args)
          } catch (err) {
            report(name, 'error', `${event}: ${err && err.message}`)
          }
        })
      }
      return (...args) => {
        report(name, 'called', prop)
        return value.apply(target, args)
      }
    }
  })
  const say = (what, value) => report(name, what, value)
  body(wf, say)
}

const app = sdk.relay()
const workflows = {}
const define = (name, body) => { workflows[name] = watch(name, body) }

// --- calls ------------------------------------------------------------------------------------------

// inbound: answer the call in an interaction, greet the caller; the caller hangs up
define('inbound', (wf, say) => {
  let device, interaction, callId
  wf.on(Event.START, async ({ trigger }) => { device = trigger.args.source_uri; say('trigger', trigger) })
  wf.on(Event.CALL_RECEIVED, async (call) => {
    say('call_received', call)
    callId = call.call_id
    await wf.startInteraction(device, 'inbound call', { color: '00ff00' })
  })
  wf.on(Event.INTERACTION_STARTED, async ({ source_uri }) => {
    interaction = source_uri
    say('answered', await wf.answerCall(device, callId) ?? null)
  })
  wf.on(Event.CALL_CONNECTED, async (call) => {
    say('call_connected', call)
    say('said', await wf.sayAndWait(interaction, 'Now in call'))
  })
  wf.on(Event.CALL_DISCONNECTED, async (call) => {
    say('call_disconnected', call)
    await wf.endInteraction(interaction)
  })
  wf.on(Event.INTERACTION_ENDED, async () => {
    await wf.terminate()
    say('end', true)
  })
})

// outbound: the user asked to call someone; the app places the call, then hangs up itself
define('outbound', (wf, say) => {
  let device, callee, interaction
  wf.on(Event.START, async ({ trigger }) => { device = trigger.args.source_uri })
  wf.on(Event.CALL_START_REQUEST, async (request) => {
    say('call_start_request', request)
    callee = request.uri
    await wf.startInteraction(device, 'outbound call', {})
  })
  wf.on(Event.INTERACTION_STARTED, async ({ source_uri }) => {
    interaction = source_uri
    await wf.placeCall(device, { uri: callee })
  })
  wf.on(Event.CALL_RINGING, async (call) => { say('call_ringing', call) })
  wf.on(Event.CALL_CONNECTED, async (call) => {
    say('call_connected', call)
    await wf.hangupCall(device, call)
  })
  wf.on(Event.CALL_DISCONNECTED, async (call) => {
    say('call_disconnected', call)
    await wf.endInteraction(interaction)
  })
  wf.on(Event.INTERACTION_ENDED, async () => {
    await wf.terminate()
    say('end', true)
  })
})

// reject: the app places the call without an interaction; the callee declines it
define('reject', (wf, say) => {
  let device
  wf.on(Event.START, async ({ trigger }) => { device = trigger.args.source_uri })
  wf.on(Event.CALL_START_REQUEST, async ({ uri }) => { await wf.placeCall(device, { uri }) })
  wf.on(Event.CALL_FAILED, async (call) => {
    say('call_failed', call)
    await wf.terminate()
    say('end', true)
  })
})

// decline: an incoming call the app hangs up without answering
define('decline', (wf, say) => {
  let device
  wf.on(Event.START, async ({ trigger }) => { device = trigger.args.source_uri })
  wf.on(Event.CALL_RECEIVED, async (call) => { await wf.hangupCall(device, call.call_id) })
  wf.on(Event.CALL_DISCONNECTED, async (call) => {
    say('call_disconnected', call)
    await wf.terminate()
    say('end', true)
  })
})

// --- interactions -----------------------------------------------------------------------------------

// the broad lifecycle handler: every event of an interaction, started to ended
define('interactions', (wf, say) => {
  wf.on(Event.START, async ({ trigger }) => {
    await wf.startInteraction([trigger.args.source_uri], 'lifecycle', { color: 'ff0000', home_channel: 'suspend' })
  })
  wf.on(Event.INTERACTION_LIFECYCLE, async (event) => {
    say('lifecycle', event)
    if (event.type === 'resumed') await wf.endInteraction([event.source_uri])
    if (event.type === 'ended') {
      await wf.terminate()
      say('end', true)
    }
  })
})

// --- prompts ----------------------------------------------------------------------------------------

define('prompts', (wf, say) => {
  wf.on(Event.START, async ({ trigger }) => { await wf.startInteraction(trigger.args.source_uri, 'prompts', {}) })
  wf.on(Event.PROMPT, async (event) => { say('prompt', event) })
  wf.on(Event.SPEECH, async (event) => { say('speech', event) })
  wf.on(Event.INTERACTION_STARTED, async ({ source_uri }) => {
    say('say', await wf.say(source_uri, 'one'))
    say('sayAndWait', await wf.sayAndWait(source_uri, 'two words'))
    say('play', await wf.play(source_uri, 'relay-static://chime'))
    say('playAndWait', await wf.playAndWait(source_uri, 'relay-static://chime'))
    say('listen', await wf.listen(source_uri, ['yes', 'no'], { timeout: 5 }))
    await wf.endInteraction(source_uri)
  })
  wf.on(Event.INTERACTION_ENDED, async () => {
    await wf.terminate()
    say('end', true)
  })
})

// --- buttons ----------------------------------------------------------------------------------------

define('buttons', (wf, say) => {
  let taps = 0
  wf.on(Event.INTERACTION_RESUMED, async (event) => { say('resumed', event) })
  wf.on(Event.START, async ({ trigger }) => {
    say('trigger', trigger)
    await wf.startInteraction(trigger.args.source_uri, 'buttons', { input_types: ['action_button_single_tap'] })
  })
  wf.on(Event.BUTTON, async (event) => {
    say('button', event)
    taps += 1
    if (taps === 2) {
      await wf.terminate()
      say('end', true)
    }
  })
})

// --- timers -----------------------------------------------------------------------------------------

// a named timeout, a named interval cleared after three firings, and the unnamed timer stopped after one
define('timers', (wf, say) => {
  const seen = { once: 0, tick: 0, unnamed: 0 }
  const maybeDone = async () => {
    if (seen.once === 1 && seen.tick === 3 && seen.unnamed === 1) {
      await wf.terminate()
      say('end', seen)
    }
  }
  wf.on(Event.START, async () => {
    await wf.setTimer(TimerType.TIMEOUT, 'once', 150, TimeoutType.MILLISECONDS)
    await wf.setTimer(TimerType.INTERVAL, 'tick', 100, TimeoutType.MILLISECONDS)
    await wf.startTimer(0.2)
  })
  // 2.4.0 has no Event constant for named timers; the handler is found by the event's name
  wf.on('timer_fired', async ({ name }) => {
    say('timer_fired', name)
    seen[name] += 1
    if (name === 'tick' && seen.tick === 3) await wf.clearTimer('tick')
    await maybeDone()
  })
  wf.on(Event.TIMER, async (event) => {
    say('timer', event)
    seen.unnamed += 1
    await wf.stopTimer()
    await maybeDone()
  })
})

// --- vars and args ----------------------------------------------------------------------------------

define('vars', (wf, say) => {
  wf.on(Event.START, async () => {
    say('greeting', await wf.getVar('greeting'))
    say('missing', await wf.getVar('missing', 'fallback'))
    await wf.setVar('count', 3)
    say('count', await wf.getNumberVar('count'))
    await wf.set({ a: 'one', b: 'two' })
    say('get', await wf.get(['a', 'b']))
    say('list', await wf.getArrayVar('list'))
    say('nums', await wf.getNumberArrayVar('nums'))
    say('mapped', await wf.getMappedVar('greeting', (v) => v.toUpperCase()))
    await wf.unsetVar('count')
    say('unset', await wf.getVar('count'))
    await wf.unset('a')
    say('unset_a', await wf.getVar('a'))
    await wf.terminate()
    say('end', true)
  })
})

// --- device info queries and setters ----------------------------------------------------------------

define('device', (wf, say) => {
  wf.on(Event.START, async ({ trigger }) => {
    const device = trigger.args.source_uri
    say('name', await wf.getDeviceName(device))
    say('id', await wf.getDeviceId(device))
    say('type', await wf.getDeviceType(device))
    say('address', await wf.getDeviceAddress(device, false))
    say('location', await wf.getDeviceLocation(device, true))
    say('coordinates', await wf.getDeviceCoordinates(device, false))
    say('latlong', await wf.getDeviceLatLong(device, false))
    say('indoor', await wf.getDeviceIndoorLocation(device, false))
    say('battery', await wf.getDeviceBattery(device, false))
    say('location_enabled', await wf.getDeviceLocationEnabled(device))
    say('user', await wf.getUserProfile(device))
    await wf.setDeviceName(device, 'Alicia')
    say('renamed', await wf.getDeviceName(device))
    await wf.disableLocation(device)
    say('location_disabled', await wf.getDeviceLocationEnabled(device))
    await wf.enableLocation(device)
    say('location_enabled_again', await wf.getDeviceLocationEnabled(device))
    await wf.setUserProfile(device, 'night-shift', true)
    say('user_after', await wf.getUserProfile(device))
    await wf.setDeviceChannel(device, 'ops')
    await wf.setDeviceMode(device, 'none')
    await wf.setChannel(device, 'ops', { suppressTTS: true })
    await wf.enableHomeChannel(device)
    await wf.disableHomeChannel(device)
    await wf.terminate()
    say('end', true)
  })
})

// device actions: vibration, LEDs, power, SIP registration, the inbox, translation
define('actions', (wf, say) => {
  wf.on(Event.START, async ({ trigger }) => {
    const device = trigger.args.source_uri
    await wf.vibrate(device, [100, 500, 500])
    await wf.switchLedOn(device, 1, 'ff0000')
    await wf.switchAllLedOn(device, '00ff00')
    await wf.rainbow(device, 2)
    await wf.rotate(device)
    await wf.flash(device)
    await wf.breathe(device)
    await wf.ledAction(device, 'static', { colors: { ring: '0000ff' } })
    await wf.switchAllLedOff(device)
    await wf.registerForCalls(device, { uri: 'sip:alice@example.com', password: 'x', expires: 60 })
    await wf.unregisterForCalls(device, { uri: 'sip:alice@example.com' })
    say('inbox', await wf.getUnreadInboxSize(device))
    await wf.playUnreadInboxMessages(device)
    say('translated', await wf.translate('hello', 'en-US', 'es-ES'))
    await wf.restartDevice(device)
    await wf.powerDownDevice(device)
    await wf.terminate()
    say('end', true)
  })
})

// --- groups -----------------------------------------------------------------------------------------

define('groups', (wf, say) => {
  wf.on(Event.START, async () => {
    const frontDesk = Uri.groupName('Front desk')
    say('members', await wf.getGroupMembers(frontDesk))
    say('bob', await wf.isGroupMember(frontDesk, Uri.deviceName('Bob')))
    say('carol', await wf.isGroupMember(frontDesk, Uri.deviceName('Carol')))
    await wf.terminate()
    say('end', true)
  })
})

// --- notifications and incidents --------------------------------------------------------------------

define('notify', (wf, say) => {
  let device, incident
  wf.on(Event.START, async ({ trigger }) => {
    device = trigger.args.source_uri
    const group = Uri.groupName('Front desk')
    const push = { priority: 'high', title: 'Help', body: 'Front desk', sound: 'default' }
    await wf.broadcast(group, device, 'news', 'The lobby closes at six', push)
    await wf.cancelBroadcast(group, 'news')
    await wf.notify(group, device, 'note', 'Coffee is ready')
    await wf.cancelNotify(group, 'note')
    await wf.alert(group, device, 'help', 'Help needed at the front desk')
    incident = await wf.createIncident(device, 'help')
    say('incident', incident)
  })
  wf.on(Event.NOTIFICATION, async (event) => {
    say('notification', event)
    await wf.cancelAlert(Uri.groupName('Front desk'), event.name)
    await wf.resolveIncident(incident, 'handled')
  })
  wf.on(Event.INCIDENT, async (event) => {
    say('incident_event', event)
    await wf.terminate()
    say('end', Notification.ALERT)
  })
})

// --- logging ----------------------------------------------------------------------------------------

define('logging', (wf, say) => {
  wf.on(Event.START, async ({ trigger }) => {
    const device = trigger.args.source_uri
    await wf.setDefaultAnalyticEventParameters({ app: 'conformance' })
    await wf.logMessage('started')
    await wf.logUserMessage('hello', device, 'greetings')
    await wf.trackEvent('usage', { opened: { count: 1 } })
    await wf.trackUserEvent('usage', device, { tapped: { count: 2 } })
    await wf.terminate()
    say('end', true)
  })
})

// --- terminate --------------------------------------------------------------------------------------

// the SDK runs event handlers one at a time: STOP's runs once START's has returned, so it reports the end
define('terminate', (wf, say) => {
  wf.on(Event.STOP, async (event) => {
    say('stop', event)
    say('end', true)
  })
  wf.on(Event.START, async () => {
    say('terminated', await wf.terminate() ?? null)
  })
})

// --- other devices of the account --------------------------------------------------------------------

// asks about Bob (by name and by id) and changes him; Alice stays as she was; an unknown device and a target of
// two devices where one is expected are refused, and the app carries on
define('other-device', (wf, say) => {
  wf.on(Event.START, async ({ trigger }) => {
    const alice = trigger.args.source_uri
    const bob = Uri.deviceName('Bob')
    say('bob', {
      name: await wf.getDeviceName(bob),
      id: await wf.getDeviceId(bob),
      indoor: await wf.getDeviceIndoorLocation(bob, false),
      battery: await wf.getDeviceBattery(bob, false),
      location_enabled: await wf.getDeviceLocationEnabled(bob),
    })
    const bobById = Uri.deviceId(await wf.getDeviceId(bob))
    await wf.setDeviceName(bob, 'Robert')
    await wf.disableLocation(bobById)
    await wf.setUserProfile(bob, 'robert', false)
    say('bob_after', {
      name: await wf.getDeviceName(bobById),
      by_old_urn: await wf.getDeviceName(bob),
      location_enabled: await wf.getDeviceLocationEnabled(Uri.deviceName('Robert')),
      user: await wf.getUserProfile(bobById),
    })
    say('alice', { name: await wf.getDeviceName(alice), location_enabled: await wf.getDeviceLocationEnabled(alice) })
    for (const [label, target] of [['zed', Uri.deviceName('Zed')], ['two', [alice, bob]]]) {
      try {
        say(label, await wf.getDeviceName(target))
      } catch (err) {
        say(label, `refused: ${err.message}`)
      }
    }
    await wf.terminate()
    say('end', true)
  })
})

// --- refusals an app survives -------------------------------------------------------------------------

// the classic race: the caller hangs up before the app answers; the answer is refused, the app ends its
// interaction and terminates
define('missed', (wf, say) => {
  let device, callId, interaction
  wf.on(Event.START, async ({ trigger }) => { device = trigger.args.source_uri })
  wf.on(Event.CALL_RECEIVED, async (call) => {
    callId = call.call_id
    await wf.startInteraction(device, 'inbound call', {})
  })
  wf.on(Event.CALL_DISCONNECTED, async (call) => { say('call_disconnected', call) })
  wf.on(Event.INTERACTION_STARTED, async ({ source_uri }) => {
    interaction = source_uri
    try {
      await wf.answerCall(device, callId)
      say('answered', true)
    } catch (err) {
      say('refused', err.message)
      await wf.endInteraction(interaction)
    }
  })
  wf.on(Event.INTERACTION_ENDED, async () => {
    await wf.terminate()
    say('end', true)
  })
})

// a request the server does not serve: 2.4.0 has no method for it, so the app uses the SDK's own request
// helper, as an app written for another SDK version would send it
define('unknown-request', (wf, say) => {
  wf.on(Event.START, async () => {
    try {
      say('answer', await wf._call('get_device_label', {}))
    } catch (err) {
      say('refused', err.message)
    }
    await wf.terminate()
    say('end', true)
  })
})

// --- scripted conversations -----------------------------------------------------------------------------

// says "Connecting you" before "Now in call": a scenario that expects the second say skips the first
define('two-says', (wf, say) => {
  wf.on(Event.START, async ({ trigger }) => {
    await wf.startInteraction(trigger.args.source_uri, 'greeting', {})
  })
  wf.on(Event.INTERACTION_STARTED, async ({ source_uri }) => {
    await wf.sayAndWait(source_uri, 'Connecting you')
    await wf.sayAndWait(source_uri, 'Now in call')
    await wf.endInteraction(source_uri)
  })
  wf.on(Event.INTERACTION_ENDED, async () => {
    await wf.terminate()
    say('end', true)
  })
})

// a two-question dialogue: what, then what size; a listen with transcribe false hears audio
define('dialogue', (wf, say) => {
  wf.on(Event.START, async ({ trigger }) => {
    await wf.startInteraction(trigger.args.source_uri, 'order', {})
  })
  wf.on(Event.INTERACTION_STARTED, async ({ source_uri }) => {
    await wf.sayAndWait(source_uri, 'What would you like?')
    const { text: dish } = await wf.listen(source_uri, ['pizza', 'pasta'])
    say('dish', dish)
    await wf.sayAndWait(source_uri, 'What size?')
    const { text: size } = await wf.listen(source_uri, ['small', 'large'])
    say('size', size)
    await wf.sayAndWait(source_uri, `One ${size} ${dish}`)
    const { audio } = await wf.listen(source_uri, [], { transcribe: false })
    say('audio', audio.slice(0, 8))
    await wf.endInteraction(source_uri)
  })
  wf.on(Event.INTERACTION_ENDED, async () => {
    await wf.terminate()
    say('end', true)
  })
})

// the interaction is suspended (another takes the device), resumed, then fails
define('suspended', (wf, say) => {
  wf.on(Event.START, async ({ trigger }) => {
    await wf.startInteraction(trigger.args.source_uri, 'long task', {})
  })
  wf.on(Event.INTERACTION_SUSPENDED, async (event) => { say('suspended', event) })
  wf.on(Event.INTERACTION_RESUMED, async (event) => { say('resumed', event) })
  wf.on(Event.INTERACTION_FAILED, async (event) => {
    say('failed', event)
    await wf.terminate()
    say('end', true)
  })
})

// --- the calling guide's code as printed (it does not run on relay-js; the simulator must say where) --

// CALL_RECEIVED destructures `workflow` out of the event: handlers receive only the event's fields
define('guide-inbound', (wf, say) => {
  wf.on(Event.CALL_RECEIVED, async (event) => {
    const { workflow } = event
    await workflow.startInteraction(event.device_id, 'inbound call')
  })
})

// CALL_START_REQUEST read as {destination}, and placeCall given a string: the request has no callee
define('guide-outbound', (wf, say) => {
  let device
  wf.on(Event.START, async ({ trigger }) => { device = trigger.args.source_uri })
  wf.on(Event.CALL_START_REQUEST, async ({ destination }) => {
    await wf.placeCall(device, destination)
  })
})

for (const [name, workflow] of Object.entries(workflows)) app.workflow(name, workflow)
process.stdout.write(JSON.stringify({ ready: Object.keys(workflows) }) + '\n')
