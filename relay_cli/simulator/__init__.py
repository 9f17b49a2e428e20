"""``relay workflow simulate``: the Relay server's side of the workflow WebSocket protocol, played against an app.

- ``protocol``: the server as a pure state machine (requests in, responses and timed events out; no I/O, no clock).
- ``scenario``: scenario TOML parsed and checked, parameters resolved, one run stepped by the clock it is given (pure).
- ``runner``: the I/O: loads built-in or user scenarios, connects to the app, moves frames (``websockets``, asyncio).
- ``scenarios/``: the built-in scenarios, TOML files shipped as package data.
- ``flags``: what simulate's and dev's shared scenario options mean (``commands/workflow/_scenario.py`` declares them).
- ``devloop``: ``relay workflow dev``: the project's ``[dev]`` settings, a session (start, play, stop), the watch.
- ``appproc``: the app dev runs, as a process: environment, port, readiness, bounded output, start and stop.
- ``keeper``: the program (``python -m``) the app runs under, which ends everything the app started.
- ``ondevice``: ``relay workflow dev --device``: the app registered for the session on a device, its log followed,
  the registration deleted however the session ends (the rule that recognises one: ``core.devreg``).
- ``tunnel``: the user's tunnel command (``--tunnel``), run like the app, and the public address it gives.

Nothing here is imported at CLI start-up; ``commands/workflow/simulate.py`` imports what it needs when it runs.
"""
