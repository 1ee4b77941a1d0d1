"""Slack: Block Kit messages for announcements, and checking the button clicks that come back.

Messages are posted through an incoming-webhook URL or, with a bot token, ``chat.postMessage``.
A request that needs approval carries Approve and Deny buttons (``value`` = the request id),
except a high-risk one: Slack cannot ask for a TOTP code, so it gets a single link to the
console instead. A live session carries a Revoke button (``value`` = the session id). Whoever
clicks, the interactions endpoint decides whether they are entitled; these buttons grant
nothing by themselves.

Only what the payload holds is shown, every value escaped so that it cannot mention
``@channel`` or smuggle a link.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.signature import Clock as SignatureClock
from slack_sdk.signature import SignatureVerifier

from actas.notify import DELIVERED, DeliveryResult, OutboxMessage, failed, short_error

#: The target of a Slack channel that posts through the incoming webhook.
INCOMING_WEBHOOK = "incoming-webhook"
SLACK_API = "https://slack.com/api/"
DEFAULT_TIMEOUT = 10.0

#: Interaction payloads carry the original message; ours are small.
MAX_INTERACTION_BYTES = 128 * 1024
#: Slack's own window for request timestamps.
MAX_SKEW_SECONDS = 5 * 60
RESPONSE_URL_HOSTS = ("hooks.slack.com", "hooks.slack-gov.com")

ACTION_APPROVE = "approve"
ACTION_DENY = "deny"
ACTION_REVOKE = "revoke"
ACTION_OPEN_CONSOLE = "open_console"

_TITLES = {
    "access.requested": ":raising_hand: Access requested",
    "access.approved": ":white_check_mark: Access approved",
    "access.denied": ":no_entry: Access denied",
    "access.break_glass": ":rotating_light: Break-glass access",
    "session.started": ":arrow_forward: Session started",
    "session.extended": ":hourglass_flowing_sand: Session extended",
    "session.ended": ":stop_button: Session ended",
    "session.revoked": ":octagonal_sign: Session revoked",
    "alert.raised": ":warning: Anomaly alert",
}

#: Payload keys shown as fields, in order, with their labels. Others are ignored.
_FIELDS = (
    ("rule", "Alert rule"),
    ("staff_email", "Staff"),
    ("kind", "Kind"),
    ("application", "Application"),
    ("account", "Account"),
    ("subject", "Subject"),
    ("scopes", "Scopes"),
    ("minutes", "Duration"),
    ("expires_at", "Expires"),
    ("outcome", "Outcome"),
    ("end_reason", "Ended because"),
)
#: Identifiers shown in the context line.
_IDS = (("request", "request"), ("session", "session"), ("case", "case"))

_MAX_FIELD = 200
_MAX_REASONS = 1500
_MAX_ID = 200


@dataclass(frozen=True)
class SlackMessage:
    #: The notification text (and what clients without blocks show).
    text: str
    blocks: list[dict[str, Any]]

    def as_json(self) -> dict[str, Any]:
        return {"text": self.text, "blocks": self.blocks}


def escape(text: str) -> str:
    """Slack's three control characters; with them gone no ``<!channel>`` or ``<url|x>``."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _clip(text: str, limit: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _shown(value: Any, limit: int = _MAX_FIELD) -> str | None:
    """A payload value as escaped text, or None when there is nothing worth showing."""
    if value is None or value == "" or value == []:
        return None
    if isinstance(value, bool):
        text = "yes" if value else "no"
    elif isinstance(value, str | int):
        text = str(value)
    elif isinstance(value, list | tuple):
        text = ", ".join(str(item) for item in value if isinstance(item, str | int))
    else:
        return None
    return escape(_clip(text, limit)) if text else None


def _an_id(value: Any) -> str | None:
    if isinstance(value, str) and 0 < len(value) <= _MAX_ID and value.isprintable():
        return value
    return None


def _link(value: Any) -> str | None:
    if not isinstance(value, str) or len(value) > 3000:
        return None
    parts = urlsplit(value)
    if parts.scheme not in {"http", "https"} or not parts.hostname:
        return None
    return value


def _plain(text: str) -> dict[str, Any]:
    return {"type": "plain_text", "text": text, "emoji": True}


def _button(action_id: str, label: str, **extra: Any) -> dict[str, Any]:
    return {"type": "button", "action_id": action_id, "text": _plain(label), **extra}


def build_message(event_type: str, payload: Mapping[str, Any]) -> SlackMessage:
    """The Block Kit message announcing ``event_type``. Unknown payload keys are ignored."""
    title = _TITLES.get(event_type, escape(_clip(event_type, 64)))
    who = _shown(payload.get("staff_email")) or _shown(payload.get("staff")) or "someone"
    subject = _shown(payload.get("subject"))
    where = "/".join(
        part
        for part in (_shown(payload.get("application")), _shown(payload.get("account")))
        if part
    )
    summary = f"{title}: {who}"
    if subject:
        summary += f" for {subject}"
    if where:
        summary += f" ({where})"
    high_risk = payload.get("high_risk") is True
    if high_risk:
        summary += " · high risk"

    fields: list[dict[str, Any]] = []
    for key, label in _FIELDS:
        value = payload.get(key)
        if key == "minutes" and isinstance(value, int) and not isinstance(value, bool):
            shown: str | None = f"{value} min"
        else:
            shown = _shown(value)
        if shown:
            fields.append({"type": "mrkdwn", "text": f"*{label}*\n{shown}"})

    blocks: list[dict[str, Any]] = [
        {"type": "section", "text": {"type": "mrkdwn", "text": f"*{title}*"}},
    ]
    if fields:
        blocks.append({"type": "section", "fields": fields[:10]})
    reasons = payload.get("reasons")
    if isinstance(reasons, list) and reasons:
        text = _shown("; ".join(str(r) for r in reasons if isinstance(r, str)), _MAX_REASONS)
        if text:
            blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": f"_{text}_"}})

    actions = _actions(event_type, payload, high_risk=high_risk)
    if high_risk and event_type == "access.requested":
        blocks.append(
            {
                "type": "section",
                "text": {
                    "type": "mrkdwn",
                    "text": ":lock: High-risk request: approve it in the console "
                    "(a TOTP code is required).",
                },
            }
        )
    if actions:
        blocks.append({"type": "actions", "block_id": "actas_actions", "elements": actions})

    ids = [f"{label} `{escape(v)}`" for key, label in _IDS if (v := _an_id(payload.get(key)))]
    if ids:
        blocks.append(
            {"type": "context", "elements": [{"type": "mrkdwn", "text": " · ".join(ids)}]}
        )
    return SlackMessage(text=summary, blocks=blocks)


def _actions(event_type: str, payload: Mapping[str, Any], *, high_risk: bool) -> list[Any]:
    request_id = _an_id(payload.get("request"))
    session_id = _an_id(payload.get("session"))
    if event_type == "access.requested" and payload.get("outcome") == "needs_approval":
        if high_risk:
            url = _link(payload.get("console_url"))
            if url is None:
                return []
            return [_button(ACTION_OPEN_CONSOLE, "Review in console", url=url)]
        if request_id is None:
            return []
        return [
            _button(ACTION_APPROVE, "Approve", style="primary", value=request_id),
            _button(ACTION_DENY, "Deny", style="danger", value=request_id),
        ]
    live = event_type in {"session.started", "session.extended", "access.break_glass"}
    if live and session_id is not None:
        confirm = {
            "title": _plain("Revoke this session?"),
            "text": _plain("The staff member loses access at once."),
            "confirm": _plain("Revoke"),
            "deny": _plain("Cancel"),
            "style": "danger",
        }
        return [_button(ACTION_REVOKE, "Revoke", style="danger", value=session_id, confirm=confirm)]
    return []


class SlackSender:
    """Posts outbox messages of channel ``slack``.

    A target of ``incoming-webhook`` (or no bot token) posts the JSON to the incoming-webhook
    URL; any other target is a channel for ``chat.postMessage`` with the bot token.
    ``base_url`` points the Web API client elsewhere (tests run a fake Slack API).
    """

    def __init__(
        self,
        *,
        webhook_url: str | None = None,
        bot_token: str | None = None,
        base_url: str = SLACK_API,
        client: httpx.Client | None = None,
        timeout: float = DEFAULT_TIMEOUT,
    ) -> None:
        if webhook_url is None and bot_token is None:
            raise ValueError("Slack needs an incoming-webhook URL or a bot token")
        self._webhook_url = webhook_url
        self._web = (
            WebClient(token=bot_token, base_url=base_url, timeout=int(timeout))
            if bot_token
            else None
        )
        self._owns_client = client is None
        self._client = client or httpx.Client(
            timeout=httpx.Timeout(timeout, connect=5.0), follow_redirects=False
        )

    def send(self, message: OutboxMessage) -> DeliveryResult:
        built = build_message(message.event_type, message.payload)
        if self._web is not None and message.target != INCOMING_WEBHOOK:
            return self._post_api(message.target, built)
        if self._webhook_url is not None:
            return self._post_webhook(self._webhook_url, built)
        return failed("no Slack incoming webhook configured", permanent=True)

    def _post_webhook(self, url: str, built: SlackMessage) -> DeliveryResult:
        try:
            with self._client.stream("POST", url, json=built.as_json()) as response:
                status = response.status_code
        except httpx.HTTPError as exc:
            return failed(short_error(exc))
        if 200 <= status < 300:
            return DELIVERED
        return failed(f"Slack webhook HTTP {status}")

    def _post_api(self, channel: str, built: SlackMessage) -> DeliveryResult:
        assert self._web is not None
        try:
            self._web.chat_postMessage(channel=channel, text=built.text, blocks=built.blocks)
        except SlackApiError as exc:
            code = exc.response.get("error") if exc.response is not None else None
            return failed(f"Slack API error {code if isinstance(code, str) else 'unknown'}")
        except Exception as exc:  # urllib raises a zoo: URLError, TimeoutError, OSError...
            return failed(short_error(exc))
        return DELIVERED

    def close(self) -> None:
        if self._owns_client:
            self._client.close()


# --- interactions (button clicks) --------------------------------------------------------------


class _InjectedClock(SignatureClock):
    def __init__(self, now: Callable[[], float]) -> None:
        self._now = now

    def now(self) -> float:
        return self._now()


_TIMESTAMP = re.compile(r"[0-9]{1,12}")
_SIGNATURE = re.compile(r"v0=[0-9a-f]{64}")


def verify_interaction(
    headers: Mapping[str, str],
    raw_body: bytes,
    signing_secret: str,
    now: Callable[[], float] = time.time,
) -> bool:
    """Whether Slack signed ``raw_body`` (the exact bytes received, before any form parsing)
    with ``signing_secret`` within five minutes of ``now()``. Never raises for bad input."""
    if not signing_secret.strip() or len(raw_body) > MAX_INTERACTION_BYTES:
        return False
    lowered = {str(k).lower(): str(v) for k, v in headers.items()}
    timestamp = lowered.get("x-slack-request-timestamp", "")
    signature = lowered.get("x-slack-signature", "")
    if not _TIMESTAMP.fullmatch(timestamp) or not _SIGNATURE.fullmatch(signature):
        return False
    if abs(now() - int(timestamp)) > MAX_SKEW_SECONDS:
        return False
    try:
        raw_body.decode("utf-8")
    except UnicodeDecodeError:
        return False
    verifier = SignatureVerifier(signing_secret, clock=_InjectedClock(now))
    return verifier.is_valid(body=raw_body, timestamp=timestamp, signature=signature)


@dataclass(frozen=True)
class Interaction:
    """One button click: who (Slack user id), which button, its value (a request or session
    id; empty for a link button), where to answer, and when."""

    user_id: str
    action_id: str
    value: str
    response_url: str | None
    action_ts: str


_USER_ID = re.compile(r"[A-Z0-9]{2,32}")
_ACTION_ID = re.compile(r"[A-Za-z0-9_.:-]{1,255}")
_ACTION_TS = re.compile(r"[0-9]{1,12}(\.[0-9]{1,9})?")


def parse_interaction(
    raw_body: bytes, *, response_url_hosts: Collection[str] = RESPONSE_URL_HOSTS
) -> Interaction:
    """Parse the form-encoded ``payload`` of a ``block_actions`` request. Call it only after
    :func:`verify_interaction`. Raises ValueError for anything malformed or oversized."""
    if len(raw_body) > MAX_INTERACTION_BYTES:
        raise ValueError("interaction body too large")
    try:
        form = parse_qs(
            raw_body.decode("ascii"),
            strict_parsing=True,
            max_num_fields=16,
            errors="strict",
        )
    except UnicodeDecodeError:
        raise ValueError("interaction body is not form-encoded") from None
    payloads = form.get("payload", [])
    if len(payloads) != 1:
        raise ValueError("interaction body needs exactly one payload field")
    try:
        data = json.loads(payloads[0])
    except RecursionError:
        raise ValueError("interaction payload nests too deeply") from None
    if not isinstance(data, dict) or data.get("type") != "block_actions":
        raise ValueError("interaction payload is not block_actions")
    user = data.get("user")
    user_id = user.get("id") if isinstance(user, dict) else None
    if not isinstance(user_id, str) or not _USER_ID.fullmatch(user_id):
        raise ValueError("interaction payload has no valid user id")
    actions = data.get("actions")
    if not isinstance(actions, list) or not 1 <= len(actions) <= 5:
        raise ValueError("interaction payload has no actions")
    action = actions[0]
    if not isinstance(action, dict):
        raise ValueError("interaction action is not an object")
    action_id = action.get("action_id")
    if not isinstance(action_id, str) or not _ACTION_ID.fullmatch(action_id):
        raise ValueError("interaction action has no valid action_id")
    value = action.get("value", "")
    if not isinstance(value, str) or len(value) > 2000 or not value.isprintable():
        raise ValueError("interaction action value is not valid")
    action_ts = action.get("action_ts")
    if not isinstance(action_ts, str) or not _ACTION_TS.fullmatch(action_ts):
        raise ValueError("interaction action has no valid action_ts")
    response_url = data.get("response_url")
    if response_url is not None:
        if not isinstance(response_url, str) or len(response_url) > 2000:
            raise ValueError("interaction response_url is not valid")
        parts = urlsplit(response_url)
        if parts.scheme != "https" or parts.hostname not in set(response_url_hosts):
            raise ValueError("interaction response_url is not a Slack URL")
    return Interaction(
        user_id=user_id,
        action_id=action_id,
        value=value,
        response_url=response_url,
        action_ts=action_ts,
    )
