"""Every side effect of the engine: probing, commands, SSH, copying, files."""
