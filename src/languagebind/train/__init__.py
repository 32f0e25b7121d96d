"""languagebind.train."""
