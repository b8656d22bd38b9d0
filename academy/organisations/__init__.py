"""Countries and institutions: what people belong to (below accounts)."""
