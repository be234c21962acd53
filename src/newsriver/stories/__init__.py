"""Pure rules over articles: identity, fingerprints, whether two texts are one story, what an item shows, retention."""
