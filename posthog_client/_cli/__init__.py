"""``python -m posthog_client``: capture, flags, doctor."""
