"""Cat-free OpenAI protocol core: nothing in this package imports `cat`."""
