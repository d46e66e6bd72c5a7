"""The web application: accounts and sessions, Chinese pages (Jinja2), the JSON API."""
