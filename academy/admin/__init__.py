"""Platform administration: institutions, users and the audit log."""
