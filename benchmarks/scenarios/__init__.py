"""One module per scenario; each runs one SDK in a fresh interpreter and prints one RESULT line."""
