"""Small typed functions that return Dash component trees or figures. No database access. One
module per page or product word (``dashboard``, ``fleet``, ``charger``, ``people_list``,
``person``, ``plans``...); what several pages share has its own (``admin``, ``forms``,
``landmarks``, ``charts``, ``format``, ``charger_status``)."""
