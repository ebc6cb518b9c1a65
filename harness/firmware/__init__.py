"""The real boards' firmware: version pins, generated sources, the project copy and its hash."""
