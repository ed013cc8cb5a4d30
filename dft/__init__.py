"""DFT labelling of atomic configurations with GPAW through ASE: `python -m dft.label` (`dft.label`), and
`dft.gpaw_siteconfig`, the GPAW build configuration scripts/setup.sh uses."""
