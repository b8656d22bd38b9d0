"""Users, sign-in, passwords, roles and API tokens."""
