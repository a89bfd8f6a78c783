"""Charging itself: the driver's dashboard (the charger status rule, active session, usage), session
history, reservations, the admin analytics and the usage rollups behind them."""
