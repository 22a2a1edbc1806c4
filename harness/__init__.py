"""The from-scratch harness: hybrid swapper, checks, reports and the CLI."""
