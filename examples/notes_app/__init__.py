"""Notes: a small SaaS app (its own users, sign-in and SQLite) wired to the actas SDK.

Run it with ``python -m notes_app`` (``NOTES_*`` settings: see :mod:`notes_app.settings`).
"""

from notes_app.app import create_app as create_app
from notes_app.settings import Settings as Settings
from notes_app.settings import load_settings as load_settings
