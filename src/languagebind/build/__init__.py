"""languagebind.build."""
