"""One adapter per Cat version, the only code that touches `cat`: either Cat imports every module of the plugin,
so imports of `cat` stay inside functions, or under a check of the running version."""
