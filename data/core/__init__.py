"""The ground floor: the database engine and sessions, the tables (models), SQL helpers that work
on SQLite and PostgreSQL alike, and the billing periods (this month, last month, the year) in the
operator's time zone."""
