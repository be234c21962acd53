"""Related coverage's shipped thresholds (``settings.dedupe.related``'s defaults), apart from
``related`` so that the config's schema reads them without importing the TF-IDF rules into
every command's start-up."""

# Chosen on one half of each labelled set (benchmarks/related_quality.py): real articles
# with a lead, and STS headline pairs for a headline alone.
DEFAULT_THRESHOLD = 0.22
DEFAULT_HEADLINE_THRESHOLD = 0.50
