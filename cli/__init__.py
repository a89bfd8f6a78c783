"""The ``flask --app app ...`` commands of the data side: the data-exchange folder format and the
demo data (``cli.data``), personal API tokens (``cli.tokens``). The OCPP server's commands stay
with it in ``central.cli``."""
