"""Small typed functions that return Dash component trees or figures. No database access."""
