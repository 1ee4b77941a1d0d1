"""The demo's customers: two accounts and their users, with passwords printed by ``make run``.

Acme is flagged, so every support access to it needs a second person's approval (the tour
shows that path); Initech has no flag, so a lead or security can go straight in.
"""

from __future__ import annotations

from notes_app.store import Account, Store, User

ACCOUNTS = (
    Account(id="acme", name="Acme Corp", flags=("flagged",)),
    Account(id="initech", name="Initech", flags=()),
)

#: (user, password): demo-only passwords, printed for the newcomer.
USERS = (
    (
        User(
            id="u-jane",
            account_id="acme",
            email="jane@customer.test",
            email_verified=True,
            display_name="Jane Doe",
            is_admin=False,
        ),
        "jane-notes-demo",
    ),
    (
        User(
            id="u-omar",
            account_id="acme",
            email="omar@customer.test",
            email_verified=True,
            display_name="Omar Haddad",
            is_admin=True,
        ),
        "omar-notes-demo",
    ),
    (
        User(
            id="u-peter",
            account_id="initech",
            email="peter@initech.test",
            email_verified=True,
            display_name="Peter Gibbons",
            is_admin=False,
        ),
        "peter-notes-demo",
    ),
)

NOTES = {
    "u-jane": [
        ("Quarterly report", "Numbers are in the shared drive; export fails with error 500."),
        ("Groceries", "Oat milk, coffee, lemons."),
    ],
    "u-peter": [("TPS reports", "New cover sheets from now on.")],
}


def seed(store: Store) -> None:
    """Create the demo customers (idempotent: reseeding resets their passwords, not notes)."""
    store.create()
    for account in ACCOUNTS:
        store.put_account(account)
    for user, password in USERS:
        store.put_user(user, password)
        if not store.notes(user.id):
            for title, body in NOTES.get(user.id, []):
                store.add_note(user.id, title, body)
