"""Vector indexes over embedded items: build, save, load, query."""
