"""The OCPP 1.6J central system (``central.server``), a charger simulator (``central.simulator``)
and their Flask CLI commands (``central.cli``). Not named ``ocpp``: that is the library."""
