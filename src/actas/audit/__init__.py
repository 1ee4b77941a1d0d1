"""The tamper-evident audit log: chain append, checkpoints, verification and export."""
