"""Reports: the terminal table now; figures and documents build on the same files."""
