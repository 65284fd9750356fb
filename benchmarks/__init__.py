"""Benchmarks of posthog_client against the official ``posthog`` package (see README.md)."""
