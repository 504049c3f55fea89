"""Reports of the platform: Jinja templates, their rendering and the charts they embed."""
