"""``python -m notes_app [serve|seed]``: run the notes app, or create its demo customers."""

from __future__ import annotations

import argparse
import logging
import sys

from notes_app.settings import SettingsError, load_settings


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="notes_app", description=__doc__)
    parser.add_argument("command", nargs="?", default="serve", choices=["serve", "seed"])
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="notes: %(levelname)s %(name)s: %(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)  # every call to the broker otherwise
    try:
        settings = load_settings()
    except SettingsError as exc:
        print(f"notes_app: {exc}", file=sys.stderr)
        return 2

    if args.command == "seed":
        from notes_app.demo import USERS, seed
        from notes_app.store import Store

        seed(Store(settings.database))
        for user, password in USERS:
            print(f"{user.email}\t{password}\t{user.display_name} ({user.account_id})")
        return 0

    import uvicorn

    from notes_app.app import create_app

    app = create_app(settings)
    print(f"notes app on {settings.public_url}", flush=True)
    uvicorn.run(app, host=settings.host, port=settings.port, log_level="info")
    return 0


if __name__ == "__main__":
    sys.exit(main())
