"""From a source's URL to normalized articles: network rules, fetch, parse, sanitize,
normalize, schedule. No database."""
