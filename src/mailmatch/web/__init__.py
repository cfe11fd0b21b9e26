"""The web app: server-rendered pages (Jinja2 + htmx) and the REST API under ``/api/v1``."""
