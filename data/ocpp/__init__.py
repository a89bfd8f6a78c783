"""Live charger data over OCPP 1.6J: what each message a charger sends does to the database
(``messages``), the energy plausibility rule and the disputes it raises (``energy``), reservations
sent to chargers (``reservations``), commands to chargers as rows: asked, claimed by one server
instance, answered, expired (``commands``), what a driver may command, the dashboard's Start
and Stop charging and a driver's API token alike (``driver_commands``), and what the admin's
OCPP page shows and changes: charger passwords, id tags, reservations sent to chargers, disputed
energy (``admin``)."""
