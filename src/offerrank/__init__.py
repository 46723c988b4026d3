"""offerrank: daily batch offer ranking with point-in-time features and honest evaluation."""

__version__ = "0.1.0"
