"""languagebind.evaluation."""
