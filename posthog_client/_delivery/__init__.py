"""Getting events to PostHog: intake, bounded queue, consumer thread, encoding, retries, ledger,
and the transport (the only code that does HTTP)."""
