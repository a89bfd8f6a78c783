"""The demo operator: a year of believable history so a newcomer signs in to a living dashboard.

``load_demo`` fills an empty database once (the app calls it on first start in demo mode);
``tick_demo`` keeps the showcase true while the app runs (chargers heartbeat, the live sessions
charge, one charger stays reserved). Everything is generated from ``random.Random(seed)`` and
``now``, so the same seed and ``now`` give the same rows.

Ids that ``tick_demo`` maintains are fixed constants (``showcase``), so it can never touch rows
that were not made here: chargers ``PX-001``..``PX-060``, live sessions ``S9xxxxx`` and showcase
reservations ``R9xxxxx`` (history is numbered from ``S000001``/``R000001`` and stays far below).

Where things are: the fixed names and ids, the charger catalogue and the three sign-ins
(``showcase``); the generated people, accounts, id tags and charger rows (``people``); the
generated sessions and reservations (``history``); loading, recognising and ticking the demo
(``loader``).
"""
