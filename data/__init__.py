"""Models, the database engine and every query Polaris Express runs."""
