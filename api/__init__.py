"""The REST API: operations declared once, from which both the router and OpenAPI are built."""
