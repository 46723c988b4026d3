"""The synthetic retail world: a simulator of a cash-and-carry wholesaler with ground truth."""
