"""Broker-wide figures for the metrics gauges, read in one read-only transaction."""

from __future__ import annotations

from actas.services.context import ServiceContext


def snapshot(ctx: ServiceContext) -> dict[str, int]:
    with ctx.read() as uow:
        return uow.gauges.counts(ctx.clock())
