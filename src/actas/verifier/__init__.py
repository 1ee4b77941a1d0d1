"""What a customer runs offline: checking an audit export against the broker's published keys."""
