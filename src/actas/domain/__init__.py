"""The pure core: rules and types with no web, SQL or third-party imports."""
