"""One module per pipeline stage; each defines COMMANDS (click commands) that cli.py registers."""
