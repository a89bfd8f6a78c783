"""People and their accounts: drivers, admins, plans and the operator's settings, sign-in
(passwords, which account a person lands on) and personal API tokens."""
