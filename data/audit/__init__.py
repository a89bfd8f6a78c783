"""The audit log: every operator action recorded in the same transaction as the change it
describes (``entries``: who acts, the actions, ``record``), and the log as ``/admin/audit`` and
its CSV read it, filtered in SQL (``log``). Entries are never changed or deleted."""
