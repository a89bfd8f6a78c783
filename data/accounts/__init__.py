"""People and their accounts: drivers and admins (``people``), plans (``plans``), the operator's
settings (``operator_settings``), what their forms accept (``validation``), sign-in (``signin``,
``passwords``) and personal API tokens (``tokens``)."""
