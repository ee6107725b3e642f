"""Raw zone: immutable, content-addressed copies of every extract as it arrived."""
