"""Signing keys: the key file, rotation with overlap, JWKS, and signing."""
