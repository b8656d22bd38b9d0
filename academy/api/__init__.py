"""The REST API under /api/v1: bearer tokens, marshmallow schemas, one error shape."""
