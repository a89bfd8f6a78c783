"""The web layer around ``data``: the request-scoped database session (``web.db``), the plain
Flask routes (CSV downloads of the analytics charts, the ``/export/`` files) and the app-wide
error pages. Sign-in and the request guard live in ``auth``; the Dash pages in ``pages``."""
