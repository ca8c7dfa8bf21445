"""Grades back to the LMS: Canvas, Moodle, CSV, JSON Lines, and Gradescope."""
