"""Reading inputs and writing outputs: raw exports, codings and REFI-QDA projects, problem
reports, atomic writes. Nothing here computes statistics."""
