"""Configuration: the YAML schema, loading it with file:line errors, OPML in and out."""
