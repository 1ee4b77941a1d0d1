"""Use cases: one function per action, taking ports and a clock, emitting audit events."""
