"""Everything that speaks the Redis protocol: key names, Lua scripts, connections."""
