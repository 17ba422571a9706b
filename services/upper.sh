#!/bin/sh
# upper: a line-oriented filter that answers each line in upper case.
# Flushes after every line, so it works interactively over a socket.
exec awk '{ print toupper($0); fflush() }'
