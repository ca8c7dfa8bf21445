"""HTML from results: one report per student and the class overview (Jinja2 templates)."""
