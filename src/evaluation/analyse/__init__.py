"""Statistics. Functions here take data frames and options and return data frames; they never
read or write files (the import contract in pyproject.toml checks it)."""
