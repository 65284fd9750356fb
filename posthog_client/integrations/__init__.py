"""Framework integrations. Import the one you use; each imports its framework only then.

- ``posthog_client.integrations.django``: ``PostHogMiddleware``, ``PostHogAppConfig``,
  ``configure_from_settings()``
- ``posthog_client.integrations.flask``: the ``PostHog`` extension
- ``posthog_client.integrations.asgi``: ``PostHogMiddleware`` (Starlette, FastAPI, any ASGI
  app), ``run_flag_in_thread``, ``async_feature_enabled``, ``async_get_feature_flag``
- ``posthog_client.integrations.celery``: ``setup()``

Each one gives every request (or task) a fresh context: the person and session from the
posthog-js tracing headers (``X-POSTHOG-DISTINCT-ID``, ``X-POSTHOG-SESSION-ID``), so that
``posthog_client.capture("event")`` in a handler is attributed to the right person, and nothing
leaks into the next request. Unhandled exceptions become ``$exception`` events (on by default).
They never break a request: a problem inside the SDK is logged, never raised.
"""
