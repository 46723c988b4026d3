"""Labels, the point-in-time training set, the two models and the registry."""
