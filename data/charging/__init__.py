"""Charging itself: the driver's dashboard (active session, recent sessions, next reservation,
usage; ``dashboard``), session history (``history``), reservations, the admin analytics and the
usage rollups behind them. The charger status rule is ``data.chargers.status``."""
