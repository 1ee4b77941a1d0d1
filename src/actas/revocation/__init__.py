"""The revocation feed: how every SDK hears, within a second, that a session has ended.

- :mod:`actas.revocation.bus`: this process's fan-out, from committed revocations to SSE clients;
- :mod:`actas.revocation.pg_listener`: on PostgreSQL, the LISTEN thread through which every
  replica hears every other replica's revocations (imported only on PostgreSQL).

The reads (the backlog, the latest ``seq``) are :mod:`actas.services.revocations`.
"""
