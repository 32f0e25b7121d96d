"""languagebind.collection."""
