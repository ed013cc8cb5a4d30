"""DFT labelling of atomic configurations with GPAW through ASE (`python -m dft.label`, coming with its issue)."""
