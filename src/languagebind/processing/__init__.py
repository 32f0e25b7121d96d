"""languagebind.processing."""
