"""Countries, institutions and their staff."""
