"""Uptime you can prove (issue 17): the outage log (``outages``: the ``Outage`` table, its causes
and kinds) and uptime per charger and calendar month by the spec's rule, aggregated in SQL
(``monthly``). The rule is the spec's, ``shared/spec/data-exchange.md`` "Outages and uptime"."""
