"""RelayClient: one method per Relay API endpoint (relay-api.md, "Requests"), over one ``httpx.Client``."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import quote

import httpx

from ..core.workflow import normalize
from .errors import raise_for_response, network_error

DEFAULT_TIMEOUT = httpx.Timeout(30.0, connect=10.0)


def _seg(value: str) -> str:
    return quote(str(value), safe="")


class RelayClient:
    def __init__(
        self,
        base_url: str,
        *,
        token: str | None,
        auth_method: str = "Bearer",
        user_agent: str,
        headers: dict[str, str] | None = None,
        transport: httpx.BaseTransport | None = None,
        timeout: httpx.Timeout = DEFAULT_TIMEOUT,
        on_write: Callable[[str, str], None] | None = None,
    ) -> None:
        """``on_write(method, path)`` is called after every successful request that changes data."""
        self._on_write = on_write
        self.base_url = base_url.rstrip("/")
        self.host = httpx.URL(self.base_url).host
        default_headers = {"Accept": "application/json", "User-Agent": user_agent}
        default_headers.update(headers or {})
        if token is not None:
            default_headers["Authorization"] = f"{auth_method} {token}"
        self._http = httpx.Client(
            base_url=self.base_url, headers=default_headers, timeout=timeout, transport=transport
        )

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> RelayClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- plumbing ------------------------------------------------------------------------------

    def _request(self, method: str, path: str, *, params: dict[str, Any] | None = None, body: Any = None) -> Any:
        kwargs: dict[str, Any] = {}
        if params:
            kwargs["params"] = {k: v for k, v in params.items() if v is not None}
        if body is not None:
            kwargs["json"] = body
        try:
            response = self._http.request(method, path, **kwargs)
        except httpx.TransportError as exc:
            raise network_error(exc, self.host) from None
        raise_for_response(response)
        if method != "GET" and self._on_write is not None:
            self._on_write(method, path)
        if not response.content or not response.content.strip():
            return None
        try:
            return response.json()
        except ValueError:
            return None

    # --- workflows -----------------------------------------------------------------------------

    def list_workflows(self, subscriber_id: str) -> list[dict[str, Any]]:
        data = self._request("GET", "/ibot/workflow", params={"subscriber_id": subscriber_id})
        results = data.get("results", []) if isinstance(data, dict) else data or []
        return [normalize(wf) for wf in results if isinstance(wf, dict)]

    def save_workflow(self, subscriber_id: str, workflow: dict[str, Any]) -> list[dict[str, Any]]:
        """Create (no ``workflow_id``) or replace (with one). Returns the saved workflow(s)."""
        data = self._request("POST", "/ibot/workflow", params={"subscriber_id": subscriber_id}, body=workflow)
        if isinstance(data, dict):
            data = data.get("results", [data])
        return [normalize(wf) for wf in data or [] if isinstance(wf, dict)]

    def delete_workflow(self, subscriber_id: str, workflow_id: str) -> None:
        self._request("DELETE", f"/ibot/workflow/{_seg(workflow_id)}", params={"subscriber_id": subscriber_id})

    def trigger_workflow(self, subscriber_id: str, workflow_id: str, user_id: str, args: dict[str, Any]) -> None:
        body = {"action": "invoke", "target_device_ids": [user_id], "action_args": args}
        self._request(
            "POST",
            f"/ibot/workflow/{_seg(workflow_id)}",
            params={"subscriber_id": subscriber_id, "user_id": user_id},
            body=body,
        )

    # --- instances, logs, analytics ------------------------------------------------------------

    def workflow_instances(self, subscriber_id: str) -> list[dict[str, Any]]:
        data = self._request("GET", "/ibot/workflow_instances", params={"subscriber_id": subscriber_id})
        return list(data or [])

    def stop_instance(self, subscriber_id: str, instance_id: str) -> None:
        self._request(
            "DELETE", f"/ibot/workflow_instances/{_seg(instance_id)}", params={"subscriber_id": subscriber_id}
        )

    def workflow_logs(
        self, subscriber_id: str, *, workflow_id: str | None = None, user_id: str | None = None
    ) -> Iterator[dict[str, Any]]:
        """Stream the realtime log: one JSON object per line, until the server closes the stream."""
        params = {"subscriber_id": subscriber_id, "workflow_id": workflow_id, "user_id": user_id}
        params = {k: v for k, v in params.items() if v is not None}
        try:
            with self._http.stream("GET", "/ibot/workflowdebug", params=params, timeout=httpx.Timeout(None, connect=10.0)) as response:
                if response.is_error:
                    response.read()
                    raise_for_response(response)
                for line in response.iter_lines():
                    line = line.strip()
                    if not line:
                        continue
                    try:
                        yield json.loads(line)
                    except ValueError:
                        yield {"message": line}
        except httpx.TransportError as exc:
            raise network_error(exc, self.host) from None

    def analytics_events(self, subscriber_id: str, **query: Any) -> dict[str, Any]:
        params = {"subscriber_id": subscriber_id, **query}
        data = self._request("GET", "/ibot/workflow_analytics_events", params=params)
        return data if isinstance(data, dict) else {"data": data or []}

    # --- account -------------------------------------------------------------------------------

    def device_ids(self, subscriber_id: str) -> list[str]:
        data = self._request("GET", f"/ibot/subscriber/{_seg(subscriber_id)}/device_ids")
        return list((data or {}).get("devices", []))

    def groups(self, subscriber_id: str) -> list[dict[str, Any]]:
        data = self._request("GET", "/ibot/groups", params={"subscriber_id": subscriber_id})
        return list(data or [])

    def subscriber_info(self, subscriber_id: str) -> dict[str, Any]:
        return self._request("GET", f"/ibot/subscriber_info/{_seg(subscriber_id)}") or {}

    def authz_context(self) -> list[dict[str, Any]]:
        data = self._request("GET", "/ibot/authz_context")
        if isinstance(data, dict):
            data = [data]
        return list(data or [])
