"""Process-wide machinery: the never-raise guard, internal error reports, logs, fork and exit."""
