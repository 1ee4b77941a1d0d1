"""What the HTTP edges (the API and the console) share: the one table from domain errors to
RFC 9457 problems, and who is calling with what. Both edges import it; it imports neither."""
