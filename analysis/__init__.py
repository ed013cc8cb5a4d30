"""Analysis of simulation and microscopy data: interfacial conductance, EELS, heating (with their issues)."""
