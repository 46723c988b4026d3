"""`python -m offerrank` is the `offerrank` command."""

from offerrank.cli.main import run_app

if __name__ == "__main__":
    run_app()
