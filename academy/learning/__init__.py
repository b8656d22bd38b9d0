"""Courses, lessons and quizzes, loaded from the content files in courses/."""
