"""languagebind.model."""
