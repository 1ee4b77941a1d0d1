"""Keeps the broker's mirror of our accounts and users current (PUT, with the app credential).

The broker only needs what staff must see to pick the right person: ids, the account, the
verified email and a display name. It is upserted at start and after every profile change.
"""

from __future__ import annotations

import logging
import threading

import httpx

from notes_app.store import Account, Store, User

log = logging.getLogger("notes_app.directory")


class Directory:
    def __init__(self, broker_url: str, credential: str, *, timeout: float = 5.0) -> None:
        self._client = httpx.Client(
            base_url=broker_url,
            headers={"Authorization": f"Bearer {credential}"},
            timeout=timeout,
        )

    def close(self) -> None:
        self._client.close()

    def put_account(self, account: Account) -> None:
        response = self._client.put(
            f"/v1/accounts/{account.id}", json={"name": account.name, "flags": list(account.flags)}
        )
        response.raise_for_status()

    def put_user(self, user: User) -> None:
        response = self._client.put(
            f"/v1/subjects/{user.id}",
            json={
                "account": user.account_id,
                "email": user.email,
                "email_verified": user.email_verified,
                "display_name": user.display_name,
                "privileged": user.is_admin,
            },
        )
        response.raise_for_status()

    def sync(self, store: Store) -> int:
        """Upsert every account and user; returns how many records were sent."""
        accounts = store.accounts()
        users = store.users()
        for account in accounts:
            self.put_account(account)
        for user in users:
            self.put_user(user)
        return len(accounts) + len(users)

    def sync_in_background(
        self, store: Store, *, attempts: int = 60, delay: float = 2.0
    ) -> threading.Thread:
        """Sync without holding up the start: the broker may come up after us."""
        stop = threading.Event()

        def run() -> None:
            for attempt in range(1, attempts + 1):
                try:
                    count = self.sync(store)
                except httpx.HTTPError as exc:
                    if attempt == attempts:
                        log.error("gave up syncing users to the broker: %s", exc)
                        return
                    if stop.wait(delay):
                        return
                else:
                    log.info("synced %d accounts and users to the broker", count)
                    return

        thread = threading.Thread(target=run, name="notes-directory-sync", daemon=True)
        thread.start()
        self._stop = stop
        return thread

    def stop(self) -> None:
        stopper = getattr(self, "_stop", None)
        if stopper is not None:
            stopper.set()
