"""Feature flags: call validation, resolver and poller, and the pure parts (definitions model and
parser, evaluation, operators, operands, hashing)."""
