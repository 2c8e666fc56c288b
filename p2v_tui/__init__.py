"""p2v_tui: migrate a running physical Linux server into a Ganeti instance."""

__version__ = "0.1.0"
