"""Feature-agnostic pieces: model mixins, access rules, errors, audit log, base pages."""
