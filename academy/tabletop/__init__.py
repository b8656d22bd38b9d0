"""Live tabletop exercises: scenarios from exercises/, sessions, injects, decisions and reports."""
