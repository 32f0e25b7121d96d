"""`python -m languagebind ...` is the console script (so `torchrun -m languagebind train ...` works)."""

from languagebind.cli.main import main

if __name__ == "__main__":
    raise SystemExit(main())
