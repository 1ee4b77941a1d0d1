"""The HTTP API: thin routers over the services, every error an RFC 9457 problem."""
