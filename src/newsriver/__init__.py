"""newsriver: poll feeds, normalize, deduplicate, republish."""

__version__ = "0.1.0"
