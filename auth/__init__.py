"""Sign-in, the active account and the request guard."""
