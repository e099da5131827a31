"""What readers see: tables of record (written through disclosure control), notebook display,
figures, exports, the HTML conversion and the audience reports."""
