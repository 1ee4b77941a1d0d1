"""Which channels a broker announces on and which sender delivers each, from the settings."""

from __future__ import annotations

from urllib.parse import urlsplit

from actas.domain.ports import Channel
from actas.notify import Sender
from actas.notify.email import EMAIL, EmailSender
from actas.notify.slack import INCOMING_WEBHOOK, SlackSender
from actas.notify.webhooks import WebhookSender
from actas.settings import Settings


def slack_configured(settings: Settings) -> bool:
    slack = settings.slack
    return slack.webhook_url is not None or (slack.bot_token is not None and bool(slack.channel))


def channels_for(settings: Settings) -> tuple[Channel, ...]:
    """Where announcements go, from the settings: Slack when it is configured, and each
    webhook URL."""
    channels: list[Channel] = []
    if slack_configured(settings):
        channels.append(Channel("slack", settings.slack.channel or INCOMING_WEBHOOK))
    channels.extend(Channel("webhook", url) for url in settings.webhook_urls)
    return tuple(channels)


def broker_domain(settings: Settings) -> str:
    """The broker's host name: the right side of every Message-ID it makes."""
    return urlsplit(settings.public_url).hostname or "localhost"


def senders_for(settings: Settings) -> dict[str, Sender]:
    """One sender per configured channel kind. Customer email always has one: SMTP when it is
    configured, else the local maildir (so the embedded default delivers, to a file)."""
    smtp = settings.smtp
    senders: dict[str, Sender] = {
        EMAIL: EmailSender(
            sender=smtp.sender if smtp else f"actas@{broker_domain(settings)}",
            smtp=smtp,
            maildir=None if smtp else settings.mail_dir,
        )
    }
    slack = settings.slack
    if slack_configured(settings):
        senders["slack"] = SlackSender(
            webhook_url=slack.webhook_url.value if slack.webhook_url else None,
            bot_token=slack.bot_token.value if slack.bot_token else None,
        )
    if settings.webhook_urls and settings.webhook_secret is not None:
        senders["webhook"] = WebhookSender(
            settings.webhook_secret.value, allowed_urls=settings.webhook_urls
        )
    return senders
