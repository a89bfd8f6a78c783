"""All the SQL Polaris Express runs, by product word: ``core`` (engine, models, SQL helpers,
periods, grid requests), ``chargers`` (the status rule, fleet, one charger, grants, snapshots),
``accounts`` (people, plans, operator settings, sign-in, tokens), ``charging`` (the driver's
dashboard, history, reservations, analytics, rollups), ``ocpp`` (what chargers send and what is
sent to them), ``uptime`` (the outage log and uptime per charger and month), ``exchange`` (the
data-exchange format, import, exports) and ``demo``. Nothing
here imports Flask, Dash, click or the app's other folders (tests/test_house.py checks it)."""
