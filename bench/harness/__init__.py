"""fazt benchmark harness (issue 8): see bench/README.md. Entry point: `python -m harness.main`."""
