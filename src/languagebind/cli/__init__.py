"""languagebind.cli."""
