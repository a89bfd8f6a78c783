"""The charging stations: the status rule every page shows (``status``), the operator's fleet
(status counts and the table of every charger, ``fleet``), one charger's page and edits
(``charger``) and usage (``usage``), which accounts may use a restricted charger (``grants``), and
the snapshots of the fleet's status that every driver's page reads (``snapshots``)."""
