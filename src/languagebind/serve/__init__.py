"""languagebind.serve."""
