"""Request and response schemas of the API, one module per feature; unknown fields are rejected."""
