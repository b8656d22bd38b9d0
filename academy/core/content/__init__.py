"""Reading content files, shared by the courses and the exercise scenarios: YAML with line numbers, the
report's sections, the common field rules, Markdown rendering, and the error a sync raises."""
