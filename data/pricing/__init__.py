"""Prices and costs (issue 16): the one rule that turns a tariff version and a session into
money (``cost``), the tariffs themselves with the cost stored on finalized sessions
(``tariffs``), and how queries read prices and costs with the version in force (``rows``).
The rule is the spec's, ``shared/spec/data-exchange.md`` "Prices and costs"."""
