"""The `offerrank` command line: thin shells over library functions."""
