"""One Dash page module per URL, each with ``dash.register_page`` and a ``layout`` whose arguments
all have defaults; a page composes components and owns its callbacks, and runs no SQL. Modules
whose names start with ``_`` are not pages (Dash skips them): the frame (``_shell``), the admin
pages' shared helpers (``_admin``, ``_accounts``) and callbacks a page registers (``_energy``,
``_new_person``)."""
