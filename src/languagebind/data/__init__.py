"""languagebind.data."""
