"""The ground floor: the database engine and sessions, the tables (models), SQL helpers that work
on SQLite and PostgreSQL alike, the billing periods (this month, last month, the year) in the
operator's time zone, and the admin tables' AG Grid requests with their filters in SQL
(``grid``)."""
