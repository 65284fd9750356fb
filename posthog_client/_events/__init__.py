"""Pure: what an event is. Request context, message building, value sanitising, ``$exception``."""
