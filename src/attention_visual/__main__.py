"""`python -m attention_visual` is the `attention-visual` command."""

from attention_visual.cli.main import main

if __name__ == "__main__":
    raise SystemExit(main())
