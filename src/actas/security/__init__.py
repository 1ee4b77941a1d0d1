"""Adapters for password hashing and TOTP (the ports live in ``actas.domain.ports``)."""
