"""The charging stations: the operator's fleet (status counts, the table of every charger, one
charger's page and its edits), which accounts may use a restricted charger (grants), and the
snapshots of the fleet's status that every driver's page reads."""
