"""Success bodies (issue 9.13): one pydantic model per shape the API answers, so the served
OpenAPI document describes every 2xx body and FastAPI checks each answer against its model
before it leaves (a drift between a route and its model is a 500 in the tests, never a silent
change for clients). Models refuse unknown keys, so the document says ``additionalProperties:
false`` and the fuzzer holds the broker to exactly these fields."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class Out(BaseModel):
    model_config = ConfigDict(extra="forbid")
