"""A throwaway provider plugin and its tiny server, for core tests that need a
second, independent plugin (discovery, broken plugins, the action table)."""
