"""The local sandbox: the subset of the Relay REST API that ``relay`` uses, served from a SQLite file.

- ``store.SandboxStore``: the SQLite database (WAL, one transaction per write, one writer per process, safe across
  processes).
- ``seed``: the demo account every new database starts with.
- ``app.make_app``: the WSGI application (exact JSON shapes and status codes of the Relay API): checks the token,
  finds the route, writes the answer.
- ``handlers``: one function per endpoint, ``handler(request, store) -> Response``, and ``ROUTES``, the table of
  method + path pattern → handler; ``web``: Request, Response, HttpError, Route.
- ``server.serve`` / ``server.make_server_for``: ``relay server`` over loopback HTTP;
  ``server.in_process_transport``: an ``httpx`` transport that calls the app without a socket;
  ``direct.stream``: the app called directly, for ``relay sandbox ...`` in-process.
- ``devices``: a device event checked, and the device's remembered state (battery, location, position) moved on;
  ``conversations``: the workflows an event, an HTTP trigger or a timer starts, played against their apps with
  the simulator's engine (docs/sandbox.md).

Nothing here is imported at CLI start-up; import the submodule you need where you need it.
"""
